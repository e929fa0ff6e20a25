"""Renders ``docs/benchmarks.md`` and ``docs/benchmarks/<name>.png`` from the results that
:mod:`benchmarks.run` collected: machine info, the date, the exact commands, absolute values
and the ratio against the peer measured in the same run. Pure formatting plus matplotlib."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Section = Callable[[dict[str, Any]], list[str]]


# -- formatting --------------------------------------------------------------------------

def fmt(v: Any, digits: int = 2) -> str:
    """Numbers for tables: thousands separators for big ones, ``-`` for missing."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.1f}"
        return f"{v:.{digits}f}" if abs(v) >= 0.01 or v == 0 else f"{v:.4f}"
    return str(v)


def fx(v: Any) -> str:
    """A ratio: ``0.91x`` (more digits when small, so it never reads as zero)."""
    if v is None:
        return "-"
    return f"{v:.2f}x" if v >= 0.1 else f"{v:.2g}x"


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(c if isinstance(c, str) else fmt(c) for c in r) + " |"
            for r in rows]
    return [*out, ""]


def commands(*cmds: str | None) -> list[str]:
    cs = [c for c in cmds if c]
    if not cs:
        return []
    return ["Commands:", "", "```", *cs, "```", ""]


# -- sections ----------------------------------------------------------------------------

def _proxy_rows(res: dict[str, Any]) -> tuple[list[list[Any]], list[str]]:
    rows, cmds = [], []
    labels = {"direct": "direct to one backend", "haproxy": "HAProxy 2.6 (tcp, nbthread 1)",
              "kubesvc": "kubesvc userspace (uvloop)",
              "kubesvc_asyncio": "kubesvc userspace (plain asyncio)"}
    for mode, row in (res.get("runs") or {}).items():
        hp = row.get("haproxy", {})
        for label, r in row.items():
            vs = "" if label in ("haproxy", "direct") else fx(
                (r.get("rps") or 0) / hp["rps"] if hp.get("rps") else None)
            rows.append([mode, labels.get(label, label), fmt(r.get("rps"), 0),
                         fmt(r.get("p50_ms")), fmt(r.get("p99_ms")), vs,
                         fmt(r.get("socket_errors")), fmt(r.get("proxy_cpu_us_per_req")),
                         fmt(r.get("proxy_open_fds_after"))])
            if r.get("command") not in cmds:
                cmds.append(r.get("command", ""))
    return rows, cmds


HEAD = ["mode", "path", "req/s", "p50 ms", "p99 ms", "req/s vs HAProxy", "wrk socket errors",
        "proxy CPU µs/req", "proxy open fds after run"]


def sec_proxy_userspace(e: dict[str, Any]) -> list[str]:
    res = e["result"]
    out = [f"Three backends on 127.78.1.1-3; wrk runs of {res.get('seconds')} s, 50 "
           f"connections, 2 threads, {res.get('rounds', 1)} round(s) interleaved across the "
           "paths; for each path the best round's figure is shown (highest req/s, lowest "
           "p50/p99; every round is in results.json). "
           "\"close\" sends `Connection: close` (one new connection "
           "per request through the proxy). Backends: one HAProxy process in HTTP mode "
           "answering `200 ok` itself (a C server standing in for nginx, which is not "
           "installed), so the proxy under test is the bottleneck. Everything (wrk, backends, "
           "proxy) shares the machine's cores. The proxy's CPU time and open file "
           "descriptors are read from /proc after each run.", ""]
    rows, cmds = _proxy_rows(res)
    out += table(HEAD, rows)
    r = res.get("ratios", {}).get("kubesvc/haproxy", {})
    out += table(["mode", "kubesvc/HAProxy req/s (target >= 0.5x)",
                  "kubesvc/HAProxy p99 (target <= 2x)", "target met"],
                 [[m, fx(v.get("rps")), fx(v.get("p99")), fmt(res.get("met", {}).get(m))]
                  for m, v in r.items()])
    ag = res.get("agnhost")
    if ag:
        out += [f"Same paths with the built-in agnhost `netexec` pods as backends "
                f"(`GET /hostname`, {ag.get('seconds')} s per run, best of "
                f"{ag.get('rounds', 1)}); here the Python backends are the bottleneck:", ""]
        rows2, cmds2 = _proxy_rows(ag)
        out += table(HEAD, rows2)
        cmds += cmds2
    return out + commands(*cmds)


