"""The proxy's metrics under kube-proxy's names, each proxier in its own registry:
``kubeproxy_sync_proxy_rules_duration_seconds``, ``kubeproxy_network_programming_duration_seconds``
(from the informer seeing a Service/EndpointSlice change to the data plane programmed),
``kubeproxy_sync_proxy_rules_last_timestamp_seconds``,
``kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds``, the service and endpoint
change counters; and kubesvc's own connections and bytes per service and endpoint (the
userspace data plane's :class:`Stats`, read at scrape time, so counting costs the data path
nothing). Served by :class:`kubesvc.metrics.exposition.MetricsServer` at kube-proxy's
``127.0.0.1:10249/metrics``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from kubesvc.metrics import new_registry
from kubesvc.proxy.stats import Stats

log = logging.getLogger(__name__)

# upstream: exponential from 1 ms, factor 2, 15 buckets
SYNC_BUCKETS = tuple(0.001 * 2**i for i in range(15))
# upstream's network programming buckets (0.25 s .. 300 s) with finer ones below 0.25 s,
# where a kubesvc proxy lands: every upstream boundary is kept, so queries carry over.
PROGRAMMING_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    *(float(s) for s in range(1, 60)),
    *(float(s) for s in range(60, 120, 5)),
    *(float(s) for s in range(120, 330, 30)),
)


class _StatsCollector(Collector):
    """Connections and bytes per (service, endpoint), read from the data plane's Stats."""

    def __init__(self) -> None:
        self.stats: Stats | None = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        conns = CounterMetricFamily(
            "kubesvc_proxy_connections", "Connections (TCP) or flows (UDP).",
            labels=("service", "endpoint"))
        data = CounterMetricFamily(
            "kubesvc_proxy_bytes", "Bytes relayed (closed connections, UDP live).",
            labels=("service", "endpoint", "direction"))
        if self.stats is not None:
            for (svc, ep), c in sorted(self.stats.by_endpoint.items()):
                conns.add_metric((svc, ep), c.connections)
                data.add_metric((svc, ep, "in"), c.bytes_in)
                data.add_metric((svc, ep, "out"), c.bytes_out)
        yield conns
        yield data


@dataclass(slots=True)
class ProxyMetrics:
    registry: CollectorRegistry = field(
        default_factory=new_registry)
    sync_duration: Histogram = field(init=False)
    programming_latency: Histogram = field(init=False)
    last_sync: Gauge = field(init=False)
    last_queued: Gauge = field(init=False)
    service_changes: Counter = field(init=False)
    endpoint_changes: Counter = field(init=False)
    sync_failures: Counter = field(init=False)
    _stats: _StatsCollector = field(init=False)
    # called before each scrape (the nftables backend reads its counters)
    refresh: Callable[[], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        r = self.registry
        self.sync_duration = Histogram(
            "kubeproxy_sync_proxy_rules_duration_seconds",
            "SyncProxyRules latency in seconds", buckets=SYNC_BUCKETS, registry=r)
        self.programming_latency = Histogram(
            "kubeproxy_network_programming_duration_seconds",
            "In Cluster Network Programming Latency in seconds",
            buckets=PROGRAMMING_BUCKETS, registry=r)
        self.last_sync = Gauge(
            "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
            "The last time proxy rules were successfully synced", registry=r)
        self.last_queued = Gauge(
            "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
            "The last time a sync of proxy rules was queued", registry=r)
        self.service_changes = Counter(
            "kubeproxy_sync_proxy_rules_service_changes",
            "Cumulative proxy rules Service changes", registry=r)
        self.endpoint_changes = Counter(
            "kubeproxy_sync_proxy_rules_endpoint_changes",
            "Cumulative proxy rules Endpoint changes", registry=r)
        self.sync_failures = Counter(
            "kubesvc_proxy_sync_failures", "Data-plane syncs that failed.", registry=r)
        self._stats = _StatsCollector()
        r.register(self._stats)

    def attach_stats(self, stats: Stats | None) -> None:
        """Report ``stats`` (the userspace data plane's counters) at each scrape."""
        self._stats.stats = stats

    async def scrape(self) -> bytes:
        """One scrape (a :data:`kubesvc.metrics.exposition.MetricsSource`)."""
        if self.refresh is not None:
            try:
                await self.refresh()
            except Exception as exc:  # the counters stay as last read
                log.warning("proxy metrics: reading the data plane's counters: %s", exc)
        return generate_latest(self.registry)

    @property
    def syncs_failed(self) -> int:
        return int(self.registry.get_sample_value("kubesvc_proxy_sync_failures_total") or 0)

    def render(self, stats: Stats | None = None) -> str:
        """The text exposition (``stats``, when given, replaces the attached one)."""
        if stats is not None:
            self.attach_stats(stats)
        return generate_latest(self.registry).decode()
