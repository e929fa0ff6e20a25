"""The RBAC kinds through the real kubectl: ``kubectl create role/clusterrole/rolebinding/
clusterrolebinding`` (protobuf or JSON bodies), ``get`` tables as upstream prints them,
``apply`` validation, and upstream's validation messages."""

from __future__ import annotations

import json

from tests.integration.apiserver.harness import Kubectl

AGG = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: agg-parent
aggregationRule:
  clusterRoleSelectors:
  - matchLabels:
      example.com/agg: "true"
rules: []
"""


def test_create_and_get_roles_and_bindings(kubectl: Kubectl) -> None:
    kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
    kubectl("create", "clusterrole", "svc-reader", "--verb=get", "--resource=services")
    kubectl("create", "rolebinding", "rb1", "--role=pod-reader", "--user=alice",
            "--group=devs", "--serviceaccount=default:robot")
    kubectl("create", "clusterrolebinding", "crb1", "--clusterrole=svc-reader", "--user=bob")
    role = json.loads(kubectl("get", "role", "pod-reader", "-o", "json").stdout)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list"]}]
    out = kubectl("get", "rolebinding", "rb1", "-o", "wide").stdout.splitlines()
    assert out[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert out[1].split()[:2] == ["rb1", "Role/pod-reader"]
    assert out[1].split()[3:] == ["alice", "devs", "default/robot"]
    out = kubectl("get", "clusterrolebinding", "crb1").stdout.splitlines()
    assert out[0].split() == ["NAME", "ROLE", "AGE"]
    assert out[1].split()[:2] == ["crb1", "ClusterRole/svc-reader"]
    out = kubectl("get", "role").stdout.splitlines()
    assert out[0].split() == ["NAME", "CREATED", "AT"]
    assert out[1].startswith("pod-reader")
    rb = json.loads(kubectl("get", "rolebinding", "rb1", "-o", "json").stdout)
    assert rb["subjects"][0] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                                 "name": "alice"}


def test_apply_validates_aggregation_rule(kubectl: Kubectl) -> None:
    kubectl("apply", "-f", "-", input=AGG)
    bad = AGG.replace("rules: []", "rules: []\nbogus: 1")
    proc = kubectl("apply", "-f", "-", input=bad.replace("agg-parent", "agg2"), check=False)
    assert proc.returncode != 0
    assert 'unknown field "bogus"' in proc.stderr


def test_validation_messages(kubectl: Kubectl) -> None:
    bad = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: bad
rules:
- verbs: [get]
  nonResourceURLs: ["/healthz"]
- apiGroups: [""]
  verbs: []
"""
    proc = kubectl("create", "-f", "-", input=bad, check=False)
    assert proc.returncode != 0
    assert ('rules[0].nonResourceURLs: Invalid value: []string{"/healthz"}: namespaced rules '
            'cannot apply to non-resource URLs') in proc.stderr
    assert "rules[1].verbs: Required value: verbs must contain at least one value" in proc.stderr
    assert ("rules[1].resources: Required value: resource rules must supply at least one "
            "resource") in proc.stderr
    kubectl("create", "rolebinding", "rb-imm", "--clusterrole=view", "--user=x")
    proc = kubectl("patch", "rolebinding", "rb-imm", "-p", '{"roleRef":{"name":"edit"}}',
                   check=False)
    assert proc.returncode != 0
    assert ('roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
            'Kind:"ClusterRole", Name:"edit"}: cannot change roleRef') in proc.stderr
