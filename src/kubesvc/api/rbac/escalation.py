"""Escalation prevention, as upstream's registry/rbac/validation: a user may write a role
(or bind one) only when the rules it holds cover every rule granted — ``Covers`` over the
rules broken down to one verb/group/resource/name each — and the denial message lists the
missing rules compacted and in ``CompactString`` form. Pure; the API server calls
:func:`missing_rules` with the caller's rules (:func:`.authorizer.rules_for`) and
:func:`escalation_message` for the Forbidden.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc.api.validation.field import go_quote

Rule = Mapping[str, Any]

#: What holding "everything" means (upstream's fullAuthority for aggregationRule).
FULL_AUTHORITY: list[Rule] = [
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
]


def _l(rule: Rule, key: str) -> list[str]:
    v = rule.get(key)
    return [str(x) for x in v] if isinstance(v, list) else []


def breakdown(rule: Rule) -> list[dict[str, list[str]]]:
    out: list[dict[str, list[str]]] = []
    for g in _l(rule, "apiGroups"):
        for r in _l(rule, "resources"):
            for v in _l(rule, "verbs"):
                names = _l(rule, "resourceNames")
                if names:
                    out += [{"apiGroups": [g], "resources": [r], "verbs": [v],
                             "resourceNames": [n]} for n in names]
                else:
                    out.append({"apiGroups": [g], "resources": [r], "verbs": [v]})
    for u in _l(rule, "nonResourceURLs"):
        for v in _l(rule, "verbs"):
            out.append({"nonResourceURLs": [u], "verbs": [v]})
    return out


def _covers_all(have: list[str], want: list[str]) -> bool:
    return "*" in have or all(w in have for w in want)


def _resources_cover(have: list[str], want: list[str]) -> bool:
    if "*" in have:
        return True
    for path in want:
        if path in have:
            continue
        if "/" not in path:
            return False
        if "*/" + path.split("/", 1)[1] not in have:
            return False
    return True


def _urls_cover(have: list[str], want: list[str]) -> bool:
    def one(u: str) -> bool:
        return any(h == u or h == "*" or (h.endswith("*") and u.startswith(h[:-1]))
                   for h in have)
    return all(one(u) for u in want)


def rule_covers(owner: Rule, sub: Rule) -> bool:
    names = _l(owner, "resourceNames")
    sub_names = _l(sub, "resourceNames")
    # An owner rule limited to names covers only requests limited to some of them.
    names_ok = not names or (bool(sub_names) and all(n in names for n in sub_names))
    return (_covers_all(_l(owner, "verbs"), _l(sub, "verbs"))
            and _covers_all(_l(owner, "apiGroups"), _l(sub, "apiGroups"))
            and _resources_cover(_l(owner, "resources"), _l(sub, "resources"))
            and _urls_cover(_l(owner, "nonResourceURLs"), _l(sub, "nonResourceURLs"))
            and names_ok)


def missing_rules(owner: Sequence[Rule], wanted: Sequence[Rule]) -> list[dict[str, list[str]]]:
    """The broken-down rules of ``wanted`` that no rule of ``owner`` covers."""
    out: list[dict[str, list[str]]] = []
    for w in wanted:
        for sub in breakdown(w):
            if not any(rule_covers(o, sub) for o in owner):
                out.append(sub)
    return out


def compact(rules: Sequence[dict[str, list[str]]]) -> list[dict[str, list[str]]]:
    """Upstream's CompactRules: simple one-group one-resource rules merge their verbs."""
    simple: dict[tuple[str, str], dict[str, list[str]]] = {}
    out: list[dict[str, list[str]]] = []
    for r in rules:
        if (len(r.get("apiGroups", [])) == 1 and len(r.get("resources", [])) == 1
                and not r.get("resourceNames") and not r.get("nonResourceURLs")):
            key = (r["apiGroups"][0], r["resources"][0])
            if key in simple:
                simple[key]["verbs"] = simple[key]["verbs"] + r["verbs"]
                continue
            simple[key] = {"apiGroups": list(r["apiGroups"]), "resources": list(r["resources"]),
                           "verbs": list(r["verbs"])}
            out.append(simple[key])
        else:
            out.append(dict(r))
    return out


def _qlist(items: Sequence[str]) -> str:
    return "[" + " ".join(go_quote(i) for i in items) + "]"


def compact_string(r: Mapping[str, list[str]]) -> str:
    parts = []
    for key, label in (("apiGroups", "APIGroups"), ("resources", "Resources"),
                       ("nonResourceURLs", "NonResourceURLs"),
                       ("resourceNames", "ResourceNames"), ("verbs", "Verbs")):
        if r.get(key):
            parts.append(f"{label}:{_qlist(r[key])}")
    return "{" + ", ".join(parts) + "}"


def escalation_message(user: str, groups: Sequence[str],
                       missing: Sequence[dict[str, list[str]]], errs: Sequence[str] = ()) -> str:
    lines = sorted({compact_string(r) for r in compact(missing)})
    msg = (f"user {go_quote(user)} (groups={_qlist(groups)}) is attempting to grant RBAC "
           "permissions not currently held:\n" + "\n".join(lines))
    if errs:
        msg += "; resolution errors: [" + ", ".join(errs) + "]"
    return msg
