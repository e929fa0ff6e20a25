"""The EndpointSlice mirroring controller (upstream ``pkg/controller/endpointslicemirroring``):
user-managed Endpoints of selector-less Services are mirrored into EndpointSlices labelled
``endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io`` and
owner-referenced to the Endpoints, so slice consumers (proxy, DNS) see them too.

Skipped, as upstream: Endpoints labelled ``endpointslice.kubernetes.io/skip-mirror=true``
(those the Endpoints controller writes), Services with a selector, Endpoints without a
Service, and leader-election Endpoints. Reads the services/endpoints/endpointslices
informers; packing is the shared :func:`~.endpointslice.reconciler.reconcile_groups`.
Created by the manager.
"""

from __future__ import annotations

import asyncio
from typing import Any

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, ensure_index, labels_of, owner_ref
from kubesvc.controllers.endpoints import ANN_TRIGGER_TIME, LABEL_SKIP_MIRROR
from kubesvc.controllers.endpointslice.controller import (
    SLICE_INDEX,
    apply_plan,
    slice_service_key,
)
from kubesvc.controllers.endpointslice.reconciler import (
    LABEL_MANAGED_BY,
    EpKey,
    Plan,
    PortKey,
    ep_key,
    port_key,
    reconcile_groups,
)
from kubesvc.controllers.endpointslice.tracker import SliceTracker
from kubesvc.informers import Informer, object_key

MIRROR_CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_ENDPOINTS_PER_SUBSET = 1000

Groups = dict[PortKey, tuple[list[dict[str, Any]], dict[EpKey, dict[str, Any]]]]


def _address_endpoint(addr: dict[str, Any], *, ready: bool) -> dict[str, Any]:
    ep: dict[str, Any] = {"addresses": [addr.get("ip", "")], "conditions": {"ready": ready}}
    if addr.get("hostname"):
        ep["hostname"] = addr["hostname"]
    if addr.get("nodeName"):
        ep["nodeName"] = addr["nodeName"]
    if addr.get("targetRef"):
        ep["targetRef"] = dict(addr["targetRef"])
    return ep


def mirrored_groups(endpoints: Obj) -> dict[str, Groups]:
    """addressType -> port group -> (ports, endpoints) from an Endpoints' subsets."""
    out: dict[str, Groups] = {}
    for subset in endpoints.get("subsets") or ():
        ports = [
            {
                "name": str(p.get("name") or ""),
                "port": int(p.get("port") or 0),
                "protocol": str(p.get("protocol") or "TCP"),
                **({"appProtocol": p["appProtocol"]} if p.get("appProtocol") else {}),
            }
            for p in subset.get("ports") or ()
        ]
        pk = port_key(ports)
        n = 0
        for field, ready in (("addresses", True), ("notReadyAddresses", False)):
            for addr in subset.get(field) or ():
                if n >= MAX_ENDPOINTS_PER_SUBSET:
                    break
                ip = str(addr.get("ip") or "")
                if not ip:
                    continue
                at = "IPv6" if ":" in ip else "IPv4"
                groups = out.setdefault(at, {})
                g = groups.get(pk)
                if g is None:
                    g = groups[pk] = (ports, {})
                ep = _address_endpoint(addr, ready=ready)
                g[1].setdefault(ep_key(ep), ep)
                n += 1
    return out


class EndpointSliceMirroringController(QueueController):
    name = "endpointslice-mirroring"

    def __init__(
        self,
        client: Client,
        *,
        services: Informer,
        endpoints: Informer,
        slices: Informer,
        max_endpoints: int = 100,
        workers: int = 2,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.services = services
        self.endpoints = endpoints
        self.slices = slices
        self.max_endpoints = max_endpoints
        self.tracker = SliceTracker()
        self._deferred: set[str] = set()
        ensure_index(slices.indexer, SLICE_INDEX, func=slice_service_key)
        enq = self._enqueue_obj
        services.add_handler(on_add=enq, on_update=lambda _o, n: enq(n), on_delete=enq)
        endpoints.add_handler(on_add=enq, on_update=lambda _o, n: enq(n), on_delete=enq)
        slices.add_handler(
            on_add=lambda o: self._on_slice(o, deleted=False),
            on_update=lambda _old, new: self._on_slice(new, deleted=False),
            on_delete=lambda o: self._on_slice(o, deleted=True),
        )

    async def wait_synced(self) -> None:
        await asyncio.gather(
            self.services.wait_synced(), self.endpoints.wait_synced(), self.slices.wait_synced()
        )

    def _enqueue_obj(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def _on_slice(self, s: Obj, *, deleted: bool) -> None:
        if labels_of(s).get(LABEL_MANAGED_BY) != MIRROR_CONTROLLER_NAME:
            return
        keys = slice_service_key(s)
        if not keys:
            return
        key = keys[0]
        if not self.tracker.observe(key, s, deleted=deleted) or key in self._deferred:
            self._deferred.discard(key)
            self.queue.add(key)

    def _should_mirror(self, svc: Obj | None, ep: Obj | None) -> bool:
        if svc is None or ep is None:
            return False
        if (svc.get("spec") or {}).get("selector"):
            return False
        if labels_of(ep).get(LABEL_SKIP_MIRROR) == "true":
            return False
        return LEADER_ANNOTATION not in (meta(ep).get("annotations") or {})

    async def sync(self, key: str) -> None:
        existing = [
            s
            for s in self.slices.indexer.by_index(SLICE_INDEX, key)
            if labels_of(s).get(LABEL_MANAGED_BY) == MIRROR_CONTROLLER_NAME
        ]
        if self.tracker.stale(key, {str(meta(s).get("name")): s for s in existing}):
            self._deferred.add(key)
            self.queue.add_after(key, 1.0)
            return
        svc = self.services.indexer.get(key)
        ep = self.endpoints.indexer.get(key)
        if ep is None or not self._should_mirror(svc, ep):
            plan = Plan(delete=existing)
        else:
            labels = {
                k: v for k, v in labels_of(ep).items() if k not in (LABEL_SKIP_MIRROR,)
            }
            labels[LABEL_SERVICE_NAME] = str(meta(ep).get("name", ""))
            labels[LABEL_MANAGED_BY] = MIRROR_CONTROLLER_NAME
            owner = owner_ref(ep, api_version="v1", kind="Endpoints")
            plan = Plan()
            by_type = mirrored_groups(ep)
            for at in ("IPv4", "IPv6"):
                part = reconcile_groups(
                    ep,
                    by_type.get(at, {}),
                    existing=[s for s in existing if s.get("addressType", "IPv4") == at],
                    max_endpoints=self.max_endpoints,
                    labels=labels,
                    owner=owner,
                    addr_type=at,
                    placeholder=False,
                )
                plan.create += part.create
                plan.update += part.update
                plan.delete += part.delete
            for obj in plan.create + plan.update:
                ann = (obj["metadata"].get("annotations") or {}) | {
                    k: v
                    for k, v in (meta(ep).get("annotations") or {}).items()
                    if k not in (ANN_TRIGGER_TIME,
                                 "kubectl.kubernetes.io/last-applied-configuration")
                }
                if ann:
                    obj["metadata"]["annotations"] = ann
        if plan.empty:
            return
        await apply_plan(self.client, self.tracker, key=key, plan=plan)
