"""Audit policy parsing and matching: the first matching rule gives the level, rules
match on verbs, users, groups, namespaces and group/resources (with subresources and
wildcards), omitStages drops, and a bad file names the field."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc.apiserver.http.audit import AuditConfigError, Rule, parse_policy
from kubesvc.apiserver.http.auth import User


def policy(*rules: dict[str, Any], **top: Any) -> tuple[Rule, ...]:
    return parse_policy({"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                         "rules": list(rules), **top})


def level(rules: tuple[Rule, ...], verb: str, user: User | None, ref: dict[str, str]) -> str:
    for r in rules:
        if r.matches(verb, user, ref):
            return "None" if r.omit else r.level
    return "None"


ADMIN = User("admin", "", ("system:masters",))
NODE = User("system:bootstrap:abcdef", "", ("system:bootstrappers",))


def test_first_match_wins() -> None:
    rules = policy(
        {"level": "None", "users": ["system:kube-proxy"]},
        {"level": "RequestResponse", "resources": [{"group": "", "resources": ["pods/status"]}]},
        {"level": "Request", "resources": [{"group": "apps", "resources": ["*"]}],
         "namespaces": ["prod"]},
        {"level": "Metadata", "userGroups": ["system:bootstrappers"]},
        {"level": "None", "verbs": ["patch"]},
        {"level": "Request", "omitStages": ["ResponseComplete"], "verbs": ["update"]},
        {"level": "Metadata"},
    )
    pod_status = {"resource": "pods", "subresource": "status", "namespace": "a"}
    assert level(rules, "patch", ADMIN, pod_status) == "RequestResponse"
    assert level(rules, "patch", User("system:kube-proxy", "", ()), pod_status) == "None"
    deploy = {"resource": "deployments", "apiGroup": "apps", "namespace": "prod"}
    assert level(rules, "create", ADMIN, deploy) == "Request"
    assert level(rules, "create", NODE, {**deploy, "namespace": "dev"}) == "Metadata"
    assert level(rules, "patch", ADMIN, {**deploy, "namespace": "dev"}) == "None"
    assert level(rules, "update", ADMIN, {"resource": "services"}) == "None"  # omitted
    assert level(rules, "create", ADMIN, {"resource": "services"}) == "Metadata"


@pytest.mark.parametrize(("doc", "field"), [
    ({"kind": "Policy", "apiVersion": "v1", "rules": [{"level": "Metadata"}]},
     "kind/apiVersion"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1"}, "rules: Required value"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1", "rules": [{"level": "Everything"}]},
     "rules[0].level: Unsupported value: 'Everything'"),
    ({"kind": "Policy", "apiVersion": "audit.k8s.io/v1",
      "rules": [{"level": "None"}, {"level": "Metadata", "verbs": "create"}]},
     "rules[1].verbs: Invalid value"),
])
def test_bad_policy_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(AuditConfigError, match=None) as exc:
        parse_policy(doc)
    assert field in str(exc.value)
