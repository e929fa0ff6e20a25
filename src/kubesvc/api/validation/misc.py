"""Validation for the smaller kinds: Namespace (DNS-1123 label name, finalizers, status
phase), Node (podCIDRs, taints, immutable providerID/podCIDRs), ConfigMap and Secret (keys,
1 MiB size, ``immutable``, type-specific keys, type immutable), Lease (durations),
ServiceAccount, and core/events.k8s.io Events (involved object namespace).
Called through :mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.errors import Cause

MAX_SECRET_SIZE = 1024 * 1024
STANDARD_FINALIZERS = ("kubernetes",)
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def _list(v: Any) -> list[Mapping[str, Any]]:
    return [x if isinstance(x, Mapping) else {} for x in v] if isinstance(v, list) else []


def _map(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


# --- Namespace --------------------------------------------------------------------------------


def _validate_namespace_finalizers(obj: Mapping[str, Any], indexed: bool) -> list[Cause]:
    out: list[Cause] = []
    fins = _map(obj.get("spec")).get("finalizers")
    for i, fin in enumerate(fins if isinstance(fins, list) else []):
        path = f"spec.finalizers[{i}]" if indexed else "spec.finalizers"
        s = str(fin)
        out.extend(meta.validate_qualified_name(path, s))
        if "/" not in s and s not in STANDARD_FINALIZERS:
            out.append(
                f.invalid(
                    path, s, "name is neither a standard finalizer name nor is it fully qualified"
                )
            )
    return out


def validate_namespace(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, False, meta.name_is_dns_label)
    return out + _validate_namespace_finalizers(obj, False)


def validate_namespace_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old)


def validate_namespace_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    phase = str(_map(new.get("status")).get("phase") or "")
    if not _map(new.get("metadata")).get("deletionTimestamp"):
        if phase != "Active":
            out.append(
                f.invalid(
                    "status.Phase", phase, "may only be 'Active' if `deletionTimestamp` is empty"
                )
            )
    elif phase != "Terminating":
        out.append(
            f.invalid(
                "status.Phase",
                phase,
                "may only be 'Terminating' if `deletionTimestamp` is not empty",
            )
        )
    return out


def validate_namespace_finalize_update(
    new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _validate_namespace_finalizers(new, True)


# --- Node -------------------------------------------------------------------------------------


def _validate_taints(taints: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(_list(taints)):
        ip = f.index(path, i)
        k, v, eff = str(t.get("key") or ""), str(t.get("value") or ""), str(t.get("effect") or "")
        out.extend(meta.validate_qualified_name(f.child(ip, "key"), k))
        errs = meta.is_valid_label_value(v)
        if errs:
            out.append(f.invalid(f.child(ip, "value"), v, ";".join(errs)))
        if not eff:
            out.append(f.required(f.child(ip, "effect")))
        elif eff not in TAINT_EFFECTS:
            out.append(f.not_supported(f.child(ip, "effect"), eff, TAINT_EFFECTS))
        if (eff, k) in seen:
            c = f.duplicate(
                ip,
                f.GoRaw(
                    f"core.Taint{{Key:{f.go_quote(k)}, Value:{f.go_quote(v)}, "
                    f"Effect:{f.go_quote(eff)}, TimeAdded:<nil>}}"
                ),
            )
            out.append(
                Cause(
                    c.reason, c.message + ": taints must be unique by key and effect pair", c.field
                )
            )
            continue
        seen.add((eff, k))
    return out


def _validate_node_common(obj: Mapping[str, Any]) -> list[Cause]:
    spec = _map(obj.get("spec"))
    out = _validate_taints(spec.get("taints"), "metadata.taints")
    cidrs = spec.get("podCIDRs")
    cidrs = [str(c) for c in cidrs] if isinstance(cidrs, list) else []
    for i, c in enumerate(cidrs):
        out.extend(meta.is_valid_cidr(f"spec.podCIDRs[{i}]", c))
    if len(cidrs) > 1:
        nets = [meta.parse_cidr(c) for c in cidrs]
        if len(cidrs) > 2 or None in nets or len({n.version for n in nets if n}) != len(cidrs):
            out.append(
                f.invalid(
                    "spec.podCIDRs", cidrs, "may specify no more than one CIDR for each IP family"
                )
            )
        seen: set[str] = set()
        for i, c in enumerate(cidrs):
            if c in seen:
                out.append(f.duplicate(f"spec.podCIDRs[{i}]", c))
            seen.add(c)
    return out


def validate_node(obj: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta(
        obj, False, meta.name_is_dns_subdomain
    ) + _validate_node_common(obj)


def validate_node_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    ns, os_ = _map(new.get("spec")), _map(old.get("spec"))
    addrs = _list(_map(new.get("status")).get("addresses"))
    seen: list[Mapping[str, Any]] = []
    for i, a in enumerate(addrs):
        if a in seen:
            out.append(
                f.duplicate(
                    f"status.addresses[{i}]",
                    f.GoRaw(
                        f"core.NodeAddress{{Type:{f.go_quote(str(a.get('type') or ''))}, "
                        f"Address:{f.go_quote(str(a.get('address') or ''))}}}"
                    ),
                )
            )
        seen.append(a)
    old_cidrs = os_.get("podCIDRs") or []
    if old_cidrs and (ns.get("podCIDRs") or []) != old_cidrs:
        out.append(
            f.forbidden(
                "spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'
            )
        )
    if os_.get("providerID") and os_.get("providerID") != ns.get("providerID"):
        out.append(
            f.forbidden(
                "spec.providerID", 'node updates may not change providerID except from "" to valid'
            )
        )
    spec = _map(new.get("spec"))
    out.extend(_validate_taints(spec.get("taints"), "metadata.taints"))
    return out


# --- ConfigMap / Secret -----------------------------------------------------------------------


def _decoded_len(v: Any) -> int:
    try:
        return len(base64.b64decode(str(v), validate=True))
    except (binascii.Error, ValueError):
        return len(str(v))


def validate_configmap(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    data, binary = _map(obj.get("data")), _map(obj.get("binaryData"))
    total = 0
    for k, v in data.items():
        out.extend(f.invalid(f"data[{k}]", k, m) for m in meta.is_config_map_key(str(k)))
        if k in binary:
            out.append(f.invalid(f"data[{k}]", k, "duplicate of key present in binaryData"))
        total += len(str(v).encode())
    for k, v in binary.items():
        out.extend(f.invalid(f"binaryData[{k}]", k, m) for m in meta.is_config_map_key(str(k)))
        total += _decoded_len(v)
    if total > MAX_SECRET_SIZE:
        out.append(f.too_long("", MAX_SECRET_SIZE))
    return out


def _immutable_rules(
    new: Mapping[str, Any], old: Mapping[str, Any], keys: tuple[str, ...]
) -> list[Cause]:
    out: list[Cause] = []
    if old.get("immutable") is True:
        msg = "field is immutable when `immutable` is set"
        if new.get("immutable") is not True:
            out.append(f.forbidden("immutable", msg))
        for k in keys:
            if (new.get(k) or {}) != (old.get(k) or {}):
                out.append(f.forbidden(k, msg))
    return out


def validate_configmap_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(_immutable_rules(new, old, ("data", "binaryData")))
    return out + validate_configmap(new)


_SECRET_REQUIRED_KEYS = {
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
}


def validate_secret(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    data = _map(obj.get("data"))
    total = 0
    for k, v in data.items():
        out.extend(f.invalid(f"data[{k}]", k, m) for m in meta.is_config_map_key(str(k)))
        total += _decoded_len(v)
    if total > MAX_SECRET_SIZE:
        out.append(f.too_long("data", MAX_SECRET_SIZE))
    stype = str(obj.get("type") or "")
    annotations = _map(_map(obj.get("metadata")).get("annotations"))
    if stype == "kubernetes.io/service-account-token":
        if not annotations.get("kubernetes.io/service-account.name"):
            out.append(f.required("metadata.annotations[kubernetes.io/service-account.name]"))
    elif stype == "kubernetes.io/basic-auth":
        if "username" not in data and "password" not in data:
            out.append(f.required("data[username]"))
            out.append(f.required("data[password]"))
    elif stype == "kubernetes.io/ssh-auth":
        if not data.get("ssh-privatekey"):
            out.append(f.required("data[ssh-privatekey]"))
    else:
        for k in _SECRET_REQUIRED_KEYS.get(stype, ()):
            if k not in data:
                out.append(f.required(f"data[{k}]"))
    return out


def validate_secret_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(meta.validate_immutable("type", new.get("type") or "", old.get("type") or ""))
    out.extend(_immutable_rules(new, old, ("data",)))
    return out + validate_secret(new)


# --- Lease, ServiceAccount, Event -----------------------------------------------------------


def validate_lease(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _lease_spec(_map(obj.get("spec")))


def _lease_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    d = spec.get("leaseDurationSeconds")
    if isinstance(d, int) and d <= 0:
        out.append(f.invalid("spec.leaseDurationSeconds", d, "must be greater than 0"))
    t = spec.get("leaseTransitions")
    if isinstance(t, int) and t < 0:
        out.append(f.invalid("spec.leaseTransitions", t, "must be greater than or equal to 0"))
    return out


def validate_lease_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _lease_spec(_map(new.get("spec")))


def validate_service_account(obj: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)


def validate_service_account_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + validate_service_account(new)


def validate_event(obj: Mapping[str, Any]) -> list[Cause]:
    """core/v1 Event: name, and ``involvedObject.namespace`` matching the event's."""
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    ns = str(_map(obj.get("metadata")).get("namespace") or "")
    inv = _map(obj.get("involvedObject") or obj.get("regarding"))
    inv_ns = str(inv.get("namespace") or "")
    field_name = "involvedObject" if "involvedObject" in obj else "regarding"
    if inv_ns and ns and inv_ns != ns:
        out.append(f.invalid(f"{field_name}.namespace", inv_ns, "does not match event.namespace"))
    return out


def validate_event_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + validate_event(new)
