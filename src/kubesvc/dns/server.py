"""The DNS server: UDP and TCP on one address, answering from a :class:`RecordBook`.

UDP uses ``loop.add_reader`` on a non-blocking socket and drains up to 64 datagrams per
wake-up with ``recvfrom``/``sendto`` (far faster than a DatagramProtocol); TCP uses asyncio
streams with the two-byte length prefix and serves several queries per connection.
Names outside the cluster zone (and reverse names of non-cluster addresses) are forwarded to
``upstreams`` when given, else REFUSED. Until ``ready()`` is true every in-zone query gets
SERVFAIL, as CoreDNS does before its caches sync. Every reply is counted in
:class:`.metrics.DnsMetrics` under CoreDNS's names. Called by ``kubesvc up``/``server``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
import time
from collections.abc import Callable

from kubesvc.dns import wire
from kubesvc.dns.metrics import DnsMetrics
from kubesvc.dns.records import Answer, RecordBook

log = logging.getLogger(__name__)

_BATCH = 64
_EDNS_SIZE = 1232
_ROOT = "."
# What a reply was, for the metrics: (qtype, zone, plugin, name counted or "").
_Meta = tuple[int, str, str, str]


class DnsServer:
    def __init__(
        self,
        book: RecordBook,
        *,
        host: str = "127.0.0.1",
        port: int = 53,
        upstreams: tuple[tuple[str, int], ...] = (),
        ready: Callable[[], bool] = lambda: True,
        forward_timeout: float = 2.0,
    ) -> None:
        self.book = book
        self.host = host
        self.port = port
        self.upstreams = upstreams
        self.ready = ready
        self.forward_timeout = forward_timeout
        self._udp: socket.socket | None = None
        self._tcp: asyncio.Server | None = None
        # Extra listeners on sockets made elsewhere (e.g. inside node network namespaces).
        self._extra_udp: list[socket.socket] = []
        self._extra_tcp: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._forwards: set[asyncio.Task[None]] = set()
        # Whole UDP replies by query bytes after the ID, valid for one RecordBook
        # generation: a repeated question costs a dict lookup and a concatenation.
        self._replies: dict[bytes, tuple[bytes, _Meta]] = {}
        self._replies_gen = -1
        self.metrics = DnsMetrics(f"dns://{host}:{port}")
        self._zone = book.zone + "."

    # -- lifecycle
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        # With port 0 the UDP socket picks a free port; TCP must then get the same number,
        # which another TCP socket may hold: try a few ports before giving up.
        for attempt in range(20):
            udp = self._bind_udp()
            try:
                self._tcp = await asyncio.start_server(
                    self._serve_tcp, self.host, udp.getsockname()[1], reuse_address=True
                )
            except OSError:
                udp.close()
                if self.port != 0 or attempt == 19:
                    raise
                continue
            self.port = udp.getsockname()[1]
            self.metrics.server = f"dns://{self.host}:{self.port}"
            self._udp = udp
            self._loop.add_reader(udp.fileno(), self._on_udp_readable, udp)
            return

    async def add_listener(self, udp: socket.socket, tcp: socket.socket) -> None:
        """Serve also on two already-bound sockets (UDP, and TCP not yet listening), such
        as sockets created inside a node's network namespace. Call after :meth:`start`."""
        loop = asyncio.get_running_loop()
        udp.setblocking(False)
        loop.add_reader(udp.fileno(), self._on_udp_readable, udp)
        self._extra_udp.append(udp)
        tcp.setblocking(False)
        self._extra_tcp.append(await asyncio.start_server(self._serve_tcp, sock=tcp))

    def _bind_udp(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        udp = socket.socket(family, socket.SOCK_DGRAM)
        try:
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((self.host, self.port))
            udp.setblocking(False)
        except OSError:
            udp.close()
            raise
        return udp

    async def stop(self) -> None:
        if self._udp is not None and self._loop is not None:
            self._loop.remove_reader(self._udp.fileno())
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None
        for sock in self._extra_udp:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        self._extra_udp.clear()
        for srv in self._extra_tcp:
            srv.close()
            await srv.wait_closed()
        self._extra_tcp.clear()
        for t in list(self._forwards):
            t.cancel()

    # -- UDP
    def _on_udp_readable(self, sock: socket.socket) -> None:
        for _ in range(_BATCH):
            try:
                data, addr = sock.recvfrom(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("dns udp recv: %s", exc)
                return
            if self._replies_gen == self.book.generation:
                hit = self._replies.get(data[2:])
                if hit is not None:
                    started = time.perf_counter()
                    tail, (qtype, zone, plugin, name) = hit
                    try:
                        sock.sendto(data[:2] + tail, addr)
                    except OSError:
                        pass
                    self.metrics.observe(
                        ("udp", "2" if sock.family == socket.AF_INET6 else "1", qtype, zone,
                         tail[1] & 0x0F, plugin, name),
                        len(data), len(tail) + 2, time.perf_counter() - started)
                    continue
            reply = self.handle(data, udp=True, reply_to=addr, sock=sock)
            if reply is not None:
                try:
                    sock.sendto(reply, addr)
                except OSError:
                    pass

    # -- TCP
    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(2), timeout=10)
                    data = await reader.readexactly(struct.unpack("!H", head)[0])
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                reply = self.handle(data, udp=False)
                if reply is None and self.upstreams:
                    started = time.perf_counter()
                    reply = await self._forward_async(data)
                    self._observe_forward("tcp", data, reply, started)
                if reply is None:
                    continue
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    # -- answering
    def handle(
        self,
        data: bytes,
        *,
        udp: bool,
        reply_to: tuple[str, int] | None = None,
        sock: socket.socket | None = None,
    ) -> bytes | None:
        """Answer one message; None when there is nothing to send (or a forward is under
        way for UDP, which replies by itself). Each reply is counted in :attr:`metrics`."""
        started = time.perf_counter()
        reply, (qtype, zone, plugin, name) = self._answer(data, udp=udp, reply_to=reply_to,
                                                          sock=sock)
        if reply is not None and len(reply) >= 4:
            family = "2" if sock is not None and sock.family == socket.AF_INET6 else "1"
            self.metrics.observe(("udp" if udp else "tcp", family, qtype, zone,
                                  reply[3] & 0x0F, plugin, name),
                                 len(data), len(reply), time.perf_counter() - started)
        return reply

    def _answer(
        self,
        data: bytes,
        *,
        udp: bool,
        reply_to: tuple[str, int] | None,
        sock: socket.socket | None,
    ) -> tuple[bytes | None, _Meta]:
        try:
            q = wire.parse_query(data)
        except wire.FormatError:
            return wire.error_response(data, wire.FORMERR), (0, _ROOT, "", "")
        if q.opcode != 0:
            return wire.error_response(data, wire.NOTIMP), (q.qtype, _ROOT, "", "")
        if q.qclass not in (wire.CLASS_IN, wire.ANY):
            return self._reply(q, Answer(wire.REFUSED), udp=udp, aa=False), (q.qtype, _ROOT, "", "")
        in_zone = self.book.in_zone(q.qname)
        zone = self._zone if in_zone else _ROOT
        if in_zone and not self.ready():
            return self._reply(q, Answer(wire.SERVFAIL), udp=udp, aa=False), (q.qtype, zone, "", "")
        ans = self.book.lookup(q.qname, q.qtype)
        if ans is not None:
            meta = (q.qtype, zone, "kubernetes",
                    q.qname if in_zone and ans.rcode == wire.NOERROR else "")
            reply = self._reply(q, ans, udp=udp, aa=True)
            if udp:
                self._remember(data, reply, meta)
            return reply, meta
        meta = (q.qtype, zone, "", "")
        if self.upstreams:
            if udp and reply_to is not None and sock is not None:
                task = asyncio.create_task(self._forward_udp_reply(data, reply_to, sock),
                                           name="dns-forward")
                self._forwards.add(task)
                task.add_done_callback(self._forwards.discard)
                return None, meta
            return None, meta  # the TCP path forwards itself
        if self.book.is_reverse(q.qname):
            return self._reply(q, Answer(wire.NXDOMAIN), udp=udp, aa=False), meta
        return self._reply(q, Answer(wire.REFUSED), udp=udp, aa=False), meta

    def _remember(self, data: bytes, reply: bytes, meta: _Meta) -> None:
        gen = self.book.generation
        if self._replies_gen != gen or len(self._replies) >= 100_000:
            self._replies.clear()
            self._replies_gen = gen
        self._replies[data[2:]] = (reply[2:], meta)

    def _observe_forward(self, proto: str, data: bytes, reply: bytes | None,
                         started: float, family: str = "1") -> None:
        if reply is None or len(reply) < 4:
            return
        try:
            qtype = wire.parse_query(data).qtype
        except wire.FormatError:
            qtype = 0
        self.metrics.observe((proto, family, qtype, _ROOT, reply[3] & 0x0F, "forward", ""),
                             len(data), len(reply), time.perf_counter() - started)

    def _reply(self, q: wire.Query, ans: Answer, *, udp: bool, aa: bool) -> bytes:
        opt = wire.opt_record(_EDNS_SIZE) if q.edns_size else b""
        ar_count = ans.ar_count + (1 if opt else 0)
        body = q.question + ans.answers + ans.authority + ans.additional + opt
        flags = wire.response_flags(q.flags, ans.rcode, aa=aa)
        msg = wire.header(q.id, flags, 1, ans.an_count, ans.ns_count, ar_count) + body
        if udp:
            limit = q.edns_size or 512
            if len(msg) > limit:
                # Truncate: the client retries over TCP for the full answer.
                flags = wire.response_flags(q.flags, ans.rcode, aa=aa, tc=True)
                msg = wire.header(q.id, flags, 1, 0, 0, 1 if opt else 0) + q.question + opt
        return msg

    # -- forwarding
    async def _forward_udp_reply(
        self, data: bytes, addr: tuple[str, int], sock: socket.socket
    ) -> None:
        started = time.perf_counter()
        reply = await self._forward_async(data)
        self._observe_forward("udp", data, reply, started,
                              "2" if sock.family == socket.AF_INET6 else "1")
        if reply is not None and sock.fileno() != -1:
            with contextlib.suppress(OSError):
                sock.sendto(reply, addr)

    async def _forward_async(self, data: bytes) -> bytes | None:
        loop = asyncio.get_running_loop()
        for host, port in self.upstreams:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, (host, port))
                await loop.sock_sendall(sock, data)
                reply = await asyncio.wait_for(loop.sock_recv(sock, 65535),
                                               timeout=self.forward_timeout)
                if len(reply) >= 2 and reply[:2] == data[:2]:
                    return reply
            except (OSError, TimeoutError) as exc:
                log.debug("dns forward to %s:%s failed: %s", host, port, exc)
            finally:
                sock.close()
        return wire.error_response(data, wire.SERVFAIL)