def sec_dns(e: dict[str, Any]) -> list[str]:
    res = e["result"]
    runs = res.get("runs", {})
    out = [f"{res.get('services'):,} ClusterIP Services (A + SRV records) served by both; "
           f"query mix {res.get('query_mix')}. Throughput: dnsperf with its default 100 "
           f"outstanding queries, {res.get('seconds')} s runs, best of {res.get('rounds', 1)} "
           "interleaved rounds. Latency: a separate run at a "
           f"fixed {res.get('latency_rate_qps'):,} qps (`-Q`, `-q 10`) with `-v`, p50/p99 from "
           "the per-query latencies. kubesvc runs on uvloop in its own process; unbound "
           "with one thread and a static local-zone.", ""]
    rows = []
    for label, r in runs.items():
        t, lat = r.get("throughput", {}), r.get("latency", {})
        rows.append([label, fmt(t.get("qps"), 0), fmt(t.get("avg_latency_ms"), 3),
                     fmt(t.get("lost")), fmt(lat.get("p50_ms"), 3), fmt(lat.get("p99_ms"), 3)])
    out += table(["server", "qps (max)", "avg latency at max (ms)", "lost",
                  "p50 ms at fixed rate", "p99 ms at fixed rate"], rows)
    ra, met = res.get("ratios", {}), res.get("met", {})
    out += table(["figure", "value", "target", "met"], [
        ["qps kubesvc/unbound", fx(ra.get("qps kubesvc/unbound")), ">= 0.5x",
         fmt(met.get("qps"))],
        ["p99 kubesvc/unbound (fixed rate)", fx(ra.get("p99 kubesvc/unbound")), "-", "-"],
        ["kubesvc p99 (fixed rate)",
         fmt(runs.get("kubesvc", {}).get("latency", {}).get("p99_ms"), 3) + " ms", "< 1 ms",
         fmt(met.get("p99"))],
    ])
    pr = res.get("programming", {})
    out += [f"DNS programming latency: {pr.get('changes')} Services created one after another "
            "in a FakeClient, through Informers and DnsSource into the RecordBook of a "
            "running DnsServer; time from the create call until a UDP query answers the new "
            "name (all in one uvloop process; no peer, target < 100 ms).", ""]
    out += table(["samples", "p50 ms", "p90 ms", "p99 ms", "max ms", "met (< 100 ms)"],
                 [[fmt(pr.get("count")), fmt(pr.get("p50_ms"), 3), fmt(pr.get("p90_ms"), 3),
                   fmt(pr.get("p99_ms"), 3), fmt(pr.get("max_ms"), 3),
                   fmt(met.get("programming"))]])
    cmds = [r.get(k, {}).get("command") for r in runs.values() for k in ("throughput",
                                                                           "latency")]
    return out + commands(*cmds, pr.get("command"))


