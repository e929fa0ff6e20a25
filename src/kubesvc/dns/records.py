"""The record book: what the cluster DNS answers, precomputed in wire format.

Fed by :mod:`.source` with slim projections of Services, their ready endpoints, namespaces
and (for ``pods verified``) pods; answers follow CoreDNS's kubernetes plugin:

- ``svc.ns.svc.<zone>``: A/AAAA of the ClusterIPs; headless: one per ready endpoint
  (NXDOMAIN when none); ExternalName: a CNAME to ``spec.externalName``.
- ``<hostname|a-b-c-d>.svc.ns.svc.<zone>``: the endpoint's address.
- ``_port._proto.svc.ns.svc.<zone>`` SRV (and all ports at the service name): ClusterIP
  targets the service name, headless one per endpoint, A records in the additional section.
- PTR for ClusterIPs and endpoint IPs; ``a-b-c-d.ns.pod.<zone>`` (insecure or verified);
  ``dns-version.<zone>`` TXT; SOA/NS at the apex.
- NXDOMAIN for names that do not exist, NODATA (NOERROR + SOA) for a name without records
  of the asked type and for the apex, ``svc``, ``pod`` and existing namespace names.

:meth:`RecordBook.lookup` returns an :class:`Answer` (cached per name and type, dropped
when a change touches that name), so serving a query costs a dict lookup and a concat.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from kubesvc.dns import wire

DNS_SCHEMA_VERSION = "1.1.0"
_MAX_CACHE = 200_000


@dataclass(frozen=True, slots=True)
class PortView:
    name: str
    protocol: str  # TCP | UDP | SCTP
    port: int


@dataclass(frozen=True, slots=True)
class ServiceView:
    namespace: str
    name: str
    type: str
    cluster_ips: tuple[str, ...]  # empty for headless and ExternalName
    headless: bool
    external_name: str
    ports: tuple[PortView, ...]


@dataclass(frozen=True, slots=True)
class EndpointView:
    ip: str
    hostname: str
    ports: tuple[PortView, ...]

    @property
    def dns_label(self) -> str:
        """The endpoint's name in DNS: its hostname, else its dashed address."""
        if self.hostname:
            return self.hostname
        return self.ip.replace(".", "-").replace(":", "-")


@dataclass(slots=True)
class Answer:
    rcode: int
    answers: bytes = b""
    an_count: int = 0
    authority: bytes = b""
    ns_count: int = 0
    additional: bytes = b""
    ar_count: int = 0


# One record at a name: (rtype, rdata, additional rr bytes, count of additional rrs)
_Rec = tuple[int, bytes, bytes, int]


@dataclass(slots=True)
class _Contribution:
    records: list[_Rec] = field(default_factory=list)


