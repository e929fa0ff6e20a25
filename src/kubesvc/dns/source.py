"""Keeps a :class:`RecordBook` current from informers of Services, EndpointSlices and
Namespaces (and Pods in ``verified`` pod mode).

Objects are stripped to :class:`ServiceView`/:class:`EndpointView` projections, as CoreDNS
strips them, and a change to one Service or one of its slices rebuilds that Service's names
only. The informers are owned and run by the caller (``kubesvc up`` shares them).
"""

from __future__ import annotations

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj
from kubesvc.dns.records import EndpointView, PortView, RecordBook, ServiceView
from kubesvc.informers import Informer


def service_view(svc: Obj) -> ServiceView:
    md = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    typ = spec.get("type") or "ClusterIP"
    ips = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip]
    headless = typ != "ExternalName" and (spec.get("clusterIP") == "None")
    return ServiceView(
        namespace=str(md.get("namespace") or ""),
        name=str(md.get("name") or ""),
        type=typ,
        cluster_ips=() if headless or typ == "ExternalName" else tuple(ips),
        headless=headless,
        external_name=str(spec.get("externalName") or ""),
        ports=tuple(
            PortView(str(p.get("name") or ""), str(p.get("protocol") or "TCP"),
                     int(p.get("port") or 0))
            for p in spec.get("ports") or []
        ),
    )


def endpoint_views(slices: list[Obj]) -> list[EndpointView]:
    """Ready endpoints across a Service's slices, one per address, in a stable order."""
    seen: dict[str, EndpointView] = {}
    for sl in slices:
        ports = tuple(
            PortView(str(p.get("name") or ""), str(p.get("protocol") or "TCP"),
                     int(p.get("port") or 0))
            for p in sl.get("ports") or []
            if p.get("port")
        )
        for ep in sl.get("endpoints") or []:
            ready = (ep.get("conditions") or {}).get("ready")
            if ready is False:
                continue
            for ip in ep.get("addresses") or []:
                if ip not in seen:
                    seen[ip] = EndpointView(ip, str(ep.get("hostname") or ""), ports)
    return [seen[k] for k in sorted(seen)]


class DnsSource:
    def __init__(
        self,
        book: RecordBook,
        *,
        services: Informer,
        slices: Informer,
        namespaces: Informer,
        pods: Informer | None = None,
    ) -> None:
        self.book = book
        self.services = services
        self.slices = slices
        self.namespaces = namespaces
        self.pods = pods
        slices.indexer.add_index("service", _slice_service_key)
        services.add_handler(
            on_add=self._on_service, on_update=lambda _o, n: self._on_service(n),
            on_delete=self._on_service_delete,
        )
        slices.add_handler(
            on_add=self._on_slice, on_update=self._on_slice_update, on_delete=self._on_slice
        )
        namespaces.add_handler(
            on_add=lambda o: book.add_namespace(_name(o)),
            on_delete=lambda o: book.remove_namespace(_name(o)),
        )
        if pods is not None:
            pods.indexer.add_index("ns", lambda o: [str(o["metadata"].get("namespace", ""))])
            pods.add_handler(
                on_add=self._on_pod, on_update=lambda _o, n: self._on_pod(n),
                on_delete=self._on_pod,
            )

    def synced(self) -> bool:
        infs = [self.services, self.slices, self.namespaces]
        if self.pods is not None:
            infs.append(self.pods)
        return all(i.has_synced for i in infs)

    def _rebuild(self, key: str) -> None:
        svc = self.services.indexer.get(key)
        ns, _, name = key.partition("/")
        if svc is None:
            self.book.delete_service(ns, name)
            return
        self.book.set_service(
            service_view(svc), endpoint_views(self.slices.indexer.by_index("service", key))
        )

    def _on_service(self, svc: Obj) -> None:
        md = svc["metadata"]
        self._rebuild(f"{md.get('namespace')}/{md.get('name')}")

    def _on_service_delete(self, svc: Obj) -> None:
        md = svc["metadata"]
        self.book.delete_service(str(md.get("namespace")), str(md.get("name")))

    def _on_slice(self, sl: Obj) -> None:
        for key in _slice_service_key(sl):
            self._rebuild(key)

    def _on_slice_update(self, old: Obj, new: Obj) -> None:
        keys = set(_slice_service_key(old)) | set(_slice_service_key(new))
        for key in keys:
            self._rebuild(key)

    def _on_pod(self, pod: Obj) -> None:
        ns = str(pod["metadata"].get("namespace", ""))
        assert self.pods is not None
        ips = {
            str(p.get("status", {}).get("podIP"))
            for p in self.pods.indexer.by_index("ns", ns)
            if p.get("status", {}).get("podIP")
        }
        self.book.set_pod_ips(ns, ips)


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _slice_service_key(sl: Obj) -> list[str]:
    md = sl.get("metadata") or {}
    svc = (md.get("labels") or {}).get(LABEL_SERVICE_NAME)
    return [f"{md.get('namespace')}/{svc}"] if svc else []
