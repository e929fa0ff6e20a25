"""RecordingBackend: a ``ProxyBackend`` that programs nothing and records every sync as
what a data plane would have been asked for (copies of the Service ports and endpoints,
the changed Services, whether it was a full resync). ``fail_next`` makes the next syncs
raise, to exercise the Proxier's full-resync-after-failure path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from kubesvc.proxy.model import Endpoint, ServicePort, ServicePortName
from kubesvc.proxy.tracker import SyncRequest


@dataclass(slots=True)
class Sync:
    services: dict[ServicePortName, ServicePort]
    endpoints: dict[ServicePortName, list[Endpoint]]
    changed: set[str]
    full: bool


class RecordingBackend:
    name = "recording"

    def __init__(self) -> None:
        self.syncs: list[Sync] = []
        self.fail_next = 0
        self.closed = False
        self._changed = asyncio.Event()

    async def sync(self, req: SyncRequest) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("recording backend: told to fail")
        st = req.state
        self.syncs.append(Sync(dict(st.ports), {k: list(v) for k, v in st.endpoints.items()},
                               set(req.changed), req.full))
        self._changed.set()

    async def close(self) -> None:
        self.closed = True

    @property
    def last(self) -> Sync:
        return self.syncs[-1]

    async def wait_for(self, pred: Callable[[Sync], bool], timeout: float = 5.0) -> Sync:
        """The first recorded sync (from now on, or already there) for which ``pred(sync)``
        holds."""
        seen = 0

        async def scan() -> Sync:
            nonlocal seen
            while True:
                for s in self.syncs[seen:]:
                    if pred(s):
                        return s
                seen = len(self.syncs)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)
