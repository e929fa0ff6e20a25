"""Cyclic garbage collector settings for the long-running kubesvc processes (``up``,
``server``, ``agent``), applied by :func:`kubesvc.cli.components.run_until_signalled`.

These processes hold hundreds of thousands of API objects in informer caches: plain dicts
and lists from JSON, which reference counting frees and which never form cycles. With
CPython's defaults (a young collection every 700 allocations, a full one whenever the heap
grew by a quarter) the collector rescanned all of them again and again: at 1,000 Services
x 10 pods it took ~20% of the process's time, with full-collection pauses of half a second
that grow with the cluster. So:

- young collections run every 50,000 net allocations instead of 700;
- after each full collection the survivors are frozen (``gc.freeze``): later collections
  scan only what was allocated since. The cost: a reference cycle among objects that were
  alive at a freeze and die later is never reclaimed (asyncio tasks in flight at that
  moment, a few hundred objects per full collection), which is small against the caches.
"""

from __future__ import annotations

import gc
from typing import Any

YOUNG_THRESHOLD = 50_000
MIDDLE_THRESHOLD = 20
OLD_THRESHOLD = 100


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def tune() -> None:
    """Apply the thresholds and the freeze-after-full-collection hook (idempotent)."""
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)
