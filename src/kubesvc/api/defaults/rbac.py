"""Defaulting of rbac.authorization.k8s.io/v1 bindings, as upstream's
pkg/apis/rbac/v1/defaults.go: a roleRef without apiGroup gets the RBAC group, a User or
Group subject without apiGroup gets the RBAC group (a ServiceAccount's stays empty).
Called by :func:`kubesvc.api.defaults.apply_defaults`.
"""

from __future__ import annotations

from typing import Any

GROUP = "rbac.authorization.k8s.io"


def apply_binding_defaults(obj: dict[str, Any]) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for s in obj.get("subjects") or []:
        if isinstance(s, dict) and not s.get("apiGroup") and s.get("kind") in ("User", "Group"):
            s["apiGroup"] = GROUP
