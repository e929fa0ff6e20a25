"""Benchmark ``batch_scale`` (issue 21): in one real ``kubesvc up --runtime simulated``
(pods need no process; a Job's containers exit 0 at once, as kwok's pod-complete stage),
time a 1,000-completion Job (parallelism 100) from its create call to its ``Complete``
condition, against a 100-replica Deployment from its create call to ``readyReplicas: 100``
in the same run — the Deployment is the reference the Job is compared with (same cluster,
same pod creation path, 10x the pods). Each is followed with one watch. Quick: 200
completions (parallelism 50) against 50 replicas. Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.cluster import Api, up_process, wait_ready
from benchmarks.common import cpu_seconds, peak_rss_mib, ratio

NAME = "batch_scale"
NS = "batch"
PAUSE = "registry.k8s.io/pause:3.9"


def job(completions: int, parallelism: int) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "bulk"},
            "spec": {"completions": completions, "parallelism": parallelism,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "c", "image": PAUSE}]}}}}


def deployment(replicas: int) -> dict[str, Any]:
    labels = {"app": "ref"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ref"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "c", "image": PAUSE}]}}}}


async def _until(api: Api, path: str, name: str, pred: Any, *, budget: float) -> float | None:
    """Seconds (monotonic) when the watched object ``name`` first satisfies ``pred``."""
    lst = await api.call("GET", path)
    for item in lst.get("items") or []:
        if item["metadata"]["name"] == name and pred(item):
            return time.monotonic()

    async def follow() -> float:
        rv = lst["metadata"]["resourceVersion"]
        async for ev in api.watch(f"{path}?resourceVersion={rv}&fieldSelector=metadata.name%3D"
                                  f"{name}"):
            if ev.get("type") in ("ADDED", "MODIFIED") and pred(ev["object"]):
                return time.monotonic()
        raise RuntimeError("watch ended")

    try:
        return await asyncio.wait_for(follow(), budget)
    except TimeoutError:
        return None


def _complete(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Complete" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or ())


async def _measure(api: Api, path: str, name: str, body: dict[str, Any], pred: Any, *,
                   budget: float) -> tuple[float | None, float]:
    watcher = asyncio.create_task(_until(api, path, name, pred, budget=budget))
    await asyncio.sleep(0.2)  # the watch is open before the create call
    t0 = time.monotonic()
    await api.call("POST", path, body)
    done = await watcher
    return (None if done is None else done - t0), t0


async def _run(completions: int, parallelism: int, replicas: int, budget: float
               ) -> dict[str, Any]:
    extra = ("--max-pods", str(completions + replicas + 500), "--pod-cidr", "10.128.0.0/14")
    with up_process(runtime="simulated", name="kubesvc-up-batch", extra=extra) as (
            proc, data_dir, argv):
        await wait_ready(proc, data_dir / "kubeconfig", timeout=30)
        async with Api(data_dir / "kubeconfig", connections=16) as api:
            await api.call("POST", "/api/v1/namespaces", {
                "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
            cpu0 = cpu_seconds(proc.pid)
            deploy_s, _ = await _measure(
                api, f"/apis/apps/v1/namespaces/{NS}/deployments", "ref", deployment(replicas),
                lambda o: (o.get("status") or {}).get("readyReplicas") == replicas,
                budget=budget)
            cpu1 = cpu_seconds(proc.pid)
            job_s, _ = await _measure(
                api, f"/apis/batch/v1/namespaces/{NS}/jobs", "bulk",
                job(completions, parallelism), _complete, budget=budget)
            cpu2 = cpu_seconds(proc.pid)
            final = await api.call("GET", f"/apis/batch/v1/namespaces/{NS}/jobs/bulk")
            rss = peak_rss_mib(proc.pid)
    st = final.get("status") or {}
    return {"command": " ".join(argv), "job_completions": completions,
            "job_parallelism": parallelism, "deployment_replicas": replicas,
            "deployment_ready_s": None if deploy_s is None else round(deploy_s, 2),
            "job_complete_s": None if job_s is None else round(job_s, 2),
            "job_succeeded": st.get("succeeded"), "job_failed": st.get("failed"),
            "deployment_cpu_s": round(cpu1 - cpu0, 2) if cpu1 and cpu0 else None,
            "job_cpu_s": round(cpu2 - cpu1, 2) if cpu2 and cpu1 else None,
            "peak_rss_mib": rss}


def run(quick: bool) -> dict[str, Any]:
    completions, parallelism, replicas = (200, 50, 50) if quick else (1000, 100, 100)
    r = asyncio.run(_run(completions, parallelism, replicas, budget=120.0 if quick else 300.0))
    per_pod_job = ratio(r["job_complete_s"], completions)
    per_pod_dep = ratio(r["deployment_ready_s"], replicas)
    rows = [
        [f"Deployment, {replicas} replicas to ready", replicas, r["deployment_ready_s"],
         r["deployment_cpu_s"], None if per_pod_dep is None else round(per_pod_dep * 1000, 1)],
        [f"Job, {completions} completions (parallelism {parallelism}) to Complete",
         completions, r["job_complete_s"], r["job_cpu_s"],
         None if per_pod_job is None else round(per_pod_job * 1000, 1)],
    ]
    return {
        **r,
        "notes": [
            "One `kubesvc up --runtime simulated` (one node; a Job's containers exit 0 at "
            "once, others run forever). The Deployment is created first and timed from its "
            "create call until a watch shows `readyReplicas` at the target; then the Job, "
            "until a watch shows its `Complete` condition. Peer: the Deployment in the same "
            "run (no kind/kwok here). Server CPU is the `kubesvc up` process's.",
        ],
        "head": ["workload", "pods", "seconds", "server CPU s", "ms per pod"],
        "rows": rows,
        "commands": [r["command"]],
        "met": {"job_completed": r["job_complete_s"] is not None
                and r["job_succeeded"] == completions},
    }
