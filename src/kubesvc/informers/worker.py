"""The queue-driven worker loop every level-triggered component runs: take a key from a
:class:`~kubesvc.informers.workqueue.WorkQueue`, call the handler, ``forget`` on success,
re-queue with per-key exponential back-off on failure (logged, never silent), and
``done`` always, as client-go's ``processNextWorkItem``.

Used by the controllers' ``QueueController``, the node agent and the scheduler (it lives
here, below all of them, so none of those packages imports another). :func:`run_workers`
runs N named workers under a TaskGroup until ``stop``; :func:`stop_workers` is the shutdown
half: shut the queue, let the syncs in hand finish for a grace period, cancel the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from kubesvc.informers.workqueue import ShutDown, WorkQueue

log = logging.getLogger(__name__)

# A handler returns True to ask for a retry with back-off without it being an error (e.g.
# a pod that fits no node yet); None or False means the key is handled.
Handler = Callable[[str], Awaitable[bool | None]]


async def worker_loop(
    queue: WorkQueue,
    handler: Handler,
    *,
    name: str,
    expected: tuple[type[Exception], ...] = (),
    logger: logging.Logger = log,
) -> None:
    """Process keys until the queue is shut down. ``expected`` exceptions (e.g. Conflict
    from a stale cache) are retried with a debug line; any other is logged with its
    traceback and retried."""
    while True:
        try:
            key = await queue.get()
        except ShutDown:
            return
        try:
            retry = await handler(key)
        except asyncio.CancelledError:
            queue.done(key)
            raise
        except expected as exc:
            logger.debug("%s: %s: %s; retrying", name, key, exc)
            queue.add_rate_limited(key)
        except Exception:
            logger.exception("%s: sync of %s failed; retrying with back-off", name, key)
            queue.add_rate_limited(key)
        else:
            if retry:
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
        queue.done(key)


async def stop_workers(
    queue: WorkQueue, tasks: Sequence[asyncio.Task[None]], *, timeout: float = 0.0
) -> None:
    """Shut ``queue`` down, give the workers ``timeout`` seconds to finish the sync in hand
    (one stuck on a dead client must not hold shutdown), then cancel and await the rest."""
    queue.shutdown()
    if tasks and timeout > 0:
        await asyncio.wait(tasks, timeout=timeout)
    for t in tasks:
        if not t.done():
            t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def run_workers(
    queue: WorkQueue,
    handler: Handler,
    stop: asyncio.Event,
    *,
    name: str,
    workers: int = 1,
    shutdown_timeout: float = 0.0,
    expected: tuple[type[Exception], ...] = (),
    logger: logging.Logger = log,
) -> None:
    """Run ``workers`` named worker tasks (``<name>-worker-<i>``) until ``stop`` is set,
    then :func:`stop_workers`."""
    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(worker_loop(queue, handler, name=name, expected=expected,
                                            logger=logger), name=f"{name}-worker-{i}")
                 for i in range(max(1, workers))]
        await stop.wait()
        await stop_workers(queue, tasks, timeout=shutdown_timeout)
