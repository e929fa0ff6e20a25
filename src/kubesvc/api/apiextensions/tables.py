"""The Table of custom resources (upstream's CRD ``tableconvertor``): a Name column, then
the version's ``additionalPrinterColumns`` (each cell the first value its JSONPath
finds; ``string`` columns print it as text, ``integer``/``number``/``boolean`` keep a value
of that JSON type, ``date`` turns an RFC 3339 string into an age such as ``5m``
(``<invalid>`` when it does not parse), anything else or nothing found is ``null``), or,
for a version without columns, Name and Age (``metadata.creationTimestamp``). Called by
the API server's Table rendering; pure.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kubesvc.api.apiextensions import jsonpath
from kubesvc.api.apiextensions.model import Column
from kubesvc.api.tables.common import human_duration
from kubesvc.api.timefmt import parse_time

_NAME_DESC = ("Name must be unique within a namespace. Is required when creating resources, "
              "although some resources may allow a client to request the generation of an "
              "appropriate name automatically. Name is primarily intended for creation "
              "idempotence and configuration definition. Cannot be updated. More info: "
              "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
_AGE_DESC = ("CreationTimestamp is a timestamp representing the server time when this object "
             "was created. It is not guaranteed to be set in happens-before order across "
             "separate operations. Clients may not set this value. It is represented in "
             "RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
             "lists. More info: https://git.k8s.io/community/contributors/devel/"
             "sig-architecture/api-conventions.md#metadata")
DEFAULT_COLUMNS = (Column("Age", "date", ".metadata.creationTimestamp", _AGE_DESC),)


def columns(cols: Sequence[Column]) -> tuple[Column, ...]:
    return tuple(cols) or DEFAULT_COLUMNS


def column_definitions(cols: Sequence[Column]) -> list[dict[str, Any]]:
    out = [{"name": "Name", "type": "string", "format": "name", "description": _NAME_DESC,
            "priority": 0}]
    for c in columns(cols):
        out.append({"name": c.name, "type": c.type, "format": c.format,
                    "description": c.description, "priority": c.priority})
    return out


def _cell(ctype: str, value: Any, now: float) -> Any:
    """Upstream's ``cellForJSONValue``."""
    if value is None or (isinstance(value, bool) and ctype in ("integer", "number")):
        return None
    if ctype == "integer" and isinstance(value, int | float):
        return int(value)
    if ctype == "number" and isinstance(value, int | float):
        return value
    if ctype == "boolean" and isinstance(value, bool):
        return value
    if ctype == "date" and isinstance(value, str):
        t = parse_time(value)
        if t is None:
            return "<invalid>"
        return human_duration(now - t.timestamp())
    return None


def cells(cols: Sequence[Column], obj: Mapping[str, Any], *, now: float | None = None
          ) -> list[Any]:
    ref = time.time() if now is None else now
    md = obj.get("metadata") or {}
    out: list[Any] = [str(md.get("name") or "")]
    for c in columns(cols):
        try:
            found = jsonpath.find(obj, c.json_path)
        except jsonpath.JSONPathError:
            found = []
        if not found:
            out.append(None)
            continue
        value = found[0]
        if c.type == "string":
            if isinstance(value, str):
                out.append(value)
            elif isinstance(value, bool):
                out.append("true" if value else "false")
            elif isinstance(value, dict | list):
                out.append(orjson.dumps(value).decode())
            else:
                out.append(str(value))
        else:
            out.append(_cell(c.type, value, ref))
    return out
