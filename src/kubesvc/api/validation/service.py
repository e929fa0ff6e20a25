"""Service validation on create: upstream ``ValidateService`` (pkg/apis/core/validation,
v1.32), same checks in the same order, same field paths (including upstream's
``spec.LoadBalancerSourceRanges`` spelling) and messages. Called through
:mod:`kubesvc.api.validation`; expects defaults applied and ``clusterIP``/``clusterIPs``
normalised (see :mod:`kubesvc.api.defaults.service`). ``validate_service_allocated`` holds
the checks on allocator-filled values, run after allocation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.defaults.service import externally_accessible, needs_health_check
from kubesvc.api.validation import field as f
from kubesvc.errors import Cause

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
SESSION_AFFINITIES = ("ClientIP", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
TRAFFIC_POLICIES = ("Cluster", "Local")
MAX_CLIENT_IP_TIMEOUT = 86400
_TOPOLOGY_HINTS = "service.kubernetes.io/topology-aware-hints"
_TOPOLOGY_MODE = "service.kubernetes.io/topology-mode"
_LB_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _spec(svc: Mapping[str, Any]) -> Mapping[str, Any]:
    s = svc.get("spec")
    return s if isinstance(s, Mapping) else {}


def _ports(spec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = spec.get("ports")
    return [p if isinstance(p, Mapping) else {} for p in ports] if isinstance(ports, list) else []


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _str_list(v: Any) -> list[str]:
    return [str(x) for x in v] if isinstance(v, list) else []


def is_headless(spec: Mapping[str, Any]) -> bool:
    ips = _str_list(spec.get("clusterIPs"))
    return len(ips) == 1 and ips[0] == "None"


def validate_port_num_or_name(path: str, port: Any) -> list[Cause]:
    """``ValidatePortNumOrName`` for an IntOrString."""
    if isinstance(port, str):
        return [f.invalid(path, port, m) for m in meta.is_valid_port_name(port)]
    n = _int(port)
    return [f.invalid(path, n, m) for m in meta.is_valid_port_num(n)]


def _service_port_literal(protocol: str, port: int) -> f.GoRaw:
    # Upstream reports duplicates with the map key struct printed by %#v.
    return f.GoRaw(
        f'core.ServicePort{{Name:"", Protocol:{f.go_quote(protocol)}, '
        f"AppProtocol:(*string)(nil), Port:{port}, "
        'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'
    )


def validate_port_name(
    port: Mapping[str, Any], require_name: bool, path: str, seen: set[str] | None = None
) -> list[Cause]:
    """A Service or Endpoints port's ``name``: required when there are several ports, a
    DNS-1123 label, and with ``seen`` (the names so far, added to) not a duplicate."""
    name = str(port.get("name") or "")
    if not name:
        return [f.required(f.child(path, "name"))] if require_name else []
    out = meta.validate_dns1123_label(f.child(path, "name"), name)
    if seen is not None:
        if name in seen:
            out.append(f.duplicate(f.child(path, "name"), name))
        seen.add(name)
    return out


def validate_port_and_protocol(port: Mapping[str, Any], path: str) -> list[Cause]:
    """A Service or Endpoints port's ``port`` number and its (required) ``protocol``."""
    num = _int(port.get("port"))
    out = [f.invalid(f.child(path, "port"), num, m) for m in meta.is_valid_port_num(num)]
    proto = str(port.get("protocol") or "")
    if not proto:
        out.append(f.required(f.child(path, "protocol")))
    elif proto not in PROTOCOLS:
        out.append(f.not_supported(f.child(path, "protocol"), proto, PROTOCOLS))
    return out


def validate_app_protocol(port: Mapping[str, Any], path: str) -> list[Cause]:
    """A Service or Endpoints port's ``appProtocol``, when set: a qualified name."""
    app = port.get("appProtocol")
    if app is None:
        return []
    return meta.validate_qualified_name(f.child(path, "appProtocol"), str(app))


