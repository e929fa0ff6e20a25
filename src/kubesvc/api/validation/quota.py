"""core/v1 ResourceQuota validation (upstream pkg/apis/core/validation
ValidateResourceQuota[Update|StatusUpdate], v1.32): every ``hard`` / ``used`` key is a
qualified name and, without a ``/``, a standard quota resource; every value is a
non-negative quantity, an integer for the object counts; scopes are upstream's.
Called through :mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api import quota as q
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats as fm
from kubesvc.errors import Cause

STANDARD = frozenset({
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.storage", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
    "limits.ephemeral-storage", "pods", "resourcequotas", "services",
    "replicationcontrollers", "secrets", "persistentvolumeclaims", "configmaps",
    "services.nodeports", "services.loadbalancers",
})
INTEGER = frozenset({"pods", "resourcequotas", "services", "replicationcontrollers",
                     "secrets", "configmaps", "persistentvolumeclaims",
                     "services.nodeports", "services.loadbalancers"})
SCOPES = ("BestEffort", "CrossNamespacePodAffinity", "NotBestEffort", "NotTerminating",
          "PriorityClass", "Terminating")
NOT_STANDARD = "must be a standard resource for quota"


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _resource_list(path: str, values: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    for k, v in values.items():
        p = f.key(path, str(k))
        out.extend(f.invalid(p, k, m) for m in fm.is_qualified_name(str(k)))
        if "/" not in str(k) and str(k) not in STANDARD:
            out.append(f.invalid(p, k, NOT_STANDARD))
        try:
            value = q.parse_quantity(v)
        except ValueError:
            out.append(f.invalid(p, v, q.QUANTITY_ERROR))
            continue
        if value < 0:
            out.append(f.invalid(p, str(v), "must be greater than or equal to 0"))
        elif (str(k) in INTEGER or "/" in str(k)) and value.denominator != 1:
            out.append(f.invalid(p, str(v), "must be an integer"))
    return out


def _spec(spec: Mapping[str, Any]) -> list[Cause]:
    out = _resource_list("spec.hard", _m(spec.get("hard")))
    scopes = spec.get("scopes") or []
    for i, s in enumerate(scopes if isinstance(scopes, list) else []):
        if s not in SCOPES:
            out.append(f.invalid(f.index("spec.scopes", i), s, "unsupported scope"))
    return out


def _status(status: Mapping[str, Any]) -> list[Cause]:
    return (_resource_list("status.hard", _m(status.get("hard")))
            + _resource_list("status.used", _m(status.get("used"))))


def validate_resource_quota(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _spec(_m(obj.get("spec"))) + _status(_m(obj.get("status")))


def validate_resource_quota_update(new: Mapping[str, Any],
                                   old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(_spec(_m(new.get("spec"))))
    if (_m(new.get("spec")).get("scopes") or []) != (_m(old.get("spec")).get("scopes") or []):
        out.append(f.invalid("spec.scopes", _m(new.get("spec")).get("scopes"),
                             "field is immutable"))
    return out


def validate_resource_quota_status_update(new: Mapping[str, Any],
                                          old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _status(_m(new.get("status")))


__all__ = ["validate_resource_quota", "validate_resource_quota_status_update",
           "validate_resource_quota_update"]
