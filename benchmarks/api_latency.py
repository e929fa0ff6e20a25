"""Benchmark ``api_latency``: API server create/get/list latency (p50/p99) at a paced 50
writes/s, and throughput with 16 concurrent clients, against a real ``kubesvc up``
(simulated runtime, so no pod processes compete for the CPU). Calls go over HTTPS with
aiohttp and the kubeconfig's token. No peer is available here (no kube-apiserver binary),
so only absolute numbers are reported. Target (issue 9): mutating p99 under 20 ms at 50
writes/s. Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from benchmarks.cluster import Api, up_process, wait_ready
from benchmarks.common import summarize

NAME = "api_latency"
NS = "bench"


def configmap(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "namespace": NS, "labels": {"bench": "api"}},
            "data": {"key": "x" * 64, "n": str(i)}}


def service(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"svc-{i}", "namespace": NS},
            "spec": {"selector": {"app": f"a{i}"},
                     "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}


async def paced(rate: float, seconds: float,
                fn: Callable[[int], Coroutine[Any, Any, None]]) -> float:
    """Start ``fn(i)`` at ``rate`` per second for ``seconds`` (bounded), without waiting
    for one call to finish before the next is due; returns the achieved start rate."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    tasks: list[asyncio.Task[None]] = []
    n = int(rate * seconds)
    for i in range(n):
        delay = t0 + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fn(i)))
    await asyncio.gather(*tasks)
    return n / max(loop.time() - t0, 1e-9)


async def _measure(api: Api, *, seconds: float) -> dict[str, Any]:
    await api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                  "metadata": {"name": NS}})
    lat: dict[str, list[float]] = {"create configmap": [], "get configmap": [],
                                   "list configmaps": [], "create service": [],
                                   "update configmap": []}

    async def timed(kind: str, coro: Awaitable[Any]) -> Any:
        t = time.perf_counter()
        out = await coro
        lat[kind].append((time.perf_counter() - t) * 1000)
        return out

    base = f"/api/v1/namespaces/{NS}"

    async def write(i: int) -> None:
        await timed("create configmap", api.call("POST", f"{base}/configmaps", configmap(i)))
        await timed("get configmap", api.call("GET", f"{base}/configmaps/cm-{i}"))
        if i % 10 == 0:
            await timed("list configmaps", api.call("GET", f"{base}/configmaps"))

    rate_cm = await paced(50, seconds, write)

    async def write_svc(i: int) -> None:
        await timed("create service", api.call("POST", f"{base}/services", service(i)))

    rate_svc = await paced(50, seconds, write_svc)

    async def update(i: int) -> None:
        cur = await api.call("GET", f"{base}/configmaps/cm-{i}")
        cur["data"]["n"] = f"u{i}"
        await timed("update configmap", api.call("PUT", f"{base}/configmaps/cm-{i}", cur))

    rate_upd = await paced(50, seconds, update)

    # Throughput: 16 concurrent clients creating, then getting, for a bounded time.
    tput = {kind: await _throughput(api, kind, seconds=seconds / 2)
            for kind in ("create", "get")}
    return {"latency_ms": {k: summarize(v) for k, v in lat.items()},
            "paced_rate": {"configmaps": rate_cm, "services": rate_svc, "updates": rate_upd},
            "throughput_per_s": tput}


async def _throughput(api: Api, kind: str, *, seconds: float, clients: int = 16) -> float:
    base = f"/api/v1/namespaces/{NS}"
    count = 0
    deadline = time.monotonic() + seconds

    async def worker(w: int) -> None:
        nonlocal count
        i = 100_000 * (w + 1)
        while time.monotonic() < deadline:
            if kind == "create":
                await api.call("POST", f"{base}/configmaps", configmap(i))
            else:
                await api.call("GET", f"{base}/configmaps/cm-{i % 100}")
            i += 1
            count += 1

    t0 = time.monotonic()
    await asyncio.gather(*(worker(w) for w in range(clients)))
    return count / (time.monotonic() - t0)


async def _run(quick: bool) -> dict[str, Any]:
    seconds = 3.0 if quick else 10.0
    with up_process(runtime="simulated", name="kubesvc-up-api") as (proc, data_dir, argv):
        await wait_ready(proc, data_dir / "kubeconfig", timeout=30)
        async with Api(data_dir / "kubeconfig") as api:
            res = await _measure(api, seconds=seconds)
        res["command"] = " ".join(argv)
        res["seconds"] = seconds
    return res


def run(quick: bool) -> dict[str, Any]:
    res = asyncio.run(_run(quick))
    lat = res["latency_ms"]
    mutating_p99 = max(lat[k].get("p99", 0.0) for k in ("create configmap", "create service",
                                                        "update configmap"))
    rows = [[k, v.get("count"), v.get("p50"), v.get("p90"), v.get("p99"), v.get("max")]
            for k, v in lat.items()]
    res.update({
        "notes": [
            f"A real `kubesvc up --runtime simulated` (sqlite store). Paced phases of "
            f"{res['seconds']:.0f} s each at 50 writes/s: ConfigMap create (+ a get of it, "
            "and a list of the namespace every 10th), then Service create (ClusterIP "
            "allocation), then ConfigMap update (GET + PUT, only the PUT timed). Throughput: "
            "16 concurrent HTTPS clients (aiohttp, keep-alive). Peer: none available here "
            "(no kube-apiserver); absolute numbers only. Target: mutating p99 < 20 ms at 50 "
            "writes/s.",
            f"Throughput: {res['throughput_per_s']['create']:.0f} creates/s, "
            f"{res['throughput_per_s']['get']:.0f} gets/s. Achieved paced rates: "
            + ", ".join(f"{k} {v:.1f}/s" for k, v in res["paced_rate"].items())
            + f". Mutating p99: {mutating_p99:.1f} ms "
            + ("(target met)." if mutating_p99 < 20 else "(**target missed**)."),
        ],
        "head": ["operation", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        "rows": rows,
        "commands": [res["command"]],
        "plot": {"title": "API latency p99 at 50 writes/s", "ylabel": "ms", "series": "p99",
                 "bars": {k.replace(" ", "\n", 1): v.get("p99", 0) for k, v in lat.items()}},
        "targets": {"mutating_p99_ms_max": 20},
        "met": {"mutating_p99": mutating_p99 < 20},
    })
    return res
