"""The Proxier: informers of Services and EndpointSlices -> :class:`ChangeTracker` ->
:class:`BoundedFrequencyRunner` -> a :class:`ProxyBackend`. Created by ``kubesvc up`` and
``kubesvc agent`` (the informers are theirs, shared with other components)."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import Counter

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj
from kubesvc.informers import Informer, object_key
from kubesvc.proxy.backend import ProxyBackend
from kubesvc.proxy.metrics import ProxyMetrics
from kubesvc.proxy.runner import BoundedFrequencyRunner
from kubesvc.proxy.tracker import ChangeTracker

# kube-proxy watches Services and EndpointSlices with the label selector
# "!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless": objects
# that carry either label belong to another proxy (or to none) and are not served.
IGNORED_LABELS = ("service.kubernetes.io/service-proxy-name", "service.kubernetes.io/headless")


def ignored(obj: Obj) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return any(k in labels for k in IGNORED_LABELS)


class Proxier:
    def __init__(
        self,
        backend: ProxyBackend,
        *,
        services: Informer,
        slices: Informer,
        min_sync_interval: float = 0.005,
        max_sync_interval: float = 60.0,
    ) -> None:
        self.backend = backend
        self.services = services
        self.slices = slices
        self.tracker = ChangeTracker()
        self.metrics = ProxyMetrics()
        # the data plane's counters (userspace: as it relays; nftables: read per scrape)
        self.metrics.attach_stats(getattr(backend, "stats", None))
        self.metrics.refresh = getattr(backend, "refresh_stats", None)
        self._synced_once = False
        self.runner = BoundedFrequencyRunner(
            f"proxy/{backend.name}", self._sync, min_interval=min_sync_interval,
            max_interval=max_sync_interval, on_failure=self._failed,
        )
        services.add_handler(
            on_add=self._svc, on_update=lambda _o, n: self._svc(n), on_delete=self._svc_gone
        )
        slices.add_handler(
            on_add=self._slice, on_update=self._slice_update,
            on_delete=lambda o: self._slice(o, deleted=True),
        )

    def synced(self) -> bool:
        return self._synced_once

    def _svc(self, obj: Obj) -> None:
        self.tracker.service_changed(None if ignored(obj) else obj, key=object_key(obj))
        self._queued(self.metrics.service_changes)

    def _svc_gone(self, obj: Obj) -> None:
        self.tracker.service_changed(None, key=object_key(obj))
        self._queued(self.metrics.service_changes)

    def _slice(self, obj: Obj, *, deleted: bool = False) -> None:
        self.tracker.slice_changed(obj, deleted=deleted or ignored(obj))
        self._queued(self.metrics.endpoint_changes)

    def _queued(self, changes: Counter) -> None:
        changes.inc()
        self.metrics.last_queued.set_to_current_time()
        self.runner.run()

    def _slice_update(self, old: Obj, new: Obj) -> None:
        old_svc = (old["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        new_svc = (new["metadata"].get("labels") or {}).get(LABEL_SERVICE_NAME)
        if old_svc != new_svc:
            self.tracker.slice_changed(old, deleted=True)
        self._slice(new)

    def _failed(self) -> None:
        self.metrics.sync_failures.inc()
        self.tracker.request_full_resync()

    async def _sync(self) -> None:
        if not (self.services.has_synced and self.slices.has_synced):
            return  # the first sync waits for complete caches; the runner is re-triggered
        start = time.monotonic()
        req = self.tracker.checkpoint()
        await self.backend.sync(req)
        done = time.monotonic()
        self.metrics.sync_duration.observe(done - start)
        self.metrics.last_sync.set_to_current_time()
        if req.oldest_change and self._synced_once:
            self.metrics.programming_latency.observe(done - req.oldest_change)
        self._synced_once = True

    async def run(self, stop: asyncio.Event) -> None:
        async def kick() -> None:
            await self.services.wait_synced()
            await self.slices.wait_synced()
            self.runner.run()

        kicker = asyncio.create_task(kick(), name="proxier-first-sync")
        try:
            await self.runner.loop(stop)
        finally:
            kicker.cancel()
            await self.backend.close()
