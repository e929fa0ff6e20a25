"""Server-side Table printing: objects to ``meta.k8s.io/v1`` Table dicts, as kube-apiserver.

Role: when a client asks for ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` (what
``kubectl get`` sends), the API server answers with a Table whose columns and cells are
exactly those of upstream's pkg/printers/internalversion/printers.go. :func:`to_table`
builds that dict from plain object dicts; the per-kind printers live in :mod:`.pods`,
:mod:`.network`, :mod:`.core` and :mod:`.apps`.
Callers: the API server's get/list/watch handlers. Calls: the printer modules,
:mod:`.columns`, :mod:`.common`, :mod:`kubesvc.api.resources`, :mod:`kubesvc.errors`. Pure
code, no I/O.

Upstream details kept: the API server always generates wide rows (its TableConvertor passes
``Wide: true``; kubectl hides priority-1 columns itself), ``noHeaders`` drops the column
definitions, the row ``object`` is a PartialObjectMetadata for ``includeObject=Metadata`` (the
default), the full object for ``Object`` and ``null`` for ``None``, and the Table's metadata
carries the list's resourceVersion / continue / remainingItemCount (the object's
resourceVersion for a single object). Kinds without a printer get upstream's default
convertor (Name, Created At).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc.api import resources
from kubesvc.api.tables import apiregistration as _apireg  # issue 24
from kubesvc.api.tables import apps, batch, certificates, core, network, pods, rbac
from kubesvc.api.tables import descriptions as _d
from kubesvc.api.tables import quota as _quota
from kubesvc.api.tables import statefulset as _sts  # issue 21
from kubesvc.api.tables import storage as _storage
from kubesvc.api.tables.columns import Column, Printer
from kubesvc.api.tables.common import Obj, human_duration
from kubesvc.api.timefmt import ZERO_TIME, parse_time, rfc3339
from kubesvc.errors import BadRequest

PRINTERS: dict[str, Printer] = {
    "pods": pods.PRINTER,
    "services": network.SERVICE,
    "endpoints": network.ENDPOINTS,
    "endpointslices.discovery.k8s.io": network.ENDPOINT_SLICE,
    "ingresses.networking.k8s.io": network.INGRESS,
    "ingressclasses.networking.k8s.io": network.INGRESS_CLASS,
    "networkpolicies.networking.k8s.io": network.NETWORK_POLICY,  # issue 23
    "nodes": core.NODE,
    "namespaces": core.NAMESPACE,
    "events": core.EVENT,
    "events.events.k8s.io": core.EVENT,
    "configmaps": core.CONFIGMAP,
    "secrets": core.SECRET,
    "serviceaccounts": core.SERVICE_ACCOUNT,
    "leases.coordination.k8s.io": core.LEASE,
    "deployments.apps": apps.DEPLOYMENT,
    "replicasets.apps": apps.REPLICASET,
    "rolebindings.rbac.authorization.k8s.io": rbac.ROLE_BINDING,
    "clusterrolebindings.rbac.authorization.k8s.io": rbac.CLUSTER_ROLE_BINDING,
    "certificatesigningrequests.certificates.k8s.io": certificates.CSR,
    # -- issue 21: StatefulSet, ControllerRevision, PVC/PV/StorageClass
    "statefulsets.apps": _sts.STATEFULSET,
    "controllerrevisions.apps": _sts.CONTROLLER_REVISION,
    "persistentvolumeclaims": _storage.PVC,
    "persistentvolumes": _storage.PV,
    "storageclasses.storage.k8s.io": _storage.STORAGE_CLASS,
    # -- issue 21 kinds
    "jobs.batch": batch.JOB,
    "cronjobs.batch": batch.CRONJOB,
    "daemonsets.apps": batch.DAEMONSET,
    "replicationcontrollers": batch.REPLICATION_CONTROLLER,
    "poddisruptionbudgets.policy": batch.PDB,
    "resourcequotas": _quota.RESOURCE_QUOTA,
    "apiservices.apiregistration.k8s.io": _apireg.APISERVICE,  # issue 24
}

INCLUDE_OBJECT_VALUES = ("Metadata", "Object", "None", "")

_DEFAULT_COLUMNS = (
    Column("Name", format="name", description=_d.NAME),
    Column("Created At", type="date", description=_d.CREATION_TIMESTAMP),
)


def printer_for(resource_key: str) -> Printer | None:
    """The printer for a resource key (``services``, ``deployments.apps``) or short name."""
    if resource_key in PRINTERS:
        return PRINTERS[resource_key]
    try:
        return PRINTERS.get(resources.lookup(resource_key).key)
    except KeyError:
        return None


def column_definitions(resource_key: str, *, wide: bool = True) -> list[dict[str, Any]]:
    """The Table columnDefinitions for a resource (priority-1 columns only when wide)."""
    printer = printer_for(resource_key)
    cols = printer.columns if printer is not None else _DEFAULT_COLUMNS
    return [c.to_dict() for c in cols if wide or c.priority == 0]


def validate_include_object(value: str) -> str:
    """TableOptions validation; returns the effective value (``""`` means Metadata)."""
    if value not in INCLUDE_OBJECT_VALUES:
        raise BadRequest(
            message=f'includeObject: Invalid value: "{value}": must be '
            "'Metadata', 'Object', 'None', or empty"
        )
    return value or "Metadata"


def _row_object(obj: Obj, include: str, api_version: str) -> Any:
    if include == "None":
        return None
    if include == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": api_version,
        "metadata": obj.get("metadata") or {},
    }


def _rfc3339(value: Any) -> str:
    t = parse_time(value)
    return ZERO_TIME if t is None else rfc3339(t)


def to_table(
    resource_key: str,
    objs: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    include_object: str = "Metadata",
    wide: bool = True,
    no_headers: bool = False,
    now: float | None = None,
    list_meta: Mapping[str, Any] | None = None,
    api_version: str = "meta.k8s.io/v1",
) -> dict[str, Any]:
    """Build a metav1.Table dict.

    ``objs`` is one object (a single GET), a list object (``{"items": [...], "metadata":
    {...}}``) or a sequence of objects (then ``list_meta`` gives resourceVersion/continue).
    ``now`` (epoch seconds, default ``time.time()``) is the reference for AGE columns.
    ``api_version`` is the Table's group/version (``meta.k8s.io/v1beta1`` for old clients).
    Raises BadRequest for an invalid ``include_object``.
    """
    include = validate_include_object(include_object)
    ref = time.time() if now is None else now
    # A list object carries an ``items`` array; any other mapping is one object.
    single = isinstance(objs, Mapping) and not isinstance(objs.get("items"), list)
    if isinstance(objs, Mapping):
        if single:
            items: Sequence[Mapping[str, Any]] = [objs]
            omd: Mapping[str, Any] = objs.get("metadata") or {}
            meta_src: Mapping[str, Any] = {"resourceVersion": omd.get("resourceVersion")}
        else:
            items = objs["items"]
            meta_src = objs.get("metadata") or {}
    else:
        items = objs
        meta_src = list_meta or {}
    if list_meta is not None:
        meta_src = list_meta

    printer = printer_for(resource_key)
    rows: list[dict[str, Any]] = []
    if printer is not None:
        keep = [i for i, c in enumerate(printer.columns) if wide or c.priority == 0]
        columns = [printer.columns[i].to_dict() for i in keep]
        for obj in items:
            cells = printer.cells(obj, ref, wide)
            row: dict[str, Any] = {"cells": [cells[i] for i in keep]}
            conds = printer.conditions(obj) if printer.conditions is not None else None
            if conds:
                row["conditions"] = conds
            row["object"] = _row_object(obj, include, api_version)
            rows.append(row)
    else:
        columns = [c.to_dict() for c in _DEFAULT_COLUMNS]
        for obj in items:
            md = obj.get("metadata") or {}
            cells = [str(md.get("name") or ""), _rfc3339(md.get("creationTimestamp"))]
            rows.append({"cells": cells, "object": _row_object(obj, include, api_version)})

    table_meta: dict[str, Any] = {}
    if meta_src.get("resourceVersion"):
        table_meta["resourceVersion"] = str(meta_src["resourceVersion"])
    if not single:
        if meta_src.get("continue"):
            table_meta["continue"] = str(meta_src["continue"])
        if meta_src.get("remainingItemCount") is not None:
            table_meta["remainingItemCount"] = int(meta_src["remainingItemCount"])
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": table_meta,
        "columnDefinitions": None if no_headers else columns,
        "rows": rows,
    }


__all__ = [
    "INCLUDE_OBJECT_VALUES",
    "PRINTERS",
    "column_definitions",
    "human_duration",
    "printer_for",
    "to_table",
    "validate_include_object",
]
