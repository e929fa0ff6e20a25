"""The EndpointSlice controller: keeps each selector Service's EndpointSlices in step with
the pods it selects.

Reads the shared services/pods/endpointslices/nodes informers (through
:class:`~kubesvc.controllers.servicepods.ServicePodIndex` so a pod event enqueues only the
Services selecting it); one workqueue of Service keys; writes slices through the Client
(``endpointslices.discovery.k8s.io``). The diff itself is :mod:`.reconciler` (pure).
Created by :class:`kubesvc.controllers.manager.ControllerManager`.
"""

from __future__ import annotations

import asyncio
import logging

from kubesvc import errors
from kubesvc.api.meta import generate_name
from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, ensure_index, labels_of, split_key
from kubesvc.controllers.endpointslice.reconciler import (
    CONTROLLER_NAME,
    LABEL_MANAGED_BY,
    LABEL_ZONE,
    EndpointMemo,
    Plan,
    reconcile,
)
from kubesvc.controllers.endpointslice.tracker import SliceTracker
from kubesvc.controllers.servicepods import ServicePodIndex, service_selector
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

SLICES = "endpointslices.discovery.k8s.io"
SLICE_INDEX = "service-name"


def slice_service_key(s: Obj) -> list[str]:
    """Index slices by ``ns/<kubernetes.io/service-name>``."""
    name = labels_of(s).get(LABEL_SERVICE_NAME)
    return [f"{meta(s).get('namespace', '')}/{name}"] if name else []


def _svc_relevant(svc: Obj) -> tuple[object, ...]:
    spec = svc.get("spec") or {}
    return (
        meta(svc).get("uid"),
        spec.get("selector"),
        spec.get("ports"),
        spec.get("type"),
        spec.get("clusterIP"),
        spec.get("ipFamilies"),
        spec.get("publishNotReadyAddresses"),
        labels_of(svc),
    )


class EndpointSliceController(QueueController):
    name = "endpointslice"

    def __init__(
        self,
        client: Client,
        index: ServicePodIndex,
        *,
        slices: Informer,
        nodes: Informer | None = None,
        max_endpoints: int = 100,
        workers: int = 5,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.index = index
        self.services = index.services
        self.pods = index.pods
        self.slices = slices
        self.nodes = nodes
        self.max_endpoints = max_endpoints
        self.tracker = SliceTracker()
        self._deferred: set[str] = set()
        self._memo: dict[str, EndpointMemo] = {}
        ensure_index(slices.indexer, SLICE_INDEX, func=slice_service_key)
        self.services.add_handler(
            on_add=lambda o: self.queue.add(object_key(o)),
            on_update=self._on_service_update,
            on_delete=lambda o: self.queue.add(object_key(o)),
        )
        self.pods.add_handler(
            on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod
        )
        slices.add_handler(
            on_add=lambda o: self._on_slice(o, deleted=False),
            on_update=lambda _old, new: self._on_slice(new, deleted=False),
            on_delete=lambda o: self._on_slice(o, deleted=True),
        )

    async def wait_synced(self) -> None:
        infs = [self.services, self.pods, self.slices] + ([self.nodes] if self.nodes else [])
        await asyncio.gather(*(i.wait_synced() for i in infs))

    # -- event handlers (cheap: enqueue keys)
    def _on_service_update(self, old: Obj, new: Obj) -> None:
        if _svc_relevant(old) != _svc_relevant(new):
            self.queue.add(object_key(new))

    def _on_pod(self, pod: Obj) -> None:
        for key in self.index.services_for_pod(pod):
            self.queue.add(key)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        for key in self.index.services_for_pod_update(old, new):
            self.queue.add(key)

    def _on_slice(self, s: Obj, *, deleted: bool) -> None:
        if labels_of(s).get(LABEL_MANAGED_BY) != CONTROLLER_NAME:
            return
        keys = slice_service_key(s)
        if not keys:
            return
        key = keys[0]
        mine = self.tracker.observe(key, s, deleted=deleted)
        if not mine or key in self._deferred:
            self._deferred.discard(key)
            self.queue.add(key)

    # -- sync
    def _zone_of(self, node: str) -> str:
        if self.nodes is None:
            return ""
        obj = self.nodes.indexer.get(node)
        return labels_of(obj).get(LABEL_ZONE, "") if obj is not None else ""

    def _existing(self, key: str) -> list[Obj]:
        return [
            s
            for s in self.slices.indexer.by_index(SLICE_INDEX, key)
            if labels_of(s).get(LABEL_MANAGED_BY) == CONTROLLER_NAME
        ]

    async def sync(self, key: str) -> None:
        existing = self._existing(key)
        if self.tracker.stale(key, {str(meta(s).get("name")): s for s in existing}):
            # Our last writes are not in the cache yet: wait for their echo (with a
            # fallback timer in case the echo is superseded).
            self._deferred.add(key)
            self.queue.add_after(key, 1.0)
            return
        svc = self.services.indexer.get(key)
        if svc is None or not service_selector(svc):
            plan = Plan(delete=existing)
            self._memo.pop(key, None)
            if svc is None:
                self.tracker.forget(key)
        else:
            plan = reconcile(
                svc,
                self.index.pods_for_service(svc),
                existing=existing,
                zone_of=self._zone_of,
                max_endpoints=self.max_endpoints,
                memo=self._memo.setdefault(key, EndpointMemo()),
            )
        if not plan.empty:
            await self.apply(key, plan)

    async def apply(self, key: str, plan: Plan) -> None:
        await apply_plan(self.client, self.tracker, key=key, plan=plan)


async def apply_plan(client: Client, tracker: SliceTracker, *, key: str, plan: Plan) -> None:
    """Execute a plan for the Service/Endpoints ``key`` (creates, updates, then deletes, as
    upstream), recording each write in ``tracker``."""
    ns, _ = split_key(key)
    for obj in plan.create:
        created = await _create_with_retry(client, obj, namespace=ns)
        tracker.wrote(key, created)
    for obj in plan.update:
        updated = await client.update(SLICES, obj, namespace=ns)
        tracker.wrote(key, updated)
    for obj in plan.delete:
        name = str(meta(obj).get("name", ""))
        try:
            await client.delete(SLICES, name, namespace=ns)
        except errors.NotFound:
            pass
        tracker.deleted(key, name)


async def _create_with_retry(client: Client, obj: Obj, *, namespace: str) -> Obj:
    """Create; on a name collision draw another random suffix (as generateName would)."""
    for _ in range(5):
        try:
            return await client.create(SLICES, obj, namespace=namespace)
        except errors.AlreadyExists:
            md = obj["metadata"]
            md["name"] = generate_name(md.get("generateName") or "slice-")
    return await client.create(SLICES, obj, namespace=namespace)
