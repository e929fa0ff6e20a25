"""NodePort allocation from ``--service-node-port-range`` (upstream ``portallocator``).

The range is inclusive (default 30000-32767). Its static band (upstream's
``ServiceNodePortStaticSubrange``: ``min(max(16, size/32), 128)`` ports at the bottom) is only
used for dynamic allocation once the rest is full, so explicitly requested low ports such as
30080 rarely collide with automatically assigned ones.

Called by the registry's Service strategy and by :mod:`.repair`; calls
:class:`.bitmap.RangeAllocator`.
"""

from __future__ import annotations

import random

from kubesvc.apiserver.allocators.bitmap import Outcome, RangeAllocator
from kubesvc.storage.store import Store

SERVICE_NODE_PORTS_KEY = "/registry/ranges/servicenodeports"

ERR_FULL = "range is full"
ERR_ALLOCATED = "provided port is already allocated"


def range_offset(range_size: int) -> int:
    """Size of the static band (upstream portallocator's ``calculateRangeOffset``)."""
    if range_size <= 16:
        return 0
    return max(16, min(range_size // 32, 128))


class NodePortAllocator:
    def __init__(
        self,
        store: Store,
        port_range: tuple[int, int] = (30000, 32767),
        *,
        rng: random.Random | None = None,
    ) -> None:
        first, last = port_range
        if last < first:
            raise ValueError(f"invalid node port range {first}-{last}")
        self.first = first
        self.last = last
        self.range_spec = f"{first}-{last}"
        size = last - first + 1
        self.range = RangeAllocator(
            store,
            SERVICE_NODE_PORTS_KEY,
            range_spec=self.range_spec,
            size=size,
            static_band=range_offset(size),
            rng=rng,
        )

    def contains(self, port: int) -> bool:
        return self.first <= port <= self.last

    def not_in_range_message(self) -> str:
        return (
            "provided port is not in the valid range. "
            f"The range of valid ports is {self.range_spec}"
        )

    def has(self, port: int) -> bool:
        return self.contains(port) and self.range.has(port - self.first)

    async def load(self) -> None:
        await self.range.load()

    async def commit(
        self,
        *,
        take: list[int] | tuple[int, ...] = (),
        take_next: int = 0,
        release: list[int] | tuple[int, ...] = (),
        dry_run: bool = False,
    ) -> tuple[Outcome, list[int]]:
        """Reserve ``take`` (ports already checked with :meth:`contains`), ``take_next``
        dynamic ports and free ``release`` in one write; returns the outcome (``failed`` as
        a port number) and the dynamic ports."""
        offs = [p - self.first for p in take if self.contains(p)]
        rel = [p - self.first for p in release if self.contains(p)]
        out = await self.range.commit(take=offs, take_next=take_next, release=rel,
                                      dry_run=dry_run)
        if not out.ok and out.failed is not None:
            out = Outcome(False, failed=out.failed + self.first, reason=out.reason)
        return out, [o + self.first for o in out.values]

    async def reset(self, ports: list[int]) -> None:
        await self.range.reset(p - self.first for p in ports if self.contains(p))
