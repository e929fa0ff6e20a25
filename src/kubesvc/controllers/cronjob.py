"""The CronJob controller (upstream pkg/controller/cronjob/cronjob_controllerv2.go, v1.32):
creates a Job from ``spec.jobTemplate`` at each scheduled time (``spec.schedule`` in
``spec.timeZone``, see :mod:`kubesvc.api.cron`), named ``<cronjob>-<minutes since epoch>``
with the ``batch.kubernetes.io/cronjob-scheduled-timestamp`` annotation; honours
``concurrencyPolicy`` (Allow, Forbid skips while a Job runs, Replace deletes the running
ones), ``startingDeadlineSeconds`` (a start later than that is missed), ``suspend``; keeps
``status.active`` / ``lastScheduleTime`` / ``lastSuccessfulTime`` and deletes finished Jobs
beyond ``successfulJobsHistoryLimit`` / ``failedJobsHistoryLimit``.

Reads the shared cronjobs/jobs informers; writes jobs and ``cronjobs/status``; records
Events. The clock (``clock``, epoch seconds) is injectable so tests need not wait minutes.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kubesvc import errors
from kubesvc.api import cron
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import parse_time_epoch, rfc3339_epoch
from kubesvc.client.options import DeleteOptions
from kubesvc.client.protocol import Client
from kubesvc.controllers import jobutil as ju
from kubesvc.controllers.base import QueueController, ensure_index, split_key
from kubesvc.controllers.cronclock import CronClock
from kubesvc.controllers.events import NORMAL, WARNING, EventRecorder
from kubesvc.controllers.replicaset import OWNER_INDEX, controller_uid_index
from kubesvc.controllers.workloads import owned_by_kind
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

CRONJOBS = "cronjobs.batch"
JOBS = "jobs.batch"
SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED = 100


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def most_recent_schedule(schedule: cron.Schedule, zone: Any, *, earliest: float, now: float
                         ) -> tuple[float | None, int, float | None]:
    """(the latest scheduled time in (earliest, now], how many were missed, the next one
    after now) — upstream ``mostRecentScheduleTime``, bounded so a long outage costs at
    most ~MAX_MISSED steps past the count."""
    t = schedule.next(_utc(earliest), zone)
    latest: float | None = None
    missed = 0
    while t is not None and t.timestamp() <= now:
        latest = t.timestamp()
        missed += 1
        if missed > MAX_MISSED:
            # Jump: the most recent time is the one right before the next after now.
            nxt = schedule.next(_utc(now), zone)
            prev = _last_before(schedule, zone, now)
            return prev, missed, nxt.timestamp() if nxt else None
        t = schedule.next(t, zone)
    return latest, missed, t.timestamp() if t is not None else None


def _last_before(schedule: cron.Schedule, zone: Any, now: float) -> float | None:
    for window in (3600.0, 86400.0, 86400.0 * 32, 86400.0 * 366 * 5):
        t = schedule.next(_utc(now - window), zone)
        last: float | None = None
        while t is not None and t.timestamp() <= now:
            last = t.timestamp()
            t = schedule.next(t, zone)
        if last is not None:
            return last
    return None


def job_name(cronjob: str, scheduled: float) -> str:
    """``getJobName``: the scheduled time in minutes since the epoch."""
    return f"{cronjob}-{int(scheduled // 60)}"


def job_from_cronjob(cj: Obj, scheduled: float, zone: Any) -> Obj:
    """``getJobFromTemplate2``."""
    md = meta(cj)
    tpl = copy.deepcopy((cj.get("spec") or {}).get("jobTemplate") or {})
    tmd = tpl.get("metadata") or {}
    annotations = dict(tmd.get("annotations") or {})
    annotations[SCHEDULED_ANNOTATION] = _utc(scheduled).astimezone(zone).isoformat().replace(
        "+00:00", "Z")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(str(md.get("name")), scheduled),
            "namespace": md.get("namespace"),
            "labels": dict(tmd.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "CronJob", "name": md.get("name"),
                "uid": md.get("uid"), "controller": True, "blockOwnerDeletion": True}],
        },
        "spec": tpl.get("spec") or {},
    }


def job_ref(job: Obj) -> Obj:
    md = meta(job)
    return {"kind": "Job", "namespace": md.get("namespace"), "name": md.get("name"),
            "uid": md.get("uid"), "apiVersion": "batch/v1",
            "resourceVersion": md.get("resourceVersion")}


def history_to_delete(jobs: list[Obj], *, successful_limit: int | None,
                      failed_limit: int | None) -> list[Obj]:
    """Finished Jobs beyond the history limits, oldest first (by start, then creation)."""
    def started(j: Obj) -> float:
        return (parse_time_epoch((j.get("status") or {}).get("startTime"))
                or parse_time_epoch(meta(j).get("creationTimestamp")) or 0.0)

    out: list[Obj] = []
    for typ, limit in (("Complete", successful_limit), ("Failed", failed_limit)):
        if limit is None:
            continue
        done = sorted((j for j in jobs if ju.has_condition(j, typ)), key=started)
        if len(done) > limit:
            out.extend(done[: len(done) - limit])
    return out


class CronJobController(QueueController):
    name = "cronjob"

    def __init__(self, client: Client, *, cronjobs: Informer, jobs: Informer,
                 recorder: EventRecorder | None = None, workers: int = 2,
                 clock: Callable[[], float] = time.time,
                 cron_clock: CronClock | None = None) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.cronjobs = cronjobs
        self.jobs = jobs
        self.recorder = recorder
        # ``clock`` (tests) or ``cron_clock`` (a faster clock, ``--cronjob-clock-rate``)
        self.cron_clock = cron_clock or CronClock(real=clock, origin=0.0)
        self.clock = self.cron_clock.now
        ensure_index(jobs.indexer, OWNER_INDEX, func=controller_uid_index)
        cronjobs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))
        jobs.add_handler(on_add=self._on_job, on_update=lambda _o, n: self._on_job(n),
                         on_delete=self._on_job)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.cronjobs.wait_synced(), self.jobs.wait_synced())

    def _enqueue(self, cj: Obj) -> None:
        self.queue.add(object_key(cj))

    def _on_job(self, job: Obj) -> None:
        ref = owned_by_kind(job, "CronJob")
        if ref is not None:
            self.queue.add(f"{meta(job).get('namespace', '')}/{ref.get('name', '')}")

    def _event(self, cj: Obj, typ: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(cj, typ, reason=reason, message=message, kind="CronJob",
                                api_version="batch/v1")

    async def sync(self, key: str) -> None:
        cj = self.cronjobs.indexer.get(key)
        if cj is None or meta(cj).get("deletionTimestamp"):
            return
        uid = str(meta(cj).get("uid"))
        children = [j for j in self.jobs.indexer.by_index(OWNER_INDEX, uid)
                    if (owned_by_kind(j, "CronJob") or {}).get("uid") == uid]
        now = self.clock()
        old_status: Obj = cj.get("status") or {}
        status: Obj = {k: v for k, v in old_status.items()}
        active = self._reconcile_active(cj, children, status)
        wake = await self._schedule(cj, key, active=active, status=status, now=now)
        await self._write_status(key, old_status, status)
        await self._cleanup(cj, children)
        if wake is not None:
            self.queue.add_after(key, max(0.05, self.cron_clock.real_delay(wake) + 0.1))

    def _reconcile_active(self, cj: Obj, children: list[Obj], status: Obj) -> list[Obj]:
        by_uid = {str(meta(j).get("uid")): j for j in children}
        active: list[Obj] = []
        refs: list[Obj] = []
        seen: set[str] = set()
        for ref in status.get("active") or ():
            job = by_uid.get(str(ref.get("uid")))
            if job is None:
                continue  # deleted: drop from active
            seen.add(str(ref.get("uid")))
            if ju.is_finished(job):
                self._event(cj, NORMAL, "SawCompletedJob",
                            f"Saw completed job: {meta(job).get('name')}, status: "
                            f"{'Complete' if ju.has_condition(job, 'Complete') else 'Failed'}")
                if ju.has_condition(job, "Complete"):
                    done = (job.get("status") or {}).get("completionTime")
                    last = parse_time_epoch(status.get("lastSuccessfulTime"))
                    done_t = parse_time_epoch(done)
                    if done_t is not None and (last is None or done_t > last):
                        status["lastSuccessfulTime"] = done
                continue
            active.append(job)
            refs.append(dict(ref))
        for uid, job in by_uid.items():
            if uid not in seen and not ju.is_finished(job):
                active.append(job)
                refs.append(job_ref(job))
        status["active"] = refs or None
        return active

    async def _schedule(self, cj: Obj, key: str, *, active: list[Obj], status: Obj,
                        now: float) -> float | None:
        spec: Obj = cj.get("spec") or {}
        if spec.get("suspend"):
            return None
        try:
            schedule = cron.parse(str(spec.get("schedule") or ""))
            zone = cron.load_zone(spec.get("timeZone"))
        except cron.CronError as exc:
            self._event(cj, WARNING, "UnparseableSchedule" if "zone" not in str(exc)
                        else "UnknownTimeZone", f"unparseable schedule: {exc}")
            return None
        created_real = parse_time_epoch(meta(cj).get("creationTimestamp"))
        created = now if created_real is None else self.cron_clock.local(created_real)
        earliest = parse_time_epoch(status.get("lastScheduleTime")) or created
        sds = spec.get("startingDeadlineSeconds")
        if sds is not None:
            earliest = max(earliest, now - int(sds))
        scheduled, missed, nxt = most_recent_schedule(schedule, zone, earliest=earliest, now=now)
        wake = None if nxt is None else nxt - now
        if scheduled is None:
            return wake
        if missed > MAX_MISSED:
            self._event(cj, WARNING, "TooManyMissedTimes", "too many missed start times. Set "
                        "or decrease .spec.startingDeadlineSeconds or check clock skew")
        if sds is not None and scheduled + int(sds) < now:
            self._event(cj, WARNING, "MissSchedule", "Missed scheduled time to start a job: "
                        f"{rfc3339_epoch(scheduled)}")
            return wake
        if active and spec.get("concurrencyPolicy") == "Forbid":
            return wake
        if spec.get("concurrencyPolicy") == "Replace":
            for job in active:
                try:
                    await self.client.delete(JOBS, str(meta(job)["name"]),
                                             namespace=meta(job).get("namespace"),
                                             opts=DeleteOptions(propagation_policy="Background"))
                except errors.NotFound:
                    pass
                self._event(cj, NORMAL, "SuccessfulDelete",
                            f"Deleted job {meta(job).get('name')}")
            active.clear()
            status["active"] = None
        body = job_from_cronjob(cj, scheduled, zone)
        ns, _ = split_key(key)
        try:
            job = await self.client.create(JOBS, body, namespace=ns)
            self._event(cj, NORMAL, "SuccessfulCreate", f"Created job {meta(job).get('name')}")
        except errors.AlreadyExists:
            try:
                job = await self.client.get(JOBS, body["metadata"]["name"], namespace=ns)
            except errors.NotFound:
                return 0.5
            if (owned_by_kind(job, "CronJob") or {}).get("uid") != meta(cj).get("uid"):
                return wake
        if ju.is_finished(job):
            status["lastScheduleTime"] = rfc3339_epoch(scheduled)
            return wake
        refs = [r for r in status.get("active") or () if r.get("uid") != meta(job).get("uid")]
        refs.append(job_ref(job))
        status["active"] = refs
        status["lastScheduleTime"] = rfc3339_epoch(scheduled)
        return wake

    async def _write_status(self, key: str, old: Obj, status: Obj) -> None:
        def norm(s: Obj) -> Obj:
            return {k: v for k, v in s.items() if v is not None}

        if norm(old) == norm(status):
            return
        ns, name = split_key(key)
        patch = {"status": {**{k: None for k in old if k not in status}, **status}}
        try:
            await self.client.patch(CRONJOBS, name, patch, namespace=ns, patch_type="merge",
                                    subresource="status")
        except errors.NotFound:
            return

    async def _cleanup(self, cj: Obj, children: list[Obj]) -> None:
        spec: Obj = cj.get("spec") or {}
        victims = history_to_delete(children,
                                    successful_limit=spec.get("successfulJobsHistoryLimit"),
                                    failed_limit=spec.get("failedJobsHistoryLimit"))
        for job in victims:
            try:
                await self.client.delete(JOBS, str(meta(job)["name"]),
                                         namespace=meta(job).get("namespace"),
                                         opts=DeleteOptions(propagation_policy="Background"))
            except errors.NotFound:
                continue
            self._event(cj, NORMAL, "SuccessfulDelete", f"Deleted job {meta(job).get('name')}")
