"""Benchmark ``control_plane_scale``: a real ``kubesvc up --runtime simulated`` (pods are
marked Running/Ready without processes, as kwok does) given N Services x 10 pods:

- converge: from the first create call until the EndpointSlices of the benchmark
  namespace hold N x 10 ready endpoints (followed with one watch);
- peak memory: VmHWM of the ``kubesvc up`` process;
- endpoint propagation while churning: pods deleted and created at a bounded rate; a watch
  on EndpointSlices times each pod from its create call to its endpoint showing ready, and
  from its delete call to its endpoint leaving the ready set.

Sizes: 100, 1k and 10k Services (quick: 100), each with a hard time budget; a size that does not
converge in its budget is reported as such. Peer: no kind/kwok here, so the same create
calls are sent, by the same client, to :mod:`benchmarks.http_floor`, a server on the same
HTTP/TLS/JSON stack that only echoes each object back: the transport floor, which shows
how much of the converge time the create calls alone take. Targets (issue 9): 10k x 10
converged < 60 s in < 2 GiB; propagation p99 < 100 ms. Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from typing import Any

from benchmarks.cluster import Api, up_process, wait_ready
from benchmarks.common import cpu_seconds, peak_rss_mib, ratio, summarize
from benchmarks.http_floor import floor_server

NAME = "control_plane_scale"
NS = "scale"
PODS_PER_SERVICE = 10
SLICES = f"/apis/discovery.k8s.io/v1/namespaces/{NS}/endpointslices"


def service(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"s{i}", "namespace": NS},
            "spec": {"selector": {"app": f"s{i}"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


def pod(i: int, j: int | str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"s{i}-p{j}", "namespace": NS, "labels": {"app": f"s{i}"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9",
                                     "ports": [{"containerPort": 8080}]}]}}


def ready_pods(slices: list[dict[str, Any]]) -> set[str]:
    out = set()
    for sl in slices:
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready") is not False:
                ref = ep.get("targetRef") or {}
                if ref.get("name"):
                    out.add(str(ref["name"]))
    return out


def _items(n: int) -> list[tuple[str, dict[str, Any]]]:
    """The create calls of size ``n``: the Services, then pod j of every Service for j in
    0..9 (so each Service's endpoints fill up over the whole run)."""
    base = f"/api/v1/namespaces/{NS}"
    items = [(f"{base}/services", service(i)) for i in range(n)]
    items += [(f"{base}/pods", pod(i, j)) for j in range(PODS_PER_SERVICE) for i in range(n)]
    return items


async def _create_all(api: Api, items: list[tuple[str, dict[str, Any]]], *,
                      concurrency: int, deadline: float) -> int:
    """POST ``items`` with ``concurrency`` workers until done or ``deadline`` (monotonic);
    returns how many were created."""
    it = iter(items)
    done = 0

    async def worker() -> None:
        nonlocal done
        for path, body in it:
            if time.monotonic() > deadline:
                return
            await api.call("POST", path, body)
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


class _ReadyCounter:
    """Follows the benchmark namespace's EndpointSlices through one watch (cheaper for the
    server than listing every slice again and again) and counts ready pod endpoints."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.by_slice: dict[str, set[str]] = {}
        self.ready = 0
        self.want = 0
        self.done = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.start_rv = 0

    async def start(self) -> None:
        lst = await self.api.call("GET", SLICES)
        for sl in lst.get("items") or []:
            self._set(sl["metadata"]["name"], ready_pods([sl]))
        rv = lst["metadata"]["resourceVersion"]
        self.start_rv = int(rv)
        self.task = asyncio.create_task(self._follow(rv))

    def _set(self, name: str, cur: set[str]) -> None:
        self.ready += len(cur) - len(self.by_slice.get(name, ()))
        self.by_slice[name] = cur
        if self.want and self.ready >= self.want:
            self.done.set()

    async def _follow(self, rv: str) -> None:
        async for ev in self.api.watch(f"{SLICES}?resourceVersion={rv}"
                                       "&allowWatchBookmarks=false"):
            obj = ev.get("object") or {}
            name = (obj.get("metadata") or {}).get("name", "")
            self._set(name, set() if ev.get("type") == "DELETED" else ready_pods([obj]))

    async def wait(self, want: int, deadline: float) -> bool:
        self.want = want
        if self.ready >= want:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), max(0.0, deadline - time.monotonic()))
        return self.ready >= want

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def _scale(api: Api, proc_pid: int, n: int, *, budget: float,
                 churn_seconds: float) -> dict[str, Any]:
    base = f"/api/v1/namespaces/{NS}"
    counter = _ReadyCounter(api)
    await counter.start()
    items = _items(n)
    t0 = time.monotonic()
    cpu0 = cpu_seconds(proc_pid)
    client0 = time.process_time()
    deadline = t0 + budget
    try:
        created = await _create_all(api, items, concurrency=32, deadline=deadline)
        created_s = time.monotonic() - t0
        client_cpu = time.process_time() - client0
        want = n * PODS_PER_SERVICE
        converged_s: float | None = None
        if created == len(items) and await counter.wait(want, deadline):
            converged_s = time.monotonic() - t0
        cpu1 = cpu_seconds(proc_pid)
        have = counter.ready
        now = await api.call("GET", f"{base}/services?limit=1")
        writes = int(now["metadata"]["resourceVersion"]) - counter.start_rv
    finally:
        await counter.stop()
    res: dict[str, Any] = {"services": n, "pods": want, "create_calls_s": created_s,
                           "objects_created": created, "client_cpu_s": client_cpu,
                           "converged_s": converged_s, "ready_endpoints": have,
                           "server_cpu_s": cpu1 - cpu0 if cpu0 is not None and cpu1 is not None
                           else None,
                           "store_writes": writes,
                           "peak_rss_mib": peak_rss_mib(proc_pid)}
    if converged_s is None:
        res["error"] = (f"not converged within {budget:.0f} s: {created:,}/{len(items):,} "
                        f"objects created, {have:,}/{want:,} endpoints ready")
        return res
    res["churn"] = await _churn(api, n, seconds=churn_seconds)
    res["peak_rss_mib"] = peak_rss_mib(proc_pid)
    return res


async def _churn(api: Api, n: int, *, seconds: float, rate: float = 10.0) -> dict[str, Any]:
    """Delete one pod and create a new one ``rate`` times a second for ``seconds``."""
    base = f"/api/v1/namespaces/{NS}"
    lst = await api.call("GET", SLICES)
    rv = lst["metadata"]["resourceVersion"]
    ready = ready_pods(lst.get("items") or [])
    pending_up: dict[str, float] = {}
    pending_down: dict[str, float] = {}
    up_ms: list[float] = []
    down_ms: list[float] = []
    by_slice: dict[str, set[str]] = {}
    for sl in lst.get("items") or []:
        by_slice[sl["metadata"]["name"]] = ready_pods([sl])

    async def watcher() -> None:
        async for ev in api.watch(f"{SLICES}?resourceVersion={rv}&allowWatchBookmarks=false"):
            obj = ev.get("object") or {}
            name = (obj.get("metadata") or {}).get("name", "")
            now = time.monotonic()
            cur = set() if ev.get("type") == "DELETED" else ready_pods([obj])
            by_slice[name] = cur
            for p in cur & pending_up.keys():
                up_ms.append((now - pending_up.pop(p)) * 1000)
            for p in list(pending_down):
                if p not in cur and not any(p in s for s in by_slice.values()):
                    down_ms.append((now - pending_down.pop(p)) * 1000)

    watch = asyncio.create_task(watcher())
    rng = random.Random(7)
    live = sorted(ready)
    gen = 0
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []

    async def one(victim: str, i: int, g: int) -> None:
        await api.call("DELETE", f"{base}/pods/{victim}", ok=(200, 202))
        pending_down[victim] = time.monotonic()
        new = pod(i, f"c{g}")
        pending_up[new["metadata"]["name"]] = time.monotonic()
        await api.call("POST", f"{base}/pods", new)

    try:
        for k in range(int(seconds * rate)):
            delay = start + k / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            victim = live.pop(rng.randrange(len(live)))
            i = int(victim[1:].split("-", 1)[0])
            gen += 1
            tasks.append(asyncio.create_task(one(victim, i, gen)))
        await asyncio.gather(*tasks)
        await asyncio.sleep(2.0)  # let the last changes arrive (bounded)
    finally:
        watch.cancel()
        await asyncio.gather(watch, return_exceptions=True)
    return {"changes": len(tasks), "rate_per_s": rate,
            "create_to_ready_ms": summarize(up_ms),
            "delete_to_not_ready_ms": summarize(down_ms),
            "unseen_creates": len(pending_up), "unseen_deletes": len(pending_down)}


async def _floor(n: int, *, budget: float) -> dict[str, Any]:
    """The same create calls, same client and concurrency, against the transport floor."""
    items = _items(n)
    with floor_server() as (proc, data_dir, argv):
        async with Api(data_dir / "kubeconfig", connections=32) as api:
            t0 = time.monotonic()
            cpu0 = cpu_seconds(proc.pid)
            client0 = time.process_time()
            created = await _create_all(api, items, concurrency=32,
                                        deadline=t0 + budget)
            created_s = time.monotonic() - t0
            client_cpu = time.process_time() - client0
            cpu1 = cpu_seconds(proc.pid)
    return {"create_calls_s": created_s if created == len(items) else None,
            "objects_created": created, "client_cpu_s": client_cpu,
            "server_cpu_s": cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None,
            "command": " ".join(argv)}


async def _run_size(n: int, *, budget: float, churn_seconds: float) -> dict[str, Any]:
    # One node holds every pod (kwok style): room for them all, and a pod range larger than
    # the default 127.1.0.0/16 (65k addresses) for the 100k pods of the 10k size.
    extra = ("--max-pods", str(n * PODS_PER_SERVICE + 1000), "--pod-cidr", "10.128.0.0/14")
    with up_process(runtime="simulated", name=f"kubesvc-up-scale-{n}",
                    extra=extra) as (proc, data_dir, argv):
        await wait_ready(proc, data_dir / "kubeconfig", timeout=30)
        async with Api(data_dir / "kubeconfig", connections=32) as api:
            await api.call("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
            res = await _scale(api, proc.pid, n, budget=budget, churn_seconds=churn_seconds)
        res["command"] = " ".join(argv)
    res["floor"] = await _floor(n, budget=budget)
    return res


def _times(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}x"


def run(quick: bool) -> dict[str, Any]:
    sizes = [(100, 60.0)] if quick else [(100, 60.0), (1000, 120.0), (10_000, 600.0)]
    churn = 3.0 if quick else 10.0
    results = [asyncio.run(_run_size(n, budget=b, churn_seconds=churn)) for n, b in sizes]
    rows = []
    for r in results:
        ch = r.get("churn") or {}
        rows.append([f"{r['services']:,} x {PODS_PER_SERVICE}", r.get("create_calls_s"),
                     r.get("converged_s") if r.get("converged_s") is not None else
                     r.get("error", "-"), r.get("server_cpu_s"), r.get("store_writes"),
                     r.get("peak_rss_mib"),
                     (ch.get("create_to_ready_ms") or {}).get("p50"),
                     (ch.get("create_to_ready_ms") or {}).get("p99"),
                     (ch.get("delete_to_not_ready_ms") or {}).get("p99")])
    floor_rows = []
    for r in results:
        fl = r.get("floor") or {}
        floor_rows.append([f"{r['services']:,} x {PODS_PER_SERVICE}",
                           r.get("create_calls_s"), fl.get("create_calls_s"),
                           _times(ratio(r.get("create_calls_s"), fl.get("create_calls_s"))),
                           r.get("converged_s"),
                           _times(ratio(r.get("converged_s"), fl.get("create_calls_s"))),
                           fl.get("server_cpu_s"), r.get("client_cpu_s"),
                           fl.get("client_cpu_s")])
    big = results[-1]
    p99s = [((r.get("churn") or {}).get(k) or {}).get("p99") for r in results
            for k in ("create_to_ready_ms", "delete_to_not_ready_ms")]
    return {
        "sizes": results,
        "notes": [
            "A real `kubesvc up --runtime simulated` per size; Services and pods created over "
            "HTTPS with 32 concurrent clients; converge = all pods' endpoints ready in the "
            f"EndpointSlices. Churn: {churn:.0f} s of 10 pod deletions + 10 creations per "
            "second; propagation measured with a watch on EndpointSlices. Peak RSS is the "
            "`kubesvc up` process's VmHWM. Server CPU s: user+system CPU of the `kubesvc up` "
            "process from the first create to convergence (its event loop runs on one core, "
            "its sqlite thread is the rest); store writes: revisions written meanwhile "
            "(creates, bindings, status updates, EndpointSlices, Endpoints, Events). "
            "Targets: 10k x 10 converged < 60 s in < 2 GiB; propagation p99 < 100 ms.",
            "Peer (kind/kwok are not available here): the transport floor, "
            "`benchmarks/http_floor.py`, an HTTPS server on the API server's own stack "
            "(aiohttp, orjson, the same TLS) that echoes each create with a uid and "
            "resourceVersion and stores nothing else; the same client sends it the same "
            "create calls with the same 32 connections, in the same run. Client CPU s is "
            "the driver process's own CPU during the create calls: the two processes share "
            "this machine's cores.",
        ],
        "head": ["size", "create calls s", "converged s", "server CPU s", "store writes",
                 "peak RSS MiB",
                 "create->ready p50 ms", "create->ready p99 ms", "delete->not ready p99 ms"],
        "rows": rows,
        "tables": [{"title": "Against the transport floor (same create calls, same client):",
                    "head": ["size", "kubesvc create calls s", "floor create calls s",
                             "create calls / floor", "kubesvc converged s",
                             "converged / floor", "floor server CPU s",
                             "client CPU s (kubesvc run)", "client CPU s (floor run)"],
                    "rows": floor_rows}],
        "commands": [c for r in results
                     for c in (r.get("command", ""), (r.get("floor") or {}).get("command"))
                     if c],
        "plot": {"title": "endpoints ready at convergence or at the end of the budget",
                 "ylabel": "% of N x 10 endpoints ready", "series": "% ready",
                 "bars": {f"{r['services']:,} svc\n" + (
                     f"converged {r['converged_s']:.1f} s" if r.get("converged_s")
                     else "not converged"): 100.0 * r.get("ready_endpoints", 0) / r["pods"]
                     for r in results}},
        "met": {"converge_10k_60s": big["services"] == 10_000
                and (big.get("converged_s") or 1e9) < 60
                and (big.get("peak_rss_mib") or 1e9) < 2048,
                "propagation_p99_100ms": all(p is not None and p < 100 for p in p99s)},
    }
