"""The Job controller (upstream pkg/controller/job, v1.32): runs a Job's pods until
``completions`` succeed (or, without completions, until one succeeds and the rest end),
``parallelism`` at a time; Indexed Jobs get one pod per missing completion index. Failed
pods count against ``backoffLimit`` (container restarts too, for restartPolicy OnFailure)
unless the ``podFailurePolicy`` ignores them or fails the Job at once; replacements wait an
exponential back-off (10 s doubling to 6 min); ``activeDeadlineSeconds`` bounds the run;
``suspend`` deletes the active pods and records the Suspended condition. Indexed Jobs with
``backoffLimitPerIndex`` fail an index (``status.failedIndexes``) instead of the Job, up to
``maxFailedIndexes``. ``podReplacementPolicy: Failed`` (the default with a pod failure
policy) waits for a terminating pod to be gone before replacing it.

Terminal conditions are written as v1.32 does: first ``SuccessCriteriaMet`` or
``FailureTarget`` (remaining pods are deleted), then ``Complete`` or ``Failed`` once no pod
is still terminating, so ``kubectl wait --for=condition=complete`` returns after the pods
have stopped. Status: active, ready, terminating, succeeded, failed, completedIndexes,
startTime, completionTime, uncountedTerminatedPods.

Pods are tracked with the ``batch.kubernetes.io/job-tracking`` finalizer, as upstream: a
pod that has ended is first recorded by UID in ``status.uncountedTerminatedPods`` (written
before anything else), then its finalizer is removed, then its UID moves into the
``succeeded``/``failed`` counters — so counts are cumulative and a finished pod deleted by
someone else is never lost, and never counted twice (status writes carry the
resourceVersion they were computed from). The finalizer is also removed from the pods of a
finished or deleted Job and from pods released or orphaned; the final ``Complete``/``Failed``
condition waits until nothing is left uncounted.

Reads the shared jobs/pods informers; writes pods and ``jobs/status``; records Events.
The clock (``clock``, epoch seconds) and the back-off base are injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from kubesvc import errors
from kubesvc.api.meta import generate_name
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import parse_time_epoch, rfc3339_epoch
from kubesvc.client.protocol import Client
from kubesvc.controllers import jobutil as ju
from kubesvc.controllers.base import (
    QueueController,
    ensure_index,
    labels_of,
    pod_ready,
    split_key,
)
from kubesvc.controllers.events import NORMAL, WARNING, EventRecorder
from kubesvc.controllers.labels import label_selector
from kubesvc.controllers.replicaset import (
    BURST,
    ORPHAN_INDEX,
    OWNER_INDEX,
    controller_uid_index,
    orphan_namespace_index,
    slow_start,
)
from kubesvc.controllers.workloads import Expectations, deletion_rank, is_active, owned_by_kind
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

JOBS = "jobs.batch"
ORPHAN_PREFIX = "orphan-pod:"  # queue keys of pods whose tracking finalizer has no Job


def _terminal(pod: Obj) -> bool:
    return ju.pod_phase(pod) in ("Succeeded", "Failed")


def _finished_at(pod: Obj) -> float | None:
    latest: float | None = None
    for cs in (pod.get("status") or {}).get("containerStatuses") or ():
        t = parse_time_epoch(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        if t is not None and (latest is None or t > latest):
            latest = t
    return latest


class JobController(QueueController):
    name = "job"

    def __init__(
        self,
        client: Client,
        *,
        jobs: Informer,
        pods: Informer,
        recorder: EventRecorder | None = None,
        workers: int = 5,
        clock: Callable[[], float] = time.time,
        backoff_base: float = ju.BACKOFF_BASE,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.jobs = jobs
        self.pods = pods
        self.recorder = recorder
        self.clock = clock
        self.backoff_base = backoff_base
        self.expectations = Expectations()
        ensure_index(pods.indexer, OWNER_INDEX, func=controller_uid_index)
        ensure_index(pods.indexer, ORPHAN_INDEX, func=orphan_namespace_index)
        jobs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n),
                         on_delete=self._on_job_delete)
        pods.add_handler(on_add=self._on_pod_add, on_update=lambda o, n: self._on_pod(n, o),
                         on_delete=self._on_pod_delete)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.jobs.wait_synced(), self.pods.wait_synced())

    def _enqueue(self, job: Obj) -> None:
        self.queue.add(object_key(job))

    def _on_job_delete(self, job: Obj) -> None:
        self.expectations.delete(object_key(job))
        for p in self.pods.indexer.by_index(OWNER_INDEX, str(meta(job).get("uid"))):
            self._check_orphan(p)

    def _check_orphan(self, pod: Obj) -> None:
        """A pod with the tracking finalizer and no live Job controlling it: queue the
        removal of its finalizer (upstream's orphan pod queue)."""
        if not ju.has_tracking_finalizer(pod):
            return
        ref = owned_by_kind(pod, "Job")
        if ref is not None:
            job = self.jobs.indexer.get(f"{meta(pod).get('namespace', '')}/{ref.get('name')}")
            if job is not None and meta(job).get("uid") == ref.get("uid"):
                return
        self.queue.add(ORPHAN_PREFIX + object_key(pod))

    def _owner_key(self, pod: Obj) -> str | None:
        ref = owned_by_kind(pod, "Job")
        if ref is None:
            return None
        return f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}"

    def _on_pod_add(self, pod: Obj) -> None:
        self._check_orphan(pod)
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.lower_adds(key)
            self.queue.add(key)
        else:
            self._wake_matching(pod)

    def _wake_matching(self, pod: Obj) -> None:
        """An orphan: wake the Jobs of its namespace whose selector matches (adoption)."""
        if any(r.get("controller") for r in meta(pod).get("ownerReferences") or ()):
            return
        for job in self.jobs.indexer.by_index("namespace", meta(pod).get("namespace", "")):
            sel = ju.spec_of(job).get("selector")
            if isinstance(sel, dict) and not ju.is_finished(job) and label_selector(
                    sel).matches(labels_of(pod)):
                self._enqueue(job)

    def _on_pod(self, pod: Obj, old: Obj) -> None:
        self._check_orphan(pod)
        key = self._owner_key(pod)
        old_key = self._owner_key(old)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)
        if key is None:
            self._wake_matching(pod)
        if key is not None:
            if meta(pod).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
                self.expectations.observed_delete(key, object_key(pod))
            self.queue.add(key)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed_delete(key, object_key(pod))
            self.queue.add(key)

    def _event(self, job: Obj, typ: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(job, typ, reason=reason, message=message, kind="Job",
                                api_version="batch/v1")

    # -- sync
    async def sync(self, key: str) -> None:
        if key.startswith(ORPHAN_PREFIX):
            await self._sync_orphan(key[len(ORPHAN_PREFIX):])
            return
        job = self.jobs.indexer.get(key)
        if job is None:
            self.expectations.delete(key)
            return
        uid = meta(job).get("uid")
        pods = [p for p in self.pods.indexer.by_index(OWNER_INDEX, str(uid))
                if (owned_by_kind(p, "Job") or {}).get("uid") == uid]
        if ju.is_finished(job) or meta(job).get("deletionTimestamp"):
            # everything was counted before the Job finished; a deleted Job counts no more
            await self._remove_finalizers(key, [p for p in pods
                                                if ju.has_tracking_finalizer(p)])
            return
        pods = await self._claim(job, pods)
        await self._sync(key, job, pods)

    async def _sync_orphan(self, pod_key: str) -> None:
        pod = self.pods.indexer.get(pod_key)
        if pod is None or not ju.has_tracking_finalizer(pod):
            return
        ref = owned_by_kind(pod, "Job")
        if ref is not None:
            job = self.jobs.indexer.get(f"{meta(pod).get('namespace', '')}/{ref.get('name')}")
            if job is not None and meta(job).get("uid") == ref.get("uid"):
                return  # its Job tracks it
        await self._remove_finalizers(pod_key, [pod])

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> set[str]:
        """Drop the tracking finalizer with upstream's strategic-merge patch
        (``$deleteFromPrimitiveList``, guarded by the pod's UID); the UIDs of the pods
        that no longer hold it."""
        ns, _ = split_key(key)
        done: set[str] = set()
        for p in pods:
            md = meta(p)
            patch = {"metadata": {"uid": md.get("uid"),
                                  "$deleteFromPrimitiveList/finalizers": [
                                      ju.TRACKING_FINALIZER]}}
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.patch("pods", str(md["name"]), patch, namespace=ns,
                                        patch_type="strategic")
            done.add(str(md.get("uid")))
        return done

    async def _claim(self, job: Obj, owned: list[Obj]) -> list[Obj]:
        """Upstream ``ClaimPods``: adopt orphans the selector matches, release owned pods
        whose labels stopped matching (the pod keeps running, unowned)."""
        sel = ju.spec_of(job).get("selector")
        matcher = label_selector(sel if isinstance(sel, dict) else None)
        ns = str(meta(job).get("namespace") or "")
        uid = meta(job).get("uid")
        out: list[Obj] = []
        for p in owned:
            if matcher.matches(labels_of(p)):
                out.append(p)
                continue
            refs = [r for r in meta(p).get("ownerReferences") or () if r.get("uid") != uid]
            with contextlib.suppress(errors.NotFound):
                await self.client.patch("pods", str(meta(p)["name"]), {"metadata": {
                    "ownerReferences": refs or None,
                    "finalizers": ju.without_tracking_finalizer(p) or None}}, namespace=ns)
        if not sel or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            return out
        for p in self.pods.indexer.by_index(ORPHAN_INDEX, ns):
            if not matcher.matches(labels_of(p)) or meta(p).get("deletionTimestamp"):
                continue
            refs = [*(meta(p).get("ownerReferences") or ()), ju.pod_template(job, None)[0][
                "metadata"]["ownerReferences"][0]]
            fins = [*ju.without_tracking_finalizer(p), ju.TRACKING_FINALIZER]
            if _terminal(p):
                fins = fins[:-1]  # ended before it was ours: nothing to count
            try:
                out.append(await self.client.patch(
                    "pods", str(meta(p)["name"]), {"metadata": {
                        "ownerReferences": refs, "finalizers": fins or None}}, namespace=ns))
            except errors.NotFound:
                continue
        return out

    async def _sync(self, key: str, job: Obj, pods: list[Obj]) -> None:
        now = self.clock()
        stamp = rfc3339_epoch(now)
        spec = ju.spec_of(job)
        old_status: Obj = job.get("status") or {}
        conds: list[Obj] = [dict(c) for c in old_status.get("conditions") or ()]
        active = [p for p in pods if is_active(p)]
        terminating = [p for p in pods if meta(p).get("deletionTimestamp") and not _terminal(p)]
        failed_pods = [p for p in pods if ju.pod_phase(p) == "Failed"]
        fail_job: str | None = None
        counted_failures: list[Obj] = []
        verdicts: list[tuple[Obj, str]] = []
        for p in failed_pods:
            verdict = ju.match_pod_failure_policy(job, p)
            if verdict.action == "FailJob" and fail_job is None:
                fail_job = verdict.message
            if verdict.action != "Ignore":
                counted_failures.append(p)
                verdicts.append((p, verdict.action))
        indexed = ju.is_indexed(job)
        completions = spec.get("completions")
        failed_idx = ju.failed_indexes(job, verdicts)
        if indexed and spec.get("backoffLimitPerIndex") is not None:
            failed_idx |= ju.parse_indexes(old_status.get("failedIndexes"),
                                           int(completions or 0))
        done_idx: set[int] = set()
        if indexed:
            done_idx = ju.parse_indexes(old_status.get("completedIndexes"), int(completions or 0))

        # -- tracking: record the ended pods, drop their finalizers, then count them
        unc_s, unc_f = ju.uncounted_of(old_status)
        new_s: set[str] = set()
        new_f: set[str] = set()
        release: list[Obj] = []
        ignored = {id(p) for p in failed_pods} - {id(p) for p in counted_failures}
        for p in pods:
            if not ju.has_tracking_finalizer(p):
                continue
            u = str(meta(p).get("uid"))
            if u in unc_s or u in unc_f:
                release.append(p)
                continue
            phase = ju.pod_phase(p)
            if phase == "Succeeded":
                i = ju.pod_index(p)
                if not indexed:
                    new_s.add(u)
                elif i is not None and 0 <= i < int(completions or 0) and i not in done_idx:
                    done_idx.add(i)
                    new_s.add(u)
                release.append(p)
            elif phase == "Failed":
                if id(p) not in ignored:
                    new_f.add(u)
                release.append(p)
            elif meta(p).get("deletionTimestamp") and not (p.get("spec") or {}).get("nodeName"):
                new_f.add(u)  # deleted before any node ran it: it never reaches Failed
                release.append(p)
        version = str(meta(job).get("resourceVersion") or "")
        if new_s or new_f:
            unc_s |= new_s
            unc_f |= new_f
            first: Obj = {"uncountedTerminatedPods": ju.uncounted_status(unc_s, unc_f)}
            if indexed:
                first["completedIndexes"] = ju.format_indexes(done_idx)
            version = await self._patch_status(key, first, version)
        gone = await self._remove_finalizers(key, release)
        held = {str(meta(p).get("uid")) for p in pods if ju.has_tracking_finalizer(p)} - gone
        moved_s, moved_f = unc_s - held, unc_f - held
        unc_s -= moved_s
        unc_f -= moved_f
        succeeded = int(old_status.get("succeeded") or 0) + len(moved_s)
        failed = int(old_status.get("failed") or 0) + len(moved_f)
        if indexed:
            succeeded = max(succeeded, len(done_idx))
        start = parse_time_epoch(old_status.get("startTime"))

        status: Obj = {"active": len(active), "ready": sum(1 for p in active if pod_ready(p)),
                       "terminating": len(terminating), "succeeded": succeeded,
                       "failed": failed,
                       "uncountedTerminatedPods": ju.uncounted_status(unc_s, unc_f)}
        if indexed:
            status["completedIndexes"] = ju.format_indexes(done_idx)
            if spec.get("backoffLimitPerIndex") is not None:
                status["failedIndexes"] = ju.format_indexes(failed_idx - done_idx)
        wake: float | None = None

        target = self._finishing(job, conds, fail_job=fail_job, failed=failed,
                                 succeeded=succeeded, active=active, start=start, now=now,
                                 failed_idx=failed_idx - done_idx)
        if target is not None:
            typ, reason, message = target
            pre = "SuccessCriteriaMet" if typ == "Complete" else "FailureTarget"
            if not ju.has_condition(job, pre):
                conds = ju.set_condition(conds, ju.condition(pre, reason, message, stamp))
            await self._delete_pods(key, job, active)
            if not active and not terminating and not unc_s and not unc_f:
                conds = ju.set_condition(conds, ju.condition(typ, reason, message, stamp))
                if typ == "Complete":
                    status["completionTime"] = stamp
                    self._event(job, NORMAL, "Completed", "Job completed")
                else:
                    self._event(job, WARNING, reason, message)
            status["active"] = 0
            status["ready"] = 0
        elif spec.get("suspend"):
            await self._delete_pods(key, job, active)
            status["active"] = status["ready"] = 0
            if not ju.has_condition(job, "Suspended"):
                conds = ju.set_condition(conds, ju.condition("Suspended", *ju.SUSPENDED, stamp))
                self._event(job, NORMAL, "Suspended", "Job suspended")
        else:
            if any(c.get("type") == "Suspended" and c.get("status") == "True" for c in conds):
                conds = ju.set_condition(
                    conds, ju.condition("Suspended", *ju.RESUMED, stamp, status="False"))
                start = None  # the deadline timer restarts on resume
                self._event(job, NORMAL, "Resumed", "Job resumed")
            if start is None:
                start = now
            wake = await self._manage(key, job, active=active, failed_pods=counted_failures,
                                      failed=failed, succeeded=succeeded, done_idx=done_idx,
                                      failed_idx=failed_idx, terminating=terminating,
                                      now=now)
            ads = spec.get("activeDeadlineSeconds")
            if ads is not None:
                left = start + int(ads) - now
                wake = left if wake is None else min(wake, left)
        if start is not None:
            status["startTime"] = rfc3339_epoch(start)
        elif old_status.get("startTime"):
            status["startTime"] = old_status["startTime"]
        status["conditions"] = conds or None
        await self._write_status(key, job, status, version)
        if wake is not None:
            self.queue.add_after(key, max(0.05, wake + 0.01))

    def _finishing(self, job: Obj, conds: list[Obj], *, fail_job: str | None, failed: int,
                   succeeded: int, active: list[Obj], start: float | None,
                   now: float, failed_idx: set[int]) -> tuple[str, str, str] | None:
        """(final condition type, reason, message) once the Job has met its end."""
        for c in conds:
            if c.get("status") == "True" and c.get("type") in ("FailureTarget",
                                                               "SuccessCriteriaMet"):
                typ = "Failed" if c["type"] == "FailureTarget" else "Complete"
                return typ, str(c.get("reason") or ""), str(c.get("message") or "")
        spec = ju.spec_of(job)
        if fail_job is not None:
            return "Failed", "PodFailurePolicy", fail_job
        if failed > int(spec.get("backoffLimit") or 0) or ju.past_backoff_limit_on_failure(
                job, active):
            return ("Failed", *ju.BACKOFF_LIMIT)
        mfi = spec.get("maxFailedIndexes")
        if mfi is not None and len(failed_idx) > int(mfi):
            return ("Failed", *ju.MAX_FAILED_INDEXES)
        if failed_idx and succeeded + len(failed_idx) >= int(spec.get("completions") or 0):
            return ("Failed", *ju.FAILED_INDEXES)  # every index finished, some failed
        ads = spec.get("activeDeadlineSeconds")
        if ads is not None and start is not None and now - start >= int(ads) and not spec.get(
                "suspend"):
            return ("Failed", *ju.DEADLINE)
        completions = spec.get("completions")
        if completions is not None:
            if succeeded >= int(completions):
                return ("Complete", *ju.COMPLETIONS_REACHED)
        elif succeeded > 0 and not active:
            return ("Complete", *ju.COMPLETIONS_REACHED)
        return None

    async def _manage(self, key: str, job: Obj, *, active: list[Obj], failed_pods: list[Obj],
                      failed: int, succeeded: int, done_idx: set[int],
                      failed_idx: set[int], terminating: list[Obj], now: float
                      ) -> float | None:
        """Create or delete pods; returns seconds until the next look (back-off). With
        ``podReplacementPolicy: Failed`` a terminating pod is replaced only once it is gone
        or failed (it still holds its place, and its index)."""
        spec0 = ju.spec_of(job)
        held = terminating if spec0.get("podReplacementPolicy") == "Failed" else []
        if not self.expectations.satisfied(key):
            return None
        spec = ju.spec_of(job)
        parallelism = int(spec.get("parallelism") or 0)
        if ju.is_indexed(job):
            completions = int(spec.get("completions") or 0)
            by_index: dict[int, list[Obj]] = {}
            for p in active:
                i = ju.pod_index(p)
                by_index.setdefault(-1 if i is None or i >= completions else i, []).append(p)
            extra = [p for i, ps in by_index.items() for p in
                     (ps if i == -1 or i in done_idx else sorted(ps, key=deletion_rank)[:-1])]
            if extra:
                await self._delete_pods(key, job, extra)
            running = {i for i in by_index if i >= 0 and i not in done_idx}
            running |= {i for p in held if (i := ju.pod_index(p)) is not None}
            want = ju.missing_indexes(completions, succeeded=done_idx, active=running,
                                      failed=failed_idx)
            room = max(0, parallelism - len(running))
            to_create: list[int | None] = list(want[:min(room, BURST)])
        else:
            diff = (ju.wanted_active(job, succeeded=succeeded, active=len(active))
                    - len(active) - len(held))
            if diff < 0:
                await self._delete_pods(key, job, sorted(active, key=deletion_rank)[:-diff])
                return None
            to_create = [None] * min(diff, BURST)
        if not to_create:
            return None
        if failed_pods:
            last = max((_finished_at(p) or 0.0) for p in failed_pods)
            left = last + ju.backoff_delay(failed, base=self.backoff_base) - now
            if left > 0:
                return left
        self.expectations.expect(key, adds=len(to_create))
        pending = list(to_create)

        async def create() -> str:
            return await self._create_pod(job, pending.pop(0))

        created, failure = await slow_start(len(to_create), create)
        for name in created:
            self._event(job, NORMAL, "SuccessfulCreate", f"Created pod: {name}")
        if failure is not None:
            self.expectations.lower_adds(key, len(to_create) - len(created))
            self._event(job, WARNING, "FailedCreate", f"Error creating: {failure}")
            raise failure
        return None

    async def _create_pod(self, job: Obj, index: int | None) -> str:
        ns = str(meta(job).get("namespace") or "")
        pod, prefix = ju.pod_template(job, index)
        for _ in range(5):
            pod["metadata"]["name"] = generate_name(prefix)
            try:
                created = await self.client.create("pods", pod, namespace=ns)
                return str(meta(created).get("name"))
            except errors.AlreadyExists:
                continue
        raise errors.AlreadyExists(f"could not find a free name for a pod of {prefix}")

    async def _delete_pods(self, key: str, job: Obj, victims: list[Obj]) -> None:
        if not victims:
            return
        ns, _ = split_key(key)
        self.expectations.expect(key, dels={object_key(p) for p in victims})
        for p in victims:
            name = str(meta(p)["name"])
            try:
                await self.client.delete("pods", name, namespace=ns)
            except errors.NotFound:
                self.expectations.observed_delete(key, object_key(p))
                continue
            self._event(job, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _patch_status(self, key: str, status: Obj, version: str) -> str:
        """Merge-patch ``jobs/status`` as of ``version`` (Conflict if the Job changed since:
        the counts were computed from it); the new resourceVersion."""
        ns, name = split_key(key)
        patch: dict[str, Any] = {"status": status}
        if version:
            patch["metadata"] = {"resourceVersion": version}
        out = await self.client.patch(JOBS, name, patch, namespace=ns, patch_type="merge",
                                      subresource="status")
        return str(meta(out).get("resourceVersion") or "")

    async def _write_status(self, key: str, job: Obj, status: Obj, version: str) -> None:
        cur: Obj = job.get("status") or {}

        def differs(k: str, v: Any) -> bool:
            if k == "uncountedTerminatedPods":
                return ju.uncounted_of(cur) != ju.uncounted_of(status)
            return cur.get(k) != v if v is not None else k in cur

        if version == str(meta(job).get("resourceVersion") or "") and not any(
                differs(k, v) for k, v in status.items()):
            return
        with contextlib.suppress(errors.NotFound):
            await self._patch_status(key, status, version)
