"""Table printer of apiregistration.k8s.io/v1 APIService, as the kube-aggregator's
(``kubectl get apiservices``): NAME, SERVICE (``Local``, or ``<namespace>/<name>``),
AVAILABLE (the Available condition: ``True``, ``False (<reason>)``, or ``Unknown``) and AGE.
Used by :mod:`kubesvc.api.tables`.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, name

_COLUMNS = (
    NAME,
    Column("Service", description="The reference to the service that hosts this API "
           "endpoint."),
    Column("Available", description="Whether this service is available."),
    AGE,
)


def service_column(obj: Obj) -> str:
    svc = (obj.get("spec") or {}).get("service")
    if not svc:
        return "Local"
    return f"{svc.get('namespace') or ''}/{svc.get('name') or ''}"


def available_column(obj: Obj) -> str:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Available":
            status = str(cond.get("status") or "")
            if status == "True":
                return "True"
            return f"{status} ({cond.get('reason') or ''})"
    return "Unknown"


def _cells(obj: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(obj), service_column(obj), available_column(obj), age(obj, now)]


APISERVICE = Printer(_COLUMNS, _cells)
