"""Benchmark ``ingress``: HTTP through the kubesvc ingress data plane (HAProxy configured by
:func:`kubesvc.ingress.render.render` and run by :class:`kubesvc.ingress.haproxy.HAProxy`)
vs the same HAProxy configured by hand (one frontend, one backend) vs direct to the
backend, with ``wrk`` (keep-alive, and one new connection per request); and programming
latency with 1,000 rules: a new rule with a new Service (map entries and a pooled backend
through the runtime API), an endpoint change (the runtime API), and for comparison the same
new rule forced through a reload; each from the render() call to the first request
answered by the new route. Rounds interleave the
three paths and keep each one's best (the machine is shared).

The backend is an HAProxy answering itself (``http-request return``) on 127.79.1.1:9200
("a") and :9201 ("b"), fast enough that the path in front of it is what is measured.
Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import http.client
import shlex
import time
from pathlib import Path
from typing import Any

from benchmarks import wrk
from benchmarks.common import Proc, ratio, run_cmd, start, summarize, wait_tcp
from kubesvc.ingress.haproxy import HAProxy, find_haproxy
from kubesvc.ingress.render import Inputs, Settings, render

NAME = "ingress"
BACKEND_IP = "127.79.1.1"
INGRESS_IP = "127.79.0.1"
HAND_IP = "127.79.0.2"
PORT = 8081
_WORK = Path("/tmp/kubesvc-bench-ingress")

_BACKEND_CFG = f"""global
  nbthread 1
  maxconn 8000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  timeout http-keep-alive 30s
frontend a
  bind {BACKEND_IP}:9200
  http-request return status 200 content-type text/plain string "a"
frontend b
  bind {BACKEND_IP}:9201
  http-request return status 200 content-type text/plain string "b"
"""

_HAND_CFG = f"""defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend hand
  bind {HAND_IP}:{PORT}
  default_backend web
backend web
  server s1 {BACKEND_IP}:9200
