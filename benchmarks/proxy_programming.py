"""Benchmark ``proxy_programming``: how long the proxy takes to program 1,000 Services x 10
endpoints, in full and incrementally (one endpoint changed), for both backends.

- userspace: :class:`~kubesvc.proxy.userspace.UserspaceBackend` opening real listeners on
  127.96/16 (one per Service), timed around ``checkpoint()`` + ``sync()``; and end to end
  through FakeClient -> Informers -> :class:`~kubesvc.proxy.proxier.Proxier` (network
  programming latency: from the EndpointSlice update call to the backend sync done).
- nftables: the pure rule builder (transaction text, no kernel) and, as root, real
  transactions inside a throwaway network namespace (deleted afterwards), through the
  runner the proxy uses (libnftables in-process when it loads) and through ``nft -f``
  processes for comparison.
Comparisons are the full sync vs the incremental one of the same backend. Called by
:mod:`benchmarks.run`; runs in-process on uvloop.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
import uuid
from typing import Any

from benchmarks.common import ratio, summarize
from benchmarks.proxy_driver import loop_factory
from kubesvc.proxy.nftables.backend import NftablesBackend
from kubesvc.proxy.nftables.nft import NftRunner, SubprocessNft, default_runner
from kubesvc.proxy.nftables.rules import NftConfig
from kubesvc.proxy.tracker import ChangeTracker, SyncRequest
from kubesvc.proxy.userspace import UserspaceBackend

NAME = "proxy_programming"
SLICES = "endpointslices.discovery.k8s.io"
Obj = dict[str, Any]


def service(i: int, *, userspace: bool) -> Obj:
    ip = f"127.96.{i // 250 + 1}.{i % 250 + 1}" if userspace else \
        f"10.96.{i // 250 + 1}.{i % 250 + 1}"
    return {"metadata": {"name": f"svc-{i}", "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": "http", "port": 8080, "protocol": "TCP",
                                "targetPort": 8080}]}}


def endpoint_slice(i: int, *, generation: int = 0, endpoints: int = 10) -> Obj:
    """Endpoint j of Service i; ``generation`` moves the last endpoint to a new address."""
    ips = [f"10.244.{i // 25}.{(i % 25) * 10 + j + 1}" for j in range(endpoints)]
    if generation:
        ips[-1] = f"10.245.{generation // 250}.{generation % 250 + 1}"
    return {"metadata": {"name": f"svc-{i}-abc", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": f"svc-{i}"}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "nodeName": "node-a",
                           "conditions": {"ready": True}} for ip in ips]}


def filled_tracker(n: int, *, userspace: bool) -> ChangeTracker:
    t = ChangeTracker()
    for i in range(n):
        t.service_changed(service(i, userspace=userspace), key=f"default/svc-{i}")
        t.slice_changed(endpoint_slice(i))
    return t


async def _incremental(t: ChangeTracker, sync: Any, *, n: int, changes: int,
                       budget_s: float) -> list[float]:
    out: list[float] = []
    deadline = time.monotonic() + budget_s
    for k in range(1, changes + 1):
        if time.monotonic() > deadline:
            break
        i = (k * 7919) % n
        t.slice_changed(endpoint_slice(i, generation=k))
        t0 = time.perf_counter()
        req = t.checkpoint()
        await sync(req)
        out.append((time.perf_counter() - t0) * 1000)
    return out


class _Recorder:
    """An NftRunner that keeps the last transaction (pure rule building, no kernel)."""

    def __init__(self) -> None:
        self.last = ""
        self.count = 0

    async def apply(self, text: str) -> None:
        self.last = text
        self.count += 1

    async def run(self, *args: str) -> str:
        return ""

    async def close(self) -> None:
        pass


async def userspace(n: int, changes: int) -> dict[str, Any]:
    t = filled_tracker(n, userspace=True)
    backend = UserspaceBackend(node_name="node-a")
    try:
        t0 = time.perf_counter()
        await backend.sync(t.checkpoint())
        full_ms = (time.perf_counter() - t0) * 1000
        listeners = len(backend.listeners)
        inc = await _incremental(t, backend.sync, n=n, changes=changes, budget_s=30)
    finally:
        await backend.close()
    return {"full_sync_ms": full_ms, "listeners": listeners, "bind_errors":
            len(backend.bind_errors), "incremental_ms": summarize(inc), "samples_ms": inc}


async def userspace_end_to_end(n: int, changes: int) -> dict[str, Any]:
    """FakeClient -> Informers -> Proxier -> UserspaceBackend: update call to sync done."""
    from kubesvc.informers import Informer
    from kubesvc.proxy.proxier import Proxier
    from tests.fakes.client import FakeClient

    client = FakeClient()
    for i in range(n):
        await client.create("services", service(i, userspace=True))
        await client.create(SLICES, endpoint_slice(i))
    inner = UserspaceBackend(node_name="node-a")
    done = asyncio.Event()

    class Timed:
        name = "userspace"

        async def sync(self, req: SyncRequest) -> None:
            await inner.sync(req)
            done.set()

        async def close(self) -> None:
            await inner.close()

    services, slices = Informer(client, "services"), Informer(client, SLICES)
    proxier = Proxier(Timed(), services=services, slices=slices)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(services.run(stop)), asyncio.create_task(slices.run(stop)),
             asyncio.create_task(proxier.run(stop))]
    lat: list[float] = []
    try:
        await asyncio.wait_for(done.wait(), 60)
        first_ms = (time.perf_counter() - t0) * 1000
        deadline = time.monotonic() + 30
        for k in range(1, changes + 1):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)  # apart from the last sync (min interval 5 ms)
            done.clear()
            i = (k * 7919) % n
            t1 = time.perf_counter()
            await client.update(SLICES, endpoint_slice(i, generation=k))
            await asyncio.wait_for(done.wait(), 10)
            lat.append((time.perf_counter() - t1) * 1000)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return {"first_sync_from_start_ms": first_ms, "latency_ms": summarize(lat),
            "samples_ms": lat}


async def nft_pure(n: int, changes: int) -> dict[str, Any]:
    t = filled_tracker(n, userspace=False)
    rec = _Recorder()
    backend = NftablesBackend(rec, NftConfig(table="kubesvc", node_name="node-a",
                                             pod_cidr="10.244.0.0/16"))
    t0 = time.perf_counter()
    await backend.sync(t.checkpoint())
    full_ms = (time.perf_counter() - t0) * 1000
    full_len = len(rec.last)
    inc = await _incremental(t, backend.sync, n=n, changes=changes, budget_s=30)
    return {"full_sync_ms": full_ms, "full_transaction_bytes": full_len,
            "incremental_transaction_bytes": len(rec.last),
            "incremental_ms": summarize(inc), "samples_ms": inc}


def _netns_problem() -> str:
    if os.geteuid() != 0:
        return "not root"
    if not shutil.which("nft") or not shutil.which("ip"):
        return "nft or ip missing"
    return ""


async def _noop_ms(runner: NftRunner, text: str, count: int = 10) -> dict[str, float]:
    out: list[float] = []
    for _ in range(count):
        t1 = time.perf_counter()
        await runner.apply(text)
        out.append((time.perf_counter() - t1) * 1000)
    return summarize(out)


async def nft_kernel(n: int, changes: int) -> dict[str, Any]:
    """Real transactions in a throwaway netns through the runner the proxy picks
    (:func:`default_runner`: libnftables in-process when it loads) and, for comparison,
    through ``nft -f -`` processes: incremental changes alternate between the two on the
    same ruleset, so both see the same kernel state and the same machine load."""
    problem = _netns_problem()
    if problem:
        return {"skipped": problem}
    ns = f"ksb-{uuid.uuid4().hex[:8]}"
    r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
    if r.returncode != 0:
        return {"skipped": f"ip netns add: {r.stderr.strip()}"}
    try:
        t = filled_tracker(n, userspace=False)
        runners: dict[str, NftRunner] = {"default": default_runner(netns=ns),
                                         "subprocess": SubprocessNft(netns=ns)}
        backend = NftablesBackend(runners["default"],
                                  NftConfig(table="kubesvc", node_name="node-a",
                                            pod_cidr="10.244.0.0/16"))
        try:
            t0 = time.perf_counter()
            await backend.sync(t.checkpoint())
            full_ms = (time.perf_counter() - t0) * 1000
            inc: dict[str, list[float]] = {"default": [], "subprocess": []}
            deadline = time.monotonic() + 60
            for k in range(1, 2 * changes + 1):
                if time.monotonic() > deadline:
                    break
                kind = "default" if k % 2 else "subprocess"
                backend.runner = runners[kind]
                t.slice_changed(endpoint_slice((k * 7919) % n, generation=k))
                t1 = time.perf_counter()
                await backend.sync(t.checkpoint())
                inc[kind].append((time.perf_counter() - t1) * 1000)
            backend.runner = runners["default"]
            # A no-op transaction against this ruleset: per-call overhead (for nft -f,
            # process start-up plus reading the kernel ruleset into its cache).
            noop = {k: await _noop_ms(rn, "add table ip kubesvc\n") for k, rn in runners.items()}
            empty = await _noop_ms(runners["default"], "add table ip kubesvc-probe\n")
            listing = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "ip",
                                      "kubesvc"], capture_output=True, text=True, timeout=60)
            chains = listing.stdout.count("\n\tchain ")
        finally:
            await backend.close()
        return {"netns": ns, "runner": type(runners["default"]).__name__,
                "full_sync_ms": full_ms, "chains": chains,
                "incremental_ms": summarize(inc["default"]), "samples_ms": inc["default"],
                "noop_transaction_ms": noop["default"],
                "new_table_transaction_ms": empty,
                "subprocess": {"incremental_ms": summarize(inc["subprocess"]),
                               "samples_ms": inc["subprocess"],
                               "noop_transaction_ms": noop["subprocess"]}}
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


async def _all(quick: bool) -> dict[str, Any]:
    n = 1000
    changes = 50 if quick else 200
    return {
        "services": n, "endpoints_per_service": 10, "changes": changes,
        "userspace": await userspace(n, changes),
        "userspace_e2e": await userspace_end_to_end(n, changes),
        "nft_rules": await nft_pure(n, changes),
        "nft_kernel": await nft_kernel(n, 20 if quick else 100),
    }


def run(quick: bool) -> dict[str, Any]:
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        res = runner.run(_all(quick))
    e2e = res["userspace_e2e"]["latency_ms"].get("p99")
    kern = res["nft_kernel"].get("incremental_ms", {}).get("p99")
    res["ratios"] = {
        "userspace incremental/full (p50)": ratio(
            res["userspace"]["incremental_ms"].get("p50"), res["userspace"]["full_sync_ms"]),
        "nft rules incremental/full (p50)": ratio(
            res["nft_rules"]["incremental_ms"].get("p50"), res["nft_rules"]["full_sync_ms"]),
    }
    if "full_sync_ms" in res["nft_kernel"]:
        res["ratios"]["nft kernel incremental/full (p50)"] = ratio(
            res["nft_kernel"]["incremental_ms"].get("p50"), res["nft_kernel"]["full_sync_ms"])
        nk = res["nft_kernel"]
        for pct in ("p50", "p99"):
            res["ratios"][f"nft kernel incremental, {nk['runner']}/nft -f process ({pct})"] = (
                ratio(nk["incremental_ms"].get(pct),
                      nk["subprocess"]["incremental_ms"].get(pct)))
    res["targets"] = {"programming_p99_ms_max": 100}
    res["met"] = {"userspace_e2e": e2e is not None and e2e < 100,
                  "nft_kernel": kern is not None and kern < 100}
    return res
