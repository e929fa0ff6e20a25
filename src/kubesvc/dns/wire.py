"""DNS wire format: just what the cluster DNS needs, written for speed.

:func:`parse_query` reads a standard query (one question, optional EDNS0 OPT) without
building objects per label; :func:`encode_name` and the ``rr_*`` helpers pre-encode
resource records once (when informer events arrive), so that answering a query is copying
bytes and patching the ID. Malformed packets raise :class:`FormatError`.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass

# Types and classes
A, NS, CNAME, SOA, PTR, TXT, AAAA, SRV, OPT, ANY = 1, 2, 5, 6, 12, 16, 28, 33, 41, 255
CLASS_IN = 1

# RCODEs
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5

_HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
QNAME_PTR = b"\xc0\x0c"  # compression pointer to the question name at offset 12


class FormatError(Exception):
    """The packet is not a DNS message we can read."""


@dataclass(slots=True)
class Query:
    id: int
    flags: int
    qname: str  # lower-case, no trailing dot ("" for the root)
    qtype: int
    qclass: int
    question: bytes  # the question section exactly as sent (case preserved)
    edns_size: int  # 0 when the query had no OPT record
    edns_version: int

    @property
    def rd(self) -> bool:
        return bool(self.flags & 0x0100)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF


def parse_query(data: bytes) -> Query:
    """Parse a query with exactly one question. Raises FormatError."""
    if len(data) < 12:
        raise FormatError("short header")
    qid, flags, qd, an, ns, ar = _HEADER.unpack_from(data, 0)
    if flags & 0x8000:
        raise FormatError("not a query")
    if qd != 1:
        raise FormatError("need exactly one question")
    pos = 12
    labels: list[bytes] = []
    total = 0
    end = len(data)
    while True:
        if pos >= end:
            raise FormatError("truncated name")
        n = data[pos]
        if n == 0:
            pos += 1
            break
        if n & 0xC0:
            raise FormatError("compression in question")
        pos += 1
        if pos + n > end:
            raise FormatError("truncated label")
        labels.append(data[pos : pos + n])
        total += n + 1
        if total > 255:
            raise FormatError("name too long")
        pos += n
    if pos + 4 > end:
        raise FormatError("truncated question")
    qtype, qclass = struct.unpack_from("!HH", data, pos)
    pos += 4
    question = data[12:pos]
    try:
        qname = b".".join(labels).decode("ascii").lower()
    except UnicodeDecodeError as exc:
        raise FormatError("non-ascii name") from exc
    edns_size = 0
    edns_version = 0
    # Skip answer/authority records (normally none), then look for OPT in additional.
    for i in range(an + ns + ar):
        pos, rtype, rclass, ttl = _skip_rr(data, pos)
        if i >= an + ns and rtype == OPT:
            edns_size = max(512, rclass)
            edns_version = (ttl >> 16) & 0xFF
    return Query(qid, flags, qname, qtype, qclass, question, edns_size, edns_version)


def _skip_rr(data: bytes, pos: int) -> tuple[int, int, int, int]:
    end = len(data)
    while True:
        if pos >= end:
            raise FormatError("truncated record name")
        n = data[pos]
        if n & 0xC0 == 0xC0:
            pos += 2
            break
        pos += 1 + n
        if n == 0:
            break
    if pos + 10 > end:
        raise FormatError("truncated record")
    rtype, rclass, ttl, rdlen = _RR_FIXED.unpack_from(data, pos)
    pos += 10 + rdlen
    if pos > end:
        raise FormatError("truncated rdata")
    return pos, rtype, rclass, ttl


def encode_name(name: str) -> bytes:
    """``a.b.c`` (no trailing dot) to wire labels."""
    if not name:
        return b"\x00"
    out = bytearray()
    for label in name.split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"bad label in {name!r}")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def rr(owner: bytes, rtype: int, ttl: int, rdata: bytes) -> bytes:
    """One resource record; ``owner`` is wire-encoded (or QNAME_PTR)."""
    return owner + _RR_FIXED.pack(rtype, CLASS_IN, ttl, len(rdata)) + rdata


# Records are rebuilt for every endpoint change of a Service: the per-address conversions
# are cached (pod and Service addresses repeat; ipaddress parsing dominated a rebuild).
_ADDR_CACHE = 1 << 16


@functools.lru_cache(maxsize=_ADDR_CACHE)
def rdata_a(ip: str) -> bytes:
    return ipaddress.IPv4Address(ip).packed


@functools.lru_cache(maxsize=_ADDR_CACHE)
def rdata_aaaa(ip: str) -> bytes:
    return ipaddress.IPv6Address(ip).packed


def rdata_srv(priority: int, weight: int, port: int, target: str) -> bytes:
    return struct.pack("!HHH", priority, weight, port) + encode_name(target)


def rdata_txt(*strings: str) -> bytes:
    out = bytearray()
    for s in strings:
        raw = s.encode()
        out.append(len(raw))
        out += raw
    return bytes(out)


def rdata_soa(
    mname: str, rname: str, serial: int, refresh: int, retry: int, expire: int, minimum: int
) -> bytes:
    return (
        encode_name(mname)
        + encode_name(rname)
        + struct.pack("!IIIII", serial & 0xFFFFFFFF, refresh, retry, expire, minimum)
    )


def opt_record(udp_size: int) -> bytes:
    return b"\x00" + struct.pack("!HHIH", OPT, udp_size, 0, 0)


def header(qid: int, flags: int, qd: int, an: int, ns: int, ar: int) -> bytes:
    return _HEADER.pack(qid, flags, qd, an, ns, ar)


def response_flags(query_flags: int, rcode: int, *, aa: bool, tc: bool = False) -> int:
    # QR, opcode copied, AA, TC, RD copied; RA clear (authoritative-only, as CoreDNS's
    # kubernetes plugin answers).
    flags = 0x8000 | (query_flags & 0x7800) | (query_flags & 0x0100) | (rcode & 0xF)
    if aa:
        flags |= 0x0400
    if tc:
        flags |= 0x0200
    return flags


def error_response(data: bytes, rcode: int) -> bytes | None:
    """A bare error reply echoing the ID (and question when it parses), or None when not
    even the header can be read."""
    if len(data) < 12:
        return None
    qid, qflags = struct.unpack_from("!HH", data, 0)
    if qflags & 0x8000:
        return None  # never answer a response
    return header(qid, response_flags(qflags, rcode, aa=False), 0, 0, 0, 0)


def reverse_name_to_ip(qname: str) -> str | None:
    """``4.3.2.1.in-addr.arpa`` -> ``1.2.3.4``; ip6.arpa nibbles -> an IPv6 string."""
    if qname.endswith(".in-addr.arpa"):
        parts = qname[: -len(".in-addr.arpa")].split(".")
        if len(parts) != 4:
            return None
        try:
            return str(ipaddress.IPv4Address(".".join(reversed(parts))))
        except ValueError:
            return None
    if qname.endswith(".ip6.arpa"):
        nibbles = qname[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
            return None
        hexstr = "".join(reversed(nibbles))
        try:
            return str(ipaddress.IPv6Address(int(hexstr, 16)))
        except ValueError:
            return None
    return None


@functools.lru_cache(maxsize=_ADDR_CACHE)
def reverse_name(ip: str) -> str:
    return ipaddress.ip_address(ip).reverse_pointer
