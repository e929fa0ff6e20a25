"""One listening socket per address:port:protocol of the userspace proxy.

:class:`TcpListener` accepts and hands each connection to the protocol pair in
:mod:`.tcp`; :class:`UdpListener` keeps one connected socket per client flow towards its
chosen endpoint, relays replies back, and expires flows idle longer than ``idle_timeout``.
Closing a listener stops new traffic only: established TCP connections and live UDP flows
keep going, so unrelated Service changes never cut a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass

from kubesvc.proxy.stats import Stats
from kubesvc.proxy.userspace.balancer import Addr, Balancer
from kubesvc.proxy.userspace.tcp import _ClientSide

log = logging.getLogger(__name__)


class _Listener:
    """What both listeners are given: the Service port's name, the address to listen on,
    the endpoint balancer, the stats to count into, and whether to set SO_REUSEPORT."""

    def __init__(
        self, name: str, addr: Addr, balancer: Balancer, stats: Stats, *, reuse_port: bool
    ) -> None:
        self.reuse_port = reuse_port
        self.name = name
        self.addr = addr
        self.balancer = balancer
        self.stats = stats


class TcpListener(_Listener):
    def __init__(
        self, name: str, addr: Addr, balancer: Balancer, stats: Stats, *,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(name, addr, balancer, stats, reuse_port=reuse_port)
        self.live: set[_ClientSide] = set()
        # The upstream connects in progress (one named task per accepted connection).
        self.connecting: set[asyncio.Task[None]] = set()
        self.connect_task_name = f"proxy-connect {name}"
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientSide(self), self.addr[0], self.addr[1], reuse_address=True,
            reuse_port=self.reuse_port or None, backlog=4096,
        )

    async def close(self, *, drop_connections: bool = False) -> None:
        """Stop accepting; established connections go on unless ``drop_connections``."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if drop_connections:
            for conn in list(self.live):
                conn.close()
                if conn.upstream is not None:
                    conn.upstream.close()
            connecting = list(self.connecting)
            for t in connecting:
                t.cancel()
            await asyncio.gather(*connecting, return_exceptions=True)


@dataclass(slots=True)
class _Flow:
    sock: socket.socket
    client: Addr
    endpoint: str
    last: float


class UdpListener(_Listener):
    def __init__(
        self, name: str, addr: Addr, balancer: Balancer, stats: Stats, *, idle_timeout: float,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(name, addr, balancer, stats, reuse_port=reuse_port)
        self.idle_timeout = idle_timeout
        self._sock: socket.socket | None = None
        self._flows: dict[Addr, _Flow] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: asyncio.TimerHandle | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self.addr[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind(self.addr)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self._sock = sock
        self._loop.add_reader(sock.fileno(), self._on_client_data)
        self._schedule_sweep()

    def _schedule_sweep(self) -> None:
        assert self._loop is not None
        self._sweeper = self._loop.call_later(max(0.5, self.idle_timeout / 2), self._sweep)

    def _sweep(self) -> None:
        now = time.monotonic()
        for client, flow in list(self._flows.items()):
            if now - flow.last > self.idle_timeout:
                self._drop(client)
        if self._sock is not None:
            self._schedule_sweep()
        elif not self._flows:
            self._sweeper = None
        else:
            self._schedule_sweep()

    def _drop(self, client: Addr) -> None:
        flow = self._flows.pop(client, None)
        if flow is not None and self._loop is not None:
            self._loop.remove_reader(flow.sock.fileno())
            flow.sock.close()

    def _on_client_data(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(64):
            try:
                data, client = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            flow = self._flows.get(client)
            if flow is None:
                flow = self._open_flow(client)
                if flow is None:
                    continue
            flow.last = time.monotonic()
            with contextlib.suppress(OSError):
                flow.sock.send(data)
            self.stats.bytes(self.name, flow.endpoint, sent=len(data), received=0)

    def _open_flow(self, client: Addr) -> _Flow | None:
        if not self.balancer.allowed(client[0]):
            return None
        ep = self.balancer.pick(client[0])
        if ep is None or self._loop is None:
            return None
        family = socket.AF_INET6 if ":" in ep[0] else socket.AF_INET
        up = socket.socket(family, socket.SOCK_DGRAM)
        up.setblocking(False)
        try:
            up.connect(ep)
        except OSError:
            up.close()
            return None
        flow = _Flow(up, client, f"{ep[0]}:{ep[1]}", time.monotonic())
        self._flows[client] = flow
        self._loop.add_reader(up.fileno(), self._on_endpoint_data, flow)
        self.stats.connection(self.name, flow.endpoint)
        return flow

    def _on_endpoint_data(self, flow: _Flow) -> None:
        for _ in range(64):
            try:
                data = flow.sock.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(flow.client)
                return
            flow.last = time.monotonic()
            out = self._sock
            if out is None:
                return
            with contextlib.suppress(OSError):
                out.sendto(data, flow.client)
            self.stats.bytes(self.name, flow.endpoint, sent=0, received=len(data))

    async def close(self, *, drop_connections: bool = True) -> None:
        """Stop the listener; its flows end with it (replies leave from its socket)."""
        sock = self._sock
        self._sock = None
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        for client in list(self._flows):
            self._drop(client)
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
