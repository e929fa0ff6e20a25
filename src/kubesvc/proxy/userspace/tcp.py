"""TCP proxying with ``asyncio.Protocol`` pairs.

Each accepted client connection gets a :class:`_ClientSide`; it picks an endpoint, opens an
:class:`_UpstreamSide`, and from then on each side writes what it receives straight into the
other's transport. Back-pressure: when one transport's write buffer passes its high-water
mark, the peer stops reading (pause_writing -> pause_reading) until it drains. The first
bytes from the client are buffered until the upstream connection is up (uvloop ignores
``pause_reading`` inside ``connection_made``). A side is closed only after both have seen
EOF or an error, and the listener keeps strong references to both protocols until then.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from kubesvc.proxy.userspace.listeners import TcpListener

log = logging.getLogger(__name__)

_HIGH_WATER = 1 << 20
_LINGER_RST = struct.pack("ii", 1, 0)


def _abort_with_rst(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        except OSError:
            pass
    transport.close()


def _half_close(t: asyncio.Transport | None) -> None:
    """Send FIN after the buffered bytes (close when the transport cannot half-close)."""
    if t is not None and not t.is_closing():
        if t.can_write_eof():
            t.write_eof()
        else:
            t.close()


def _close(t: asyncio.Transport | None) -> None:
    if t is not None and not t.is_closing():
        t.close()


class _ClientSide(asyncio.Protocol):
    __slots__ = ("_closed", "_eof", "_pending", "ep", "listener", "peer", "received",
                 "sent", "transport", "upstream")

    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.upstream: _UpstreamSide | None = None
        self._pending: list[bytes] | None = []
        self._eof = False
        self._closed = False
        self.ep = ""
        self.sent = 0
        self.received = 0
        self.peer = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        bal = self.listener.balancer
        if bal.uses_client_ip:  # a getpeername() per connection only when it matters
            peer = transport.get_extra_info("peername")
            self.peer = peer[0] if peer else ""
        if not bal.allowed(self.peer):
            _abort_with_rst(transport)
            return
        ep = bal.pick(self.peer)
        if ep is None:
            _abort_with_rst(transport)
            return
        # (asyncio and uvloop both set TCP_NODELAY on every TCP socket already.)
        transport.set_write_buffer_limits(high=_HIGH_WATER)
        listener = self.listener
        listener.live.add(self)
        # Named, and kept in the listener's set until done (the loop holds tasks weakly).
        task = asyncio.get_running_loop().create_task(self._connect(ep, frozenset()),
                                                      name=listener.connect_task_name)
        listener.connecting.add(task)
        task.add_done_callback(listener.connecting.discard)

    async def _connect(self, ep: tuple[str, int], tried: frozenset[tuple[str, int]]) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                _, up = await loop.create_connection(lambda: _UpstreamSide(self), ep[0], ep[1])
                break
            except OSError as exc:
                tried = tried | {ep}
                nxt = self.listener.balancer.pick(self.peer, exclude=tried)
                if nxt is None or len(tried) >= 3 or self._closed:
                    log.debug("tcp %s: no endpoint reachable (%s)", self.listener.name, exc)
                    if self.transport is not None:
                        _abort_with_rst(self.transport)
                    return
                ep = nxt
        self.upstream = up
        self.ep = f"{ep[0]}:{ep[1]}"
        self.listener.stats.connection(self.listener.name, self.ep)
        if self._closed:
            up.close()
            return
        assert up.transport is not None
        pending, self._pending = self._pending, None
        if pending:
            up.transport.write(b"".join(pending))
        if self._eof:
            up.write_eof()

    def data_received(self, data: bytes) -> None:
        self.sent += len(data)
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.write(data)
        elif self._pending is not None:
            self._pending.append(data)

    def eof_received(self) -> bool:
        self._eof = True
        up = self.upstream
        if up is not None:
            up.write_eof()
        self.close_if_done()
        return True  # keep the write side open for the response

    def close_if_done(self) -> None:
        """Both directions have seen EOF: nothing more can flow, close both sides (their
        buffered bytes are still flushed before the sockets close)."""
        up = self.upstream
        if self._eof and up is not None and up.eof:
            self.close()
            up.close()

    def pause_writing(self) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.pause_reading()

    def resume_writing(self) -> None:
        up = self.upstream
        if up is not None and up.transport is not None:
            up.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        up = self.upstream
        if up is not None:
            up.close()
        self._finish()

    def write_eof(self) -> None:
        _half_close(self.transport)

    def close(self) -> None:
        _close(self.transport)

    def _finish(self) -> None:
        up = self.upstream
        if up is not None and not up.closed:
            return
        if self in self.listener.live:
            self.listener.live.discard(self)
            if self.ep:
                self.listener.stats.bytes(self.listener.name, self.ep, sent=self.sent,
                                          received=self.received)


class _UpstreamSide(asyncio.Protocol):
    __slots__ = ("client", "closed", "eof", "transport")

    def __init__(self, client: _ClientSide) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        c = self.client
        c.received += len(data)
        t = c.transport
        if t is not None:
            t.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        self.client.write_eof()
        self.client.close_if_done()
        return True

    def pause_writing(self) -> None:
        t = self.client.transport
        if t is not None:
            t.pause_reading()

    def resume_writing(self) -> None:
        t = self.client.transport
        if t is not None:
            t.resume_reading()

    def write_eof(self) -> None:
        _half_close(self.transport)

    def close(self) -> None:
        _close(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client.close()
        self.client._finish()
