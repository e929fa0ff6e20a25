"""Remembers the slices a controller wrote (upstream ``endpointSliceTracker``) so that:

- watch events for our own writes do not re-queue the Service (no write-echo storms), and
- a sync never runs on a cache that has not yet seen our last writes (which would create
  duplicate slices) — the sync is deferred until the echo arrives.

Used by the EndpointSlice and mirroring controllers; pure bookkeeping, no I/O.
"""

from __future__ import annotations

import time

from kubesvc.api.objects import Obj, meta


def _rv_at_least(have: str, want: str) -> bool:
    if have == want:
        return True
    try:
        return int(have) >= int(want)
    except ValueError:
        return False


class SliceTracker:
    def __init__(self, *, expiry: float = 30.0) -> None:
        # owner key -> slice name -> (resourceVersion we wrote or None if we deleted it,
        # when). Entries older than ``expiry`` seconds are dropped so a lost event cannot
        # stall a Service for ever.
        self._expect: dict[str, dict[str, tuple[str | None, float]]] = {}
        self._expiry = expiry

    def wrote(self, owner: str, obj: Obj) -> None:
        md = meta(obj)
        self._expect.setdefault(owner, {})[str(md.get("name", ""))] = (
            str(md.get("resourceVersion") or ""),
            time.monotonic(),
        )

    def deleted(self, owner: str, name: str) -> None:
        self._expect.setdefault(owner, {})[name] = (None, time.monotonic())

    def forget(self, owner: str) -> None:
        self._expect.pop(owner, None)

    def _drop(self, owner: str, name: str) -> None:
        exp = self._expect.get(owner)
        if exp is not None:
            exp.pop(name, None)
            if not exp:
                del self._expect[owner]

    def observe(self, owner: str, obj: Obj, *, deleted: bool) -> bool:
        """Record a watch event; True when it is the echo of our own write."""
        exp = self._expect.get(owner)
        if not exp:
            return False
        name = str(meta(obj).get("name", ""))
        entry = exp.get(name)
        if entry is None:
            return False
        want = entry[0]
        if deleted:
            self._drop(owner, name)
            return want is None
        if want is None:
            return False  # an older update arriving before the delete we made
        have = str(meta(obj).get("resourceVersion") or "")
        if _rv_at_least(have, want):
            self._drop(owner, name)
        return have == want

    def stale(self, owner: str, cached: dict[str, Obj]) -> bool:
        """True when ``cached`` (name -> slice) lacks one of our writes."""
        exp = self._expect.get(owner)
        if not exp:
            return False
        deadline = time.monotonic() - self._expiry
        for name, (want, when) in list(exp.items()):
            obj = cached.get(name)
            if when < deadline:
                pass
            elif want is None:
                if obj is not None:
                    return True
            elif obj is None or not _rv_at_least(
                str(meta(obj).get("resourceVersion") or ""), want
            ):
                return True
            del exp[name]
        if not exp:
            del self._expect[owner]
        return False
