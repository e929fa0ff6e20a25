"""Periodic compaction of a :class:`~kubesvc.storage.store.Store`'s history.

The API server runs :func:`auto_compact_loop` as one named task of its TaskGroup (as
kube-apiserver runs its etcd compactor). It calls only ``store.revision()`` and
``store.compact()``. History is kept while either rule still wants it: the last
``keep_revisions`` revisions, and everything written in the last ``keep_seconds`` seconds
(upstream compacts every 5 minutes to the revision it saw 5 minutes earlier), so watchers
that fall a little behind can resume instead of re-listing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from kubesvc.storage.store import Store

log = logging.getLogger(__name__)


def compaction_target(
    current: int, samples: deque[tuple[float, int]], now: float, *, keep_revisions: int,
    keep_seconds: float,
) -> int:
    """The revision to compact to: no newer than ``current - keep_revisions`` and no newer
    than the revision seen ``keep_seconds`` ago (``samples`` holds (time, revision) pairs,
    oldest first). 0 when nothing may be compacted yet."""
    target = current - keep_revisions
    if keep_seconds > 0:
        old = [rev for t, rev in samples if t <= now - keep_seconds]
        if not old:
            return 0
        target = min(target, old[-1])
    return max(target, 0)


async def auto_compact_loop(
    store: Store,
    stop: asyncio.Event,
    *,
    keep_revisions: int = 10000,
    keep_seconds: float = 300.0,
    interval: float = 60.0,
) -> None:
    """Compact ``store`` every ``interval`` seconds until ``stop`` is set. Errors are logged
    and retried on the next tick; the loop never dies on a store error."""
    samples: deque[tuple[float, int]] = deque()
    done = 0
    while not stop.is_set():
        try:
            now = time.monotonic()
            current = await store.revision()
            samples.append((now, current))
            # Keep only the newest sample old enough, plus the younger ones.
            while len(samples) > 1 and samples[1][0] <= now - keep_seconds:
                samples.popleft()
            target = compaction_target(current, samples, now, keep_revisions=keep_revisions,
                                       keep_seconds=keep_seconds)
            if target > done:
                await store.compact(target)
                done = target
                log.debug("compacted store history up to revision %d", target)
        except Exception:
            log.exception("store compaction failed; retrying in %.0fs", interval)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
