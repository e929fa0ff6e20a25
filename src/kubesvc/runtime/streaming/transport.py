"""Carriers for a SPDY session inside aiohttp: the connection itself after ``101 Switching
Protocols`` to ``SPDY/3.1`` (:func:`upgrade_to_spdy`), or a WebSocket whose binary messages
carry the SPDY bytes (:func:`run_tunneled`, kubectl 1.30+'s ``SPDY/3.1+<protocol>``
subprotocols, client-go's TunnelingConnection).

aiohttp only hands the socket over for ``Upgrade: websocket``, so the SPDY upgrade writes
its 101 itself and moves the transport to its own ``asyncio.Protocol`` (nothing else is
read from the socket before the client has seen the 101); the handler then returns a
response object that writes nothing. Called by :mod:`.portforward` and :mod:`.spdyexec`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

from aiohttp import WSMsgType, web

from kubesvc.runtime.streaming.spdy import SpdySession, SpdyStream

WRITE_HIGH = 1 << 20

# Live streaming connections per event loop, so the server's shutdown can end them
# (aiohttp waits for running handlers, and these run as long as the client stays).
_LIVE: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, Callable[[], Any]]] = \
    weakref.WeakKeyDictionary()
_ids = itertools.count()


@contextlib.contextmanager
def live_stream(close: Callable[[], Any]) -> Iterator[None]:
    """Register ``close`` (sync or async) for :func:`close_streams` while the block runs."""
    table = _LIVE.setdefault(asyncio.get_running_loop(), {})
    key = next(_ids)
    table[key] = close
    try:
        yield
    finally:
        table.pop(key, None)


async def close_streams(_app: web.Application | None = None) -> None:
    """End every live exec/attach/port-forward connection on this loop. The streaming
    server adds it to ``app.on_shutdown``."""
    for close in list(_LIVE.get(asyncio.get_running_loop(), {}).values()):
        with contextlib.suppress(Exception):
            result = close()
            if inspect.isawaitable(result):
                await result


class HijackedResponse(web.StreamResponse):
    """What a handler returns once it wrote its own 101 and took the connection."""

    def __init__(self) -> None:
        super().__init__(status=101)
        self.force_close()

    async def prepare(self, request: web.BaseRequest) -> Any:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        return None


class _TcpSink(asyncio.Protocol):
    """The hijacked connection: feeds the session, applies both directions' back-pressure."""

    def __init__(self, transport: asyncio.Transport, previous: asyncio.BaseProtocol) -> None:
        self.transport, self.previous = transport, previous
        self.session: SpdySession | None = None
        self._paused_writing = False
        self._drained: asyncio.Future[None] | None = None
        self._lost = False

    # FrameSink
    def write(self, data: bytes) -> None:
        if not self._lost:
            self.transport.write(data)

    def close(self) -> None:
        self.transport.close()

    async def drain(self) -> None:
        while self._paused_writing and not self._lost:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained

    def pause_reading(self) -> None:
        if not self._lost:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._lost:
            self.transport.resume_reading()

    # asyncio.Protocol
    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.data_received(data)

    def eof_received(self) -> bool | None:
        return None  # close: a client that half-closes the SPDY connection is done

    def pause_writing(self) -> None:
        self._paused_writing = True

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._wake()
        if self.session is not None:
            self.session.connection_lost()
        # let aiohttp forget the connection (its handler is ours and still running)
        with contextlib.suppress(Exception):
            self.previous.connection_lost(exc)

    def _wake(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


def upgrade_to_spdy(request: web.Request, headers: Mapping[str, str],
                    on_stream: Callable[[SpdyStream], None]) -> SpdySession:
    """Answer 101 with ``headers`` and start a server session on the connection."""
    transport = request.transport  # (uvloop's transports are not asyncio.Transport subclasses)
    if transport is None:
        raise ConnectionResetError("the client went away before the upgrade")
    sink = _TcpSink(transport, transport.get_protocol())
    session = SpdySession(sink, on_stream)
    sink.session = session
    transport.set_protocol(sink)
    lines = ["HTTP/1.1 101 Switching Protocols"] + [f"{k}: {v}" for k, v in headers.items()]
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    transport.resume_reading()
    return session


class _WsSink:
    """SPDY bytes out as WebSocket binary messages (coalesced by one sender task)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.buf = bytearray()
        self.wake = asyncio.Event()
        self.space = asyncio.Event()
        self.space.set()
        self.reading = asyncio.Event()
        self.reading.set()
        self.closing = False

    def write(self, data: bytes) -> None:
        if not self.closing:
            self.buf += data
            self.wake.set()
            if len(self.buf) > WRITE_HIGH:
                self.space.clear()

    def close(self) -> None:
        self.closing = True
        self.wake.set()
        self.space.set()
        self.reading.set()

    async def drain(self) -> None:
        await self.space.wait()

    def pause_reading(self) -> None:
        self.reading.clear()

    def resume_reading(self) -> None:
        self.reading.set()

    async def sender(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.buf:
                data, self.buf = bytes(self.buf), bytearray()
                self.space.set()
                try:
                    await self.ws.send_bytes(data)
                except (ConnectionError, RuntimeError):
                    self.closing = True
            if self.closing:
                return


async def run_tunneled(ws: web.WebSocketResponse,
                       on_stream: Callable[[SpdyStream], None],
                       serve: Callable[[SpdySession], Awaitable[None]]) -> None:
    """Run a SPDY session over ``ws`` (already prepared) until either side ends it.

    ``serve(session)`` is awaited alongside; the session ends when the WebSocket closes.
    """
    sink = _WsSink(ws)
    session = SpdySession(sink, on_stream)

    async def reader() -> None:
        try:
            while not session.closed:
                await sink.reading.wait()
                msg = await ws.receive()
                if msg.type == WSMsgType.BINARY:
                    session.data_received(msg.data)
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                  WSMsgType.ERROR):
                    break
                # client-go's TunnelingConnection fails on text messages; we ignore them
        finally:
            session.connection_lost()
            sink.close()

    async with asyncio.TaskGroup() as tg:
        tg.create_task(reader(), name="spdy-tunnel-reader")
        sending = tg.create_task(sink.sender(), name="spdy-tunnel-sender")
        await serve(session)
        session.close()  # GOAWAY, flushed by the sender before the close frame
        await sending
        await ws.close()
