"""Property tests: arbitrary bytes never crash the packet parser or the responder."""

from __future__ import annotations

import dns.message
from hypothesis import given, settings
from hypothesis import strategies as st

from kubesvc.dns import wire
from kubesvc.dns.records import RecordBook, ServiceView
from kubesvc.dns.server import DnsServer

BOOK = RecordBook()
BOOK.set_service(ServiceView("default", "a", "ClusterIP", ("10.96.0.1",), False, "", ()), [])
SERVER = DnsServer(BOOK)


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_crash(data: bytes) -> None:
    reply = SERVER.handle(data, udp=True)
    if reply is not None:
        assert len(reply) >= 12
        assert reply[:2] == data[:2]


@settings(max_examples=1000, deadline=None)
@given(st.binary(min_size=12, max_size=300), st.integers(0, 299))
def test_mutated_queries_never_crash(noise: bytes, cut: int) -> None:
    q = dns.message.make_query("a.default.svc.cluster.local", "A", use_edns=True).to_wire()
    mutated = q[:cut] + noise[: max(0, len(q) - cut)]
    SERVER.handle(mutated, udp=True)


def test_formerr_for_two_questions() -> None:
    q = bytearray(dns.message.make_query("a.default.svc.cluster.local", "A").to_wire())
    q[4:6] = b"\x00\x02"
    reply = SERVER.handle(bytes(q), udp=True)
    assert reply is not None and reply[3] & 0xF == wire.FORMERR
