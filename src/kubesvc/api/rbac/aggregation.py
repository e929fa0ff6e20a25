"""The rules of an aggregated ClusterRole, as upstream's ClusterRoleAggregation
controller computes them: the rules of every other ClusterRole whose labels match one of
its ``aggregationRule.clusterRoleSelectors``, in name order, each rule once. Pure; the
API server's controller (``kubesvc.apiserver.authz``) writes the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kubesvc.api.selectors import from_label_selector_dict

Obj = Mapping[str, Any]


def aggregated_rules(role: Obj, all_roles: Iterable[Obj]) -> list[Any] | None:
    """The rules ``role`` should hold, or None when it is not aggregated."""
    agg = role.get("aggregationRule")
    if not isinstance(agg, Mapping):
        return None
    selectors = []
    for s in agg.get("clusterRoleSelectors") or []:
        try:
            selectors.append(from_label_selector_dict(s))
        except Exception:  # an invalid selector matches nothing, as upstream skips it
            continue
    me = (role.get("metadata") or {}).get("name")
    rules: list[Any] = []
    others = sorted(all_roles, key=lambda r: str((r.get("metadata") or {}).get("name")))
    for other in others:
        md = other.get("metadata") or {}
        if md.get("name") == me:
            continue
        labels = md.get("labels") or {}
        if not any(sel.matches(labels) for sel in selectors):
            continue
        for r in other.get("rules") or []:
            if r not in rules:
                rules.append(r)
    return rules
