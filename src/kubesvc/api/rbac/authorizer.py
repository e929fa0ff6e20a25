"""The RBAC decision, as upstream's ``RBACAuthorizer`` and ``DefaultRuleResolver``: walk the
ClusterRoleBindings, then the RoleBindings of the request's namespace, that name the user;
allow as soon as a rule of the bound role allows the request. ``system:masters`` is always
allowed (upstream's privileged-group authorizer runs first). A binding whose role is
missing adds upstream's ``RBAC: <kind> "<name>" not found`` reason to a denial.

Roles and bindings come from a :class:`PolicySource` — the API server's informer caches —
so a decision does no I/O. Used by ``kubesvc.apiserver.authz`` and :mod:`.escalation`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.rules import Rule, applies_to, rule_allows, user_keys
from kubesvc.api.validation.field import go_quote

Obj = Mapping[str, Any]
PRIVILEGED_GROUP = "system:masters"


class PolicySource(Protocol):
    """Read-only views of the stored RBAC objects (never mutated by the caller)."""

    def cluster_role(self, name: str) -> Obj | None: ...

    def role(self, namespace: str, name: str) -> Obj | None: ...

    def cluster_role_bindings(self, keys: Sequence[str] | None = None) -> Iterable[Obj]:
        """Every ClusterRoleBinding, or (``keys`` from :func:`~.rules.user_keys`) at least
        those with a subject under one of the keys (a superset is fine)."""
        ...

    def role_bindings(self, namespace: str, keys: Sequence[str] | None = None
                      ) -> Iterable[Obj]: ...


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


# (source description (made on demand: most are never shown), rule or None, error or "")
# -> keep going?
Visitor = Callable[[Callable[[], str], Rule | None, str], bool]


def _rules_of(source: PolicySource, ref: Obj, namespace: str) -> tuple[Sequence[Rule], str]:
    kind = ref.get("kind")
    name = str(ref.get("name") or "")
    if kind == "ClusterRole":
        role = source.cluster_role(name)
        if role is None:
            return (), f"clusterrole.rbac.authorization.k8s.io {go_quote(name)} not found"
    elif kind == "Role" and namespace:
        role = source.role(namespace, name)
        if role is None:
            return (), f"role.rbac.authorization.k8s.io {go_quote(name)} not found"
    else:
        return (), f"unsupported role reference kind: {go_quote(str(kind))}"
    rules = role.get("rules")
    return [r for r in rules if isinstance(r, Mapping)] if isinstance(rules, list) else [], ""


def _subjects(binding: Obj) -> list[Mapping[str, Any]]:
    s = binding.get("subjects")
    return [x for x in s if isinstance(x, Mapping)] if isinstance(s, list) else []


def _describe_subject(s: Mapping[str, Any], namespace: str) -> str:
    name = str(s.get("name") or "")
    if s.get("kind") == "ServiceAccount":
        name = f"{s.get('namespace') or namespace}/{name}"
    return f"{s.get('kind')} {go_quote(name)}"


def _describe(kind: str, binding: Obj, subject: Mapping[str, Any], namespace: str) -> str:
    md = binding.get("metadata") or {}
    name = str(md.get("name") or "") + (f"/{namespace}" if namespace else "")
    ref = binding.get("roleRef") or {}
    return (f"{kind} {go_quote(name)} of {ref.get('kind')} {go_quote(str(ref.get('name')))} "
            f"to {_describe_subject(subject, namespace)}")


def visit_rules(source: PolicySource, user: str, groups: Sequence[str], namespace: str,
                visitor: Visitor) -> None:
    """Call ``visitor`` with every rule the user holds in ``namespace`` (cluster-wide ones
    first; ``namespace=""``: cluster-wide only), and with each error resolving a role."""
    keys = user_keys(user, groups)
    scopes: list[tuple[str, Iterable[Obj], str]] = [
        ("ClusterRoleBinding", source.cluster_role_bindings(keys), "")]
    if namespace:
        scopes.append(("RoleBinding", source.role_bindings(namespace, keys), namespace))
    for kind, bindings, ns in scopes:
        for b in bindings:
            subject = next((s for s in _subjects(b) if applies_to(s, user, groups, ns)), None)
            if subject is None:
                continue
            rules, err = _rules_of(source, b.get("roleRef") or {}, ns)

            def desc(kind: str = kind, b: Obj = b, subject: Mapping[str, Any] = subject,
                     ns: str = ns) -> str:
                return _describe(kind, b, subject, ns)

            if err and not visitor(desc, None, err):
                return
            for r in rules:
                if not visitor(desc, r, ""):
                    return


def _aggregate(errs: Sequence[str]) -> str:
    return errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


def authorize(source: PolicySource, attrs: Attributes) -> Decision:
    if PRIVILEGED_GROUP in attrs.groups:
        return Decision(True)
    allowed_by = ""
    errs: list[str] = []

    def visit(desc: Callable[[], str], rule: Rule | None, err: str) -> bool:
        nonlocal allowed_by
        if err:
            errs.append(err)
        if rule is not None and rule_allows(attrs, rule):
            allowed_by = desc()
            return False
        return True

    visit_rules(source, attrs.user, attrs.groups, attrs.namespace, visit)
    if allowed_by:
        return Decision(True, f"RBAC: allowed by {allowed_by}")
    return Decision(False, f"RBAC: {_aggregate(errs)}" if errs else "")


def rules_for(source: PolicySource, user: str, groups: Sequence[str],
              namespace: str) -> tuple[list[Rule], list[str]]:
    """Every rule the user holds in ``namespace`` and the errors met resolving roles."""
    rules: list[Rule] = []
    errs: list[str] = []

    def visit(desc: Callable[[], str], rule: Rule | None, err: str) -> bool:
        if err:
            errs.append(err)
        if rule is not None:
            rules.append(rule)
        return True

    visit_rules(source, user, groups, namespace, visit)
    return rules, errs