def sec_proxy_programming(e: dict[str, Any]) -> list[str]:
    res = e["result"]
    n, k = res.get("services"), res.get("endpoints_per_service")
    us, e2e, nr, nk = (res.get(x, {}) for x in ("userspace", "userspace_e2e", "nft_rules",
                                                "nft_kernel"))

    def inc(d: dict[str, Any], key: str = "incremental_ms") -> list[str]:
        s = d.get(key, {})
        return [fmt(s.get("p50"), 3), fmt(s.get("p99"), 3), fmt(s.get("count"))]

    rows = [
        ["userspace backend (listeners on 127.96/16)", fmt(us.get("full_sync_ms"), 1),
         *inc(us)],
        ["userspace, end to end (FakeClient -> Informer -> Proxier -> backend)",
         fmt(e2e.get("first_sync_from_start_ms"), 1), *inc(e2e, "latency_ms")],
        ["nftables rule builder (pure, transaction text)", fmt(nr.get("full_sync_ms"), 1),
         *inc(nr)],
    ]
    if "full_sync_ms" in nk:
        runner = {"LibNft": "one persistent libnftables context"}.get(
            str(nk.get("runner")), "`nft -f` processes")
        rows.append([f"nftables, real kernel in a throwaway netns ({runner})",
                     fmt(nk.get("full_sync_ms"), 1), *inc(nk)])
        if nk.get("subprocess"):
            rows.append(["nftables, real kernel, same changes through `nft -f` processes "
                         "(alternating with the row above)", "-", *inc(nk["subprocess"])])
    out = [f"{n:,} Services x {k} endpoints. Full: first sync of everything. Incremental: "
           "one endpoint of one Service changed, then checkpoint + sync (end to end: from the "
           "EndpointSlice update call to the backend's sync returning).", ""]
    out += table(["backend", "full sync ms", "incremental p50 ms", "incremental p99 ms",
                  "changes"], rows)
    if "full_sync_ms" in nk:
        out += [f"nft kernel detail: {nk.get('chains'):,} chains; a no-op transaction "
                f"(`add table ip kubesvc`) against this ruleset takes p50 "
                f"{fmt(nk.get('noop_transaction_ms', {}).get('p50'), 1)} ms, one on a new "
                f"empty table {fmt(nk.get('new_table_transaction_ms', {}).get('p50'), 1)} ms "
                "(the per-transaction floor of this runner); through a new `nft -f` process "
                f"{fmt((nk.get('subprocess') or {}).get('noop_transaction_ms', {}).get('p50'), 1)}"
                " ms (start-up + reading the ruleset).", ""]
    elif nk.get("skipped"):
        out += [f"Real nft: skipped ({nk['skipped']}).", ""]
    ra, met = res.get("ratios", {}), res.get("met", {})
    out += table(["figure", "value"], [[k2, fx(v)] for k2, v in ra.items()] + [
        ["network programming p99 < 100 ms (userspace, end to end)",
         fmt(met.get("userspace_e2e"))],
        ["network programming p99 < 100 ms (nftables, kernel)", fmt(met.get("nft_kernel"))]])
    return out + commands(e.get("command"))


def sec_generic(e: dict[str, Any]) -> list[str]:
    """Control-plane benchmarks: their result dicts carry a ``rows`` table and notes, and
    may carry more ``tables`` (each a title, head and rows)."""
    res = e["result"]
    out = [*(res.get("notes") or []), ""]
    if res.get("rows"):
        out += table(res["head"], res["rows"])
    for t in res.get("tables") or []:
        out += ["", t["title"], "", *table(t["head"], t["rows"])]
    return out + commands(*(res.get("commands") or [e.get("command")]))


SECTIONS: dict[str, tuple[str, Section]] = {
    "proxy_userspace": ("Data plane: userspace proxy vs HAProxy vs direct", sec_proxy_userspace),
    "dns": ("Cluster DNS vs unbound", sec_dns),
    "proxy_nftables": ("Data plane: nftables vs direct (with conntrack)", sec_generic),
    "proxy_programming": ("Proxy programming latency (1,000 Services)", sec_proxy_programming),
    "up_ready": ("`kubesvc up` time to ready", sec_generic),
    "api_latency": ("API latency and throughput", sec_generic),
    "rbac": ("Authorization cost: RBAC vs allow-all on mutating requests", sec_generic),
    "control_plane_scale": ("Control-plane scale (simulated pods)", sec_generic),
    "soak": ("Soak: churn with 200 watchers, memory per idle watcher", sec_generic),
    "portforward": ("kubectl port-forward vs direct", sec_generic),
    "exec_latency": ("`kubectl exec` latency vs `kubectl get`", sec_generic),
    "statefulset": ("Workloads: 100-replica Parallel StatefulSet vs Deployment (simulated)",
                    sec_generic),
    "batch_scale": ("Batch: a 1,000-completion Job against a 100-replica Deployment",
                    sec_generic),
    "ingress": ("Ingress: HAProxy via Ingresses vs by hand vs direct; programming",
                sec_generic),
    "server_side_apply": ("Server-side apply and managedFields on the write path",
                          sec_generic),
    "crd": ("Custom objects vs ConfigMaps: create rate", sec_generic),
    "netpol": ("NetworkPolicy: 1,000 policies vs none, and programming latency",
               sec_generic),
}


