"""One PNG per benchmark (matplotlib, Agg backend) for docs/benchmarks.md. Called by
:func:`benchmarks.report.render`; a plot whose data is missing is skipped."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

Plot = Callable[[dict[str, Any], Path], bool]


def _bars(ax: Any, groups: list[str], series: dict[str, list[float]], *, ylabel: str,
          title: str, log: bool = False) -> None:
    width = 0.8 / max(1, len(series))
    for k, (label, vals) in enumerate(series.items()):
        xs = [i + (k - (len(series) - 1) / 2) * width for i in range(len(groups))]
        bars = ax.bar(xs, vals, width, label=label)
        ax.bar_label(bars, labels=[f"{v:,.0f}" if v >= 100 else f"{v:.2g}" for v in vals],
                     fontsize=7)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)


def plot_proxy_userspace(res: dict[str, Any], path: Path) -> bool:
    runs = res.get("runs") or {}
    if not runs:
        return False
    modes = list(runs)
    labels = [lb for lb in ("direct", "haproxy", "kubesvc", "kubesvc_asyncio")
              if all(lb in runs[m] for m in modes)]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    _bars(a1, modes, {lb: [runs[m][lb].get("rps") or 0 for m in modes] for lb in labels},
          ylabel="requests/s", title="wrk -c50 -t2: requests/s")
    _bars(a2, modes, {lb: [runs[m][lb].get("p99_ms") or 0 for m in modes] for lb in labels},
          ylabel="p99 latency (ms, log)", title="p99 latency", log=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_dns(res: dict[str, Any], path: Path) -> bool:
    runs = res.get("runs") or {}
    if not runs:
        return False
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    names = list(runs)
    _bars(axes[0], ["max qps"], {n: [runs[n]["throughput"].get("qps") or 0] for n in names},
          ylabel="queries/s", title="dnsperf throughput")
    _bars(axes[1], ["p50", "p99"], {n: [runs[n]["latency"].get("p50_ms") or 0,
                                        runs[n]["latency"].get("p99_ms") or 0] for n in names},
          ylabel="ms", title=f"latency at {res.get('latency_rate_qps', 0):,} qps")
    samples = sorted((res.get("programming") or {}).get("samples_ms") or [])
    if samples:
        ys = [(i + 1) / len(samples) for i in range(len(samples))]
        axes[2].plot(samples, ys)
        axes[2].set_xlabel("ms from the Service create call to a DNS answer")
        axes[2].set_ylabel("fraction of changes")
        axes[2].set_title("DNS programming latency (CDF)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_proxy_programming(res: dict[str, Any], path: Path) -> bool:
    parts = [("userspace", "userspace", "incremental_ms"),
             ("userspace e2e", "userspace_e2e", "latency_ms"),
             ("nft rules", "nft_rules", "incremental_ms"),
             ("nft kernel", "nft_kernel", "incremental_ms")]
    parts = [p for p in parts if (res.get(p[1]) or {}).get(p[2], {}).get("count")]
    if not parts:
        return False
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    full = [(lb, res[k].get("full_sync_ms") or res[k].get("first_sync_from_start_ms") or 0)
            for lb, k, _ in parts]
    _bars(a1, [f[0] for f in full], {"full sync": [f[1] for f in full]},
          ylabel="ms", title=f"full sync, {res.get('services', 0):,} Services")
    _bars(a2, [p[0] for p in parts],
          {"p50": [res[k][s]["p50"] for _, k, s in parts],
           "p99": [res[k][s]["p99"] for _, k, s in parts]},
          ylabel="ms (log)", title="incremental sync (one endpoint changed)", log=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def plot_generic(res: dict[str, Any], path: Path) -> bool:
    """Control-plane benchmarks provide ``plot``: {title, ylabel, bars: {label: value}}."""
    spec = res.get("plot")
    if not spec or not spec.get("bars"):
        return False
    fig, ax = plt.subplots(figsize=(7, 4))
    bars = spec["bars"]
    _bars(ax, list(bars), {spec.get("series", "value"): [float(v) for v in bars.values()]},
          ylabel=spec.get("ylabel", ""), title=spec.get("title", ""),
          log=bool(spec.get("log")))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


PLOTS: dict[str, Plot] = {
    "proxy_userspace": plot_proxy_userspace,
    "dns": plot_dns,
    "proxy_programming": plot_proxy_programming,
    "proxy_nftables": plot_generic,
    "up_ready": plot_generic,
    "api_latency": plot_generic,
    "control_plane_scale": plot_generic,
}


def make_all(data: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    made: dict[str, Path] = {}
    for name, fn in PLOTS.items():
        e = (data.get("benchmarks") or {}).get(name)
        if not e or "result" not in e or e["result"].get("skipped"):
            continue
        path = out_dir / f"{name}.png"
        if fn(e["result"], path):
            made[name] = path
    return made
