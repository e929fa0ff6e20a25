"""Table printer for ResourceQuotas (upstream printers.go printResourceQuota, v1.32):
NAME, AGE, REQUEST and LIMIT, the last two ``resource: used/hard`` pairs of
``status.hard`` in upstream's resource-name order (``limits.*`` under LIMIT).
Callers: :mod:`kubesvc.api.tables`.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, name

COLUMNS = (
    NAME,
    AGE,
    Column("Request", description="Request represents a minimum amount of cpu/memory "
           "that a container may consume."),
    Column("Limit", description="Limits control the maximum amount of cpu/memory that a "
           "container may use independent of contention on the node."),
)


def cells(rq: Obj, now: float, wide: bool = True) -> list[Any]:
    status = rq.get("status") or {}
    hard = status.get("hard") or {}
    used = status.get("used") or {}
    request: list[str] = []
    limit: list[str] = []
    for res in sorted(hard):
        pieces = str(res).split(".")
        col = limit if len(pieces) > 1 and pieces[0] == "limits" else request
        col.append(f"{res}: {used.get(res, '0')}/{hard[res]}")
    return [name(rq), age(rq, now), ", ".join(request), ", ".join(limit)]


RESOURCE_QUOTA = Printer(COLUMNS, cells)