def _targets_at_a_glance(data: dict[str, Any]) -> list[str]:
    """One row per target check the benchmarks report (their ``met`` dicts)."""
    rows = []
    for name, (title, _) in SECTIONS.items():
        res = (data.get("benchmarks", {}).get(name) or {}).get("result") or {}
        for check, ok in (res.get("met") or {}).items():
            rows.append([title, f"`{check}`", "yes" if ok else "**no**"])
    if not rows:
        return []
    return ["## Targets at a glance", "",
            "Each check is defined in its section below (a check over several sizes is met "
            "only when every size met it).", "",
            *table(["benchmark", "check", "met"], rows), ""]


def render_markdown(data: dict[str, Any], *, plots: dict[str, str]) -> str:
    m = data.get("machine", {})
    lines = ["# kubesvc benchmarks", "",
             "Produced by `make bench` (`.venv/bin/python -m benchmarks.run`); a section "
             "shows the exact command of each figure. Every ratio compares against a peer "
             "measured in the same run on this machine. Raw results: "
             "[benchmarks/results.json](benchmarks/results.json).", "",
             "## Machine", "",
             f"- Date: {m.get('date', '-')}",
             f"- CPU: {m.get('cpu_model', '-')} (`nproc`: {m.get('nproc', '-')})",
             f"- Memory: {m.get('mem_total', '-')}; kernel {m.get('kernel', '-')}; "
             f"Python {m.get('python', '-')}",
             *[f"- {k}: {v}" for k, v in (m.get("tools") or {}).items() if v], "",
             "```", "$ free -m", m.get("free_m", ""), "```", "",
             "Load generator, server under test and its peer share these cores. Each "
             "section gives the 1-minute load average before and after it ran, so other "
             "work on the machine at the time is visible; absolute numbers move with it more "
             "than the same-run ratios do.", ""]
    lines += _targets_at_a_glance(data)
    for name, (title, section) in SECTIONS.items():
        e = data.get("benchmarks", {}).get(name)
        if e is None:
            continue
        head = f"## {title}"
        load = ""
        if e.get("loadavg_before") is not None:
            load = (f" 1-minute load average {e['loadavg_before']} before, "
                    f"{e.get('loadavg_after')} after (other work on the machine shows here).")
        lines += [head, "", f"Run {e.get('started', '-')}, took {e.get('duration_s')} s"
                  + (" (quick run)" if e.get("quick") else "") + "." + load, ""]
        if "error" in e:
            lines += [f"**Failed:** `{e['error']}`", "", *commands(e.get("command"))]
            continue
        res = e.get("result", {})
        if res.get("skipped"):
            lines += [f"**Not measured:** {res['skipped']}", "", *commands(e.get("command"))]
            continue
        lines += section(e)
        if name in plots:
            lines += [f"![{name}]({plots[name]})", ""]
    return "\n".join(lines).rstrip() + "\n"


def render(data: dict[str, Any], *, docs: Path) -> None:
    from benchmarks import plots

    out_dir = docs / "benchmarks"
    out_dir.mkdir(parents=True, exist_ok=True)
    made = plots.make_all(data, out_dir)
    (docs / "benchmarks.md").write_text(
        render_markdown(data, plots={k: f"benchmarks/{v.name}" for k, v in made.items()}))
