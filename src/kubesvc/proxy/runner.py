"""A bounded-frequency runner, as upstream ``async.BoundedFrequencyRunner``: runs ``fn``
when asked, at most once per ``min_interval`` (so bursts of changes batch into one sync),
at least once per ``max_interval`` (periodic full resync), and retries failures with
back-off. Used by :class:`kubesvc.proxy.proxier.Proxier`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class BoundedFrequencyRunner:
    def __init__(
        self,
        name: str,
        fn: Callable[[], Awaitable[None]],
        *,
        min_interval: float,
        max_interval: float,
        on_failure: Callable[[], None] = lambda: None,
    ) -> None:
        self.name = name
        self._fn = fn
        self._min = min_interval
        self._max = max_interval
        self._on_failure = on_failure
        self._wake = asyncio.Event()

    def run(self) -> None:
        """Ask for a sync soon."""
        self._wake.set()

    async def loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        last = -1e9
        backoff = 0.0
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                wake = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({wake, stop_wait}, timeout=self._max,
                                   return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                if stop.is_set():
                    return
                wait = max(backoff, last + self._min - loop.time())
                if wait > 0:
                    await asyncio.sleep(wait)
                self._wake.clear()
                last = loop.time()
                try:
                    await self._fn()
                    backoff = 0.0
                except Exception:
                    log.exception("%s: sync failed; retrying with a full resync", self.name)
                    self._on_failure()
                    backoff = min(max(backoff * 2, 0.1), 10.0)
                    self._wake.set()
        finally:
            stop_wait.cancel()
