"""Service defaulting and the pure parts of upstream's Service registry strategy.

``apply_service_defaults`` is upstream ``SetDefaults_Service`` (run on every decoded Service,
create and update). The rest mirror ``pkg/registry/core/service`` logic that needs no
allocator, so the API server's Service registry can call them around IP/port allocation:

    create:  apply_defaults -> normalize_cluster_ips(svc, None) -> validate_create
             -> allocate -> finish_service_defaults(svc) -> validate_allocated
    update:  apply_defaults -> prepare_service_update(new, old) -> validate_update
             -> allocate/release -> finish_service_defaults(new) -> validate_allocated

(``validate_*`` from :mod:`kubesvc.api.validation`; a rejected request allocates nothing.)

Pure dict code; no imports from other kubesvc layers.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults._util import as_int, dicts
from kubesvc.api.objects import ensure_object

CLUSTER_IP = "ClusterIP"
NODE_PORT = "NodePort"
LOAD_BALANCER = "LoadBalancer"
EXTERNAL_NAME = "ExternalName"
DEFAULT_CLIENT_IP_TIMEOUT = 10800


def _spec(svc: dict[str, Any]) -> dict[str, Any]:
    return ensure_object(svc, "spec")


def externally_accessible(spec: dict[str, Any]) -> bool:
    """``service.ExternallyAccessible``: LoadBalancer, NodePort, or ClusterIP + externalIPs."""
    t = spec.get("type")
    return t in (LOAD_BALANCER, NODE_PORT) or (t == CLUSTER_IP and bool(spec.get("externalIPs")))


def needs_health_check(spec: dict[str, Any]) -> bool:
    return spec.get("type") == LOAD_BALANCER and spec.get("externalTrafficPolicy") == "Local"


def apply_service_defaults(svc: dict[str, Any]) -> None:
    """``SetDefaults_Service`` (core/v1)."""
    spec = _spec(svc)
    if not spec.get("sessionAffinity"):
        spec["sessionAffinity"] = "None"
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    if spec["sessionAffinity"] == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        client_ip = cfg.get("clientIP") if isinstance(cfg, dict) else None
        if not isinstance(client_ip, dict) or client_ip.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {
                "clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}
            }
    if not spec.get("type"):
        spec["type"] = CLUSTER_IP
    for port in dicts(spec.get("ports")):
        if not isinstance(port, dict):
            continue
        if not port.get("protocol"):
            port["protocol"] = "TCP"
        tp = port.get("targetPort")
        if tp is None or tp == 0 or tp == "":
            if "port" in port:
                port["targetPort"] = port["port"]
    if externally_accessible(spec) and not spec.get("externalTrafficPolicy"):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec["type"] in (
        NODE_PORT,
        LOAD_BALANCER,
        CLUSTER_IP,
    ):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec["type"] == LOAD_BALANCER:
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
        status = svc.get("status")
        lb = status.get("loadBalancer") if isinstance(status, dict) else None
        for ing in dicts(lb.get("ingress") if isinstance(lb, dict) else None):
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


def is_headless(spec: dict[str, Any]) -> bool:
    ips = spec.get("clusterIPs") or []
    return len(ips) == 1 and ips[0] == "None"


def normalize_cluster_ips(new: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Upstream ``NormalizeClusterIPs``: keep ``clusterIP`` and ``clusterIPs`` in step for
    clients that only set the singular field."""
    ns = _spec(new)
    if old is None:
        if ns.get("clusterIP") and not ns.get("clusterIPs"):
            ns["clusterIPs"] = [ns["clusterIP"]]
        return
    os_ = old.get("spec") or {}
    if os_.get("clusterIPs") and not ns.get("clusterIPs"):
        if (os_.get("clusterIP") or "") == (ns.get("clusterIP") or ""):
            ns["clusterIPs"] = list(os_["clusterIPs"])
    if (os_.get("clusterIP") or "") != (ns.get("clusterIP") or ""):
        same = (os_.get("clusterIPs") or []) == (ns.get("clusterIPs") or [])
        if os_.get("clusterIP") and not ns.get("clusterIP") and same:
            ns.pop("clusterIPs", None)
        if ns.get("clusterIP") and same:
            ns["clusterIPs"] = [ns["clusterIP"]]


def _needs_cluster_ip(spec: dict[str, Any]) -> bool:
    return spec.get("type") != EXTERNAL_NAME


def _needs_node_port(spec: dict[str, Any]) -> bool:
    return spec.get("type") in (NODE_PORT, LOAD_BALANCER)


def _node_ports(spec: dict[str, Any]) -> list[int]:
    return [as_int(p.get("nodePort")) for p in dicts(spec.get("ports"))]


