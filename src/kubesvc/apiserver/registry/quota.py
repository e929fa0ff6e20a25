"""ResourceQuota admission on create (upstream plugin/pkg/admission/resourcequota, v1.32):
an object whose namespace has ResourceQuotas is rejected with 403 ``exceeded quota: ...``
when creating it would take a quota's usage over ``spec.hard``.

Usage is counted from the store at admission time (not from ``status.used``, which the
resource-quota controller fills in for readers), under a per-namespace lock held until the
object is stored, so concurrent creates on this API server cannot both take the last unit.
The arithmetic is :mod:`kubesvc.api.quota`. Used by :class:`.core.Registry`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from kubesvc.api import quota as q
from kubesvc.api import resources
from kubesvc.api.objects import Obj
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.registry.codec import decode, forbidden

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

QUOTAS = "resourcequotas"


class QuotaAdmission:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._locks: dict[str, asyncio.Lock] = {}

    async def _list(self, info: ResourceInfo, ns: str) -> list[Obj]:
        res = await self.registry.store.list(info.storage_prefix(ns))
        return [decode(kv) for kv in res.items]

    async def acquire(self, info: ResourceInfo, ns: str) -> asyncio.Lock | None:
        """The namespace's quota lock, held, when ``ns`` has a ResourceQuota (None when it
        has none or ``info`` is not namespaced). The caller checks, stores, releases."""
        if not info.namespaced or not ns or not info.stored:
            return None
        if not (await self.registry.store.list(
                resources.BY_KEY[QUOTAS].storage_prefix(ns), limit=1)).items:
            return None
        lock = self._locks.setdefault(ns, asyncio.Lock())
        await lock.acquire()
        return lock

    async def check(self, info: ResourceInfo, obj: Obj, ns: str) -> None:
        """Raise Forbidden when storing ``obj`` would exceed one of ``ns``'s quotas."""
        name = str((obj.get("metadata") or {}).get("name") or "")
        existing: list[Obj] | None = None
        for quota in await self._list(resources.BY_KEY[QUOTAS], ns):
            names = q.relevant(info.key, quota)
            if not names:
                continue
            requested = q.usage(info.key, obj, names)
            if not any(requested.values()):
                continue
            if existing is None:
                existing = await self._list(info, ns)
            used = q.total_usage(info.key, existing, names)
            msg = q.exceeded(quota, requested, used)
            if msg is not None:
                raise forbidden(info, name, msg)
