"""Benchmark ``statefulset``: a real ``kubesvc up --runtime simulated`` (pods marked
Running/Ready without processes, as kwok does) given, one after the other in the same run,
a 100-replica Deployment and a 100-replica StatefulSet with ``podManagementPolicy:
Parallel``; each is timed from its create call until its status reports every replica
ready (Deployment: ``availableReplicas``; StatefulSet: ``readyReplicas`` and
``currentRevision == updateRevision``). The Deployment is the peer: the same number of
pods through the ReplicaSet controller's slow-start batches instead of the StatefulSet
controller's one create per ordinal. Server CPU seconds are the ``kubesvc up`` process's
own over each phase. Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.cluster import Api, up_process, wait_ready
from benchmarks.common import cpu_seconds, ratio

NAME = "statefulset"
PAUSE = "registry.k8s.io/pause:3.9"


def _template(app: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": app}}, "spec": {
        "containers": [{"name": "c", "image": PAUSE}]}}


def deployment(ns: str, n: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bench", "namespace": ns},
            "spec": {"replicas": n, "selector": {"matchLabels": {"app": "bench-d"}},
                     "template": _template("bench-d")}}


def statefulset(ns: str, n: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "bench", "namespace": ns},
            "spec": {"replicas": n, "serviceName": "bench",
                     "podManagementPolicy": "Parallel",
                     "selector": {"matchLabels": {"app": "bench-s"}},
                     "template": _template("bench-s")}}


def deployment_done(obj: dict[str, Any], n: int) -> bool:
    st = obj.get("status") or {}
    return bool(st.get("availableReplicas") == n and st.get("updatedReplicas") == n)


def statefulset_done(obj: dict[str, Any], n: int) -> bool:
    st = obj.get("status") or {}
    return bool(st.get("readyReplicas") == n and st.get("replicas") == n
                and st.get("currentRevision") == st.get("updateRevision"))


async def _one(api: Api, pid: int, *, kind: str, n: int, budget: float) -> dict[str, Any]:
    ns = f"bench-{kind}"
    await api.call("POST", "/api/v1/namespaces", {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    if kind == "deployment":
        body, plural, done = deployment(ns, n), "deployments", deployment_done
    else:
        body, plural, done = statefulset(ns, n), "statefulsets", statefulset_done
    path = f"/apis/apps/v1/namespaces/{ns}/{plural}"
    cpu0 = cpu_seconds(pid)
    t0 = time.monotonic()
    await api.call("POST", path, body)
    ready_s: float | None = None
    while time.monotonic() - t0 < budget:
        if done(await api.call("GET", f"{path}/bench"), n):
            ready_s = time.monotonic() - t0
            break
        await asyncio.sleep(0.02)
    cpu1 = cpu_seconds(pid)
    out: dict[str, Any] = {"kind": kind, "replicas": n, "ready_s": ready_s,
                           "server_cpu_s": cpu1 - cpu0 if cpu0 is not None and cpu1 is not None
                           else None}
    if ready_s is None:
        out["error"] = f"not ready in {budget:.0f} s"
    return out


async def _run(n: int, budget: float) -> dict[str, Any]:
    extra = ("--max-pods", str(4 * n + 100))
    with up_process(runtime="simulated", name="kubesvc-up-statefulset",
                    extra=extra) as (proc, data_dir, argv):
        await wait_ready(proc, data_dir / "kubeconfig", timeout=30)
        async with Api(data_dir / "kubeconfig", connections=8) as api:
            dep = await _one(api, proc.pid, kind="deployment", n=n, budget=budget)
            sts = await _one(api, proc.pid, kind="statefulset", n=n, budget=budget)
        return {"deployment": dep, "statefulset": sts, "command": " ".join(argv)}


def run(quick: bool) -> dict[str, Any]:
    n = 100
    res = asyncio.run(_run(n, budget=60.0 if quick else 120.0))
    dep, sts = res["deployment"], res["statefulset"]
    rows = [[f"Deployment, {n} replicas (peer)", dep.get("ready_s") or dep.get("error"),
             dep.get("server_cpu_s"), "1.0x"],
            [f"StatefulSet Parallel, {n} replicas", sts.get("ready_s") or sts.get("error"),
             sts.get("server_cpu_s"),
             "-" if (r := ratio(sts.get("ready_s"), dep.get("ready_s"))) is None
             else f"{r:.2f}x"]]
    return {
        "results": res,
        "notes": [
            f"A real `kubesvc up --runtime simulated`; in the same run a {n}-replica "
            "Deployment, then a {n}-replica StatefulSet (podManagementPolicy Parallel), each "
            "timed from its create call until its status shows every replica ready "
            "(polled every 20 ms). The Deployment is the peer. Server CPU s: user+system "
            "CPU of the `kubesvc up` process over each phase."
            .replace("{n}", str(n)),
        ],
        "head": ["workload", "to ready s", "server CPU s", "vs Deployment"],
        "rows": rows,
        "commands": [res["command"]],
    }
