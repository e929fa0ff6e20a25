"""Service update and status validation: upstream ``ValidateServiceUpdate`` (clusterIPs and
ipFamilies may be added or released but not changed, unless moving to/from ExternalName;
loadBalancerClass and healthCheckNodePort immutable; then the full create rules) and
``ValidateServiceStatusUpdate`` (``status.loadBalancer.ingress``). Called through
:mod:`kubesvc.api.validation` after ``kubesvc.api.defaults.service.prepare_service_update``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.defaults.service import needs_health_check
from kubesvc.api.validation import field as f
from kubesvc.api.validation.service import (
    _int,
    _m,
    _spec,
    _str_list,
    is_headless,
    validate_lb_class,
    validate_service,
)
from kubesvc.errors import Cause


def _validate_upgrade_downgrade_cluster_ips(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Cause]:
    out: list[Cause] = []
    if "ExternalName" in (new.get("type"), old.get("type")):
        return out
    if is_headless(old) and is_headless(new):
        return out
    oips, nips = _str_list(old.get("clusterIPs")), _str_list(new.get("clusterIPs"))
    changed = "may not change once set"
    if len(oips) == len(nips):
        for i, ip in enumerate(oips):
            if ip != nips[i]:
                out.append(f.invalid(f"spec.clusterIPs[{i}]", nips, changed))
    elif len(oips) > len(nips):
        if not nips:
            out.append(f.invalid("spec.clusterIPs[0]", nips, "primary clusterIP can not be unset"))
        if oips and nips and nips[0] != oips[0]:
            out.append(f.invalid("spec.clusterIPs[0]", nips, changed))
        if len(nips) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            out.append(
                f.invalid(
                    "spec.ipFamilyPolicy",
                    new.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary clusterIP",
                )
            )
    elif oips and nips[0] != oips[0]:
        out.append(f.invalid("spec.clusterIPs[0]", nips, changed))
    return out


def _validate_upgrade_downgrade_ip_families(
    old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[Cause]:
    out: list[Cause] = []
    if "ExternalName" in (new.get("type"), old.get("type")):
        return out
    if is_headless(old) != is_headless(new) or is_headless(new):
        return out
    ofam, nfam = _str_list(old.get("ipFamilies")), _str_list(new.get("ipFamilies"))
    nips = _str_list(new.get("clusterIPs"))
    fam_list = {"list_type": "[]core.IPFamily"}
    changed = "may not change once set"
    if len(ofam) == len(nfam):
        for i, fam in enumerate(ofam):
            if fam != nfam[i]:
                out.append(f.invalid("spec.ipFamilies[0]", nfam, changed, **fam_list))
    elif len(ofam) > len(nfam):
        if not nips:
            out.append(
                f.invalid(
                    "spec.ipFamilies[0]", nfam, "primary ipFamily can not be unset", **fam_list
                )
            )
        if nfam and nfam[0] != ofam[0]:
            out.append(f.invalid("spec.ipFamilies[0]", nips, changed))
        if len(nfam) == 1 and new.get("ipFamilyPolicy") != "SingleStack":
            out.append(
                f.invalid(
                    "spec.ipFamilyPolicy",
                    new.get("ipFamilyPolicy"),
                    "must be set to 'SingleStack' when releasing the secondary ipFamily",
                )
            )
    elif ofam and nfam and nfam[0] != ofam[0]:
        out.append(f.invalid("spec.ipFamilies[0]", nips, changed))
    return out


def validate_service_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """``ValidateServiceUpdate``: metadata update rules, clusterIPs/ipFamilies may only be
    upgraded/downgraded (not changed) unless moving to/from ExternalName, loadBalancerClass
    and healthCheckNodePort immutable, then the full ``ValidateService``."""
    ns, os_ = _spec(new), _spec(old)
    out = meta.validate_object_meta_update(new, old)
    out.extend(_validate_upgrade_downgrade_cluster_ips(os_, ns))
    out.extend(_validate_upgrade_downgrade_ip_families(os_, ns))
    out.extend(validate_lb_class(os_, ns))
    if (
        needs_health_check(dict(os_))
        and needs_health_check(dict(ns))
        and _int(ns.get("healthCheckNodePort")) != _int(os_.get("healthCheckNodePort"))
    ):
        out.append(f.forbidden("spec.healthCheckNodePort", "field is immutable"))
    out.extend(validate_service(new))
    return out


def validate_service_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """``ValidateServiceStatusUpdate``: metadata rules + ``status.loadBalancer``."""
    out = meta.validate_object_meta_update(new, old)
    spec = _spec(new)
    status = _m(new.get("status"))
    lb = status.get("loadBalancer") if isinstance(status, Mapping) else None
    ingress = lb.get("ingress") if isinstance(lb, Mapping) else None
    ingress = ingress if isinstance(ingress, list) else []
    path = "status.loadBalancer.ingress"
    if spec.get("type") != "LoadBalancer" and ingress:
        out.append(f.forbidden(path, "may only be used when `spec.type` is 'LoadBalancer'"))
        return out
    for i, ing in enumerate(ingress):
        ing = ing if isinstance(ing, Mapping) else {}
        p = f.index(path, i)
        ip = str(ing.get("ip") or "")
        if ip:
            out.extend(meta.is_valid_ip(f.child(p, "ip"), ip))
        mode = ing.get("ipMode")
        if mode is None:
            if ip:
                out.append(f.required(f.child(p, "ipMode"), "must be specified when `ip` is set"))
        elif not ip:
            out.append(
                f.forbidden(f.child(p, "ipMode"), "may not be specified when `ip` is not set")
            )
        elif mode not in ("Proxy", "VIP"):
            out.append(f.not_supported(f.child(p, "ipMode"), mode, ("Proxy", "VIP")))
        host = str(ing.get("hostname") or "")
        if host:
            out.extend(meta.validate_dns1123_subdomain(f.child(p, "hostname"), host))
            if meta.parse_ip(host) is not None:
                out.append(
                    f.invalid(f.child(p, "hostname"), host, "must be a DNS name, not an IP address")
                )
    return out
