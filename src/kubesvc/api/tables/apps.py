"""Table printers for Deployments and ReplicaSets.

Role: ``kubectl get deployments`` (READY ``2/3``, UP-TO-DATE, AVAILABLE) and
``kubectl get replicasets`` (DESIRED, CURRENT, READY), with the wide CONTAINERS, IMAGES and
SELECTOR columns. Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`,
:mod:`kubesvc.api.selectors` (to print selectors as upstream's Selector.String()).
Reference: pkg/printers/internalversion/printers.go printDeployment, printReplicaSet (v1.32).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.selectors import from_label_selector_dict
from kubesvc.api.tables import descriptions as d
from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, as_int, get, layout_containers, name
from kubesvc.errors import BadRequest

_CONTAINERS = Column(
    "Containers", priority=1, description="Names of each container in the template."
)
_IMAGES = Column(
    "Images", priority=1, description="Images referenced by each container in the template."
)

DEPLOYMENT_COLUMNS = (
    NAME,
    Column("Ready", description="Number of the pod with ready state"),
    Column("Up-to-date", description=d.DEPLOY_UPDATED),
    Column("Available", description=d.DEPLOY_AVAILABLE),
    AGE,
    _CONTAINERS,
    _IMAGES,
    Column("Selector", priority=1, description=d.DEPLOY_SELECTOR),
)

REPLICASET_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description=d.RS_SPEC_REPLICAS),
    Column("Current", type="integer", description=d.RS_STATUS_REPLICAS),
    Column("Ready", type="integer", description=d.RS_READY_REPLICAS),
    AGE,
    _CONTAINERS,
    _IMAGES,
    Column("Selector", priority=1, description=d.RS_SELECTOR),
)


def _selector_string(sel: Mapping[str, Any] | None) -> str | None:
    """metav1.LabelSelectorAsSelector(sel).String(); None when the selector is invalid."""
    try:
        return str(from_label_selector_dict(sel))
    except BadRequest:
        return None


def _spec_replicas(obj: Obj) -> int:
    # spec.replicas defaults to 1; stored objects are defaulted, raw ones may not be.
    return as_int(get(obj, "spec", "replicas"), 1)


def deployment_cells(dep: Obj, now: float, wide: bool = True) -> list[Any]:
    status: Mapping[str, Any] = dep.get("status") or {}
    names, images = layout_containers(get(dep, "spec", "template", "spec", "containers"))
    sel = _selector_string(get(dep, "spec", "selector"))
    return [
        name(dep),
        f"{as_int(status.get('readyReplicas'))}/{_spec_replicas(dep)}",
        as_int(status.get("updatedReplicas")),
        as_int(status.get("availableReplicas")),
        age(dep, now),
        names,
        images,
        "<invalid>" if sel is None else sel,
    ]


def replicaset_cells(rs: Obj, now: float, wide: bool = True) -> list[Any]:
    status: Mapping[str, Any] = rs.get("status") or {}
    names, images = layout_containers(get(rs, "spec", "template", "spec", "containers"))
    sel = _selector_string(get(rs, "spec", "selector"))  # metav1.FormatLabelSelector
    return [
        name(rs),
        _spec_replicas(rs),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        age(rs, now),
        names,
        images,
        "<error>" if sel is None else (sel or "<none>"),
    ]


DEPLOYMENT = Printer(DEPLOYMENT_COLUMNS, deployment_cells)
REPLICASET = Printer(REPLICASET_COLUMNS, replicaset_cells)
