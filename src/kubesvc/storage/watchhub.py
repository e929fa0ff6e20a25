"""In-process watch fan-out for store backends that commit locally (:mod:`.sqlite`).

The backend calls :meth:`WatchHub.dispatch` on the event loop once per committed event, in
revision order; each :class:`HubWatch` whose prefix matches queues it. A watch that starts in
the past is registered first (buffering live events), then given the backlog read from
history up to some revision, then the buffered live events newer than that revision, so no
event is lost or repeated across the hand-over. Calls nothing outside this package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from kubesvc import errors
from kubesvc.storage.store import WatchEvent
from kubesvc.storage.watchstream import WatchStream

MAX_QUEUED = 200_000  # a watcher this far behind is cut off with Gone (it must re-list)


class HubWatch:
    """One open watch. Iterate for batches of events; ``close()`` ends the iteration."""

    def __init__(self, hub: WatchHub, prefix: str, start_revision: int) -> None:
        self._hub = hub
        self.prefix = prefix
        self.start_revision = start_revision
        self._stream = WatchStream()
        # Live events seen before the backlog was read; None once started.
        self._pending: list[WatchEvent] | None = [] if start_revision else None
        self._floor = hub.rev if not start_revision else start_revision - 1

    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]:
        return aiter(self._stream)

    def deliver(self, ev: WatchEvent) -> None:
        if self._stream.ended:
            return
        if self._pending is not None:
            self._pending.append(ev)
        elif ev.kv.mod_revision > self._floor:
            self._push(ev)

    def start(self, backlog: list[WatchEvent], upto: int) -> None:
        """Queue ``backlog`` (every matching event up to revision ``upto``), then the live
        events buffered meanwhile that are newer than ``upto``."""
        pending, self._pending = self._pending or [], None
        for ev in backlog:
            self._push(ev)
        self._floor = max(upto, self.start_revision - 1)
        for ev in pending:
            if ev.kv.mod_revision > self._floor:
                self._push(ev)

    def _push(self, ev: WatchEvent) -> None:
        if self._stream.ended:
            return
        self._stream.put(ev)
        self._floor = ev.kv.mod_revision
        if len(self._stream) > MAX_QUEUED:
            self.fail(errors.Gone(f"watch of {self.prefix} fell too far behind; re-list"))

    def fail(self, exc: BaseException) -> None:
        """End the watch with ``exc`` (queued events are dropped: the caller must re-list)."""
        if self._stream.ended:
            return
        self._stream.clear()
        self._stream.fail(exc)
        self._hub.discard(self)

    async def close(self) -> None:
        if not self._stream.ended:
            self._stream.clear()
            self._stream.end()
            self._hub.discard(self)


def _root(path: str) -> str:
    """``path`` up to its fourth ``/`` (``/registry/core/pods/``: one resource), or "" when
    it has fewer."""
    i = 0
    for _ in range(4):
        i = path.find("/", i) + 1
        if not i:
            return ""
    return path[:i]


class WatchHub:
    """The open watches of one store, grouped by resource (a watch of ``/registry/core/pods/``
    or of one namespace's pods never sees a Service's event), and the last dispatched
    revision."""

    def __init__(self) -> None:
        self.rev = 0
        self._watches: set[HubWatch] = set()
        # root -> its watches; "" holds the watches whose prefix spans resources
        self._by_root: dict[str, set[HubWatch]] = {}

    def add(self, prefix: str, start_revision: int) -> HubWatch:
        w = HubWatch(self, prefix, start_revision)
        self._watches.add(w)
        self._by_root.setdefault(_root(prefix), set()).add(w)
        return w

    def discard(self, w: HubWatch) -> None:
        self._watches.discard(w)
        root = _root(w.prefix)
        group = self._by_root.get(root)
        if group is not None:
            group.discard(w)
            if not group:
                del self._by_root[root]

    def dispatch(self, ev: WatchEvent) -> None:
        self.rev = ev.kv.mod_revision
        key = ev.kv.key
        root = _root(key)
        for r in (root, "") if root else ("",):
            group = self._by_root.get(r)
            if group:
                for w in list(group):
                    if key.startswith(w.prefix):
                        w.deliver(ev)

    async def close(self) -> None:
        for w in list(self._watches):
            await w.close()
