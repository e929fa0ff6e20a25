"""The Endpoints controller (upstream ``pkg/controller/endpoint``): keeps the legacy
``core/v1 Endpoints`` object of every selector Service in step with its pods, so
``kubectl get endpoints`` shows ``IP:PORT,...``.

Reads the shared services/pods/endpoints informers through
:class:`~kubesvc.controllers.servicepods.ServicePodIndex`; one workqueue of Service keys;
writes ``endpoints`` through the Client. Endpoints it manages carry
``endpointslice.kubernetes.io/skip-mirror=true`` (so the mirroring controller ignores them);
user-managed Endpoints of selector-less Services are never touched. Created by the manager.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import now, rfc3339_nano
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, labels_of, pod_ready, split_key
from kubesvc.controllers.endpointslice.reconciler import copy_endpoint
from kubesvc.controllers.podutil import (
    find_port,
    hostname_for,
    pod_ip,
    should_pod_be_in_endpoints,
)
from kubesvc.controllers.servicepods import ServicePodIndex, service_selector
from kubesvc.informers import Informer, object_key

LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LABEL_HEADLESS = "service.kubernetes.io/headless"
ANN_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
ANN_OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
MAX_CAPACITY = 1000


def _port_sort_key(p: dict[str, Any]) -> tuple[str, int, str]:
    return (str(p.get("name") or ""), int(p.get("port") or 0), str(p.get("protocol") or ""))


def _addr_sort_key(a: dict[str, Any]) -> tuple[str, str]:
    return (str(a.get("ip", "")), str((a.get("targetRef") or {}).get("uid", "")))


_Entry = tuple[Obj, tuple[tuple[str, int, str], ...], list[dict[str, Any]],
               dict[str, Any], bool] | None


@dataclass(slots=True)
class AddressMemo:
    """Per-Service cache of per-pod addresses, valid while the Service object and the pod
    object are the ones seen last time (informer caches replace objects on change)."""

    svc: Obj | None = None
    by_pod: dict[str, tuple[Obj, _Entry]] = field(default_factory=dict)


def _pod_entry(svc: Obj, pod: Obj) -> _Entry:
    spec = svc.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    if not should_pod_be_in_endpoints(pod, include_terminating=tolerate):
        return None
    fam = "IPv6" if (spec.get("ipFamilies") or ["IPv4"])[0] == "IPv6" else "IPv4"
    ip = pod_ip(pod, fam)
    if not ip:
        return None
    md = meta(pod)
    addr: dict[str, Any] = {"ip": ip}
    hostname = hostname_for(pod, svc)
    if hostname:
        addr["hostname"] = hostname
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        addr["nodeName"] = node
    addr["targetRef"] = {
        "kind": "Pod",
        "namespace": md.get("namespace", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
    }
    svc_ports = spec.get("ports") or []
    ports: list[dict[str, Any]] = []
    for sp in svc_ports:
        num = find_port(pod, sp)
        if num is None:
            continue
        ep: dict[str, Any] = {
            "name": str(sp.get("name") or ""),
            "port": num,
            "protocol": str(sp.get("protocol") or "TCP"),
        }
        if not ep["name"]:
            del ep["name"]
        if sp.get("appProtocol"):
            ep["appProtocol"] = sp["appProtocol"]
        ports.append(ep)
    if svc_ports and not ports:
        return None  # upstream adds the pod once per resolvable port: none, no address
    ports.sort(key=_port_sort_key)
    gk = tuple(_port_sort_key(p) for p in ports)
    return (pod, gk, ports, addr, tolerate or pod_ready(pod))


def build_subsets(
    svc: Obj, pods: Iterable[Obj], *, memo: AddressMemo | None = None, fresh: bool = True
) -> list[dict[str, Any]]:
    """Subsets as upstream's syncService + RepackSubsets produce them: one subset per
    distinct port set, ready pods in ``addresses``, the rest in ``notReadyAddresses``;
    terminating pods only with publishNotReadyAddresses; addresses and ports sorted.
    With ``fresh=False`` the address dicts may be the memo's own (compare, don't write:
    :func:`copy_subsets` first)."""
    if memo is not None and memo.svc is not svc:
        memo.svc, memo.by_pod = svc, {}
    old = memo.by_pod if memo is not None else {}
    new: dict[str, tuple[Obj, _Entry]] = {}
    groups: dict[tuple[tuple[str, int, str], ...],
                 tuple[list[Any], list[Any], list[Any]]] = {}
    for pod in pods:
        name = str(meta(pod).get("name", ""))
        hit = old.get(name)
        entry = hit[1] if hit is not None and hit[0] is pod else _pod_entry(svc, pod)
        new[name] = (pod, entry)
        if entry is None:
            continue
        _, gk, ports, addr, ready = entry
        g = groups.get(gk)
        if g is None:
            g = groups[gk] = ([], [], ports)
        (g[0] if ready else g[1]).append(addr)
    if memo is not None:
        memo.by_pod = new
    out: list[dict[str, Any]] = []
    for gk in sorted(groups):
        ready_addrs, not_ready, ports = groups[gk]
        subset: dict[str, Any] = {}
        if ready_addrs:
            subset["addresses"] = sorted(ready_addrs, key=_addr_sort_key)
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=_addr_sort_key)
        if ports:
            subset["ports"] = ports
        out.append(subset)
    return copy_subsets(out) if fresh else out


def copy_subsets(subsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: [copy_endpoint(a) for a in v] for k, v in s.items()} for s in subsets]


def truncate(subsets: list[dict[str, Any]], limit: int = MAX_CAPACITY) -> bool:
    """Cap the total number of addresses at ``limit`` (ready ones kept first), as
    upstream's over-capacity truncation; True if anything was dropped."""
    total = sum(len(s.get("addresses", [])) + len(s.get("notReadyAddresses", []))
                for s in subsets)
    if total <= limit:
        return False
    budget = limit
    for fname in ("addresses", "notReadyAddresses"):
        for s in subsets:
            lst = s.get(fname)
            if not lst:
                continue
            keep = lst[:budget]
            budget -= len(keep)
            if keep:
                s[fname] = keep
            else:
                del s[fname]
    subsets[:] = [s for s in subsets if s.get("addresses") or s.get("notReadyAddresses")]
    return True


