"""The TTL-after-finished controller (upstream pkg/controller/ttlafterfinished): deletes a
Job ``ttlSecondsAfterFinished`` seconds after its Complete or Failed condition, with
``propagationPolicy: Foreground`` so its pods go first.

Reads the shared jobs informer; deletes through the Client. The clock is injectable.
Created by the manager.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import parse_time_epoch
from kubesvc.client.options import DeleteOptions
from kubesvc.client.protocol import Client
from kubesvc.controllers import jobutil as ju
from kubesvc.controllers.base import QueueController, split_key
from kubesvc.informers import Informer, object_key

JOBS = "jobs.batch"


def expires_in(job: Obj, now: float) -> float | None:
    """Seconds until the Job may be deleted (<= 0: now); None when it never expires."""
    ttl = ju.spec_of(job).get("ttlSecondsAfterFinished")
    if ttl is None or meta(job).get("deletionTimestamp"):
        return None
    finished = parse_time_epoch(ju.finish_time(job))
    if finished is None:
        return None
    return finished + int(ttl) - now


class TTLAfterFinishedController(QueueController):
    name = "ttl-after-finished"

    def __init__(self, client: Client, *, jobs: Informer,
                 clock: Callable[[], float] = time.time, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.jobs = jobs
        self.clock = clock
        jobs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    async def wait_synced(self) -> None:
        await self.jobs.wait_synced()

    def _enqueue(self, job: Obj) -> None:
        if ju.spec_of(job).get("ttlSecondsAfterFinished") is not None and ju.is_finished(job):
            self.queue.add(object_key(job))

    async def sync(self, key: str) -> None:
        job = self.jobs.indexer.get(key)
        if job is None:
            return
        left = expires_in(job, self.clock())
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left + 0.01)
            return
        ns, name = split_key(key)
        try:
            await self.client.delete(JOBS, name, namespace=ns, opts=DeleteOptions(
                propagation_policy="Foreground",
                preconditions={"uid": str(meta(job).get("uid") or "")}))
        except errors.NotFound:
            return
