"""Endpoints (core/v1) and EndpointSlice (discovery.k8s.io/v1) validation, as upstream
``ValidateEndpoints`` and ``ValidateEndpointSlice`` (v1.32): addresses must be real,
non-special IPs of the slice's address type, at most 1000 endpoints and 100 ports per slice,
port names DNS labels and unique, protocols TCP/UDP/SCTP, addressType immutable.
Called through :mod:`kubesvc.api.validation`; the controllers' output must pass these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation.service import (
    PROTOCOLS,
    validate_app_protocol,
    validate_port_and_protocol,
    validate_port_name,
)
from kubesvc.errors import Cause

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
MAX_ENDPOINTS = 1000
MAX_ADDRESSES = 100
MAX_PORTS = 100
MAX_TOPOLOGY_LABELS = 16
MAX_ZONE_HINTS = 8


def _list(v: Any) -> list[Mapping[str, Any]]:
    return [x if isinstance(x, Mapping) else {} for x in v] if isinstance(v, list) else []


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


# --- core/v1 Endpoints -------------------------------------------------------------------


def _validate_endpoint_address(addr: Mapping[str, Any], path: str) -> list[Cause]:
    ip = str(addr.get("ip") or "")
    out = meta.is_valid_ip(f.child(path, "ip"), ip)
    hostname = str(addr.get("hostname") or "")
    if hostname:
        out.extend(meta.validate_dns1123_label(f.child(path, "hostname"), hostname))
    node = addr.get("nodeName")
    if node is not None:
        out.extend(
            f.invalid(f.child(path, "nodeName"), str(node), m)
            for m in meta.name_is_dns_subdomain(str(node), False)
        )
    out.extend(meta.validate_non_special_ip(f.child(path, "ip"), ip))
    return out


def _validate_endpoint_port(port: Mapping[str, Any], require_name: bool, path: str) -> list[Cause]:
    out = validate_port_name(port, require_name, path)
    out.extend(validate_port_and_protocol(port, path))
    out.extend(validate_app_protocol(port, path))
    return out


def validate_endpoints(ep: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(ep, True, meta.name_is_dns_subdomain)
    for i, ss in enumerate(_list(ep.get("subsets"))):
        sp = f"subsets[{i}]"
        addrs, not_ready = _list(ss.get("addresses")), _list(ss.get("notReadyAddresses"))
        if not addrs and not not_ready:
            out.append(f.required(sp, "must specify `addresses` or `notReadyAddresses`"))
        for j, a in enumerate(addrs):
            out.extend(_validate_endpoint_address(a, f"{sp}.addresses[{j}]"))
        for j, a in enumerate(not_ready):
            out.extend(_validate_endpoint_address(a, f"{sp}.notReadyAddresses[{j}]"))
        ports = _list(ss.get("ports"))
        for j, p in enumerate(ports):
            out.extend(_validate_endpoint_port(p, len(ports) > 1, f"{sp}.ports[{j}]"))
    return out


def validate_endpoints_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + validate_endpoints(new)


# --- discovery.k8s.io/v1 EndpointSlice ---------------------------------------------------


def _validate_slice_endpoints(endpoints: list[Mapping[str, Any]], addr_type: str) -> list[Cause]:
    out: list[Cause] = []
    if len(endpoints) > MAX_ENDPOINTS:
        return [f.too_many("endpoints", len(endpoints), MAX_ENDPOINTS)]
    for i, ep in enumerate(endpoints):
        ip = f"endpoints[{i}]"
        apath = f.child(ip, "addresses")
        addresses = (
            [str(a) for a in ep.get("addresses") or []]
            if isinstance(ep.get("addresses"), list)
            else []
        )
        if not addresses:
            out.append(f.required(apath, "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            out.append(f.too_many(apath, len(addresses), MAX_ADDRESSES))
        for j, addr in enumerate(addresses):
            p = f.index(apath, j)
            if addr_type in ("IPv4", "IPv6"):
                errs = (meta.is_valid_ipv4 if addr_type == "IPv4" else meta.is_valid_ipv6)(p, addr)
                out.extend(errs or meta.validate_non_special_ip(p, addr))
            elif addr_type == "FQDN":
                out.extend(_fqdn_errors(p, addr))
        node = ep.get("nodeName")
        if node is not None:
            out.extend(
                f.invalid(f.child(ip, "nodeName"), str(node), m)
                for m in meta.name_is_dns_subdomain(str(node), False)
            )
        topo = ep.get("deprecatedTopology")
        if isinstance(topo, Mapping):
            tpath = f.child(ip, "deprecatedTopology")
            if len(topo) > MAX_TOPOLOGY_LABELS:
                out.append(f.too_many(tpath, len(topo), MAX_TOPOLOGY_LABELS))
            out.extend(meta.validate_labels(tpath, topo))
        if ep.get("hostname") is not None:
            out.extend(meta.validate_dns1123_label(f.child(ip, "hostname"), str(ep["hostname"])))
        hints = ep.get("hints")
        if isinstance(hints, Mapping):
            out.extend(_validate_hints(hints, f.child(ip, "hints")))
    return out


def _fqdn_errors(path: str, name: str) -> list[Cause]:
    """``IsFullyQualifiedDomainName``."""
    if not name:
        return [f.required(path)]
    name = name.removesuffix(".")
    errs = meta.is_dns1123_subdomain(name)
    if errs:
        return [f.invalid(path, name, ",".join(errs))]
    if len(name.split(".")) < 2:
        return [
            f.invalid(path, name, "should be a domain with at least two segments separated by dots")
        ]
    for label in name.split("."):
        lerrs = meta.is_dns1123_label(label)
        if lerrs:
            return [f.invalid(path, label, ",".join(lerrs))]
    return []


def _validate_hints(hints: Mapping[str, Any], path: str) -> list[Cause]:
    zones = _list(hints.get("forZones"))
    zpath = f.child(path, "forZones")
    if len(zones) > MAX_ZONE_HINTS:
        return [f.too_many(zpath, len(zones), MAX_ZONE_HINTS)]
    out: list[Cause] = []
    seen: set[str] = set()
    for i, z in enumerate(zones):
        name = str(z.get("name") or "")
        np = f.child(f.index(zpath, i), "name")
        if name in seen:
            out.append(f.duplicate(np, name))
        seen.add(name)
        out.extend(f.invalid(np, name, m) for m in meta.is_valid_label_value(name))
    return out


def _validate_slice_ports(ports: list[Mapping[str, Any]]) -> list[Cause]:
    if len(ports) > MAX_PORTS:
        return [f.too_many("ports", len(ports), MAX_PORTS)]
    out: list[Cause] = []
    names: set[str] = set()
    for i, p in enumerate(ports):
        ip = f"ports[{i}]"
        name = str(p.get("name") or "")
        if name:
            out.extend(meta.validate_dns1123_label(f.child(ip, "name"), name))
        if name in names:
            out.append(f.duplicate(f.child(ip, "name"), name))
        names.add(name)
        proto = p.get("protocol")
        if proto is None:
            out.append(f.required(f.child(ip, "protocol")))
        elif proto not in PROTOCOLS:
            out.append(f.not_supported(f.child(ip, "protocol"), proto, PROTOCOLS))
        if p.get("port") is not None:
            num = _int(p.get("port"))
            out.extend(f.invalid(f.child(ip, "port"), num, m) for m in meta.is_valid_port_num(num))
        if p.get("appProtocol") is not None:
            out.extend(
                meta.validate_qualified_name(f.child(ip, "appProtocol"), str(p["appProtocol"]))
            )
    return out


def validate_endpoint_slice(eps: Mapping[str, Any], *, allow_ip: bool = False) -> list[Cause]:
    out = meta.validate_object_meta(eps, True, meta.name_is_dns_subdomain)
    addr_type = str(eps.get("addressType") or "")
    valid = (*ADDRESS_TYPES, "IP") if allow_ip else ADDRESS_TYPES
    if not addr_type:
        out.append(f.required("addressType"))
    elif addr_type not in valid:
        out.append(f.not_supported("addressType", addr_type, sorted(valid)))
    out.extend(_validate_slice_endpoints(_list(eps.get("endpoints")), addr_type))
    out.extend(_validate_slice_ports(_list(eps.get("ports"))))
    return out


def validate_endpoint_slice_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(validate_endpoint_slice(new, allow_ip=True))
    out.extend(
        meta.validate_immutable("addressType", new.get("addressType"), old.get("addressType"))
    )
    return out
