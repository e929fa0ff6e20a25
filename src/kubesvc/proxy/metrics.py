"""Prometheus text metrics of the proxy: sync duration, network programming latency (from
the informer seeing an EndpointSlice/Service change to the data plane being programmed),
and connections and bytes per service and endpoint. Served at the agent's ``/metrics``."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from kubesvc.proxy.userspace.stats import Stats

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class Histogram:
    name: str
    help: str
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0
    samples: list[float] = field(default_factory=list)  # recent values, for quantiles

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, v)] += 1
        self.total += v
        self.n += 1
        self.samples.append(v)
        if len(self.samples) > 10_000:
            del self.samples[:5_000]

    def quantile(self, q: float) -> float:
        if not self.samples:
            return 0.0
        s = sorted(self.samples)
        return s[min(len(s) - 1, int(q * len(s)))]

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        acc = 0
        for b, c in zip(_BUCKETS, self.counts, strict=False):
            acc += c
            out.append(f'{self.name}_bucket{{le="{b}"}} {acc}')
        out.append(f'{self.name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{self.name}_sum {self.total}")
        out.append(f"{self.name}_count {self.n}")
        return out


@dataclass(slots=True)
class ProxyMetrics:
    sync_duration: Histogram = field(default_factory=lambda: Histogram(
        "kubeproxy_sync_proxy_rules_duration_seconds", "Duration of one data-plane sync."))
    programming_latency: Histogram = field(default_factory=lambda: Histogram(
        "kubeproxy_network_programming_duration_seconds",
        "From a Service/EndpointSlice change seen to the data plane programmed."))
    syncs_failed: int = 0

    def render(self, stats: Stats | None = None) -> str:
        lines = self.sync_duration.render() + self.programming_latency.render()
        lines += [
            "# HELP kubesvc_proxy_sync_failures_total Data-plane syncs that failed.",
            "# TYPE kubesvc_proxy_sync_failures_total counter",
            f"kubesvc_proxy_sync_failures_total {self.syncs_failed}",
        ]
        if stats is not None:
            lines += [
                "# HELP kubesvc_proxy_connections_total Connections (TCP) or flows (UDP).",
                "# TYPE kubesvc_proxy_connections_total counter",
            ]
            rows = sorted(stats.by_endpoint.items())
            for (svc, ep), c in rows:
                lines.append(
                    f'kubesvc_proxy_connections_total{{service="{svc}",endpoint="{ep}"}} '
                    f"{c.connections}"
                )
            lines += [
                "# HELP kubesvc_proxy_bytes_total Bytes relayed (closed connections, UDP live).",
                "# TYPE kubesvc_proxy_bytes_total counter",
            ]
            for (svc, ep), c in rows:
                lines.append(f'kubesvc_proxy_bytes_total{{service="{svc}",endpoint="{ep}",'
                             f'direction="in"}} {c.bytes_in}')
                lines.append(f'kubesvc_proxy_bytes_total{{service="{svc}",endpoint="{ep}",'
                             f'direction="out"}} {c.bytes_out}')
        return "\n".join(lines) + "\n"
