"""Port-forward as kubelet serves it (pkg/kubelet/cri/streaming/portforward), over the three
ways clients ask for it:

- ``Upgrade: SPDY/3.1`` with ``X-Stream-Protocol-Version: portforward.k8s.io`` (kubectl with
  ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``, older clients): per forwarded connection the
  client opens an ``error`` and a ``data`` stream carrying ``port`` and ``requestID``
  headers; the pair is matched by request ID (by stream ID for clients without one).
- a WebSocket with subprotocol ``SPDY/3.1+portforward.k8s.io`` (kubectl 1.30+'s default):
  the same SPDY connection inside binary messages (upstream the API server unwraps it;
  here the agent speaks it directly, so the API server only relays bytes).
- the WebSocket channel protocol (``v4.channel.k8s.io``, ``v4.base64.channel.k8s.io`` or
  none; the official Python and JavaScript clients): ``?ports=`` lists the ports, channel
  ``2i`` is port i's data and ``2i+1`` its errors, and the first message on each carries the
  port as two little-endian bytes.

A connection to a port nothing listens on gets kubelet's ``error forwarding port P to pod
X, uid U: <dial error>`` on its error stream; the SPDY connection stays up for the others.
Each forwarded connection copies both ways until one side ends, then gives the other a
second, as containerd does. Called by the agent's streaming server; calls ``connect`` (see
:mod:`.dial`) and :mod:`.spdy`/:mod:`.transport`.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field

import aiohttp
from aiohttp import WSMsgType, web

from kubesvc.runtime.streaming.spdy import SpdySession, SpdyStream
from kubesvc.runtime.streaming.transport import (
    HijackedResponse,
    live_stream,
    run_tunneled,
    upgrade_to_spdy,
)

log = logging.getLogger(__name__)

Connect = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

PORTFORWARD_PROTOCOL = "portforward.k8s.io"
SPDY_PROTOCOLS = (PORTFORWARD_PROTOCOL,)
TUNNEL_PREFIX = "SPDY/3.1+"
WS_BINARY = "v4.channel.k8s.io"
WS_BASE64 = "v4.base64.channel.k8s.io"
STREAM_CREATION_TIMEOUT = 30.0  # kubelet's streamCreationTimeout (pairing a stream's twin)
IDLE_TIMEOUT = 4 * 3600.0  # kubelet's --streaming-connection-idle-timeout default
CLOSE_GRACE = 1.0  # containerd: after one direction ends, the other gets a second
READ_SIZE = 1 << 16


def header_values(request: web.Request, name: str) -> list[str]:
    return [v.strip() for raw in request.headers.getall(name, []) for v in raw.split(",")
            if v.strip()]


def go_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + " ".join(values) + "]"


def is_websocket(request: web.Request) -> bool:
    return ("upgrade" in request.headers.get("Connection", "").lower()
            and request.headers.get("Upgrade", "").lower() == "websocket")


def negotiate(request: web.Request, server: tuple[str, ...]) -> str | web.Response:
    """httpstream.Handshake: the first client protocol the server accepts, or the 403."""
    client = header_values(request, "X-Stream-Protocol-Version")
    if not client:
        return web.Response(status=400, text="unable to upgrade: X-Stream-Protocol-Version is "
                                             "required\n")
    for proto in client:
        if proto in server:
            return proto
    resp = web.Response(status=403, text=(
        f"unable to upgrade: unable to negotiate protocol: client supports {go_list(client)}, "
        f"server accepts {go_list(server)}\n"))
    for proto in server:
        resp.headers.add("X-Accepted-Stream-Protocol-Versions", proto)
    return resp


async def serve_portforward(request: web.Request, connect: Connect, *,
                            pod: str | None = None, uid: str = "",
                            stream_creation_timeout: float = STREAM_CREATION_TIMEOUT,
                            idle_timeout: float | None = IDLE_TIMEOUT,
                            ) -> web.StreamResponse:
    """Serve one port-forward request; returns when the client's connection ends.

    ``connect(port)`` opens the pod's port; whatever it raises becomes the error text.
    ``pod``/``uid`` name the pod in error messages (default: the ``pod`` route variable;
    containerd names the sandbox ID and an empty uid). A SPDY connection with no frame
    either way for ``idle_timeout`` seconds is closed, as kubelet's."""
    name = pod if pod is not None else request.match_info.get("pod", "")
    fwd = Forwarder(connect, name, uid)
    if is_websocket(request):
        offered = header_values(request, "Sec-WebSocket-Protocol")
        tunnel = [p.removeprefix(TUNNEL_PREFIX) for p in offered
                  if p.startswith(TUNNEL_PREFIX) and p.endswith(".k8s.io")]
        if tunnel:
            return await _serve_tunneled(request, tunnel,
                                         SpdyPortForward(fwd, stream_creation_timeout,
                                                         idle_timeout))
        return await _serve_channels(request, fwd, offered, idle_timeout)
    return await _serve_spdy(request, SpdyPortForward(fwd, stream_creation_timeout,
                                                      idle_timeout))


