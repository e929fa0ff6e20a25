"""Node affinity and taint toleration matching, shared by the scheduler
(:mod:`kubesvc.runtime.scheduler`) and the DaemonSet controller (upstream
component-helpers/scheduling/corev1/nodeaffinity and ``Toleration.ToleratesTaint``):
``nodeSelector`` labels, required ``nodeSelectorTerms`` (ORed; matchExpressions on labels
with In/NotIn/Exists/DoesNotExist/Gt/Lt, matchFields on ``metadata.name``), tolerations.
Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc.api.objects import Obj, meta

__all__ = ["node_affinity_matches", "node_selector_term_matches", "tolerates"]


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    """``Toleration.ToleratesTaint`` for one taint."""
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if not t.get("key"):
            if op == "Exists":
                return True
            continue
        if t.get("key") != taint.get("key"):
            continue
        if op == "Exists" or (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = [str(v) for v in req.get("values") or ()]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        try:
            a, b = int(str(value)), int(values[0])
        except (TypeError, ValueError, IndexError):
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_selector_term_matches(term: Mapping[str, Any], node: Obj) -> bool:
    """One NodeSelectorTerm: every matchExpression on labels and every matchField (only
    ``metadata.name`` upstream) holds; an empty term matches nothing."""
    exprs = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = meta(node).get("labels") or {}
    for e in exprs:
        if not _requirement_matches(e, labels.get(str(e.get("key")))):
            return False
    for fld in fields:
        value = str(meta(node).get("name")) if fld.get("key") == "metadata.name" else None
        if not _requirement_matches(fld, value):
            return False
    return True


def node_affinity_matches(pod_spec: Mapping[str, Any], node: Obj) -> bool:
    """nodeSelector labels and the required node affinity (terms ORed)."""
    labels = meta(node).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if not required:
        return True
    return any(node_selector_term_matches(t, node) for t in required.get("nodeSelectorTerms")
               or ())
