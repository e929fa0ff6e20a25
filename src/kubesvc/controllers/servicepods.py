"""The label index between Services and Pods, shared by the EndpointSlice and Endpoints
controllers so a pod event touches only the Services that select it (and a Service sync
reads only its own pods), never O(all pods) or O(all services).

Two Indexer indexes, added once to the shared informers:
- pods, ``labelpair``: ``ns/key=value`` for each of the pod's labels;
- services, ``selectorpair``: ``ns/key=value`` for one (the first, sorted) pair of the
  Service's ``spec.selector`` — a pod can only match if it carries that pair, so the
  union over the pod's own label pairs yields every candidate once.
"""

from __future__ import annotations

import functools
import sys

from kubesvc.api.objects import NamespacedName, Obj, meta
from kubesvc.controllers.base import ensure_index, labels_of
from kubesvc.controllers.labels import set_selector
from kubesvc.controllers.podutil import pod_changed
from kubesvc.informers import Informer

POD_INDEX = "labelpair"
SVC_INDEX = "selectorpair"


def service_selector(svc: Obj) -> dict[str, str]:
    """``spec.selector`` of a Service that selects pods (empty for selector-less and
    ExternalName Services — the endpoint controllers leave those alone)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return {}
    sel = spec.get("selector")
    return sel if isinstance(sel, dict) else {}


def _pod_pairs(pod: Obj) -> list[str]:
    # Computed on every pod event (index + handlers) though labels rarely change: cached.
    return list(_pairs(str(meta(pod).get("namespace", "")),
                       tuple(labels_of(pod).items())))


@functools.lru_cache(maxsize=1 << 14)
def _pairs(ns: str, labels: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    return tuple(sys.intern(f"{ns}/{k}={v}") for k, v in labels)


def _svc_pairs(svc: Obj) -> list[str]:
    sel = service_selector(svc)
    if not sel:
        return []
    k = min(sel)
    return [f"{meta(svc).get('namespace', '')}/{k}={sel[k]}"]


class ServicePodIndex:
    def __init__(self, services: Informer, pods: Informer) -> None:
        self.services = services
        self.pods = pods
        ensure_index(pods.indexer, POD_INDEX, func=_pod_pairs)
        ensure_index(services.indexer, SVC_INDEX, func=_svc_pairs)

    def services_for_pod(self, pod: Obj) -> set[str]:
        """Keys of the Services whose selector matches ``pod``'s labels."""
        labels = labels_of(pod)
        if not labels:
            return set()
        out: set[str] = set()
        idx = self.services.indexer
        for pair in _pod_pairs(pod):
            for key in idx.index_keys(SVC_INDEX, pair):
                if key in out:
                    continue
                svc = idx.get(key)
                if svc is not None and set_selector(service_selector(svc)).matches(labels):
                    out.add(key)
        return out

    def services_for_pod_update(self, old: Obj, new: Obj) -> set[str]:
        """Keys of the Services a pod update concerns: none when neither its endpoint fields
        nor its labels changed; those selecting the new pod, and the old one when the labels
        changed (it may have left a Service)."""
        changed, labels_changed = pod_changed(old, new)
        if not changed and not labels_changed:
            return set()
        keys = self.services_for_pod(new)
        if labels_changed:
            keys |= self.services_for_pod(old)
        return keys

    def pods_for_service(self, svc: Obj) -> list[Obj]:
        sel = service_selector(svc)
        if not sel:
            return []
        ns = meta(svc).get("namespace", "")
        idx = self.pods.indexer
        best: list[NamespacedName] | None = None
        for k, v in sel.items():
            keys = idx.index_keys(POD_INDEX, f"{ns}/{k}={v}")
            if best is None or len(keys) < len(best):
                best = keys
            if not best:
                return []
        out: list[Obj] = []
        matcher = set_selector(sel)
        for key in best or ():
            pod = idx.get(key)
            if pod is not None and matcher.matches(labels_of(pod)):
                out.append(pod)
        return out