@dataclass
class Forwarder:
    connect: Connect
    pod: str
    uid: str

    def message(self, port: int, err: BaseException) -> str:
        return f"error forwarding port {port} to pod {self.pod}, uid {self.uid}: {err}"

    async def forward(self, port: int, recv: Callable[[], Awaitable[bytes]],
                      send: Callable[[bytes], Awaitable[None]],
                      send_eof: Callable[[], None] | None = None) -> str | None:
        """Copy between the client's stream and the pod's port; an error text or None."""
        try:
            reader, writer = await self.connect(port)
        except Exception as exc:  # any failure to reach the port is the client's error text
            msg = self.message(port, exc)
            log.info("%s", msg)
            return msg

        async def up() -> None:  # client -> pod
            while chunk := await recv():
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

        async def down() -> None:  # pod -> client
            while chunk := await reader.read(READ_SIZE):
                await send(chunk)
            if send_eof is not None:
                send_eof()

        tasks = [asyncio.create_task(up(), name=f"portforward-{port}-up"),
                 asyncio.create_task(down(), name=f"portforward-{port}-down")]
        try:
            _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_GRACE)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # errors end the copy only
            writer.close()
        return None


# --- SPDY (plain upgrade or tunneled) ---------------------------------------------------

@dataclass
class _Pair:
    request_id: str
    data: SpdyStream | None = None
    error: SpdyStream | None = None
    complete: asyncio.Event = field(default_factory=asyncio.Event)


class SpdyPortForward:
    """httpStreamHandler: pairs the streams a client opens and forwards each pair."""

    def __init__(self, fwd: Forwarder, timeout: float, idle_timeout: float | None) -> None:
        self.fwd, self.timeout, self.idle_timeout = fwd, timeout, idle_timeout
        self.pairs: dict[str, _Pair] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    def on_stream(self, stream: SpdyStream) -> None:
        port_s = stream.headers.get("port", "")
        if not port_s:
            raise ValueError('"port" header is required')
        if not port_s.isdigit() or not 0 <= int(port_s) <= 65535:
            raise ValueError(f'unable to parse "{port_s}" as a port')
        if int(port_s) < 1:
            raise ValueError(f'port "{port_s}" must be > 0')
        kind = stream.headers.get("streamtype", "")
        if kind not in ("error", "data"):
            raise ValueError(f'invalid stream type "{kind}"' if kind
                             else '"streamType" header is required')
        stream.reply()
        request_id = stream.headers.get("requestid", "")
        if not request_id:  # clients of 1.5 and before: the stream IDs pair up
            request_id = str(stream.id if kind == "error" else stream.id - 2)
        pair = self.pairs.get(request_id)
        if pair is None:
            pair = self.pairs[request_id] = _Pair(request_id)
            self._spawn(self._monitor(pair), f"portforward-pair-{request_id}")
        if getattr(pair, kind) is not None:
            msg = f"error processing stream for request {request_id}: {kind} stream already " \
                  "assigned"
            log.info("%s", msg)
            if pair.error is not None:
                pair.error.write(msg.encode())
            return
        setattr(pair, kind, stream)
        if pair.data is not None and pair.error is not None:
            pair.complete.set()
            self._spawn(self._forward(pair), f"portforward-{request_id}")

    def _spawn(self, coro: Coroutine[None, None, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _monitor(self, pair: _Pair) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await pair.complete.wait()
        except TimeoutError:
            msg = f"(conn={id(self):#x}, request={pair.request_id}) timed out waiting for streams"
            log.info("%s", msg)
            if pair.error is not None:
                pair.error.write(msg.encode())
        self.pairs.pop(pair.request_id, None)

    async def _forward(self, pair: _Pair) -> None:
        data, error = pair.data, pair.error
        assert data is not None and error is not None

        async def send(chunk: bytes) -> None:
            data.write(chunk)
            await data.drain()

        try:
            msg = await self.fwd.forward(int(data.headers["port"]), data.read, send, data.close)
            if msg is not None:
                error.write(msg.encode())
        finally:
            error.close()
            data.close()

    async def run(self, session: SpdySession) -> None:
        try:
            await session.wait_closed(self.idle_timeout)
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)


async def _serve_spdy(request: web.Request, handler: SpdyPortForward) -> web.StreamResponse:
    connection = request.headers.get("Connection", "").lower()
    upgrade = request.headers.get("Upgrade", "").lower()
    if "upgrade" not in connection or "spdy/3.1" not in upgrade:
        return web.Response(status=400, text="unable to upgrade: missing upgrade headers in "
                                             f"request: {dict(request.headers)!r}\n")
    proto = negotiate(request, SPDY_PROTOCOLS)
    if isinstance(proto, web.Response):
        return proto
    session = upgrade_to_spdy(request, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                        "X-Stream-Protocol-Version": proto}, handler.on_stream)
    with live_stream(session.close):
        await handler.run(session)
    return HijackedResponse()


