"""Validation of rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding and
ClusterRoleBinding, as upstream's pkg/apis/rbac/validation (names are path segments;
policy rules need verbs and either resources with API groups or non-resource URLs; a
binding's roleRef and subjects are checked by kind; a binding's roleRef is immutable).
Dispatched by :mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation.apps import validate_label_selector
from kubesvc.api.validation.field import GoRaw
from kubesvc.errors import Cause

GROUP = "rbac.authorization.k8s.io"


def _map(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _rbac_name(name: str, prefix: bool) -> list[str]:
    return meta.validate_path_segment_name(name, prefix)


def validate_policy_rule(rule: Mapping[str, Any], namespaced: bool, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not _list(rule.get("verbs")):
        out.append(f.required(f.child(path, "verbs"), "verbs must contain at least one value"))
    urls = _list(rule.get("nonResourceURLs"))
    if urls:
        if namespaced:
            out.append(f.invalid(f.child(path, "nonResourceURLs"), urls,
                                 "namespaced rules cannot apply to non-resource URLs"))
        if (_list(rule.get("apiGroups")) or _list(rule.get("resources"))
                or _list(rule.get("resourceNames"))):
            out.append(f.invalid(f.child(path, "nonResourceURLs"), urls,
                                 "rules cannot apply to both regular resources and "
                                 "non-resource URLs"))
        return out
    if not _list(rule.get("apiGroups")):
        out.append(f.required(f.child(path, "apiGroups"),
                              "resource rules must supply at least one api group"))
    if not _list(rule.get("resources")):
        out.append(f.required(f.child(path, "resources"),
                              "resource rules must supply at least one resource"))
    return out


def _rules(obj: Mapping[str, Any], namespaced: bool) -> list[Cause]:
    out: list[Cause] = []
    for i, rule in enumerate(_list(obj.get("rules"))):
        out += validate_policy_rule(_map(rule), namespaced, f"rules[{i}]")
    return out


def validate_role(obj: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta(obj, True, _rbac_name) + _rules(obj, True)


def validate_role_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + validate_role(new)


def validate_cluster_role(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, False, _rbac_name) + _rules(obj, False)
    agg = obj.get("aggregationRule")
    if isinstance(agg, Mapping):
        selectors = _list(agg.get("clusterRoleSelectors"))
        if not selectors:
            out.append(f.required("aggregationRule.clusterRoleSelectors",
                                  "at least one clusterRoleSelector required if "
                                  "aggregationRule is non-nil"))
        for i, sel in enumerate(selectors):
            out += validate_label_selector(_map(sel), f"aggregationRule.clusterRoleSelectors[{i}]")
    return out


def validate_cluster_role_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + validate_cluster_role(new)


def _subject(s: Mapping[str, Any], namespaced: bool, path: str) -> list[Cause]:
    out: list[Cause] = []
    name = str(s.get("name") or "")
    kind = str(s.get("kind") or "")
    group = str(s.get("apiGroup") or "")
    if not name:
        out.append(f.required(f.child(path, "name")))
    if kind == "ServiceAccount":
        if name:
            out += [f.invalid(f.child(path, "name"), name, m)
                    for m in meta.name_is_dns_subdomain(name, False)]
        if group:
            out.append(f.not_supported(f.child(path, "apiGroup"), group, [""]))
        if not namespaced and not s.get("namespace"):
            out.append(f.required(f.child(path, "namespace")))
    elif kind in ("User", "Group"):
        if group != GROUP:
            out.append(f.not_supported(f.child(path, "apiGroup"), group, [GROUP]))
    else:
        out.append(f.not_supported(f.child(path, "kind"), kind,
                                   ["ServiceAccount", "User", "Group"]))
    return out


def _binding(obj: Mapping[str, Any], namespaced: bool) -> list[Cause]:
    out = meta.validate_object_meta(obj, namespaced, _rbac_name)
    ref = _map(obj.get("roleRef"))
    group = str(ref.get("apiGroup") or "")
    if group != GROUP:
        out.append(f.not_supported("roleRef.apiGroup", group, [GROUP]))
    kind = str(ref.get("kind") or "")
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if kind not in kinds:
        out.append(f.not_supported("roleRef.kind", kind, kinds))
    name = str(ref.get("name") or "")
    if not name:
        out.append(f.required("roleRef.name"))
    else:
        out += [f.invalid("roleRef.name", name, m) for m in _rbac_name(name, False)]
    for i, s in enumerate(_list(obj.get("subjects"))):
        out += _subject(_map(s), namespaced, f"subjects[{i}]")
    return out


def _role_ref_go(ref: Mapping[str, Any]) -> GoRaw:
    return GoRaw("rbac.RoleRef{APIGroup:" + f.go_quote(str(ref.get("apiGroup") or ""))
                 + ", Kind:" + f.go_quote(str(ref.get("kind") or ""))
                 + ", Name:" + f.go_quote(str(ref.get("name") or "")) + "}")


def _binding_update(new: Mapping[str, Any], old: Mapping[str, Any],
                    namespaced: bool) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old) + _binding(new, namespaced)
    nref, oref = _map(new.get("roleRef")), _map(old.get("roleRef"))
    keys = ("apiGroup", "kind", "name")
    if any((nref.get(k) or "") != (oref.get(k) or "") for k in keys):
        out.append(f.invalid("roleRef", _role_ref_go(nref), "cannot change roleRef"))
    return out


def validate_role_binding(obj: Mapping[str, Any]) -> list[Cause]:
    return _binding(obj, True)


def validate_role_binding_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _binding_update(new, old, True)


def validate_cluster_role_binding(obj: Mapping[str, Any]) -> list[Cause]:
    return _binding(obj, False)


def validate_cluster_role_binding_update(new: Mapping[str, Any],
                                         old: Mapping[str, Any]) -> list[Cause]:
    return _binding_update(new, old, False)
