"""The benchmark suite's pure parts: percentile helpers, the wrk and dnsperf parsers, the
markdown renderer and the plots. No load is generated and nothing is timed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import report, wrk
from benchmarks.common import bounded, percentile, ratio, summarize
from benchmarks.dns_bench import parse_dnsperf, query_file, unbound_conf
from benchmarks.proxy_userspace import haproxy_peer_cfg

WRK_OUT = """Running 10s test @ http://127.97.0.1:8080/
  2 threads and 50 connections
  Latency Distribution
     50%  356.00us
     75%  465.00us
     90%  603.00us
     99%    2.33ms
  363305 requests in 3.00s, 22.87MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
Requests/sec: 121031.39
Transfer/sec:      7.62MB
"""

DNSPERF_OUT = """[Status] Testing complete (time limit)
  Queries sent:         100
  Queries completed:    99 (99.00%)
  Queries lost:         1 (1.00%)
  Response codes:       NOERROR 90 (90.91%), NXDOMAIN 9 (9.09%)
  Queries per second:   175408.525539
  Average Latency (s):  0.000409 (min 0.000008, max 0.010912)
> NOERROR a.default.svc.cluster.local A 0.000100
> NXDOMAIN nope.default.svc.cluster.local A 0.000300
"""


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5.0], 99) == 5.0
    assert percentile(list(range(101)), 99) == 99.0
    assert math.isnan(percentile([], 50))
    assert percentile([3, 1, 2], 0) == 1 and percentile([3, 1, 2], 100) == 3


def test_summarize_and_ratio() -> None:
    s = summarize([1.0, 2.0, 3.0, 4.0])
    assert s["count"] == 4 and s["min"] == 1.0 and s["max"] == 4.0 and s["mean"] == 2.5
    assert summarize([]) == {"count": 0}
    assert ratio(1.0, 4.0) == 0.25
    assert ratio(1.0, 0.0) is None and ratio(None, 1.0) is None


def test_bounded_stops_at_count() -> None:
    assert list(bounded(3, 60)) == [0, 1, 2]
    assert list(bounded(1000, -1)) == []


def test_wrk_parser() -> None:
    r = wrk.parse(WRK_OUT)
    assert r["rps"] == 121031.39
    assert r["p50_ms"] == pytest.approx(0.356)
    assert r["p99_ms"] == pytest.approx(2.33)
    assert r["requests"] == 363305
    assert r["socket_errors"] == 15
    close = wrk.wrk_argv("http://x/", seconds=10, close=True)
    assert close[-3:] == ["-H", "Connection: close", "http://x/"] and "-d10s" in close


def test_dnsperf_parser_and_generated_inputs() -> None:
    r = parse_dnsperf(DNSPERF_OUT)
    assert r["qps"] == pytest.approx(175408.525539)
    assert r["lost"] == 1 and r["avg_latency_ms"] == pytest.approx(0.409)
    assert r["latency_samples"] == 2 and r["p50_ms"] == pytest.approx(0.2)
    conf = unbound_conf(5399, 3)
    assert 'local-zone: "cluster.local." static' in conf
    assert '"svc-2.ns-2.svc.cluster.local. 5 IN A 10.96.0.3"' in conf
    assert "control-enable: no" in conf and "num-threads: 1" in conf
    lines = query_file(3, count=200).splitlines()
    assert len(lines) == 200
    kinds = {ln.split()[1] for ln in lines}
    assert kinds == {"A", "SRV"} and any(ln.startswith("missing-") for ln in lines)


def test_haproxy_peer_config() -> None:
    cfg = haproxy_peer_cfg("127.97.0.1", 8080, [("127.78.1.1", 9000), ("127.78.1.2", 9000)])
    assert "nbthread 1" in cfg and "mode tcp" in cfg and "balance roundrobin" in cfg
    assert "server b2 127.78.1.2:9000" in cfg


def _data() -> dict[str, Any]:
    run = {"rps": 50_000.0, "p50_ms": 0.8, "p99_ms": 4.0, "command": "wrk -c50 URL"}
    return {
        "machine": {"date": "2026-01-01 00:00 UTC", "cpu_model": "Test CPU", "nproc": "2",
                    "mem_total": "1 MiB", "free_m": "Mem: 1", "tools": {"wrk": "wrk 4"}},
        "benchmarks": {
            "proxy_userspace": {"command": "python -m benchmarks.run", "duration_s": 1.0,
                                "result": {"seconds": 10, "runs": {"keepalive": {
                                    "direct": run, "haproxy": run,
                                    "kubesvc": {**run, "rps": 30_000.0}}},
                                    "ratios": {"kubesvc/haproxy": {"keepalive": {
                                        "rps": 0.6, "p99": 1.0}}},
                                    "met": {"keepalive": True}}},
            "up_ready": {"command": "c", "duration_s": 1.0, "error": "RuntimeError: boom"},
            "api_latency": {"command": "c", "duration_s": 1.0, "result": {
                "notes": ["n"], "head": ["op", "p99 ms"], "rows": [["create", 3.5]],
                "tables": [{"title": "Against the floor:", "head": ["op", "vs floor"],
                            "rows": [["create", "4.2x"]]}],
                "plot": {"title": "t", "bars": {"create": 3.5}}}},
        },
    }


def test_markdown_has_machine_commands_values_and_ratios() -> None:
    md = report.render_markdown(_data(), plots={"proxy_userspace": "benchmarks/p.png"})
    assert "Test CPU (`nproc`: 2)" in md and "2026-01-01 00:00 UTC" in md
    assert "wrk -c50 URL" in md
    assert "30,000" in md and "0.60x" in md
    assert "![proxy_userspace](benchmarks/p.png)" in md
    assert "**Failed:** `RuntimeError: boom`" in md
    assert "| create | 3.50 |" in md
    assert "Against the floor:\n\n| op | vs floor |" in md and "| create | 4.2x |" in md


def test_render_writes_markdown_and_plots(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    report.render(_data(), docs=tmp_path)
    assert (tmp_path / "benchmarks" / "proxy_userspace.png").stat().st_size > 1000
    assert (tmp_path / "benchmarks" / "api_latency.png").exists()
    md = (tmp_path / "benchmarks.md").read_text()
    assert "benchmarks/api_latency.png" in md
    assert not (tmp_path / "benchmarks" / "up_ready.png").exists()


def test_best_figures_ignore_rounds_without_requests() -> None:
    from benchmarks.proxy_userspace import best_figures, finalize

    run: dict[str, Any] = {"rps": 900.0, "p50_ms": 0.0, "p99_ms": 0.0, "rounds": [
        {"rps": 900.0, "p50_ms": 0.0, "p99_ms": 0.0},
        {"rps": 800.0, "p50_ms": 5.0, "p99_ms": 20.0},
        {"rps": 850.0, "p50_ms": 6.0, "p99_ms": 30.0}]}
    best_figures(run)
    assert run["p50_ms"] == 5.0 and run["p99_ms"] == 20.0
    res = finalize({"runs": {"keepalive": {
        "direct": {"rps": 100.0, "p99_ms": 1.0},
        "haproxy": {"rps": 50.0, "p99_ms": 2.0},
        "kubesvc": {"rps": 30.0, "p99_ms": 5.0}}}})
    assert res["ratios"]["kubesvc/haproxy"]["keepalive"] == {"rps": 0.6, "p99": 2.5}
    assert res["met"] == {"keepalive": False}


async def test_http_floor_echoes_creates_like_a_create() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from benchmarks.http_floor import make_app

    async with TestClient(TestServer(make_app())) as client:
        r = await client.post("/api/v1/namespaces/scale/pods",
                              json={"kind": "Pod", "metadata": {"name": "p"}})
        assert r.status == 201
        first = await r.json()
        r = await client.post("/api/v1/namespaces/scale/pods",
                              json={"kind": "Pod", "metadata": {"name": "q"}})
        second = await r.json()
        assert first["kind"] == "Pod" and first["metadata"]["name"] == "p"
        assert first["metadata"]["uid"] != second["metadata"]["uid"]
        assert int(second["metadata"]["resourceVersion"]) > int(
            first["metadata"]["resourceVersion"])
        r = await client.get("/api/v1/namespaces/scale/services?limit=1")
        listed = await r.json()
        assert listed["items"] == [] and int(listed["metadata"]["resourceVersion"]) > int(
            second["metadata"]["resourceVersion"])


async def test_soak_smoke_against_an_in_process_server(tmp_path: Path) -> None:
    """One second of the soak's churn with 3 watchers (one reads nothing) and the idle
    1 MB watcher phase with 3 watchers, against an in-process API server."""
    import os

    from benchmarks import soak
    from benchmarks.cluster import Api
    from kubesvc.apiserver.http.server import ApiServer
    from kubesvc.apiserver.registry import Registry
    from kubesvc.client.kubeconfig import write_kubeconfig
    from kubesvc.storage.memory import MemoryStore

    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    api_server = ApiServer(reg, data_dir=tmp_path, port=0)
    await api_server.start()
    try:
        write_kubeconfig(tmp_path / "kubeconfig", server=api_server.url,
                         ca_pem=api_server.ca_pem, token=api_server.token)
        async with Api(tmp_path / "kubeconfig") as api:
            res = await soak._soak(api, os.getpid(), seconds=1.0, watchers=3,
                                   slow_wait=0.2)
            idle = await soak._idle_memory(api, os.getpid(), count=3)
    finally:
        await api_server.stop()
        await reg.stop()
    assert res["writes"] == soak.RATE and res["errors"] == 0 and res["watch_errors"] == 0
    assert res["events_min_per_watcher"] >= soak.RATE  # every update reached the readers
    assert res["write_ms"]["count"] == soak.RATE and res["rss_end_mb"] > 0
    assert idle["idle_watchers"] == 3 and idle["object_bytes"] == soak.BIG


def test_soak_minutes_follow_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import soak

    monkeypatch.delenv("KUBESVC_SOAK_MINUTES", raising=False)
    assert soak.minutes(False) == 5.0 and soak.minutes(True) == 0.25
    monkeypatch.setenv("KUBESVC_SOAK_MINUTES", "0.1")
    assert soak.minutes(False) == 0.1


def test_ingress_bench_inputs_give_one_route_and_backend_per_rule() -> None:
    from benchmarks.ingress import inputs
    from kubesvc.ingress.render import Settings, render

    out = render(inputs(1000, port=9201), Settings(address="127.79.0.1", config_dir="/x"))
    assert len(out.layout.assign) == 1000 and len(out.layout.slots) >= 1000
    assert out.files["maps/prefix.map"].count(b".example/ be_") == 1000
    assert "server s1 127.79.1.1:9201" in out.config  # h0's endpoint moved
    assert out.config.count(":9201") == 1