def _validate_service_port(
    port: Mapping[str, Any], require_name: bool, names: set[str], path: str
) -> list[Cause]:
    out = validate_port_name(port, require_name, path, names)
    out.extend(validate_port_and_protocol(port, path))
    out.extend(validate_port_num_or_name(f.child(path, "targetPort"), port.get("targetPort", 0)))
    out.extend(validate_app_protocol(port, path))
    return out


def _validate_client_ip_config(cfg: Any, path: str) -> list[Cause]:
    why = "when session affinity type is ClientIP"
    if not isinstance(cfg, Mapping):
        return [f.required(path, why)]
    cip = cfg.get("clientIP")
    if not isinstance(cip, Mapping):
        return [f.required(f.child(path, "clientIP"), why)]
    tpath = f.child(path, "clientIP", "timeoutSeconds")
    if cip.get("timeoutSeconds") is None:
        return [f.required(tpath, why)]
    t = _int(cip.get("timeoutSeconds"))
    if t <= 0 or t > MAX_CLIENT_IP_TIMEOUT:
        return [
            f.invalid(tpath, t, f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}")
        ]
    return []


def validate_cluster_ips_related(spec: Mapping[str, Any]) -> list[Cause]:
    """``ValidateServiceClusterIPsRelatedFields`` (the allocator calls it too)."""
    if spec.get("type") == "ExternalName":
        return []
    out: list[Cause] = []
    ips_path, fam_path, pol_path = "spec.clusterIPs", "spec.ipFamilies", "spec.ipFamilyPolicy"
    cluster_ip = str(spec.get("clusterIP") or "")
    ips = _str_list(spec.get("clusterIPs"))
    families = _str_list(spec.get("ipFamilies"))
    if cluster_ip:
        if not ips:
            out.append(f.required(ips_path))
        elif ips[0] != cluster_ip:
            out.append(f.invalid(ips_path, ips, "first value must match `clusterIP`"))
    elif ips:
        out.append(f.invalid(ips_path, ips, "must be empty when `clusterIP` is not specified"))
    seen: set[str] = set()
    for i, fam in enumerate(families):
        if fam not in IP_FAMILIES:
            out.append(f.not_supported(f.index(fam_path, i), fam, IP_FAMILIES))
        if fam in seen:
            out.append(f.duplicate(f.index(fam_path, i), fam))
        seen.add(fam)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        out.append(f.not_supported(pol_path, policy, IP_FAMILY_POLICIES))
    bad_ips = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ips = True
                out.append(f.invalid(ips_path, ips, "'None' must be the first and only value"))
            continue
        errs = meta.is_valid_ip(f.index(ips_path, i), ip)
        bad_ips = bad_ips or bool(errs)
        out.extend(errs)
    if len(ips) > 2:
        out.append(f.invalid(ips_path, ips, "may only hold up to 2 values"))
    if bad_ips:
        return out
    # netutils.IsDualStackIPStrings: at least one address of each family.
    if len(ips) > 1 and len({meta.is_ipv6(ip) for ip in ips}) != 2:
        out.append(f.invalid(ips_path, ips, "may specify no more than one IP for each IP family"))
    if not is_headless(spec) and ips and families:
        for i, ip in enumerate(ips[: len(families)]):
            if families[i] == "IPv4" and meta.is_ipv6(ip):
                out.append(
                    f.invalid(
                        f.index(ips_path, i),
                        ip,
                        f"expected an IPv4 value as indicated by `ipFamilies[{i}]`",
                    )
                )
            if families[i] == "IPv6" and not meta.is_ipv6(ip):
                out.append(
                    f.invalid(
                        f.index(ips_path, i),
                        ip,
                        f"expected an IPv6 value as indicated by `ipFamilies[{i}]`",
                    )
                )
    return out


