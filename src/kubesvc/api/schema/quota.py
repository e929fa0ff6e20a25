"""Structural schema of core/v1 ResourceQuota (upstream k8s.io/api core/v1 types.go,
v1.32): ``spec.hard`` / ``status.hard`` / ``status.used`` quantity maps, the scopes and
the scope selector.

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import C, M, S, arr, defn, qmap, ref

defn(
    C + "ResourceQuota",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "ResourceQuotaSpec"),
        "status": ref(C + "ResourceQuotaStatus"),
    },
)

defn(
    C + "ResourceQuotaSpec",
    {
        "hard": qmap,
        "scopeSelector": ref(C + "ScopeSelector"),
        "scopes": arr(S, list_type="atomic"),
    },
)

defn(C + "ScopeSelector",
     {"matchExpressions": arr(ref(C + "ScopedResourceSelectorRequirement"),
                              list_type="atomic")})

defn(C + "ScopedResourceSelectorRequirement",
     {"operator": S, "scopeName": S, "values": arr(S, list_type="atomic")},
     required=("scopeName", "operator"))

defn(C + "ResourceQuotaStatus", {"hard": qmap, "used": qmap})
