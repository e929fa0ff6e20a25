"""Slim, frozen projections of what the data plane needs from Services and EndpointSlices.

Built by :mod:`kubesvc.proxy.tracker` from informer objects; read by every backend. A
``ServicePort`` is one (service, port) pair, the unit upstream kube-proxy programs.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubesvc.api.objects import Obj


@dataclass(frozen=True, slots=True)
class ServicePortName:
    namespace: str
    name: str
    port: str  # the Service port's name ("" when unnamed)
    protocol: str

    def __str__(self) -> str:
        suffix = f":{self.port}" if self.port else ""
        return f"{self.namespace}/{self.name}{suffix}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class ServicePort:
    id: ServicePortName
    cluster_ips: tuple[str, ...]
    port: int
    node_port: int
    external_ips: tuple[str, ...]
    lb_ips: tuple[str, ...]
    session_affinity: bool
    affinity_timeout: int
    internal_local: bool  # internalTrafficPolicy: Local
    external_local: bool  # externalTrafficPolicy: Local (NodePort/LoadBalancer)
    source_ranges: tuple[str, ...]
    health_check_node_port: int

    @property
    def protocol(self) -> str:
        return self.id.protocol


@dataclass(frozen=True, slots=True)
class Endpoint:
    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    node_name: str
    zone: str = ""

    @property
    def addr(self) -> tuple[str, int]:
        return (self.ip, self.port)


def service_ports(svc: Obj) -> list[ServicePort]:
    """One ServicePort per port of a Service that the proxy serves (none for
    ExternalName or headless Services)."""
    md = svc.get("metadata") or {}
    spec = svc.get("spec") or {}
    typ = spec.get("type") or "ClusterIP"
    if typ == "ExternalName":
        return []
    cluster_ips = tuple(
        ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"
    )
    if not cluster_ips:
        return []  # headless: DNS only
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    lb_ips = tuple(i["ip"] for i in ingress if i.get("ip")) if typ == "LoadBalancer" else ()
    affinity = spec.get("sessionAffinity") == "ClientIP"
    timeout = int(
        ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
        or 10800
    )
    external_local = typ in ("NodePort", "LoadBalancer") and (
        spec.get("externalTrafficPolicy") == "Local"
    )
    out = []
    for p in spec.get("ports") or []:
        out.append(
            ServicePort(
                id=ServicePortName(
                    str(md.get("namespace") or ""), str(md.get("name") or ""),
                    str(p.get("name") or ""), str(p.get("protocol") or "TCP"),
                ),
                cluster_ips=cluster_ips,
                port=int(p.get("port") or 0),
                node_port=int(p.get("nodePort") or 0) if typ != "ClusterIP" else 0,
                external_ips=tuple(spec.get("externalIPs") or ()),
                lb_ips=lb_ips,
                session_affinity=affinity,
                affinity_timeout=timeout,
                internal_local=spec.get("internalTrafficPolicy") == "Local",
                external_local=external_local,
                source_ranges=tuple(spec.get("loadBalancerSourceRanges") or ()),
                health_check_node_port=int(spec.get("healthCheckNodePort") or 0),
            )
        )
    return out


def slice_endpoints(sl: Obj) -> dict[tuple[str, str], list[Endpoint]]:
    """(port name, protocol) -> endpoints of one EndpointSlice."""
    out: dict[tuple[str, str], list[Endpoint]] = {}
    ports = sl.get("ports") or []
    for p in ports:
        port = p.get("port")
        if not port:
            continue
        key = (str(p.get("name") or ""), str(p.get("protocol") or "TCP"))
        eps = out.setdefault(key, [])
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready") is not False
            serving = cond.get("serving", ready) is not False
            terminating = bool(cond.get("terminating"))
            for ip in (ep.get("addresses") or [])[:1]:
                eps.append(Endpoint(ip, int(port), ready, serving, terminating,
                                    str(ep.get("nodeName") or ""), str(ep.get("zone") or "")))
    return out


def local_ready_count(eps: list[Endpoint], *, node_name: str) -> int:
    """What the health check node port reports: this node's *ready* endpoints, by IP
    (upstream ``EndpointsMap.LocalReadyEndpoints``). Terminating endpoints may still serve
    (see :func:`usable_endpoints`) but do not count: a node with only those answers 503."""
    return len({e.ip for e in eps if e.ready and e.node_name == node_name})


def usable_endpoints(
    eps: list[Endpoint], *, local_only: bool, node_name: str
) -> list[Endpoint]:
    """The endpoints traffic may go to, as upstream's topology/terminating rules pick them:
    ready ones; if none are ready, serving-and-terminating ones; and only this node's when
    the traffic policy is Local."""
    pool = [e for e in eps if e.node_name == node_name] if local_only else eps
    ready = [e for e in pool if e.ready]
    if ready:
        return ready
    return [e for e in pool if e.serving and e.terminating]