def validate_service(svc: Mapping[str, Any]) -> list[Cause]:
    """``ValidateService``."""
    out = meta.validate_object_meta(svc, True, meta.name_is_dns1035_label)
    annotations = _m(_m(svc.get("metadata")).get("annotations"))
    if (
        isinstance(annotations, Mapping)
        and _TOPOLOGY_MODE in annotations
        and _TOPOLOGY_HINTS in annotations
        and annotations[_TOPOLOGY_MODE] != annotations[_TOPOLOGY_HINTS]
    ):
        out.append(
            f.invalid(
                f"metadata.annotations[{_TOPOLOGY_MODE}]",
                annotations[_TOPOLOGY_MODE],
                f"must match annotations[{_TOPOLOGY_HINTS}] when both are specified",
            )
        )
    spec = _spec(svc)
    stype = str(spec.get("type") or "")
    ports = _ports(spec)
    headless = is_headless(spec)
    if not ports and not headless and stype != "ExternalName":
        out.append(f.required("spec.ports"))
    if stype in ("LoadBalancer", "NodePort") and headless:
        out.append(
            f.invalid(
                "spec.clusterIPs[0]", "None", f"may not be set to 'None' for {stype} services"
            )
        )
    elif stype == "ExternalName":
        if _str_list(spec.get("clusterIPs")):
            out.append(f.forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if _str_list(spec.get("ipFamilies")):
            out.append(f.forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            out.append(
                f.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services")
            )
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if cname:
            out.extend(meta.validate_dns1123_subdomain("spec.externalName", cname))
        else:
            out.append(f.required("spec.externalName"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        out.extend(_validate_service_port(port, len(ports) > 1, names, f"spec.ports[{i}]"))
    if spec.get("selector") is not None:
        out.extend(meta.validate_labels("spec.selector", spec.get("selector")))
    affinity = str(spec.get("sessionAffinity") or "")
    if not affinity:
        out.append(f.required("spec.sessionAffinity"))
    elif affinity not in SESSION_AFFINITIES:
        out.append(f.not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    if affinity == "ClientIP":
        out.extend(
            _validate_client_ip_config(
                spec.get("sessionAffinityConfig"), "spec.sessionAffinityConfig"
            )
        )
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        out.append(
            f.forbidden(
                "spec.sessionAffinityConfig", "must not be set when session affinity is None"
            )
        )
    out.extend(validate_cluster_ips_related(spec))
    for i, ip in enumerate(_str_list(spec.get("externalIPs"))):
        errs = meta.is_valid_ip(f"spec.externalIPs[{i}]", ip)
        out.extend(errs or meta.validate_non_special_ip(f"spec.externalIPs[{i}]", ip))
    if not stype:
        out.append(f.required("spec.type"))
    elif stype not in SERVICE_TYPES:
        out.append(f.not_supported("spec.type", stype, SERVICE_TYPES))
    if stype == "ClusterIP":
        for i, port in enumerate(ports):
            if _int(port.get("nodePort")):
                out.append(
                    f.forbidden(
                        f"spec.ports[{i}].nodePort", "may not be used when `type` is 'ClusterIP'"
                    )
                )
    node_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        np = _int(port.get("nodePort"))
        if not np:
            continue
        k = (str(port.get("protocol") or ""), np)
        if k in node_ports:
            out.append(f.duplicate(f"spec.ports[{i}].nodePort", np))
        node_ports.add(k)
    seen_ports: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        k = (str(port.get("protocol") or ""), _int(port.get("port")))
        if k in seen_ports:
            out.append(f.duplicate(f"spec.ports[{i}]", _service_port_literal(*k)))
        seen_ports.add(k)
    out.extend(_validate_source_ranges(svc, spec, stype))
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        out.append(
            f.forbidden(
                "spec.allocateLoadBalancerNodePorts",
                "may only be used when `type` is 'LoadBalancer'",
            )
        )
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        out.append(f.required("allocateLoadBalancerNodePorts"))
    out.extend(validate_lb_class(None, spec))
    out.extend(_validate_external_traffic_policy(spec))
    itp = spec.get("internalTrafficPolicy")
    if itp is None and stype in ("NodePort", "LoadBalancer", "ClusterIP"):
        out.append(f.required("spec.internalTrafficPolicy"))
    if itp is not None and itp not in TRAFFIC_POLICIES:
        out.append(f.not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))
    td = spec.get("trafficDistribution")
    if td is not None and td != "PreferClose":
        out.append(f.not_supported("spec.trafficDistribution", td, ("PreferClose",)))
    return out


def _validate_source_ranges(
    svc: Mapping[str, Any], spec: Mapping[str, Any], stype: str
) -> list[Cause]:
    out: list[Cause] = []
    ranges = _str_list(spec.get("loadBalancerSourceRanges"))
    lb_only = "may only be used when `type` is 'LoadBalancer'"
    if ranges:
        path = "spec.LoadBalancerSourceRanges"
        if stype != "LoadBalancer":
            out.append(f.forbidden(path, lb_only))
        for i, value in enumerate(ranges):
            out.extend(meta.is_valid_cidr(f.index(path, i), value.strip()))
        return out
    annotations = _m(_m(svc.get("metadata")).get("annotations"))
    if isinstance(annotations, Mapping) and _LB_SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{_LB_SOURCE_RANGES_ANNOTATION}]"
        if stype != "LoadBalancer":
            out.append(f.forbidden(path, lb_only))
        val = str(annotations[_LB_SOURCE_RANGES_ANNOTATION]).strip()
        if val:
            for value in val.split(","):
                out.extend(meta.is_valid_cidr(path, value.strip()))
    return out


def validate_lb_class(old_spec: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    lbc = spec.get("loadBalancerClass")
    is_lb = spec.get("type") == "LoadBalancer"
    if (
        old_spec is not None
        and old_spec.get("type") == "LoadBalancer"
        and is_lb
        and old_spec.get("loadBalancerClass") != lbc
    ):
        out.append(f.invalid("spec.loadBalancerClass", lbc, "may not change once set"))
    if is_lb:
        if lbc is not None:
            out.extend(meta.validate_qualified_name("spec.loadBalancerClass", str(lbc)))
    elif lbc is not None:
        out.append(
            f.forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
        )
    return out


def _validate_external_traffic_policy(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    etp = str(spec.get("externalTrafficPolicy") or "")
    if not externally_accessible(dict(spec)):
        if etp:
            out.append(
                f.invalid(
                    "spec.externalTrafficPolicy",
                    etp,
                    "may only be set for externally-accessible services",
                )
            )
    elif not etp:
        out.append(f.required("spec.externalTrafficPolicy"))
    elif etp not in TRAFFIC_POLICIES:
        out.append(f.not_supported("spec.externalTrafficPolicy", etp, TRAFFIC_POLICIES))
    hc = _int(spec.get("healthCheckNodePort"))
    if not needs_health_check(dict(spec)):
        if hc:
            out.append(
                f.invalid(
                    "spec.healthCheckNodePort",
                    hc,
                    "may only be set when `type` is 'LoadBalancer' and "
                    "`externalTrafficPolicy` is 'Local'",
                )
            )
    elif hc:
        out.extend(f.invalid("spec.healthCheckNodePort", hc, m) for m in meta.is_valid_port_num(hc))
    # A missing healthCheckNodePort is not reported here: upstream allocates it before
    # validating; kubesvc validates first (a rejected request must allocate nothing), so the
    # allocator fills it afterwards and validate_service_allocated() checks the result.
    return out


def validate_service_allocated(svc: Mapping[str, Any]) -> list[Cause]:
    """Checks on values the registry's allocators fill in, run after allocation: a
    LoadBalancer Service with ``externalTrafficPolicy: Local`` has a healthCheckNodePort,
    and clusterIPs/ipFamilies are consistent (upstream ``ValidateServiceClusterIPsRelatedFields``,
    which its allocator also runs)."""
    spec = _spec(svc)
    out: list[Cause] = []
    if needs_health_check(dict(spec)) and not _int(spec.get("healthCheckNodePort")):
        out.append(f.required("spec.healthCheckNodePort"))
    out.extend(validate_cluster_ips_related(spec))
    return out
