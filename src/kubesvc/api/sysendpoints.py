"""The Endpoints and EndpointSlices of the system Services, built in one place.

``default/kubernetes`` lists the API servers and ``kube-system/kube-dns`` the DNS servers;
no selector picks their pods, so whoever runs those servers writes the endpoints: the
registry's bootstrap (one API server), ``kubesvc up`` (its DNS servers) and the lease
endpoint reconciler (every live ``kubesvc server`` replica). All three call :func:`build`;
this module only makes the objects (no I/O).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj

LABEL_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


@dataclass(frozen=True, slots=True)
class SystemService:
    """What differs between the system Services' endpoints."""

    service: str
    namespace: str
    endpoint_labels: Mapping[str, str]
    slice_base: str  # the first port group's slice name; the others add "-<port>"
    slice_labels: Mapping[str, str]
    port_names: tuple[tuple[str, str], ...]  # (name, protocol) per port the servers serve
    conditions: Mapping[str, bool]

    def ports(self, port: int) -> list[Obj]:
        return [{"name": n, "port": port, "protocol": proto} for n, proto in self.port_names]


@dataclass(frozen=True, slots=True, order=True)
class Backend:
    """One server behind a system Service."""

    ip: str
    port: int
    node_name: str = ""


KUBERNETES = SystemService(
    "kubernetes", "default", {LABEL_SKIP_MIRROR: "true"},
    "kubernetes", {LABEL_SERVICE_NAME: "kubernetes"},
    (("https", "TCP"),), {"ready": True})


def kube_dns(*, managed_by: str) -> SystemService:
    """``kube-system/kube-dns``; ``managed_by`` names the writer (it labels the slices)."""
    return SystemService(
        "kube-dns", "kube-system", {"k8s-app": "kube-dns", LABEL_SKIP_MIRROR: "true"},
        "kube-dns-kubesvc", {LABEL_SERVICE_NAME: "kube-dns", LABEL_MANAGED_BY: managed_by},
        (("dns", "UDP"), ("dns-tcp", "TCP")),
        {"ready": True, "serving": True, "terminating": False})


def family(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"


def by_port(backends: Iterable[Backend]) -> dict[int, list[Backend]]:
    """Distinct backends grouped by port (ports ascending, addresses sorted in a group)."""
    groups: dict[int, list[Backend]] = {}
    for b in sorted(set(backends), key=lambda b: (b.port, b.ip, b.node_name)):
        groups.setdefault(b.port, []).append(b)
    return groups


def slice_name(svc: SystemService, index: int, port: int) -> str:
    return svc.slice_base if index == 0 else f"{svc.slice_base}-{port}"


def build(svc: SystemService, backends: Iterable[Backend]) -> tuple[Obj, list[Obj]]:
    """The Endpoints (one subset per port) and the EndpointSlices (one per port, named by
    :func:`slice_name`) listing ``backends``; no slice when there are none."""
    groups = by_port(backends)

    def node(b: Backend) -> Obj:
        return {"nodeName": b.node_name} if b.node_name else {}

    endpoints: Obj = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": svc.service, "namespace": svc.namespace,
                     "labels": dict(svc.endpoint_labels)},
        "subsets": [{"addresses": [{"ip": b.ip, **node(b)} for b in group],
                     "ports": svc.ports(port)} for port, group in groups.items()],
    }
    slices: list[Obj] = [{
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": slice_name(svc, i, port), "namespace": svc.namespace,
                     "labels": dict(svc.slice_labels)},
        "addressType": family(group[0].ip),
        "endpoints": [{"addresses": [b.ip], "conditions": dict(svc.conditions), **node(b)}
                      for b in group],
        "ports": svc.ports(port),
    } for i, (port, group) in enumerate(groups.items())]
    return endpoints, slices