class EndpointsController(QueueController):
    name = "endpoints"

    def __init__(
        self,
        client: Client,
        index: ServicePodIndex,
        *,
        endpoints: Informer,
        workers: int = 5,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.index = index
        self.services = index.services
        self.endpoints = endpoints
        self._trigger: dict[str, datetime] = {}
        self._memo: dict[str, AddressMemo] = {}
        self.services.add_handler(
            on_add=self._on_service,
            on_update=lambda old, new: self._on_service(new),
            on_delete=self._on_service,
        )
        index.pods.add_handler(
            on_add=self._on_pod, on_update=self._on_pod_update, on_delete=self._on_pod
        )
        endpoints.add_handler(on_delete=lambda o: self.queue.add(object_key(o)))

    async def wait_synced(self) -> None:
        await asyncio.gather(
            self.services.wait_synced(),
            self.index.pods.wait_synced(),
            self.endpoints.wait_synced(),
        )

    def _enqueue(self, key: str) -> None:
        self._trigger.setdefault(key, now())
        self.queue.add(key)

    def _on_service(self, svc: Obj) -> None:
        self._enqueue(object_key(svc))

    def _on_pod(self, pod: Obj) -> None:
        for key in self.index.services_for_pod(pod):
            self._enqueue(key)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        for key in self.index.services_for_pod_update(old, new):
            self._enqueue(key)

    async def sync(self, key: str) -> None:
        trigger = self._trigger.pop(key, None)
        try:
            await self._sync(key, trigger)
        except Exception:
            if trigger is not None:
                self._trigger.setdefault(key, trigger)
            raise

    async def _sync(self, key: str, trigger: datetime | None) -> None:
        ns, name = split_key(key)
        svc = self.services.indexer.get(key)
        current = self.endpoints.indexer.get(key)
        if svc is None or not service_selector(svc):
            self._memo.pop(key, None)
        if svc is None:
            # Only ours: a user's Endpoints outlive a Service by design of their owner.
            if current is not None and labels_of(current).get(LABEL_SKIP_MIRROR) == "true":
                try:
                    await self.client.delete("endpoints", name, namespace=ns)
                except errors.NotFound:
                    pass
            return
        if not service_selector(svc):
            return  # selector-less (user-managed Endpoints) or ExternalName
        subsets = build_subsets(svc, self.index.pods_for_service(svc),
                                memo=self._memo.setdefault(key, AddressMemo()), fresh=False)
        truncated = truncate(subsets)

        labels = dict(labels_of(svc))
        labels[LABEL_SKIP_MIRROR] = "true"
        if (svc.get("spec") or {}).get("clusterIP") == "None":
            labels[LABEL_HEADLESS] = ""
        else:
            labels.pop(LABEL_HEADLESS, None)

        if current is not None:
            cur_ann = meta(current).get("annotations") or {}
            same = (
                (current.get("subsets") or []) == subsets
                and labels_of(current) == labels
                and (cur_ann.get(ANN_OVER_CAPACITY) == "truncated") == truncated
            )
            if same:
                return
            # Shallow: only metadata is edited and subsets are replaced, so the cached
            # object is never mutated (a deep copy of 1,000 addresses is the hot cost).
            md = dict(meta(current))
            obj = {**current, "metadata": md}
        else:
            obj = {"apiVersion": "v1", "kind": "Endpoints"}
            md = obj["metadata"] = {"name": name, "namespace": ns}
        ann = dict(md.get("annotations") or {})
        ann.pop(ANN_TRIGGER_TIME, None)
        if trigger is not None:
            ann[ANN_TRIGGER_TIME] = rfc3339_nano(trigger)
        if truncated:
            ann[ANN_OVER_CAPACITY] = "truncated"
        else:
            ann.pop(ANN_OVER_CAPACITY, None)
        md["annotations"] = ann
        md["labels"] = labels
        obj["subsets"] = copy_subsets(subsets)
        if current is None:
            await self.client.create("endpoints", obj, namespace=ns)
        else:
            await self.client.update("endpoints", obj, namespace=ns)
