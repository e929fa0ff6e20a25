"""A minimal SPDY/3.1 client for the tests, playing client-go's role: it upgrades a plain
HTTP connection (``Upgrade: SPDY/3.1``) or a WebSocket (``SPDY/3.1+portforward.k8s.io``),
opens odd-numbered streams and waits for each SYN_REPLY, as spdystream's CreateStream +
WaitTimeout do. Built on the server's own framing module, so the tests of that module
(tests/unit/runtime/streaming) pin the wire format independently."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import aiohttp

from kubesvc.runtime.streaming import spdy


class ClientStream:
    def __init__(self, conn: SpdyClient, sid: int) -> None:
        self.conn, self.id = conn, sid
        self.replied = asyncio.get_running_loop().create_future()
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.ended = False
        self.reset_status: int | None = None

    def write(self, data: bytes) -> None:
        self.conn.send(spdy.data_frame(self.id, data))

    def close(self) -> None:
        self.conn.send(spdy.data_frame(self.id, b"", fin=True))

    def reset(self) -> None:
        self.conn.send(spdy.rst_stream(self.id, spdy.RstStatus.CANCEL))

    async def read(self) -> bytes:
        if self.ended and self.queue.empty():
            return b""
        return await self.queue.get()

    async def read_all(self, timeout: float = 10) -> bytes:
        out = []
        async with asyncio.timeout(timeout):
            while chunk := await self.read():
                out.append(chunk)
        return b"".join(out)

    async def read_exactly(self, n: int, timeout: float = 10) -> bytes:
        buf = bytearray()
        async with asyncio.timeout(timeout):
            while len(buf) < n:
                chunk = await self.read()
                if not chunk:
                    break
                buf += chunk
        return bytes(buf)

    def _end(self) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(b"")


class SpdyClient:
    def __init__(self, send: Callable[[bytes], None]) -> None:
        self.send = send
        self.codec = spdy.HeaderCodec()
        self.parser = spdy.FrameParser(self)
        self.streams: dict[int, ClientStream] = {}
        self.next_id = 1
        self.pings: dict[int, asyncio.Future[None]] = {}
        self.goaway = False
        self.closers: list[Callable[[], Awaitable[None]]] = []

    async def create_stream(self, headers: dict[str, str], timeout: float = 10) -> ClientStream:
        sid, self.next_id = self.next_id, self.next_id + 2
        stream = self.streams[sid] = ClientStream(self, sid)
        self.send(spdy.syn_stream(self.codec, sid, headers))
        async with asyncio.timeout(timeout):
            await stream.replied
        return stream

    async def ping(self, ping_id: int = 1) -> None:
        fut = self.pings[ping_id] = asyncio.get_running_loop().create_future()
        self.send(spdy.ping(ping_id))
        async with asyncio.timeout(5):
            await fut

    async def close(self) -> None:
        for closer in self.closers:
            await closer()

    # FrameHandler
    def on_data(self, stream_id: int, flags: int, data: bytes) -> None:
        stream = self.streams.get(stream_id)
        if stream is None:
            return
        if data:
            stream.queue.put_nowait(data)
        if flags & spdy.FLAG_FIN:
            stream._end()

    def on_control(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == spdy.FrameType.SYN_REPLY:
            sid = struct.unpack_from(">I", payload)[0]
            self.codec.decompress(payload[4:])
            stream = self.streams.get(sid)
            if stream is not None and not stream.replied.done():
                stream.replied.set_result(None)
        elif kind == spdy.FrameType.RST_STREAM:
            sid, status = struct.unpack_from(">II", payload)
            stream = self.streams.get(sid)
            if stream is not None:
                stream.reset_status = status
                if not stream.replied.done():
                    stream.replied.set_exception(ConnectionResetError(f"reset {status}"))
                stream._end()
        elif kind == spdy.FrameType.PING:
            (pid,) = struct.unpack_from(">I", payload)
            fut = self.pings.pop(pid, None)
            if fut is not None and not fut.done():
                fut.set_result(None)
        elif kind == spdy.FrameType.GOAWAY:
            self.goaway = True

    def lost(self) -> None:
        for stream in self.streams.values():
            if not stream.replied.done():
                stream.replied.set_exception(ConnectionResetError("connection lost"))
            stream._end()


async def connect_spdy(base_url: str, path: str, *,
                       protocols: tuple[str, ...] = ("portforward.k8s.io",),
                       ) -> tuple[SpdyClient | None, int, bytes]:
    """Plain upgrade. Returns (client, status, raw response head); client None unless 101."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: Upgrade",
            "Upgrade: SPDY/3.1", "Content-Length: 0"]
    head += [f"X-Stream-Protocol-Version: {p}" for p in protocols]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    raw = await reader.readuntil(b"\r\n\r\n")
    status = int(raw.split(b" ", 2)[1])
    if status != 101:
        raw += await reader.read(4096)
        writer.close()
        return None, status, raw
    client = SpdyClient(writer.write)

    async def pump() -> None:
        try:
            while data := await reader.read(1 << 16):
                client.parser.feed(data)
        except ConnectionError:
            pass
        finally:
            client.lost()

    task = asyncio.create_task(pump())

    async def closer() -> None:
        writer.close()
        await asyncio.gather(task, return_exceptions=True)

    client.closers.append(closer)
    return client, status, raw


async def connect_tunneled(base_url: str, path: str) -> SpdyClient:
    """kubectl 1.32's default: SPDY inside WebSocket binary messages."""
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(base_url + path, protocols=("SPDY/3.1+portforward.k8s.io",),
                                  max_msg_size=0)
    assert ws.protocol == "SPDY/3.1+portforward.k8s.io", ws.protocol
    loop = asyncio.get_running_loop()
    client = SpdyClient(lambda data: loop.create_task(ws.send_bytes(data)) and None)

    async def pump() -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.BINARY:
                    client.parser.feed(msg.data)
        finally:
            client.lost()

    task = asyncio.create_task(pump())

    async def closer() -> None:
        await ws.close()
        await asyncio.gather(task, return_exceptions=True)
        await session.close()

    client.closers.append(closer)
    return client


def pf_headers(port: int, kind: str, request_id: int | None) -> dict[str, str]:
    headers = {"streamType": kind, "port": str(port)}
    if request_id is not None:
        headers["requestID"] = str(request_id)
    return headers


async def forward(client: SpdyClient, port: int, request_id: int | None
                  ) -> tuple[ClientStream, ClientStream]:
    """client-go's handleConnection: error stream (closed at once), then data stream."""
    error = await client.create_stream(pf_headers(port, "error", request_id))
    error.close()
    data = await client.create_stream(pf_headers(port, "data", request_id))
    return error, data
