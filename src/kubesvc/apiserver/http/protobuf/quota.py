"""Protobuf field tables of core/v1 ResourceQuota, written by hand from upstream's
``k8s.io/api/core/v1/generated.proto`` (same shape as the generated :mod:`.schema`), so
``kubectl create quota`` (which posts protobuf) decodes."""

from __future__ import annotations

_C = "k8s.io.api.core.v1."
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_QUANTITIES = "string,k8s.io.apimachinery.pkg.api.resource.Quantity"

ROOTS: dict[tuple[str, str], str] = {
    ("v1", "ResourceQuota"): _C + "ResourceQuota",
}

MESSAGES: dict[str, dict[int, tuple[str, str, int]]] = {
    _C + "ResourceQuota": {
        1: ("metadata", _META + "ObjectMeta", 0),
        2: ("spec", _C + "ResourceQuotaSpec", 0),
        3: ("status", _C + "ResourceQuotaStatus", 0),
    },
    _C + "ResourceQuotaSpec": {
        1: ("hard", _QUANTITIES, 2),
        2: ("scopes", "string", 1),
        3: ("scopeSelector", _C + "ScopeSelector", 0),
    },
    _C + "ResourceQuotaStatus": {
        1: ("hard", _QUANTITIES, 2),
        2: ("used", _QUANTITIES, 2),
    },
    _C + "ScopeSelector": {
        1: ("matchExpressions", _C + "ScopedResourceSelectorRequirement", 1),
    },
    _C + "ScopedResourceSelectorRequirement": {
        1: ("scopeName", "string", 0),
        2: ("operator", "string", 0),
        3: ("values", "string", 1),
    },
}