async def _serve_tunneled(request: web.Request, offered: list[str],
                          handler: SpdyPortForward) -> web.StreamResponse:
    proto = next((p for p in offered if p in SPDY_PROTOCOLS), None)
    if proto is None:
        return web.Response(status=403, text=(
            "unable to upgrade: unable to negotiate protocol: client supports "
            f"{go_list(offered)}, server accepts {go_list(SPDY_PROTOCOLS)}\n"))
    ws = web.WebSocketResponse(protocols=[TUNNEL_PREFIX + proto], max_msg_size=0)
    await ws.prepare(request)
    with live_stream(ws.close):
        await run_tunneled(ws, handler.on_stream, handler.run)
    return ws


# --- WebSocket channels -----------------------------------------------------------------

def parse_ports(request: web.Request) -> list[int] | str:
    """V4Options: the ``ports`` query values, comma lists allowed; or the error text."""
    values = request.query.getall("ports", [])
    if not values:
        return 'query parameter "port" is required'
    ports = []
    for value in values:
        if not value:
            return 'query parameter "port" cannot be empty'
        for p in value.split(","):
            if not p.isdigit() or int(p) > 65535:
                return f'unable to parse "{value}" as a port: strconv.ParseUint: parsing ' \
                       f'"{p}": invalid syntax'
            if int(p) < 1:
                return f'port "{value}" must be > 0'
            ports.append(int(p))
    return ports


class _Inbox:
    """One port's client data: bounded (the reader waits when it is full), with an end."""

    def __init__(self) -> None:
        self.chunks: collections.deque[bytes] = collections.deque()
        self.ended = False
        self.readable, self.writable = asyncio.Event(), asyncio.Event()
        self.writable.set()

    async def put(self, data: bytes) -> None:
        await self.writable.wait()
        if not self.ended:
            self.chunks.append(data)
            self.readable.set()
            if len(self.chunks) >= 64:
                self.writable.clear()

    def end(self) -> None:
        self.ended = True
        self.readable.set()
        self.writable.set()

    async def get(self) -> bytes:
        while not self.chunks:
            if self.ended:
                return b""
            self.readable.clear()
            await self.readable.wait()
        chunk = self.chunks.popleft()
        if len(self.chunks) < 32:
            self.writable.set()
        return chunk


async def _serve_channels(request: web.Request, fwd: Forwarder, offered: list[str],
                          idle_timeout: float | None) -> web.StreamResponse:
    ports = parse_ports(request)
    if isinstance(ports, str):
        return web.Response(status=400, text=ports + "\n")
    supported = (WS_BINARY, WS_BASE64)
    if offered and not any(p in supported for p in offered):
        return web.Response(status=400, text=(
            f"requested protocol(s) are not supported: {go_list(offered)}; supports "
            f"{go_list(('', *supported))}\n"))
    ws = web.WebSocketResponse(protocols=supported, max_msg_size=0)
    await ws.prepare(request)
    b64 = ws.ws_protocol == WS_BASE64
    loop = asyncio.get_running_loop()
    last = [loop.time()]  # the last message either way (wsstream's idle deadline)

    async def send(channel: int, data: bytes) -> None:
        last[0] = loop.time()
        if b64:
            await ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await ws.send_bytes(bytes((channel,)) + data)

    inboxes = [_Inbox() for _ in ports]
    for i, port in enumerate(ports):
        prefix = struct.pack("<H", port)
        await send(2 * i, prefix)
        await send(2 * i + 1, prefix)

    async def receive() -> aiohttp.WSMessage | None:
        while idle_timeout is not None:
            left = last[0] + idle_timeout - loop.time()
            if left <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                return await ws.receive(timeout=left)
        return await ws.receive()

    async def reader() -> None:
        try:
            while (msg := await receive()) is not None:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                WSMsgType.ERROR):
                    break
                last[0] = loop.time()
                if msg.type == WSMsgType.BINARY and msg.data:
                    channel, payload = msg.data[0], msg.data[1:]
                elif msg.type == WSMsgType.TEXT and b64 and msg.data:
                    channel, payload = ord(msg.data[0]) - ord("0"), base64.b64decode(msg.data[1:])
                else:
                    continue
                if channel % 2 == 0 and channel // 2 < len(inboxes) and payload:
                    await inboxes[channel // 2].put(payload)  # errors channels are write-only
        finally:
            for box in inboxes:
                box.end()

    async def pair(i: int, port: int) -> None:
        box = inboxes[i]

        async def send_data(chunk: bytes) -> None:
            await send(2 * i, chunk)

        msg = await fwd.forward(port, box.get, send_data)
        box.end()
        if msg is not None and not ws.closed:
            await send(2 * i + 1, msg.encode())

    read_task = asyncio.create_task(reader(), name="portforward-ws-reader")
    try:
        with live_stream(ws.close):
            async with asyncio.TaskGroup() as tg:
                for i, port in enumerate(ports):
                    tg.create_task(pair(i, port), name=f"portforward-ws-{port}")
    except* (ConnectionError, RuntimeError):
        pass  # the client went away mid-write
    finally:
        await ws.close()
        read_task.cancel()
        await asyncio.gather(read_task, return_exceptions=True)
    return ws