class RecordBook:
    def __init__(
        self,
        *,
        zone: str = "cluster.local",
        ttl: int = 5,
        pod_mode: str = "insecure",  # insecure | verified | disabled
        dns_ip: str = "",
    ) -> None:
        self.zone = zone.strip(".").lower()
        self.ttl = ttl
        self.pod_mode = pod_mode
        self.dns_ip = dns_ip
        self.serial = int(time.time())
        # name -> service key -> records contributed by that service
        self._names: dict[str, dict[str, _Contribution]] = {}
        self._names_of: dict[str, set[str]] = {}  # service key -> names it contributes
        self._namespaces: set[str] = set()
        self._pods: dict[str, set[str]] = {}  # namespace -> pod IPs (verified mode)
        self._cache: dict[tuple[str, int], Answer] = {}
        # Bumped by every change, so callers may cache whole replies per generation.
        self.generation = 0
        self._soa_rdata = wire.rdata_soa(
            f"ns.dns.{self.zone}", f"hostmaster.{self.zone}", self.serial, 7200, 1800, 86400,
            ttl,
        )
        self._soa_rr = wire.rr(wire.encode_name(self.zone), wire.SOA, ttl, self._soa_rdata)
        self._suffix = "." + self.zone

    # -- feeding
    def set_namespaces(self, names: set[str]) -> None:
        if names != self._namespaces:
            self._namespaces = set(names)
            self._cache.clear()
            self.generation += 1

    def add_namespace(self, name: str) -> None:
        if name not in self._namespaces:
            self._namespaces.add(name)
            self._cache.clear()
            self.generation += 1

    def remove_namespace(self, name: str) -> None:
        if name in self._namespaces:
            self._namespaces.discard(name)
            self._cache.clear()
            self.generation += 1

    def set_pod_ips(self, namespace: str, ips: set[str]) -> None:
        self._pods[namespace] = set(ips)
        self._cache.clear()
        self.generation += 1

    def set_service(self, svc: ServiceView, endpoints: list[EndpointView]) -> None:
        key = f"{svc.namespace}/{svc.name}"
        new = self._records_for(svc, endpoints)
        old_names = self._names_of.get(key, set())
        for name in old_names - new.keys():
            bucket = self._names.get(name)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._names[name]
            self._invalidate(name)
        for name, contrib in new.items():
            self._names.setdefault(name, {})[key] = contrib
            self._invalidate(name)
        self._names_of[key] = set(new)

    def delete_service(self, namespace: str, name: str) -> None:
        key = f"{namespace}/{name}"
        for n in self._names_of.pop(key, set()):
            bucket = self._names.get(n)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._names[n]
            self._invalidate(n)

    def _invalidate(self, name: str) -> None:
        self.generation += 1
        for qtype in (wire.A, wire.AAAA, wire.SRV, wire.CNAME, wire.PTR, wire.TXT, wire.ANY,
                      wire.NS, wire.SOA):
            self._cache.pop((name, qtype), None)

    def _records_for(
        self, svc: ServiceView, endpoints: list[EndpointView]
    ) -> dict[str, _Contribution]:
        ttl = self.ttl
        base = f"{svc.name}.{svc.namespace}.svc.{self.zone}".lower()
        out: dict[str, _Contribution] = {}

        def add(name: str, rec: _Rec) -> None:
            out.setdefault(name, _Contribution()).records.append(rec)

        if svc.type == "ExternalName":
            target = svc.external_name.strip(".").lower()
            if target:
                add(base, (wire.CNAME, wire.encode_name(target), b"", 0))
            return out

        def addr_rec(ip: str) -> _Rec:
            if ":" in ip:
                return (wire.AAAA, wire.rdata_aaaa(ip), b"", 0)
            return (wire.A, wire.rdata_a(ip), b"", 0)

        def addr_rr(owner: str, ip: str) -> bytes:
            t, rdata, _, _ = addr_rec(ip)
            return wire.rr(wire.encode_name(owner), t, ttl, rdata)

        # Endpoint names exist for every service with endpoints (CoreDNS answers endpoint
        # queries for ClusterIP services too), and PTRs for endpoint addresses.
        for ep in endpoints:
            ep_name = f"{ep.dns_label}.{base}".lower()
            add(ep_name, addr_rec(ep.ip))
            add(wire.reverse_name(ep.ip), (wire.PTR, wire.encode_name(ep_name), b"", 0))

        if svc.headless:
            for ep in endpoints:
                add(base, addr_rec(ep.ip))
            srv: list[tuple[PortView, str, str]] = [
                (p, f"{ep.dns_label}.{base}".lower(), ep.ip)
                for ep in endpoints
                for p in ep.ports
            ]
        else:
            for ip in svc.cluster_ips:
                add(base, addr_rec(ip))
                add(wire.reverse_name(ip), (wire.PTR, wire.encode_name(base), b"", 0))
            srv = [(p, base, ip) for p in svc.ports for ip in svc.cluster_ips[:1]]

        if srv:
            by_name: dict[str, list[tuple[PortView, str, str]]] = {}
            for item in srv:
                p = item[0]
                by_name.setdefault(base, []).append(item)
                if p.name:
                    by_name.setdefault(
                        f"_{p.name}._{p.protocol.lower()}.{base}".lower(), []
                    ).append(item)
            for name, items in by_name.items():
                weight = max(1, 100 // len(items))
                for p, target, ip in items:
                    add(name, (wire.SRV, wire.rdata_srv(0, weight, p.port, target),
                               addr_rr(target, ip), 1))
        return out

    # -- answering
    def in_zone(self, qname: str) -> bool:
        return qname == self.zone or qname.endswith(self._suffix)

    def is_reverse(self, qname: str) -> bool:
        return qname.endswith(".in-addr.arpa") or qname.endswith(".ip6.arpa")

    def lookup(self, qname: str, qtype: int) -> Answer | None:
        """The answer for a name in the zone or a reverse name; None when the name is
        not ours to answer (forward it or refuse)."""
        key = (qname, qtype)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        ans = self._compute(qname, qtype)
        if ans is not None:
            if len(self._cache) >= _MAX_CACHE:
                self._cache.clear()
            self._cache[key] = ans
        return ans

    def _nodata(self) -> Answer:
        return Answer(wire.NOERROR, authority=self._soa_rr, ns_count=1)

    def _nxdomain(self) -> Answer:
        return Answer(wire.NXDOMAIN, authority=self._soa_rr, ns_count=1)

    def _records_answer(self, recs: list[_Rec], qtype: int) -> Answer | None:
        cname = [r for r in recs if r[0] == wire.CNAME]
        if cname and qtype != wire.CNAME:
            chosen = cname[:1]
        elif qtype == wire.ANY:
            chosen = recs
        else:
            chosen = [r for r in recs if r[0] == qtype]
        if not chosen:
            return None
        seen: set[tuple[int, bytes]] = set()
        an = bytearray()
        ar = bytearray()
        an_n = ar_n = 0
        for rtype, rdata, extra, extra_n in chosen:
            if (rtype, rdata) in seen:
                continue
            seen.add((rtype, rdata))
            an += wire.rr(wire.QNAME_PTR, rtype, self.ttl, rdata)
            an_n += 1
            if extra:
                ar += extra
                ar_n += extra_n
        return Answer(wire.NOERROR, bytes(an), an_n, additional=bytes(ar), ar_count=ar_n)

    def _compute(self, qname: str, qtype: int) -> Answer | None:
        if self.is_reverse(qname):
            bucket = self._names.get(qname)
            if not bucket:
                return None  # not a cluster address: fall through to forwarding
            recs = [r for c in bucket.values() for r in c.records]
            return self._records_answer(recs, qtype) or self._nodata()
        if not self.in_zone(qname):
            return None
        bucket = self._names.get(qname)
        if bucket:
            recs = [r for c in bucket.values() for r in c.records]
            return self._records_answer(recs, qtype) or self._nodata()
        rel = qname[: -len(self._suffix)] if qname != self.zone else ""
        labels = rel.split(".") if rel else []
        if not labels:  # the apex
            if qtype == wire.SOA:
                return Answer(
                    wire.NOERROR, wire.rr(wire.QNAME_PTR, wire.SOA, self.ttl, self._soa_rdata), 1
                )
            if qtype == wire.NS:
                ns_name = f"ns.dns.{self.zone}"
                add = b""
                add_n = 0
                if self.dns_ip:
                    add = wire.rr(wire.encode_name(ns_name), wire.A, self.ttl,
                                  wire.rdata_a(self.dns_ip))
                    add_n = 1
                return Answer(wire.NOERROR,
                              wire.rr(wire.QNAME_PTR, wire.NS, self.ttl,
                                      wire.encode_name(ns_name)), 1,
                              additional=add, ar_count=add_n)
            return self._nodata()
        if labels == ["dns-version"]:
            if qtype in (wire.TXT, wire.ANY):
                return Answer(wire.NOERROR, wire.rr(wire.QNAME_PTR, wire.TXT, self.ttl,
                                                    wire.rdata_txt(DNS_SCHEMA_VERSION)), 1)
            return self._nodata()
        if labels == ["ns", "dns"] and self.dns_ip:
            if qtype == wire.A:
                return Answer(wire.NOERROR, wire.rr(wire.QNAME_PTR, wire.A, self.ttl,
                                                    wire.rdata_a(self.dns_ip)), 1)
            return self._nodata()
        if labels in (["svc"], ["pod"], ["dns"]):
            return self._nodata()
        if len(labels) == 2 and labels[1] in ("svc", "pod"):
            return self._nodata() if labels[0] in self._namespaces else self._nxdomain()
        if len(labels) == 3 and labels[2] == "pod":
            return self._pod_answer(labels[0], labels[1], qtype)
        return self._nxdomain()

    def _pod_answer(self, dashed: str, namespace: str, qtype: int) -> Answer:
        if self.pod_mode == "disabled":
            return self._nxdomain()
        try:
            ip = ipaddress.IPv4Address(dashed.replace("-", "."))
        except ValueError:
            return self._nxdomain()
        if self.pod_mode == "verified" and str(ip) not in self._pods.get(namespace, set()):
            return self._nxdomain()
        if self.pod_mode == "insecure" and namespace not in self._namespaces:
            return self._nxdomain()
        if qtype in (wire.A, wire.ANY):
            return Answer(wire.NOERROR, wire.rr(wire.QNAME_PTR, wire.A, self.ttl, ip.packed), 1)
        return self._nodata()
