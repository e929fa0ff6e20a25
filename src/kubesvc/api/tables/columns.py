"""The column records of the Table printers: ``Column`` (one metav1.TableColumnDefinition),
``Printer`` (a kind's columns and its row function) and the NAME and AGE columns every kind
starts and most end with.

Callers: the printer modules and :mod:`kubesvc.api.tables`. Calls: :mod:`.common` (the
object type), :mod:`.descriptions`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesvc.api.tables import descriptions as d
from kubesvc.api.tables.common import Obj


@dataclass(frozen=True, slots=True)
class Column:
    """One metav1.TableColumnDefinition."""

    name: str
    type: str = "string"
    description: str = ""
    priority: int = 0
    format: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        }


@dataclass(frozen=True, slots=True)
class Printer:
    """A kind's columns and its row function ``(obj, now, wide) -> cells`` for every column,
    priority ones included (the caller drops those cells when not wide)."""

    columns: tuple[Column, ...]
    cells: Callable[[Obj, float, bool], list[Any]]
    conditions: Callable[[Obj], list[dict[str, str]] | None] | None = None


NAME = Column("Name", format="name", description=d.NAME)
AGE = Column("Age", description=d.CREATION_TIMESTAMP)
