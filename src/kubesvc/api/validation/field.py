"""Field-level validation errors, worded exactly as upstream's ``field.Error.ErrorBody()``.

Every validator in :mod:`kubesvc.api.meta` and :mod:`kubesvc.api.validation` builds its
results with these constructors, so the cause ``reason``/``message``/``field`` triple matches
what kube-apiserver v1.32 puts in ``details.causes[]`` and in the aggregated Status message
(``errors.invalid`` joins ``field: message``). Bad values are rendered as Go's ``%v``/``%q``/
``%#v`` would render them (strings quoted, ints bare, ``[]string{"a", "b"}``, maps sorted).
Pure functions; imports only :mod:`kubesvc.errors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubesvc.errors import Cause

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
DUPLICATE = "FieldValueDuplicate"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
TOO_LONG = "FieldValueTooLong"
TOO_MANY = "FieldValueTooMany"
NOT_FOUND = "FieldValueNotFound"
INTERNAL = "InternalError"


@dataclass(frozen=True, slots=True)
class GoRaw:
    """A value already formatted the way Go prints it (e.g. a ``%#v`` struct literal)."""

    text: str


_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote``: double-quoted, printable runes kept, the rest escaped."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'  # the common case, on every authorization decision
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            cp = ord(ch)
            if cp < 0x80:
                out.append(f"\\x{cp:02x}")
            elif cp <= 0xFFFF:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def go_value(
    value: Any, *, list_type: str = "[]string", map_type: str = "map[string]string"
) -> str:
    """Render a bad value as ``field.Error.ErrorBody`` does (``%q`` for strings, ``%v`` for
    numbers and bools, ``%#v`` for slices and maps)."""
    if isinstance(value, GoRaw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, Mapping):
        items = ", ".join(
            f"{go_quote(str(k))}:{go_quote(str(v)) if isinstance(v, str) else go_value(v)}"
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        )
        return f"{map_type}{{{items}}}"
    if isinstance(value, list | tuple):
        inner = ", ".join(go_quote(v) if isinstance(v, str) else go_value(v) for v in value)
        return f"{list_type}{{{inner}}}"
    return str(value)


def _cause(reason: str, path: str, message: str) -> Cause:
    return Cause(reason=reason, message=message, field=path)


def required(path: str, detail: str = "") -> Cause:
    """``Required value`` (+ ``: detail``)."""
    return _cause(REQUIRED, path, "Required value" + (f": {detail}" if detail else ""))


def forbidden(path: str, detail: str) -> Cause:
    return _cause(FORBIDDEN, path, "Forbidden" + (f": {detail}" if detail else ""))


def invalid(path: str, value: Any, detail: str, **fmt: str) -> Cause:
    """``Invalid value: <value>: detail``."""
    body = f"Invalid value: {go_value(value, **fmt)}"
    return _cause(INVALID, path, body + (f": {detail}" if detail else ""))


def duplicate(path: str, value: Any, **fmt: str) -> Cause:
    return _cause(DUPLICATE, path, f"Duplicate value: {go_value(value, **fmt)}")


def not_supported(path: str, value: Any, valid: Iterable[str]) -> Cause:
    """``Unsupported value: "x": supported values: "a", "b"`` (``valid`` in the order given;
    upstream passes ``sets.List`` i.e. sorted for most enums)."""
    quoted = [go_quote(v) for v in valid]
    body = f"Unsupported value: {go_value(value)}"
    if quoted:
        body += ": supported values: " + ", ".join(quoted)
    return _cause(NOT_SUPPORTED, path, body)


def too_long(path: str, max_length: int) -> Cause:
    """``field.TooLong``: ``Too long: must have at most N bytes`` (the value is omitted)."""
    return _cause(TOO_LONG, path, f"Too long: must have at most {max_length} bytes")


def too_many(path: str, actual: int, max_items: int) -> Cause:
    return _cause(TOO_MANY, path, f"Too many: {actual}: must have at most {max_items} items")


def not_found(path: str, value: Any, detail: str = "") -> Cause:
    return _cause(
        NOT_FOUND, path, f"Not found: {go_value(value)}" + (f": {detail}" if detail else "")
    )


def internal(path: str, detail: str) -> Cause:
    return _cause(INTERNAL, path, f"Internal error: {detail}")


def child(path: str, *names: str) -> str:
    """``spec`` + ``ports`` -> ``spec.ports`` (empty base gives just the child)."""
    for n in names:
        path = f"{path}.{n}" if path else n
    return path


def index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def key(path: str, k: str) -> str:
    return f"{path}[{k}]"


def dedupe(causes: Sequence[Cause]) -> list[Cause]:
    """Drop exact repeats (same field and message), keeping the first of each."""
    seen: set[tuple[str, str]] = set()
    out: list[Cause] = []
    for c in causes:
        k = (c.field, c.message)
        if k not in seen:
            seen.add(k)
            out.append(c)
    return out
