"""Job, CronJob, TTL, ReplicationController, DaemonSet and disruption controllers against the
real in-process Registry (memory store), with a fake kubelet that runs each pod to the exit
code named in its ``exit`` label (or keeps it Running and Ready when it has none)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.core import Registry
from kubesvc.client.options import DeleteOptions
from kubesvc.controllers import ControllerManager, ControllerOptions
from kubesvc.controllers.jobutil import INDEX_ANNOTATION
from kubesvc.storage.memory import MemoryStore
from tests.unit.controllers.test_with_registry import poll

JOBS = "jobs.batch"
NOW = "2026-01-01T00:00:00Z"


def _terminated(code: int) -> dict[str, Any]:
    return {"name": "c", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
            "state": {"terminated": {"exitCode": code, "reason": "Completed" if code == 0
                                     else "Error", "startedAt": NOW, "finishedAt": NOW}}}


async def kubelet(reg: Registry, stop: asyncio.Event, hold: set[str] | None = None) -> None:
    """``hold``: names of pods whose graceful deletion is not finished (still terminating)."""
    while not stop.is_set():
        for p in (await reg.list("pods"))["items"]:
            md = p["metadata"]
            st = p.get("status") or {}
            if md.get("deletionTimestamp") and md["name"] in (hold or set()):
                continue
            if md.get("deletionTimestamp"):
                if st.get("phase") not in ("Succeeded", "Failed"):
                    # as the kubelet: a killed pod ends Failed before its final delete
                    with contextlib.suppress(errors.KubeError):
                        await reg.patch("pods", md["name"], {"status": {"phase": "Failed"}},
                                        namespace=md["namespace"], subresource="status")
                with contextlib.suppress(errors.KubeError):
                    await reg.delete("pods", md["name"], namespace=md["namespace"],
                                     opts=DeleteOptions(grace_period_seconds=0))
                continue
            if st.get("phase") in ("Succeeded", "Failed") or st.get("podIP"):
                continue
            code = (md.get("labels") or {}).get("exit")
            if code is None:
                new = {"phase": "Running", "podIP": "10.0.0.9", "podIPs": [{"ip": "10.0.0.9"}],
                       "conditions": [{"type": "Ready", "status": "True",
                                       "lastTransitionTime": NOW}]}
            else:
                new = {"phase": "Succeeded" if code == "0" else "Failed", "podIP": "10.0.0.9",
                       "containerStatuses": [_terminated(int(code))]}
            with contextlib.suppress(errors.KubeError):
                await reg.patch("pods", md["name"], {"status": new}, namespace=md["namespace"],
                                subresource="status")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cluster(hold: set[str] | None = None, **opts: Any) -> AsyncIterator[Registry]:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    mgr = ControllerManager(reg, options=ControllerOptions(job_backoff_base=0.05, **opts))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(mgr.run(stop)),
             asyncio.create_task(kubelet(reg, stop, hold))]
    try:
        await poll(lambda: asyncio.sleep(0, mgr.synced()), "synced")
        yield reg
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await reg.stop()


def job(name: str, *, exit_code: int = 0, **spec: Any) -> Obj:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"metadata": {"labels": {"exit": str(exit_code)}}, "spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}},
                     **spec}}


async def job_status(reg: Registry, name: str) -> Obj:
    got = await reg.get(JOBS, name, namespace="default")
    st: Obj = got.get("status") or {}
    return st


def cond_types(status: Obj) -> list[str]:
    return [c["type"] for c in status.get("conditions") or () if c["status"] == "True"]


async def test_job_completions_and_parallelism() -> None:
    async with cluster() as reg:
        await reg.create(JOBS, job("j", completions=3, parallelism=2), namespace="default")

        async def done() -> bool:
            return "Complete" in cond_types(await job_status(reg, "j"))

        await poll(done, "job complete")
        st = await job_status(reg, "j")
        assert st["succeeded"] == 3 and st["active"] == 0 and st["failed"] == 0
        assert cond_types(st) == ["SuccessCriteriaMet", "Complete"]
        assert st["completionTime"] and st["startTime"]
        complete = next(c for c in st["conditions"] if c["type"] == "Complete")
        assert complete["reason"] == "CompletionsReached"
        pods = (await reg.list("pods", namespace="default"))["items"]
        assert len(pods) == 3
        assert all(p["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "j" for p in pods)


async def test_indexed_job_pods_carry_their_index() -> None:
    async with cluster() as reg:
        await reg.create(JOBS, job("ix", completions=3, parallelism=3, completionMode="Indexed"),
                         namespace="default")

        async def done() -> bool:
            return "Complete" in cond_types(await job_status(reg, "ix"))

        await poll(done, "indexed job complete")
        assert (await job_status(reg, "ix"))["completedIndexes"] == "0-2"
        pods = (await reg.list("pods", namespace="default"))["items"]
        idx = sorted(p["metadata"]["annotations"][INDEX_ANNOTATION] for p in pods)
        assert idx == ["0", "1", "2"]
        for p in pods:
            i = p["metadata"]["annotations"][INDEX_ANNOTATION]
            assert p["spec"]["hostname"] == f"ix-{i}"
            assert p["metadata"]["name"].startswith(f"ix-{i}-")
            env = p["spec"]["containers"][0]["env"][0]
            assert env["name"] == "JOB_COMPLETION_INDEX"


async def test_failing_job_hits_backoff_limit() -> None:
    async with cluster() as reg:
        await reg.create(JOBS, job("bad", exit_code=1, backoffLimit=1), namespace="default")

        async def failed() -> bool:
            return "Failed" in cond_types(await job_status(reg, "bad"))

        await poll(failed, "job failed")
        st = await job_status(reg, "bad")
        assert st["failed"] == 2
        assert cond_types(st) == ["FailureTarget", "Failed"]
        assert {c["reason"] for c in st["conditions"]} == {"BackoffLimitExceeded"}


async def test_pod_failure_policy_fail_job_and_ignore() -> None:
    async with cluster() as reg:
        rules = [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]
        await reg.create(JOBS, job("pfp", exit_code=42, backoffLimit=5,
                                   podFailurePolicy={"rules": rules}), namespace="default")

        async def failed() -> bool:
            return "Failed" in cond_types(await job_status(reg, "pfp"))

        await poll(failed, "job failed by policy")
        st = await job_status(reg, "pfp")
        assert st["failed"] == 1
        msg = next(c for c in st["conditions"] if c["type"] == "Failed")
        assert msg["reason"] == "PodFailurePolicy"
        assert "failed with exit code 42 matching FailJob rule at index 0" in msg["message"]


async def test_suspended_job_runs_nothing_then_resumes() -> None:
    async with cluster() as reg:
        await reg.create(JOBS, job("s", suspend=True), namespace="default")

        async def suspended() -> bool:
            return "Suspended" in cond_types(await job_status(reg, "s"))

        await poll(suspended, "suspended")
        assert (await reg.list("pods", namespace="default"))["items"] == []
        await reg.patch(JOBS, "s", {"spec": {"suspend": False}}, namespace="default")

        async def done() -> bool:
            return "Complete" in cond_types(await job_status(reg, "s"))

        await poll(done, "resumed job completes")


async def test_ttl_after_finished_deletes_the_job() -> None:
    async with cluster() as reg:
        await reg.create(JOBS, job("t", ttlSecondsAfterFinished=0), namespace="default")

        async def gone() -> bool:
            try:
                await reg.get(JOBS, "t", namespace="default")
            except errors.NotFound:
                return True
            return False

        await poll(gone, "job deleted by ttl")


async def test_replication_controller_keeps_replicas_and_scales() -> None:
    async with cluster() as reg:
        await reg.create("replicationcontrollers", {
            "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "rc"},
            "spec": {"replicas": 2, "selector": {"app": "rc"}, "template": {
                "metadata": {"labels": {"app": "rc"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}}}, namespace="default")

        async def ready(n: int) -> bool:
            rc = await reg.get("replicationcontrollers", "rc", namespace="default")
            return (rc.get("status") or {}).get("readyReplicas") == n

        await poll(lambda: ready(2), "rc ready 2")
        await reg.patch("replicationcontrollers", "rc", {"spec": {"replicas": 3}},
                        namespace="default", subresource="scale")
        await poll(lambda: ready(3), "rc ready 3")
        pods = (await reg.list("pods", namespace="default"))["items"]
        assert {p["metadata"]["ownerReferences"][0]["kind"] for p in pods} == {
            "ReplicationController"}


def node(name: str, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


async def test_daemonset_one_pod_per_eligible_node_and_rolling_update() -> None:
    async with cluster() as reg:
        await reg.create("nodes", node("n1"))
        await reg.create("nodes", node("n2"))
        await reg.create("nodes", node("n3", taints=[{"key": "dedicated", "effect": "NoSchedule"}]))
        await reg.create("daemonsets.apps", {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
            "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": {
                "metadata": {"labels": {"app": "ds"}},
                "spec": {"containers": [{"name": "c", "image": "v1"}]}}}}, namespace="default")

        async def status(**want: int) -> bool:
            st = (await reg.get("daemonsets.apps", "ds", namespace="default")).get("status") or {}
            return all(st.get(k) == v for k, v in want.items())

        await poll(lambda: status(desiredNumberScheduled=2, numberReady=2, numberAvailable=2),
                   "ds ready on 2 nodes")
        pods = (await reg.list("pods", namespace="default"))["items"]
        targets = sorted(p["spec"]["affinity"]["nodeAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
            "matchFields"][0]["values"][0] for p in pods)
        assert targets == ["n1", "n2"]
        tol = {t["key"] for t in pods[0]["spec"]["tolerations"]}
        assert "node.kubernetes.io/unschedulable" in tol
        old_hash = pods[0]["metadata"]["labels"]["controller-revision-hash"]
        await reg.patch("daemonsets.apps", "ds", {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "v2"}]}}}}, namespace="default",
            patch_type="strategic")
        await poll(lambda: status(updatedNumberScheduled=2, numberAvailable=2,
                                  observedGeneration=2), "rolled out")

        async def all_new() -> bool:
            ps = (await reg.list("pods", namespace="default"))["items"]
            return len(ps) == 2 and all(
                p["metadata"]["labels"]["controller-revision-hash"] != old_hash
                and p["spec"]["containers"][0]["image"] == "v2" for p in ps)

        await poll(all_new, "old pods replaced")


async def test_disruption_controller_and_eviction() -> None:
    async with cluster() as reg:
        await reg.create("replicationcontrollers", {
            "apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "web"},
            "spec": {"replicas": 2, "selector": {"app": "web"}, "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}}}, namespace="default")
        await reg.create("poddisruptionbudgets.policy", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
            "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}},
            namespace="default")

        async def pdb(**want: Any) -> bool:
            got = await reg.get("poddisruptionbudgets.policy", "pdb", namespace="default")
            st = got.get("status") or {}
            return all(st.get(k) == v for k, v in want.items())

        await poll(lambda: pdb(currentHealthy=2, desiredHealthy=2, expectedPods=2,
                               disruptionsAllowed=0), "pdb computed")
        victim = (await reg.list("pods", namespace="default"))["items"][0]["metadata"]["name"]
        evict = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": victim}}
        with pytest.raises(errors.TooManyRequests) as exc:
            await reg.create("pods", evict, namespace="default", subresource="eviction",
                             name=victim)
        assert exc.value.message == ("Cannot evict pod as it would violate the pod's "
                                     "disruption budget.")
        assert exc.value.causes[0].reason == "DisruptionBudget"
        assert exc.value.causes[0].message == ("The disruption budget pdb needs 2 healthy pods "
                                               "and has 2 currently")
        await reg.patch("poddisruptionbudgets.policy", "pdb", {"spec": {"maxUnavailable": 1}},
                        namespace="default")
        await poll(lambda: pdb(disruptionsAllowed=1, observedGeneration=2), "pdb allows one")
        out = await reg.create("pods", evict, namespace="default", subresource="eviction",
                               name=victim)
        assert out["status"] == "Success" and out["code"] == 201
        got = (await reg.get("poddisruptionbudgets.policy", "pdb", namespace="default"))
        assert got["status"]["disruptionsAllowed"] == 0 or victim not in (
            got["status"].get("disruptedPods") or {})


async def test_cronjob_with_injected_clock_creates_and_cleans_up() -> None:
    t0 = time.time()
    clock = [t0]
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    from kubesvc.controllers.cronjob import CronJobController
    from kubesvc.informers import Informer

    cjs, jobs = Informer(reg, "cronjobs.batch"), Informer(reg, JOBS)
    ctl = CronJobController(reg, cronjobs=cjs, jobs=jobs, clock=lambda: clock[0])
    stop = asyncio.Event()
    tasks = [asyncio.create_task(x.run(stop)) for x in (cjs, jobs, ctl)]
    try:
        await reg.create("cronjobs.batch", {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
            "spec": {"schedule": "*/1 * * * *", "concurrencyPolicy": "Forbid",
                     "jobTemplate": job("x")}}, namespace="default")
        clock[0] = t0 + 61
        ctl.queue.add("default/cj")

        async def n_jobs(n: int) -> bool:
            return len((await reg.list(JOBS, namespace="default"))["items"]) == n

        await poll(lambda: n_jobs(1), "first job")
        created = (await reg.list(JOBS, namespace="default"))["items"][0]
        minute = int((t0 + 61) // 60)
        assert created["metadata"]["name"] == f"cj-{minute}"
        assert created["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in created["metadata"][
            "annotations"]
        cj = await reg.get("cronjobs.batch", "cj", namespace="default")
        assert cj["status"]["lastScheduleTime"] and len(cj["status"]["active"]) == 1
        # Forbid: while that job runs, the next minute is skipped.
        clock[0] = t0 + 121
        ctl.queue.add("default/cj")
        await asyncio.sleep(0.3)
        assert await n_jobs(1)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await reg.stop()


async def test_backoff_limit_per_index_fails_indexes_not_the_job_at_once() -> None:
    async with cluster() as reg:
        body = job("pi", completions=3, parallelism=3, completionMode="Indexed",
                   backoffLimitPerIndex=0)
        # Every pod fails (the fake kubelet's exit code is per template): each index fails
        # after its first pod, and the Job once no index is left to run.
        body["spec"]["template"]["metadata"]["labels"]["exit"] = "1"
        await reg.create(JOBS, body, namespace="default")

        async def failed() -> bool:
            return "Failed" in cond_types(await job_status(reg, "pi"))

        await poll(failed, "job failed by its indexes")
        st = await job_status(reg, "pi")
        assert st["failedIndexes"] == "0-2" and st["failed"] == 3
        reason = next(c for c in st["conditions"] if c["type"] == "Failed")["reason"]
        assert reason == "FailedIndexes"
        # backoffLimitPerIndex 0: one pod per index, no retries.
        assert len((await reg.list("pods", namespace="default"))["items"]) == 3


async def test_active_deadline_fails_the_job() -> None:
    async with cluster() as reg:
        body = job("slow", activeDeadlineSeconds=1)
        del body["spec"]["template"]["metadata"]["labels"]["exit"]  # runs forever
        await reg.create(JOBS, body, namespace="default")

        async def failed() -> bool:
            return "Failed" in cond_types(await job_status(reg, "slow"))

        await poll(failed, "deadline exceeded")
        st = await job_status(reg, "slow")
        assert {c["reason"] for c in st["conditions"]} == {"DeadlineExceeded"}
        assert st["active"] == 0


async def test_cronjob_replace_and_starting_deadline() -> None:
    t0 = (time.time() // 60) * 60 + 1  # just past a minute boundary
    clock = [t0]
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    from kubesvc.controllers.cronjob import CronJobController
    from kubesvc.informers import Informer

    cjs, jobs = Informer(reg, "cronjobs.batch"), Informer(reg, JOBS)
    ctl = CronJobController(reg, cronjobs=cjs, jobs=jobs, clock=lambda: clock[0])
    stop = asyncio.Event()
    tasks = [asyncio.create_task(x.run(stop)) for x in (cjs, jobs, ctl)]

    async def names() -> list[str]:
        return sorted(j["metadata"]["name"] for j in (await reg.list(JOBS,
                                                                      namespace="default"))[
            "items"] if not j["metadata"].get("deletionTimestamp"))

    try:
        await reg.create("cronjobs.batch", {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "r"},
            "spec": {"schedule": "* * * * *", "concurrencyPolicy": "Replace",
                     "startingDeadlineSeconds": 10, "jobTemplate": job("x")}},
            namespace="default")
        clock[0] = t0 + 60
        ctl.queue.add("default/r")
        first = f"r-{int((t0 + 59) // 60)}"
        await poll(lambda: asyncio.sleep(0, jobs.indexer.get(f"default/{first}") is not None),
                   "first job")
        # Replace: at the next minute the running job is deleted and a new one made.
        clock[0] = t0 + 120
        ctl.queue.add("default/r")
        second = f"r-{int((t0 + 119) // 60)}"

        async def replaced() -> bool:
            return await names() == [second]

        await poll(replaced, "replaced")
        # Missed by more than startingDeadlineSeconds: nothing is started for it.
        clock[0] = t0 + 180 + 30
        ctl.queue.add("default/r")
        await asyncio.sleep(0.3)
        assert await names() == [second]
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await reg.stop()


@pytest.mark.parametrize("policy", ["Failed", "TerminatingOrFailed"])
async def test_pod_replacement_policy(policy: str) -> None:
    hold: set[str] = set()
    async with cluster(hold=hold) as reg:
        body = job("rp", podReplacementPolicy=policy)
        del body["spec"]["template"]["metadata"]["labels"]["exit"]  # runs until deleted
        body["spec"]["template"]["spec"]["nodeName"] = "n1"  # bound: deletes are graceful
        await reg.create(JOBS, body, namespace="default")

        async def pods() -> list[Obj]:
            return list((await reg.list("pods", namespace="default"))["items"])

        async def one_running() -> bool:
            ps = await pods()
            return len(ps) == 1 and ps[0]["status"].get("phase") == "Running"

        await poll(one_running, "first pod running")
        first = (await pods())[0]["metadata"]["name"]
        hold.add(first)
        await reg.delete("pods", first, namespace="default")

        async def terminating_seen() -> bool:
            return (await job_status(reg, "rp")).get("terminating") == 1

        await poll(terminating_seen, "terminating counted")
        await asyncio.sleep(0.3)
        names = {p["metadata"]["name"] for p in await pods()}
        if policy == "Failed":
            assert names == {first}  # no replacement while the old pod terminates
            hold.clear()

            async def replaced() -> bool:
                ps = await pods()
                return len(ps) == 1 and ps[0]["metadata"]["name"] != first

            await poll(replaced, "replaced once gone")
        else:
            assert len(names) == 2  # replaced at once


async def test_tracking_finalizer_counts_a_pod_deleted_as_it_ends() -> None:
    """The ``batch.kubernetes.io/job-tracking`` finalizer: a pod that succeeds and is
    deleted at once is still counted (recorded in uncountedTerminatedPods, then its
    finalizer dropped, then counted); the pods of a finished Job keep no finalizer; the
    pods orphaned by deleting a Job lose it."""
    fin = "batch.kubernetes.io/job-tracking"
    async with cluster() as reg:
        body = job("tr", completions=2, parallelism=2)
        del body["spec"]["template"]["metadata"]["labels"]["exit"]  # runs until told
        await reg.create(JOBS, body, namespace="default")

        async def pods() -> list[Obj]:
            return list((await reg.list("pods", namespace="default"))["items"])

        async def two_running() -> bool:
            ps = await pods()
            return len(ps) == 2 and all(p["status"].get("phase") == "Running" for p in ps)

        await poll(two_running, "two pods running")
        assert all(fin in p["metadata"]["finalizers"] for p in await pods())
        victim = (await pods())[0]["metadata"]["name"]
        await reg.patch("pods", victim, {"status": {
            "phase": "Succeeded", "containerStatuses": [_terminated(0)]}},
            namespace="default", subresource="status")
        await reg.delete("pods", victim, namespace="default",
                         opts=DeleteOptions(grace_period_seconds=0))

        async def counted() -> bool:
            st = await job_status(reg, "tr")
            return st.get("succeeded") == 1 and not st.get("uncountedTerminatedPods")

        await poll(counted, "the deleted pod counted")

        async def victim_gone() -> bool:
            return victim not in {p["metadata"]["name"] for p in await pods()}

        await poll(victim_gone, "its finalizer removed, so it is gone")
        st = await job_status(reg, "tr")
        assert st["succeeded"] == 1 and not st["failed"]
        await reg.delete(JOBS, "tr", namespace="default",
                         opts=DeleteOptions(propagation_policy="Orphan"))

        async def released() -> bool:
            ps = await pods()
            return bool(ps) and all(fin not in (p["metadata"].get("finalizers") or ())
                                    for p in ps)

        await poll(released, "the orphaned pods lose the tracking finalizer")

        await reg.create(JOBS, job("fin", completions=2, parallelism=2), namespace="default")

        async def done() -> bool:
            return "Complete" in cond_types(await job_status(reg, "fin"))

        await poll(done, "job complete")
        mine = [p for p in await pods()
                if p["metadata"]["labels"].get("batch.kubernetes.io/job-name") == "fin"]
        assert len(mine) == 2 and all(fin not in (p["metadata"].get("finalizers") or ())
                                      for p in mine)
        st = await job_status(reg, "fin")
        assert st["succeeded"] == 2 and st.get("uncountedTerminatedPods") in (None, {})
