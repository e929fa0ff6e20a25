"""Pure RBAC evaluation: request attributes as upstream's RequestInfoFactory derives them,
rule matching with wildcards, subresources, names and non-resource URLs, the decision over
bindings (and its reasons), Forbidden messages, escalation coverage, aggregation and the
bootstrap policy's reconciliation."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from kubesvc.api.rbac import bootstrap
from kubesvc.api.rbac.aggregation import aggregated_rules
from kubesvc.api.rbac.attributes import (
    Attributes,
    forbidden_status_message,
    request_attributes,
)
from kubesvc.api.rbac.authorizer import authorize, rules_for
from kubesvc.api.rbac.escalation import escalation_message, missing_rules
from kubesvc.api.rbac.rules import rule_allows

Obj = dict[str, Any]


def _ra(method: str, path: str, **query: str) -> Attributes:
    return request_attributes(method, path, query, user="u", groups=())


@pytest.mark.parametrize(("method", "path", "query", "want"), [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"watch": "true"},
     ("watch", "", "pods", "", "default", "")),
    ("GET", "/api/v1/namespaces/default/pods", {"fieldSelector": "metadata.name=p1"},
     ("list", "", "pods", "", "default", "p1")),
    ("GET", "/api/v1/namespaces/default/pods/p1", {}, ("get", "", "pods", "", "default", "p1")),
    ("GET", "/api/v1/namespaces/default/pods/p1/log", {},
     ("get", "", "pods", "log", "default", "p1")),
    ("DELETE", "/api/v1/namespaces/default/pods", {},
     ("deletecollection", "", "pods", "", "default", "")),
    ("DELETE", "/api/v1/namespaces/default/pods/p1", {},
     ("delete", "", "pods", "", "default", "p1")),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", {},
     ("patch", "apps", "deployments", "scale", "ns", "d")),
    ("POST", "/api/v1/namespaces", {}, ("create", "", "namespaces", "", "", "")),
    ("GET", "/api/v1/namespaces/ns1", {}, ("get", "", "namespaces", "", "ns1", "ns1")),
    ("PUT", "/api/v1/namespaces/ns1/finalize", {},
     ("update", "", "namespaces", "finalize", "ns1", "ns1")),
    ("GET", "/api/v1/watch/namespaces/default/services", {},
     ("watch", "", "services", "", "default", "")),
    ("GET", "/api/v1/nodes", {}, ("list", "", "nodes", "", "", "")),
    ("GET", "/api/v1/namespaces/default/services/s:80/proxy/a/b", {},
     ("get", "", "services", "proxy", "default", "s:80")),
])
def test_request_attributes(method: str, path: str, query: dict[str, str],
                            want: tuple[str, ...]) -> None:
    a = request_attributes(method, path, query, user="u", groups=())
    assert a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == want


@pytest.mark.parametrize("path", ["/api", "/api/v1", "/apis", "/apis/apps/v1", "/healthz",
                                  "/openapi/v3/apis/apps/v1", "/version"])
def test_non_resource_paths(path: str) -> None:
    a = _ra("GET", path)
    assert not a.resource_request
    assert (a.verb, a.path) == ("get", path)


def test_rule_matching() -> None:
    pods = _ra("GET", "/api/v1/namespaces/d/pods/p1")
    assert rule_allows(pods, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
    assert rule_allows(pods, {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]})
    assert not rule_allows(pods, {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]})
    assert not rule_allows(pods, {"verbs": ["get"], "apiGroups": ["apps"],
                                  "resources": ["pods"]})
    assert rule_allows(pods, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"],
                              "resourceNames": ["p1"]})
    assert not rule_allows(pods, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"],
                                  "resourceNames": ["p2"]})
    log = _ra("GET", "/api/v1/namespaces/d/pods/p1/log")
    assert not rule_allows(log, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
    assert rule_allows(log, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]})
    assert rule_allows(log, {"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]})
    assert not rule_allows(log, {"verbs": ["get"], "apiGroups": [""], "resources": ["*/status"]})
    # a list named by fieldSelector is held back by resourceNames like a get
    named = _ra("GET", "/api/v1/namespaces/d/pods", fieldSelector="metadata.name=p1")
    assert rule_allows(named, {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"],
                               "resourceNames": ["p1"]})
    health = _ra("GET", "/healthz/etcd")
    assert rule_allows(health, {"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]})
    assert rule_allows(health, {"verbs": ["get"], "nonResourceURLs": ["*"]})
    assert not rule_allows(health, {"verbs": ["get"], "nonResourceURLs": ["/healthz"]})
    assert not rule_allows(health, {"verbs": ["post"], "nonResourceURLs": ["/healthz/*"]})


class Source:
    def __init__(self, objs: Iterable[Obj]) -> None:
        self.objs = list(objs)

    def _of(self, kind: str) -> list[Obj]:
        return [o for o in self.objs if o["kind"] == kind]

    def cluster_role(self, name: str) -> Obj | None:
        return next((o for o in self._of("ClusterRole") if o["metadata"]["name"] == name), None)

    def role(self, namespace: str, name: str) -> Obj | None:
        return next((o for o in self._of("Role") if o["metadata"] == {
            "name": name, "namespace": namespace}), None)

    def cluster_role_bindings(self, keys: object = None) -> list[Obj]:
        return self._of("ClusterRoleBinding")

    def role_bindings(self, namespace: str, keys: object = None) -> list[Obj]:
        return [o for o in self._of("RoleBinding") if o["metadata"]["namespace"] == namespace]


def _binding(kind: str, name: str, ref_kind: str, ref: str, subjects: list[Obj],
             ns: str = "") -> Obj:
    md: Obj = {"name": name, **({"namespace": ns} if ns else {})}
    return {"kind": kind, "metadata": md, "roleRef": {"kind": ref_kind, "name": ref},
            "subjects": subjects}


SOURCE = Source([
    {"kind": "ClusterRole", "metadata": {"name": "reader"},
     "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["services"]}]},
    {"kind": "Role", "metadata": {"name": "pods", "namespace": "a"},
     "rules": [{"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}]},
    _binding("ClusterRoleBinding", "readers", "ClusterRole", "reader",
             [{"kind": "Group", "name": "readers"}]),
    _binding("RoleBinding", "alice-pods", "Role", "pods", [{"kind": "User", "name": "alice"}],
             "a"),
    _binding("RoleBinding", "sa-reader", "ClusterRole", "reader",
             [{"kind": "ServiceAccount", "name": "robot"}], "b"),
    _binding("RoleBinding", "dangling", "Role", "gone", [{"kind": "User", "name": "alice"}],
             "b"),
])


def _attrs(user: str, groups: tuple[str, ...], verb: str, resource: str, ns: str = "",
           name: str = "") -> Attributes:
    return Attributes(user, groups, verb, resource=resource, namespace=ns, name=name)


def test_decisions_and_reasons() -> None:
    d = authorize(SOURCE, _attrs("alice", (), "delete", "pods", "a", "p"))
    assert d.allowed
    assert d.reason == 'RBAC: allowed by RoleBinding "alice-pods/a" of Role "pods" to User "alice"'
    assert not authorize(SOURCE, _attrs("alice", (), "delete", "pods", "c")).allowed
    assert not authorize(SOURCE, _attrs("bob", (), "delete", "pods", "a")).allowed
    d = authorize(SOURCE, _attrs("bob", ("readers",), "list", "services"))
    assert d.allowed and "ClusterRoleBinding \"readers\"" in d.reason
    assert not authorize(SOURCE, _attrs("bob", ("readers",), "delete", "services", "x")).allowed
    # a ServiceAccount subject without namespace is the RoleBinding's namespace's
    sa = "system:serviceaccount:b:robot"
    assert authorize(SOURCE, _attrs(sa, (), "get", "services", "b")).allowed
    assert not authorize(SOURCE, _attrs("system:serviceaccount:c:robot", (), "get", "services",
                                        "b")).allowed
    # a missing role is the reason of a denial
    d = authorize(SOURCE, _attrs("alice", (), "get", "secrets", "b"))
    assert d == type(d)(False, 'RBAC: role.rbac.authorization.k8s.io "gone" not found')
    assert authorize(Source([]), _attrs("root", ("system:masters",), "delete", "nodes")).allowed
    rules, errs = rules_for(SOURCE, "alice", (), "b")
    assert rules == [] and errs == ['role.rbac.authorization.k8s.io "gone" not found']


def test_forbidden_messages() -> None:
    a = Attributes("alice", (), "list", resource="services", namespace="default")
    assert forbidden_status_message(a) == (
        'services is forbidden: User "alice" cannot list resource "services" in API group "" '
        'in the namespace "default"')
    a = Attributes("alice", (), "get", api_group="apps", resource="deployments",
                   subresource="scale", name="web")
    assert forbidden_status_message(a) == (
        'deployments.apps "web" is forbidden: User "alice" cannot get resource '
        '"deployments/scale" in API group "apps" at the cluster scope')
    a = Attributes("alice", (), "get", resource_request=False, path="/metrics")
    assert forbidden_status_message(a, "RBAC: x") == (
        'forbidden: User "alice" cannot get path "/metrics": RBAC: x')


def test_escalation_coverage_and_message() -> None:
    owner = [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/status"]},
             {"verbs": ["get"], "nonResourceURLs": ["/logs/*"]},
             {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
              "resourceNames": ["a"]}]
    assert missing_rules(owner, [{"verbs": ["get"], "apiGroups": [""],
                                  "resources": ["pods", "services/status"]}]) == []
    assert missing_rules(owner, [{"verbs": ["get"], "nonResourceURLs": ["/logs/x"]}]) == []
    assert missing_rules(owner, [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"],
                                  "resourceNames": ["a"]}]) == []
    missing = missing_rules(owner, [
        {"verbs": ["get", "delete", "patch"], "apiGroups": [""], "resources": ["pods"]},
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]},
    ])
    assert escalation_message("carol", ["g1", "system:authenticated"], missing) == (
        'user "carol" (groups=["g1" "system:authenticated"]) is attempting to grant RBAC '
        "permissions not currently held:\n"
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete" "patch"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')


def test_aggregation_collects_matching_roles_in_name_order() -> None:
    parent = {"metadata": {"name": "p"}, "aggregationRule": {"clusterRoleSelectors": [
        {"matchLabels": {"agg": "yes"}}]}, "rules": []}
    r1 = {"verbs": ["get"], "apiGroups": [""], "resources": ["a"]}
    r2 = {"verbs": ["get"], "apiGroups": [""], "resources": ["b"]}
    roles = [parent,
             {"metadata": {"name": "z", "labels": {"agg": "yes"}}, "rules": [r2, r1]},
             {"metadata": {"name": "m", "labels": {"agg": "yes"}}, "rules": [r1]},
             {"metadata": {"name": "other", "labels": {"agg": "no"}}, "rules": [r2]}]
    assert aggregated_rules(parent, roles) == [r1, r2]
    assert aggregated_rules(roles[1], roles) is None


def test_bootstrap_reconcile_adds_what_is_missing_and_respects_autoupdate() -> None:
    want = next(r for r in bootstrap.cluster_roles() if r["metadata"]["name"] == "cluster-admin")
    have = {**want, "rules": [want["rules"][0]], "metadata": {
        "name": "cluster-admin", "annotations": {bootstrap.AUTOUPDATE: "true"}}}
    out = bootstrap.reconcile_role(have, want)
    assert out is not None and out["rules"] == want["rules"]
    assert out["metadata"]["labels"] == {bootstrap.BOOTSTRAP_LABEL: "rbac-defaults"}
    assert bootstrap.reconcile_role(out, want) is None
    frozen = {**have, "metadata": {"name": "cluster-admin",
                                   "annotations": {bootstrap.AUTOUPDATE: "false"}}}
    assert bootstrap.reconcile_role(frozen, want) is None
    crb = bootstrap.cluster_role_bindings()[0]
    mine = {**crb, "subjects": [{"kind": "User", "name": "me", "apiGroup": bootstrap.GROUP}]}
    out = bootstrap.reconcile_binding(mine, crb)
    assert out is not None and len(out["subjects"]) == 2
