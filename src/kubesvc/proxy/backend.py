"""The ``ProxyBackend`` protocol: what a data plane implements, and the registry of
backends by name (``--proxy userspace|nftables``)."""

from __future__ import annotations

from typing import Protocol

from kubesvc.proxy.tracker import SyncRequest


class ProxyBackend(Protocol):
    name: str

    async def sync(self, req: SyncRequest) -> None:
        """Program the data plane for ``req.changed`` (or everything when ``req.full``).
        Raise to have the runner retry with a full resync."""
        ...

    async def close(self) -> None:
        """Remove everything this backend programmed."""
        ...
