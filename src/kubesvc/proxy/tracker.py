"""Change tracking, kept apart from syncing as upstream ``pkg/proxy`` does.

Informer handlers call :meth:`ChangeTracker.service_changed` /
:meth:`ChangeTracker.slice_changed`; they only record which Services changed and when. A
sync calls :meth:`ChangeTracker.checkpoint`, which rebuilds the projections of just those
Services and returns a :class:`SyncRequest` with the full current state, the changed
services, and the oldest pending change time (for network-programming latency).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj
from kubesvc.proxy.model import (
    Endpoint,
    ServicePort,
    ServicePortName,
    local_ready_count,
    service_ports,
    slice_endpoints,
)


@dataclass(slots=True)
class ProxyState:
    """What the data plane should do now."""

    ports: dict[ServicePortName, ServicePort] = field(default_factory=dict)
    endpoints: dict[ServicePortName, list[Endpoint]] = field(default_factory=dict)
    by_service: dict[str, list[ServicePortName]] = field(default_factory=dict)

    def health_check(self, svc_key: str, *, node_name: str) -> tuple[int, int] | None:
        """(health check node port, local ready endpoints) of a Service with
        ``externalTrafficPolicy: Local``, else None. The count is over all the Service's
        ports, by IP, as upstream's ``LocalReadyEndpoints``; both backends serve it."""
        port = 0
        eps: list[Endpoint] = []
        for spn in self.by_service.get(svc_key, []):
            sp = self.ports[spn]
            eps += self.endpoints.get(spn, [])
            if sp.external_local and sp.health_check_node_port:
                port = sp.health_check_node_port
        return (port, local_ready_count(eps, node_name=node_name)) if port else None


@dataclass(slots=True)
class SyncRequest:
    state: ProxyState
    changed: set[str]  # "namespace/name" of Services whose ports or endpoints changed
    full: bool  # resync everything (first sync, or after a failed one)
    oldest_change: float  # time.monotonic() of the oldest change in this batch (0: none)


class ChangeTracker:
    def __init__(self) -> None:
        self._services: dict[str, Obj] = {}
        self._slices: dict[str, dict[str, Obj]] = {}  # service key -> slice name -> slice
        self._dirty: dict[str, float] = {}  # service key -> first change time
        self._full = True
        self.state = ProxyState()

    # -- recording (cheap; called from informer handlers)
    def _mark(self, key: str) -> None:
        self._dirty.setdefault(key, time.monotonic())

    def service_changed(self, svc: Obj | None, *, key: str) -> None:
        if svc is None:
            self._services.pop(key, None)
        else:
            self._services[key] = svc
        self._mark(key)

    def slice_changed(self, sl: Obj, *, deleted: bool = False) -> None:
        md = sl.get("metadata") or {}
        svc_name = (md.get("labels") or {}).get(LABEL_SERVICE_NAME)
        if not svc_name:
            return
        key = f"{md.get('namespace')}/{svc_name}"
        bucket = self._slices.setdefault(key, {})
        if deleted:
            bucket.pop(str(md.get("name")), None)
            if not bucket:
                del self._slices[key]
        else:
            bucket[str(md.get("name"))] = sl
        self._mark(key)

    def has_pending(self) -> bool:
        return bool(self._dirty) or self._full

    def request_full_resync(self) -> None:
        self._full = True

    # -- applying (called by the sync loop)
    def checkpoint(self) -> SyncRequest:
        dirty = self._dirty
        self._dirty = {}
        full = self._full
        self._full = False
        oldest = min(dirty.values()) if dirty else 0.0
        for key in dirty:
            self._rebuild(key)
        changed = set(self.state.by_service) if full else set(dirty)
        return SyncRequest(self.state, changed | set(dirty), full, oldest)

    def _rebuild(self, key: str) -> None:
        st = self.state
        for spn in st.by_service.pop(key, []):
            st.ports.pop(spn, None)
            st.endpoints.pop(spn, None)
        svc = self._services.get(key)
        if svc is None:
            return
        merged: dict[tuple[str, str], list[Endpoint]] = {}
        for sl in self._slices.get(key, {}).values():
            for pk, eps in slice_endpoints(sl).items():
                merged.setdefault(pk, []).extend(eps)
        names = []
        for sp in service_ports(svc):
            st.ports[sp.id] = sp
            eps = merged.get((sp.id.port, sp.id.protocol), [])
            # One endpoint per address (a pod may appear in two slices during a move).
            uniq = {e.addr: e for e in eps}
            st.endpoints[sp.id] = sorted(uniq.values(), key=lambda e: e.addr)
            names.append(sp.id)
        if names:
            st.by_service[key] = names
