"""Matching one PolicyRule against request attributes, and a binding subject against a
user — upstream's ``RuleAllows`` and the ``rbacv1helpers`` matchers (``*`` wildcards,
``*/subresource`` resources, resourceNames, non-resource URLs with a trailing ``*``) and
``appliesTo`` (User, Group, ServiceAccount). Pure; used by :mod:`.authorizer` and
:mod:`.escalation`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc.api.rbac.attributes import Attributes

Rule = Mapping[str, Any]
ALL = "*"


def _strs(rule: Rule, key: str) -> Sequence[str]:
    v = rule.get(key)
    return [str(x) for x in v] if isinstance(v, list) else []


def verb_matches(rule: Rule, verb: str) -> bool:
    return any(v == ALL or v == verb for v in _strs(rule, "verbs"))


def api_group_matches(rule: Rule, group: str) -> bool:
    return any(g == ALL or g == group for g in _strs(rule, "apiGroups"))


def resource_matches(rule: Rule, combined: str, subresource: str) -> bool:
    for r in _strs(rule, "resources"):
        if r == ALL or r == combined:
            return True
        if subresource and r == f"*/{subresource}":
            return True
    return False


def resource_name_matches(rule: Rule, name: str) -> bool:
    names = _strs(rule, "resourceNames")
    return not names or name in names


def non_resource_url_matches(rule: Rule, path: str) -> bool:
    for u in _strs(rule, "nonResourceURLs"):
        if u == ALL or u == path:
            return True
        if u.endswith("*") and path.startswith(u[:-1]):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Rule) -> bool:
    if attrs.resource_request:
        combined = attrs.resource + (f"/{attrs.subresource}" if attrs.subresource else "")
        return (verb_matches(rule, attrs.verb) and api_group_matches(rule, attrs.api_group)
                and resource_matches(rule, combined, attrs.subresource)
                and resource_name_matches(rule, attrs.name))
    return verb_matches(rule, attrs.verb) and non_resource_url_matches(rule, attrs.path)


def service_account_username(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def applies_to(subject: Mapping[str, Any], user: str, groups: Sequence[str],
               namespace: str) -> bool:
    """Whether binding ``subject`` names this user (``namespace``: the RoleBinding's, the
    default of a ServiceAccount subject without one; "" for a ClusterRoleBinding)."""
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return user == name
    if kind == "Group":
        return name in groups
    if kind == "ServiceAccount":
        ns = str(subject.get("namespace") or "") or namespace
        return service_account_username(ns, name) == user
    return False


def subject_key(subject: Mapping[str, Any], namespace: str) -> str:
    """The index key of a binding subject (a ServiceAccount as the user name it matches),
    so that a binding is found from :func:`user_keys`; "" for an unknown kind."""
    kind = subject.get("kind")
    name = str(subject.get("name") or "")
    if kind == "User":
        return f"User:{name}"
    if kind == "Group":
        return f"Group:{name}"
    if kind == "ServiceAccount":
        ns = str(subject.get("namespace") or "") or namespace
        return f"User:{service_account_username(ns, name)}"
    return ""


def user_keys(user: str, groups: Sequence[str]) -> list[str]:
    """The subject keys under which a binding naming this user is indexed."""
    return [f"User:{user}", *(f"Group:{g}" for g in groups)]
