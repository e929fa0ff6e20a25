"""Validation of networking.k8s.io/v1 NetworkPolicy, as upstream's
``pkg/apis/networking/validation`` ``ValidateNetworkPolicy`` (v1.32) words it: ports
(protocol TCP/UDP/SCTP, port numbers and names, ``endPort`` only after a numeric ``port``
and not below it), peers (exactly one of ipBlock or pod/namespace selectors), ipBlock
(``cidr`` required and valid, each ``except`` a strict subset of it), policyTypes
(Ingress/Egress, at most two) and label selectors. On update, CIDRs the old object already
held are not re-checked (``AllowCIDRsEvenIfInvalid``). Called through
:mod:`kubesvc.api.validation`'s tables.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats as fmt
from kubesvc.api.validation.apps import validate_label_selector
from kubesvc.errors import Cause

PROTOCOLS = ("TCP", "UDP", "SCTP")
POLICY_TYPES = ("Ingress", "Egress")


def _map(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate_port(port: Mapping[str, Any], path: str) -> list[Cause]:
    """``ValidateNetworkPolicyPort``."""
    out: list[Cause] = []
    proto = port.get("protocol")
    if proto is not None and proto not in PROTOCOLS:
        out.append(f.not_supported(f.child(path, "protocol"), proto, PROTOCOLS))
    value = port.get("port")
    end = port.get("endPort")
    end_path = f.child(path, "endPort")
    if value is None:
        if end is not None:
            out.append(f.invalid(end_path, end, "may not be specified when `port` is not "
                                 "specified"))
        return out
    if _is_int(value):
        out += [f.invalid(f.child(path, "port"), value, m)
                for m in fmt.is_valid_port_num(value)]
        if end is not None:
            end_n = end if _is_int(end) else 0
            if end_n < value:
                out.append(f.invalid(end_path, end, "must be greater than or equal to `port`"))
            out += [f.invalid(end_path, end, m) for m in fmt.is_valid_port_num(end_n)]
        return out
    if end is not None:
        out.append(f.invalid(end_path, end, "may not be specified when `port` is non-numeric"))
    out += [f.invalid(f.child(path, "port"), str(value), m)
            for m in fmt.is_valid_port_name(str(value))]
    return out


def validate_ip_block(block: Mapping[str, Any], path: str,
                      allowed: Collection[str] = ()) -> list[Cause]:
    """``ValidateIPBlock``: ``allowed`` are CIDRs the old object held (kept as they are)."""
    cidr = str(block.get("cidr") or "")
    if not cidr:
        return [f.required(f.child(path, "cidr"))]
    net = fmt.parse_cidr(cidr)
    if net is None:
        if cidr in allowed:
            return []
        return [f.invalid(f.child(path, "cidr"), cidr, "not a valid CIDR")]
    out: list[Cause] = []
    for i, exc in enumerate(_list(block.get("except"))):
        epath = f.index(f.child(path, "except"), i)
        sub = fmt.parse_cidr(str(exc))
        if sub is None:
            if str(exc) in allowed:
                continue
            out.append(f.invalid(epath, exc, "not a valid CIDR"))
            return out
        if (sub.version != net.version or sub.network_address not in net
                or net.prefixlen >= sub.prefixlen):
            out.append(f.invalid(epath, exc, "must be a strict subset of `cidr`"))
    return out


def validate_peer(peer: Mapping[str, Any], path: str,
                  allowed: Collection[str] = ()) -> list[Cause]:
    """``ValidateNetworkPolicyPeer``."""
    out: list[Cause] = []
    n = 0
    for name in ("podSelector", "namespaceSelector"):
        sel = peer.get(name)
        if sel is not None:
            n += 1
            out += validate_label_selector(_map(sel), f.child(path, name))
    block = peer.get("ipBlock")
    if block is not None:
        n += 1
        out += validate_ip_block(_map(block), f.child(path, "ipBlock"), allowed)
    if n == 0:
        out.append(f.required(path, "must specify a peer"))
    elif n > 1 and block is not None:
        out.append(f.forbidden(path, "may not specify both ipBlock and another peer"))
    return out


def validate_spec(spec: Mapping[str, Any], path: str,
                  allowed: Collection[str] = ()) -> list[Cause]:
    """``ValidateNetworkPolicySpec``."""
    out = validate_label_selector(_map(spec.get("podSelector")), f.child(path, "podSelector"))
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            rpath = f.index(f.child(path, direction), i)
            rule = _map(rule)
            for j, port in enumerate(_list(rule.get("ports"))):
                out += validate_port(_map(port), f.index(f.child(rpath, "ports"), j))
            for j, peer in enumerate(_list(rule.get(peers_field))):
                out += validate_peer(_map(peer), f.index(f.child(rpath, peers_field), j),
                                     allowed)
    types = _list(spec.get("policyTypes"))
    tpath = f.child(path, "policyTypes")
    if len(types) > len(POLICY_TYPES):
        out.append(f.invalid(tpath, types, "may not specify more than two policyTypes",
                             list_type="[]networking.PolicyType"))
        return out
    for i, t in enumerate(types):
        if t not in POLICY_TYPES:
            out.append(f.not_supported(f.index(tpath, i), t, POLICY_TYPES))
    return out


def validate_network_policy(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + validate_spec(_map(obj.get("spec")), "spec")


def _cidrs(spec: Mapping[str, Any]) -> set[str]:
    out: set[str] = set()
    for direction, peers_field in (("ingress", "from"), ("egress", "to")):
        for rule in _list(spec.get(direction)):
            for peer in _list(_map(rule).get(peers_field)):
                block = _map(_map(peer).get("ipBlock"))
                if block:
                    out.add(str(block.get("cidr") or ""))
                    out.update(str(e) for e in _list(block.get("except")))
    return out


def validate_network_policy_update(new: Mapping[str, Any],
                                   old: Mapping[str, Any]) -> list[Cause]:
    allowed = _cidrs(_map(old.get("spec")))
    return (meta.validate_object_meta_update(new, old)
            + validate_spec(_map(new.get("spec")), "spec", allowed))
