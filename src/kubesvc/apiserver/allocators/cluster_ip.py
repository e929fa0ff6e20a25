"""ClusterIP allocation from ``--service-cidr`` (upstream ``ipallocator.Range``).

Offset 0 is the first usable address (network address + 1); for IPv4 the broadcast address is
never handed out, IPv6 ranges are capped at 65536 addresses as upstream caps them. The static
band (upstream's ``ServiceIPStaticSubrange``: ``min(max(16, size/16), 256)`` addresses) is
only used for dynamic allocation once the rest is full, so the first address (``kubernetes``)
and the tenth (kube-dns) stay free for whoever asks for them explicitly.

Called by the registry's Service strategy (:mod:`kubesvc.apiserver.registry.services`) and
by :mod:`.repair`; calls :class:`.bitmap.RangeAllocator`.
"""

from __future__ import annotations

import ipaddress
import random

from kubesvc.apiserver.allocators.bitmap import Outcome, RangeAllocator
from kubesvc.storage.store import Store

SERVICE_IPS_KEY = "/registry/ranges/serviceips"

ERR_FULL = "range is full"
ERR_ALLOCATED = "provided IP is already allocated"


def range_offset(range_size: int) -> int:
    """Size of the static band for a CIDR of ``range_size`` addresses (upstream's
    ``calculateRangeOffset``)."""
    if range_size <= 16:
        return 0
    return max(16, min(range_size // 16, 256))


class ClusterIPAllocator:
    def __init__(
        self, store: Store, cidr: str, *, rng: random.Random | None = None
    ) -> None:
        net = ipaddress.ip_network(cidr, strict=False)
        self.network = net
        self.cidr = str(net)
        self.family = "IPv4" if net.version == 4 else "IPv6"
        size = net.num_addresses
        if net.version == 6:
            size = min(size, 65536)
        else:
            size -= 1  # broadcast
        size = max(0, size - 1)  # network address
        self._base = int(net.network_address) + 1
        self.range = RangeAllocator(
            store,
            SERVICE_IPS_KEY,
            range_spec=self.cidr,
            size=size,
            static_band=range_offset(net.num_addresses),
            rng=rng,
        )

    # -- address <-> offset
    def offset_of(self, ip: str) -> int | None:
        """The bitmap offset of ``ip``, or None when it is unparsable or outside the range
        (the network and broadcast addresses are outside)."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr.version != self.network.version or addr not in self.network:
            return None
        off = int(addr) - self._base
        return off if 0 <= off < self.range.size else None

    def ip_at(self, offset: int) -> str:
        return str(ipaddress.ip_address(self._base + offset))

    def nth(self, n: int) -> str:
        """The ``n``-th usable address (1 = the ``kubernetes`` Service, 10 = kube-dns)."""
        return self.ip_at(n - 1)

    @property
    def network_ip(self) -> str:
        return str(self.network.network_address)

    def not_in_range_message(self, ip: str) -> str:
        return (
            f"the provided IP ({ip}) is not in the valid range. "
            f"The range of valid IPs is {self.cidr}"
        )

    def has(self, ip: str) -> bool:
        off = self.offset_of(ip)
        return off is not None and self.range.has(off)

    # -- allocation (offset-level; the Service strategy builds the API errors)
    async def load(self) -> None:
        await self.range.load()

    async def commit(
        self,
        *,
        take: list[str] | tuple[str, ...] = (),
        take_next: int = 0,
        release: list[str] | tuple[str, ...] = (),
        dry_run: bool = False,
    ) -> tuple[Outcome, list[str]]:
        """Reserve ``take`` (addresses already checked with :meth:`offset_of`), ``take_next``
        dynamic addresses, and free ``release`` in one write. Returns the outcome and the
        dynamic addresses picked."""
        offs = [o for o in (self.offset_of(ip) for ip in take) if o is not None]
        rel = [o for o in (self.offset_of(ip) for ip in release) if o is not None]
        out = await self.range.commit(take=offs, take_next=take_next, release=rel,
                                      dry_run=dry_run)
        return out, [self.ip_at(o) for o in out.values]

    async def reset(self, ips: list[str]) -> None:
        await self.range.reset(o for o in (self.offset_of(ip) for ip in ips) if o is not None)
