"""The DNS server's metrics under CoreDNS's names (plugin/metrics): ``coredns_dns_requests_total``
(server, zone, view, proto, family, type), ``coredns_dns_responses_total`` (server, zone,
view, rcode, plugin), ``coredns_dns_request_duration_seconds`` (server, zone, view, type) and
the request/response size histograms (server, zone, view, proto), with CoreDNS's buckets.

Answering a query is a few microseconds, so :meth:`DnsMetrics.observe` only bumps counters
in one dict entry per distinct (proto, family, type, zone, rcode, plugin); the metric
families are folded from those entries when Prometheus scrapes (:meth:`DnsMetrics.collect`).
Served at CoreDNS's ``:9153/metrics`` by :class:`kubesvc.metrics.exposition.MetricsServer`."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kubesvc.dns import wire
from kubesvc.metrics import new_registry

DURATION_BUCKETS = tuple(0.00025 * 2**i for i in range(16))
SIZE_BUCKETS = (0.0, 100.0, 200.0, 300.0, 400.0, 511.0, 1023.0, 2047.0, 4095.0, 8291.0,
                16e3, 32e3, 48e3, 64e3)
# The types CoreDNS reports by name; every other type is "other".
_TYPE_NAMES = {wire.A: "A", wire.AAAA: "AAAA", wire.NS: "NS", wire.CNAME: "CNAME",
               wire.SOA: "SOA", wire.PTR: "PTR", wire.TXT: "TXT", wire.SRV: "SRV",
               15: "MX", 35: "NAPTR", 39: "DNAME", 43: "DS", 46: "RRSIG", 48: "DNSKEY",
               wire.ANY: "ANY", 252: "AXFR", 251: "IXFR", 65: "HTTPS"}
_RCODE_NAMES = ("NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED")

# (proto, family, qtype, zone, rcode, plugin, name): name is the question for answers found
# in the cluster zone ("" otherwise), for the service map's queries per name
Key = tuple[str, str, int, str, int, str, str]
MAX_NAMES = 10_000  # distinct names counted; later ones count as "other"


def type_name(qtype: int) -> str:
    return _TYPE_NAMES.get(qtype, "other")


def rcode_name(rcode: int) -> str:
    return _RCODE_NAMES[rcode] if 0 <= rcode < len(_RCODE_NAMES) else str(rcode)


@dataclass(slots=True)
class _Agg:
    count: int = 0
    seconds: float = 0.0
    req_bytes: int = 0
    resp_bytes: int = 0
    durations: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    req_sizes: list[int] = field(default_factory=lambda: [0] * (len(SIZE_BUCKETS) + 1))
    resp_sizes: list[int] = field(default_factory=lambda: [0] * (len(SIZE_BUCKETS) + 1))


class DnsMetrics(Collector):
    def __init__(self, server: str) -> None:
        self.server = server  # CoreDNS's "dns://host:port"
        self._aggs: dict[Key, _Agg] = {}
        self._names: set[str] = set()
        self.registry = new_registry()
        self.registry.register(self)

    def observe(self, key: Key, req_size: int, resp_size: int, seconds: float) -> None:
        agg = self._aggs.get(key)
        if agg is None:
            name = key[6]
            if name and name not in self._names:
                if len(self._names) >= MAX_NAMES:
                    key = (*key[:6], "other")
                else:
                    self._names.add(name)
            agg = self._aggs.setdefault(key, _Agg())
        agg.count += 1
        agg.seconds += seconds
        agg.req_bytes += req_size
        agg.resp_bytes += resp_size
        agg.durations[bisect.bisect_left(DURATION_BUCKETS, seconds)] += 1
        agg.req_sizes[bisect.bisect_left(SIZE_BUCKETS, req_size)] += 1
        agg.resp_sizes[bisect.bisect_left(SIZE_BUCKETS, resp_size)] += 1

    def collect(self) -> Iterator[Metric]:
        server, view = self.server, ""
        requests: dict[tuple[str, ...], int] = {}
        responses: dict[tuple[str, ...], int] = {}
        durations: dict[tuple[str, ...], tuple[list[int], float]] = {}
        req_sizes: dict[tuple[str, ...], tuple[list[int], float]] = {}
        resp_sizes: dict[tuple[str, ...], tuple[list[int], float]] = {}
        by_name: dict[tuple[str, ...], int] = {}
        for (proto, family, qtype, zone, rcode, plugin, name), a in list(self._aggs.items()):
            tname = type_name(qtype)
            if name:
                nk = (server, name, tname)
                by_name[nk] = by_name.get(nk, 0) + a.count
            rk = (server, zone, view, proto, family, tname)
            requests[rk] = requests.get(rk, 0) + a.count
            sk = (server, zone, view, rcode_name(rcode), plugin)
            responses[sk] = responses.get(sk, 0) + a.count
            _fold(durations, (server, zone, view, tname), a.durations, a.seconds)
            _fold(req_sizes, (server, zone, view, proto), a.req_sizes, float(a.req_bytes))
            _fold(resp_sizes, (server, zone, view, proto), a.resp_sizes, float(a.resp_bytes))
        req = CounterMetricFamily("coredns_dns_requests", "Counter of DNS requests made per "
                                  "zone, protocol and family.",
                                  labels=("server", "zone", "view", "proto", "family", "type"))
        for key, n in sorted(requests.items()):
            req.add_metric(key, n)
        yield req
        resp = CounterMetricFamily("coredns_dns_responses", "Counter of response status "
                                   "codes.", labels=("server", "zone", "view", "rcode", "plugin"))
        for key, n in sorted(responses.items()):
            resp.add_metric(key, n)
        yield resp
        names = CounterMetricFamily("kubesvc_dns_requests_by_name", "Queries answered from "
                                    "the cluster zone, per name and type (kubesvc's own: the "
                                    "service map shows them).", labels=("server", "name", "type"))
        for key, n in sorted(by_name.items()):
            names.add_metric(key, n)
        yield names
        yield _histogram("coredns_dns_request_duration_seconds", "Histogram of the time (in "
                         "seconds) each request took per zone.",
                         ("server", "zone", "view", "type"), DURATION_BUCKETS, durations)
        yield _histogram("coredns_dns_request_size_bytes", "Size of the EDNS0 UDP buffer in "
                         "bytes (64K for TCP) per zone and protocol.",
                         ("server", "zone", "view", "proto"), SIZE_BUCKETS, req_sizes)
        yield _histogram("coredns_dns_response_size_bytes", "Size of the returned response in "
                         "bytes.", ("server", "zone", "view", "proto"), SIZE_BUCKETS,
                         resp_sizes)


def _fold(into: dict[tuple[str, ...], tuple[list[int], float]], key: tuple[str, ...],
          counts: list[int], total: float) -> None:
    have = into.get(key)
    if have is None:
        into[key] = (list(counts), total)
    else:
        into[key] = ([x + y for x, y in zip(have[0], counts, strict=True)], have[1] + total)


def _histogram(name: str, doc: str, labels: tuple[str, ...], bounds: tuple[float, ...],
               series: dict[tuple[str, ...], tuple[list[int], float]]) -> HistogramMetricFamily:
    h = HistogramMetricFamily(name, doc, labels=labels)
    for k, (counts, total) in sorted(series.items()):
        acc, buckets = 0, []
        for bound, c in zip(bounds, counts, strict=False):
            acc += c
            buckets.append((_le(bound), acc))
        buckets.append(("+Inf", acc + counts[-1]))
        h.add_metric(list(k), buckets, total)
    return h


def _le(bound: float) -> str:
    return repr(float(bound))