def patch_allocated_values(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Upstream ``patchAllocatedValues``: an update that omits allocated values (clusterIP,
    nodePorts, healthCheckNodePort) keeps the old ones where they still apply."""
    ns, os_ = _spec(new), old.get("spec") or {}
    if _needs_cluster_ip(os_) and _needs_cluster_ip(ns):
        if not ns.get("clusterIP") and os_.get("clusterIP"):
            ns["clusterIP"] = os_["clusterIP"]
        if not ns.get("clusterIPs") and os_.get("clusterIPs"):
            ns["clusterIPs"] = list(os_["clusterIPs"])
    if _needs_node_port(os_) and _needs_node_port(ns):
        used = {p for p in _node_ports(os_) if p} & {p for p in _node_ports(ns) if p}
        by_name = {
            str(p.get("name") or ""): as_int(p.get("nodePort")) for p in dicts(os_.get("ports"))
        }
        for p in dicts(ns.get("ports")):
            if not p.get("nodePort"):
                prev = by_name.get(str(p.get("name") or ""), 0)
                if prev and prev not in used:
                    p["nodePort"] = prev
    if needs_health_check(os_) and needs_health_check(ns):
        if not ns.get("healthCheckNodePort") and os_.get("healthCheckNodePort"):
            ns["healthCheckNodePort"] = os_["healthCheckNodePort"]


def drop_type_dependent_fields(new: dict[str, Any], old: dict[str, Any]) -> None:
    """Upstream ``dropTypeDependentFields``: on a type change, wipe values the old type
    needed and the user did not touch (they are released by the registry afterwards)."""
    ns, os_ = _spec(new), old.get("spec") or {}

    def same(k: str) -> bool:
        return ns.get(k) == os_.get(k)

    if _needs_cluster_ip(os_) and not _needs_cluster_ip(ns):
        if (ns.get("clusterIPs") or []) == (os_.get("clusterIPs") or []):
            ns.pop("clusterIP", None)
            ns.pop("clusterIPs", None)
        if same("ipFamilies"):
            ns.pop("ipFamilies", None)
        if same("ipFamilyPolicy"):
            ns.pop("ipFamilyPolicy", None)
    new_np = {p for p in _node_ports(ns) if p}
    if _needs_node_port(os_) and not _needs_node_port(ns) and new_np <= set(_node_ports(os_)):
        for p in dicts(ns.get("ports")):
            if isinstance(p, dict):
                p.pop("nodePort", None)
    if needs_health_check(os_) and not needs_health_check(ns) and same("healthCheckNodePort"):
        ns.pop("healthCheckNodePort", None)
    if os_.get("type") == LOAD_BALANCER and ns.get("type") != LOAD_BALANCER:
        if ns.get("allocateLoadBalancerNodePorts") is not None and same(
            "allocateLoadBalancerNodePorts"
        ):
            ns.pop("allocateLoadBalancerNodePorts", None)
        if same("loadBalancerClass"):
            ns.pop("loadBalancerClass", None)
    if (
        externally_accessible(os_)
        and not externally_accessible(ns)
        and same("externalTrafficPolicy")
    ):
        ns.pop("externalTrafficPolicy", None)
    if ns.get("type") != LOAD_BALANCER:
        status = new.get("status")
        if isinstance(status, dict):
            status["loadBalancer"] = {}


def prepare_service_update(new: dict[str, Any], old: dict[str, Any]) -> None:
    """The Service strategy's ``PrepareForUpdate`` minus status handling (the registry keeps
    the old status): patch allocated values, normalise clusterIPs, drop type-dependent
    fields. Call after :func:`apply_service_defaults`, before validation."""
    patch_allocated_values(new, old)
    normalize_cluster_ips(new, old)
    drop_type_dependent_fields(new, old)


def finish_service_defaults(
    svc: dict[str, Any], *, ip_families: tuple[str, ...] = ("IPv4",)
) -> None:
    """What upstream's allocator fills in beside the IPs (``initIPFamilyFields``) for a
    single-stack cluster: ``ipFamilyPolicy: SingleStack`` and ``ipFamilies`` following the
    allocated ``clusterIPs`` (or the cluster's primary family for headless Services);
    nothing for ExternalName. Also the empty ``status.loadBalancer`` every Service shows."""
    spec = _spec(svc)
    status = svc.get("status")
    if not isinstance(status, dict):
        status = {}
        svc["status"] = status
    status.setdefault("loadBalancer", {})
    # Go's omitempty: an empty clusterIP/clusterIPs/externalName is not part of the object
    # upstream returns (e.g. after a switch to ExternalName released the IP).
    for fld in ("clusterIP", "clusterIPs", "externalName"):
        if fld in spec and not spec[fld]:
            del spec[fld]
    if spec.get("type") == EXTERNAL_NAME:
        return
    if spec.get("ipFamilyPolicy") is None:
        spec["ipFamilyPolicy"] = "SingleStack"
    if not spec.get("ipFamilies"):
        ips = [ip for ip in spec.get("clusterIPs") or [] if ip and ip != "None"]
        if ips:
            spec["ipFamilies"] = ["IPv6" if ":" in ip else "IPv4" for ip in ips]
        else:
            spec["ipFamilies"] = [ip_families[0]]