"""


def inputs(rules: int, *, port: int = 9200) -> Inputs:
    """``rules`` hosts h0..h{rules-1}.example, each a path ``/`` to its own Service."""
    services, slices, ings = [], [], []
    for i in range(rules):
        services.append({"metadata": {"name": f"s{i}", "namespace": "default"},
                         "spec": {"ports": [{"name": "http", "port": 80}]}})
        slices.append({"metadata": {"name": f"s{i}-1", "namespace": "default",
                                    "labels": {"kubernetes.io/service-name": f"s{i}"}},
                       "ports": [{"name": "http", "port": port if i == 0 else 9200}],
                       "endpoints": [{"addresses": [BACKEND_IP]}]})
        ings.append({"metadata": {"name": f"i{i}", "namespace": "default",
                                  "creationTimestamp": "2026-01-01T00:00:00Z"},
                     "spec": {"ingressClassName": "kubesvc", "rules": [{
                         "host": f"h{i}.example", "http": {"paths": [{
                             "path": "/", "pathType": "Prefix", "backend": {"service": {
                                 "name": f"s{i}", "port": {"number": 80}}}}]}}]}})
    return Inputs(ingresses=ings, services=services, slices=slices)


def _get(host: str) -> tuple[int, bytes]:
    c = http.client.HTTPConnection(INGRESS_IP, PORT, timeout=2)
    try:
        c.request("GET", "/", headers={"Host": host})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


async def _until(pred: Any) -> None:
    end = time.monotonic() + 10
    while time.monotonic() < end:
        try:
            if await asyncio.to_thread(pred):
                return
        except OSError:
            pass
    raise TimeoutError("route not programmed in 10 s")


def _wrk(url: str, host: str, *, seconds: int, close: bool) -> dict[str, Any]:
    argv = wrk.wrk_argv(url, seconds=seconds, close=close)
    argv[-1:-1] = ["-H", f"Host: {host}"]
    r = run_cmd(argv, timeout=seconds + 30)
    res = wrk.parse(r.stdout)
    res["command"] = shlex.join(argv)
    return res


async def programming(hp: HAProxy, settings: Settings, quick: bool) -> dict[str, Any]:
    """Programming latency with 1,000 rules (see the module docstring)."""
    out: dict[str, Any] = {}
    n = 1000
    t = time.monotonic()
    r = render(inputs(n), settings)
    out["render_1000_rules_ms"] = round((time.monotonic() - t) * 1000, 1)
    await hp.apply(r.config, r.files)
    layout = r.layout
    rule_ms: list[float] = []
    runtime_ms: list[float] = []
    reloads = hp.reloads
    cur = 9200
    for k in range(5 if quick else 20):
        # one more rule (a new host, Ingress and Service): map entries and a pooled backend;
        # the inputs are built first (the controller reads them from informer caches)
        ins = inputs(n + k + 1, port=cur)
        t = time.monotonic()
        r = render(ins, settings, layout)
        await hp.apply(r.config, r.files)
        layout = r.layout
        host = f"h{n + k}.example"
        await _until(lambda host=host: _get(host)[0] == 200)
        rule_ms.append((time.monotonic() - t) * 1000)
        port = cur = 9201 if cur == 9200 else 9200  # h0's endpoint moves: runtime API
        want = b"b" if port == 9201 else b"a"
        ins = inputs(n + k + 1, port=port)
        t = time.monotonic()
        r = render(ins, settings, layout)
        await hp.apply(r.config, r.files)
        layout = r.layout
        await _until(lambda want=want: _get("h0.example") == (200, want))
        runtime_ms.append((time.monotonic() - t) * 1000)
    changes_reloads = hp.reloads - reloads
    # for comparison: the same new rule as a reload (a fresh layout: the pool renumbered)
    reload_ms: list[float] = []
    reloads = hp.reloads
    for k in range(2 if quick else 5):
        # fresh pool (no previous layout), sized for another count each time: structural
        ins = inputs(n + 100 * (k + 1), port=cur)
        t = time.monotonic()
        r = render(ins, settings)
        await hp.apply(r.config, r.files)
        host = f"h{n + 100 * (k + 1) - 1}.example"
        await _until(lambda host=host: _get(host)[0] == 200)
        reload_ms.append((time.monotonic() - t) * 1000)
    out["programming_1000_rules"] = {
        "new_rule_and_service_ms": summarize(rule_ms),
        "endpoint_change_ms": summarize(runtime_ms),
        "same_new_rule_by_reload_ms": summarize(reload_ms),
        "reloads_during_changes": changes_reloads,
        "reloads_forced": hp.reloads - reloads,
        "runtime_updates": hp.runtime_updates}
    return out


async def _run(quick: bool, binary: str) -> dict[str, Any]:
    settings = Settings(address=INGRESS_IP, config_dir=str(_WORK / "ingress"), http_port=PORT)
    hp = HAProxy(_WORK / "ingress", binary=binary)
    out: dict[str, Any] = {}
    try:
        r = render(inputs(1), settings)
        await hp.apply(r.config, r.files)
        seconds = 3 if quick else 10
        targets = {"direct": (f"http://{BACKEND_IP}:9200/", "x"),
                   "hand_haproxy": (f"http://{HAND_IP}:{PORT}/", "x"),
                   "ingress": (f"http://{INGRESS_IP}:{PORT}/", "h0.example")}
        for mode, close in (("keepalive", False), ("new_conn", True)):
            # rounds interleaved (A B C A B C), each target's best kept: a burst of other
            # work on this shared machine then costs every path alike
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label in targets}
            for _ in range(2 if quick else 3):
                for label, (url, host) in targets.items():
                    runs[label].append(await asyncio.to_thread(
                        _wrk, url, host, seconds=seconds, close=close))
                    await asyncio.sleep(1.0)
            row: dict[str, Any] = {}
            for label, rs in runs.items():
                row[label] = dict(max(rs, key=lambda x: x.get("rps") or 0.0))
                row[label]["rounds_rps"] = [x.get("rps") for x in rs]
            row["ingress_vs_hand"] = ratio(row["ingress"]["rps"], row["hand_haproxy"]["rps"])
            out[mode] = row

        out.update(await programming(hp, settings, quick))
    finally:
        await hp.close()
    _tables(out)
    return out


def _tables(out: dict[str, Any]) -> None:
    """The ``notes``/``head``/``rows``/``tables``/``met`` that report.sec_generic shows."""
    out["notes"] = [
        "wrk (50 connections, 2 threads) against the backend directly, an HAProxy configured "
        "by hand (one frontend, one backend) and the ingress data plane (render() output, "
        "one Ingress, Host h0.example); best of interleaved rounds. Programming: with 1,000 "
        "Ingress rules, from the render() call to the first request served by the new route "
        "(the controller adds its batching window, min_interval 50 ms, before render)."]
    out["head"] = ["mode", "path", "req/s", "p50 ms", "p99 ms"]
    out["rows"] = [[mode, label, out[mode][label].get("rps"), out[mode][label].get("p50_ms"),
                    out[mode][label].get("p99_ms")]
                   for mode in ("keepalive", "new_conn")
                   for label in ("direct", "hand_haproxy", "ingress")]
    prog = out["programming_1000_rules"]
    out["tables"] = [{"title": "Programming latency, 1,000 rules (ms)",
                      "head": ["change", "p50", "p99", "max"],
                      "rows": [[k, v.get("p50"), v.get("p99"), v.get("max")]
                               for k, v in prog.items() if isinstance(v, dict)]}]
    out["met"] = {
        "ingress/hand req/s >= 0.95 (keep-alive)":
            (out["keepalive"]["ingress_vs_hand"] or 0) >= 0.95,
        "ingress/hand req/s >= 0.95 (new connections)":
            (out["new_conn"]["ingress_vs_hand"] or 0) >= 0.95,
        "endpoint change p99 < 100 ms": prog["endpoint_change_ms"].get("p99", 1e9) < 100,
        "new rule (and Service) p99 < 100 ms, 1,000 rules":
            prog["new_rule_and_service_ms"].get("p99", 1e9) < 100,
        "no reload for new rules, Services, endpoints": prog["reloads_during_changes"] == 0,
    }
    out["commands"] = [out["keepalive"]["ingress"].get("command")]


def run(quick: bool) -> dict[str, Any]:
    binary = find_haproxy()
    if binary is None:
        return {"skipped": "haproxy is not installed"}
    _WORK.mkdir(parents=True, exist_ok=True)
    (_WORK / "backend.cfg").write_text(_BACKEND_CFG)
    (_WORK / "hand.cfg").write_text(_HAND_CFG)
    procs: list[Proc] = []
    try:
        procs.append(start([binary, "-db", "-f", str(_WORK / "backend.cfg")],
                           name="ingress-backend"))
        procs.append(start([binary, "-db", "-f", str(_WORK / "hand.cfg")], name="ingress-hand"))
        wait_tcp(BACKEND_IP, 9200)
        wait_tcp(HAND_IP, PORT)
        return asyncio.run(_run(quick, binary))
    finally:
        for p in procs:
            p.stop()
