"""Upstream's pkg/apis/rbac/validation messages for the RBAC kinds."""

from __future__ import annotations

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create, validate_update

G = "rbac.authorization.k8s.io"


def _msgs(key: str, obj: dict[str, object]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in validate_create(key, obj)]


def test_cluster_role_rules_and_aggregation() -> None:
    obj = {"metadata": {"name": "r"}, "rules": [
        {"verbs": ["get"], "nonResourceURLs": ["/x"], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""]}],
        "aggregationRule": {"clusterRoleSelectors": []}}
    assert _msgs(f"clusterroles.{G}", obj) == [
        'rules[0].nonResourceURLs: Invalid value: []string{"/x"}: rules cannot apply to both '
        "regular resources and non-resource URLs",
        "rules[1].resources: Required value: resource rules must supply at least one resource",
        "aggregationRule.clusterRoleSelectors: Required value: at least one clusterRoleSelector "
        "required if aggregationRule is non-nil",
    ]


def test_binding_role_ref_and_subjects() -> None:
    obj: dict[str, object] = {
        "metadata": {"name": "b"},
        "roleRef": {"kind": "Role", "name": "x"},
        "subjects": [{"kind": "User", "name": "u"}, {"kind": "ServiceAccount", "name": "sa"},
                     {"kind": "Robot", "name": "r"}]}
    apply_defaults(f"clusterrolebindings.{G}", obj)
    assert _msgs(f"clusterrolebindings.{G}", obj) == [
        'roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"',
        "subjects[1].namespace: Required value",
        'subjects[2].kind: Unsupported value: "Robot": supported values: "ServiceAccount", '
        '"User", "Group"',
    ]
    ok = {"metadata": {"name": "b", "namespace": "d"},
          "roleRef": {"apiGroup": G, "kind": "Role", "name": "x"},
          "subjects": [{"kind": "ServiceAccount", "name": "sa"}]}
    assert _msgs(f"rolebindings.{G}", ok) == []
    changed = {**ok, "roleRef": {"apiGroup": G, "kind": "Role", "name": "y"}}
    assert [c.message for c in validate_update(f"rolebindings.{G}", changed, ok)][-1:] == [
        'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", '
        'Name:"y"}: cannot change roleRef']
