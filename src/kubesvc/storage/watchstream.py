"""The consumer side of one store watch: a queue of events read as an async iterator of
batches, ended cleanly or with an error. Every backend's watch object (memory's, sqlite's
:class:`~kubesvc.storage.watchhub.HubWatch`, etcd's) queues into one of these instead of
writing its own ``asyncio.Queue`` loop; the API server's watch registry iterates it.

Producers call :meth:`WatchStream.put` / :meth:`~WatchStream.extend` from the event loop
(never blocking: the backend decides when a watcher is too far behind), then
:meth:`~WatchStream.end` or :meth:`~WatchStream.fail`. Events queued before the end are
still delivered; a producer that wants them dropped calls :meth:`~WatchStream.clear`.
Calls nothing outside this package.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable

from kubesvc.storage.store import WatchEvent

MAX_BATCH = 1000  # events per yielded batch


class WatchStream:
    __slots__ = ("_ended", "_error", "_items", "_wake")

    def __init__(self) -> None:
        self._items: deque[WatchEvent] = deque()
        self._ended = False
        self._error: BaseException | None = None
        self._wake = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def ended(self) -> bool:
        return self._ended

    def put(self, ev: WatchEvent) -> None:
        if not self._ended:
            self._items.append(ev)
            self._wake.set()

    def extend(self, events: Iterable[WatchEvent]) -> None:
        if not self._ended:
            self._items.extend(events)
            if self._items:
                self._wake.set()

    def clear(self) -> None:
        self._items.clear()

    def end(self) -> None:
        """No more events: the iteration stops once the queued ones are read."""
        self._ended = True
        self._wake.set()

    def fail(self, exc: BaseException) -> None:
        """End with ``exc``, raised to the consumer after the queued events."""
        if not self._ended:
            self._error = exc
            self.end()

    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[list[WatchEvent]]:
        items = self._items
        while True:
            if items:
                n = min(len(items), MAX_BATCH)
                yield [items.popleft() for _ in range(n)]
                continue
            if self._ended:
                if self._error is not None:
                    raise self._error
                return
            self._wake.clear()
            await self._wake.wait()
