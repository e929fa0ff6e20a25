"""Table printers for StatefulSets and ControllerRevisions.

Role: ``kubectl get statefulsets`` (READY ``2/3``, AGE, wide CONTAINERS and IMAGES) and
``kubectl get controllerrevisions`` (CONTROLLER as ``statefulset.apps/web``, REVISION).
Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`.
Reference: pkg/printers/internalversion/printers.go printStatefulSet,
printControllerRevision (v1.32).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, as_int, get, layout_containers, name

STATEFULSET_COLUMNS = (
    NAME,
    Column("Ready", description="Number of the pod with ready state"),
    AGE,
    Column("Containers", priority=1, description="Names of each container in the template."),
    Column("Images", priority=1,
           description="Images referenced by each container in the template."),
)

CONTROLLER_REVISION_COLUMNS = (
    NAME,
    Column("Controller", description="Controller of the object"),
    Column("Revision", type="integer", description="Revision indicates the revision of the "
           "state represented by Data."),
    AGE,
)


def statefulset_cells(sts: Obj, now: float, wide: bool = True) -> list[Any]:
    status: Mapping[str, Any] = sts.get("status") or {}
    names, images = layout_containers(get(sts, "spec", "template", "spec", "containers"))
    want = as_int(get(sts, "spec", "replicas"), 1)
    return [name(sts), f"{as_int(status.get('readyReplicas'))}/{want}", age(sts, now),
            names, images]


def controller_name(obj: Obj) -> str:
    """``kind.group/name`` of the controller owner (upstream formatResourceName with
    kind), ``<none>`` without one."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, Mapping) and ref.get("controller"):
            group = str(ref.get("apiVersion") or "").rpartition("/")[0]
            kind = str(ref.get("kind") or "")
            gk = f"{kind}.{group}" if group else kind
            return f"{gk.lower()}/{ref.get('name', '')}" if kind else str(ref.get("name", ""))
    return "<none>"


def controller_revision_cells(cr: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(cr), controller_name(cr), as_int(cr.get("revision")), age(cr, now)]


STATEFULSET = Printer(STATEFULSET_COLUMNS, statefulset_cells)
CONTROLLER_REVISION = Printer(CONTROLLER_REVISION_COLUMNS, controller_revision_cells)
