"""Validate a custom object against its version's OpenAPI v3 (structural) schema, with
upstream's messages and field paths.

Upstream validates with kube-openapi's validator and turns each result into a field
error (``apiextensions-apiserver/pkg/apiserver/validation``): a missing required field is
``Required value``, an enum miss ``Unsupported value: ...: supported values: ...``, a
``maxLength`` miss ``Too long``, ``maxItems``/``maxProperties`` ``Too many``, a wrong type
``Invalid value: "string": spec.replicas in body must be of type integer: "string"``, and
everything else ``Invalid value: <v>: <path> in body should ...``. Also here: the
``x-kubernetes-list-type`` set/map uniqueness, ``x-kubernetes-int-or-string``,
``x-kubernetes-embedded-resource`` (apiVersion and kind required). Called by the CR
strategy after defaulting and pruning; CEL rules are :mod:`.cel`.
"""

from __future__ import annotations

import base64
import ipaddress
import math
import re
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from kubesvc.api.timefmt import parse_time
from kubesvc.api.validation import field as f
from kubesvc.errors import Cause


def type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "integer" if v.is_integer() else "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def _matches_type(want: str, v: Any) -> bool:
    have = type_name(v)
    if want == "number":
        return have in ("number", "integer")
    return have == want


@lru_cache(maxsize=512)
def _pattern(p: str) -> re.Pattern[str] | None:
    try:
        return re.compile(p)
    except re.error:
        return None


def _num(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _is_datetime(s: str) -> bool:
    return parse_time(s) is not None


_FORMATS: dict[str, Callable[[str], bool]] = {
    "int-or-string": lambda s: True,
    "byte": lambda s: _b64(s),
    "date-time": _is_datetime,
    "datetime": _is_datetime,
    "date": lambda s: re.fullmatch(r"\d{4}-\d{2}-\d{2}", s) is not None,
    "uuid": lambda s: _uuid(s),
    "ipv4": lambda s: _ip(s, 4),
    "ipv6": lambda s: _ip(s, 6),
    "cidr": lambda s: _cidr(s),
    "email": lambda s: re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", s) is not None,
    "hostname": lambda s: re.fullmatch(
        r"(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
        r"(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*", s) is not None,
    "duration": lambda s: re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+|0", s) is not None,
}


def _b64(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except ValueError:
        return False
    return True


def _uuid(s: str) -> bool:
    try:
        uuid.UUID(s)
    except ValueError:
        return False
    return True


def _ip(s: str, v: int) -> bool:
    try:
        return ipaddress.ip_address(s).version == v
    except ValueError:
        return False


def _cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def validate(schema: Mapping[str, Any], obj: Any, *, path: str = "") -> list[Cause]:
    """Every violation of ``schema`` in ``obj`` (root path ``""``)."""
    out: list[Cause] = []
    _walk(schema, obj, path, out, root=True)
    return out


def _body(path: str) -> str:
    return f"{path} in body" if path else "body"


def _walk(s: Mapping[str, Any], v: Any, path: str, out: list[Cause], *, root: bool = False
          ) -> None:
    if v is None:
        if s.get("nullable"):
            return
        if s.get("type") and not root:
            out.append(f._cause("FieldValueTypeInvalid", path,
                                f'Invalid value: "null": {_body(path)} must be of type '
                                f'{s["type"]}: "null"'))
        return
    for sub in s.get("allOf") or []:
        _walk(sub, v, path, out)
    if s.get("anyOf"):
        if not any(not validate(sub, v, path=path) for sub in s["anyOf"]):
            out.append(f.invalid(path, _shown(v), f"{_body(path)} must validate at least one "
                                 "schema (anyOf)"))
    if s.get("oneOf"):
        ok = sum(1 for sub in s["oneOf"] if not validate(sub, v, path=path))
        if ok != 1:
            out.append(f.invalid(path, _shown(v), f"{_body(path)} must validate one and only "
                                 "one schema (oneOf)"))
    if isinstance(s.get("not"), dict) and not validate(s["not"], v, path=path):
        out.append(f.invalid(path, _shown(v), f"{_body(path)} must not validate the schema "
                             "(not)"))
    if s.get("x-kubernetes-int-or-string"):
        if not isinstance(v, int | str) or isinstance(v, bool):
            out.append(f._cause("FieldValueTypeInvalid", path,
                                f'Invalid value: "{type_name(v)}": {_body(path)} must be of '
                                f'type integer,string: "{type_name(v)}"'))
            return
    want = s.get("type")
    if want and not _matches_type(str(want), v):
        have = type_name(v)
        out.append(f._cause("FieldValueTypeInvalid", path,
                            f'Invalid value: "{have}": {_body(path)} must be of type {want}: '
                            f'"{have}"'))
        return
    if "enum" in s and isinstance(s["enum"], list) and v not in s["enum"]:
        vals = [e if isinstance(e, str) else _json(e) for e in s["enum"]]
        out.append(f.not_supported(path, v if isinstance(v, str | int | float) else _shown(v),
                                   vals))
    if isinstance(v, str):
        _string(s, v, path, out)
    elif isinstance(v, int | float) and not isinstance(v, bool):
        _number(s, v, path, out)
    elif isinstance(v, list):
        _array(s, v, path, out)
    elif isinstance(v, dict):
        _object(s, v, path, out, root=root)


def _json(v: Any) -> str:
    import orjson

    return orjson.dumps(v).decode()


def _shown(v: Any) -> Any:
    if isinstance(v, dict | list):
        return f.GoRaw(_json(v))
    return v


def _string(s: Mapping[str, Any], v: str, path: str, out: list[Cause]) -> None:
    n = len(v)
    if "maxLength" in s and n > int(s["maxLength"]):
        out.append(f.too_long(path, int(s["maxLength"])))
    if "minLength" in s and n < int(s["minLength"]):
        out.append(f.invalid(path, v, f"{_body(path)} should be at least {s['minLength']} "
                             "chars long"))
    if "pattern" in s:
        rx = _pattern(str(s["pattern"]))
        if rx is not None and rx.search(v) is None:
            out.append(f.invalid(path, v, f"{_body(path)} should match '{s['pattern']}'"))
    fmt = s.get("format")
    if fmt and fmt in _FORMATS and not _FORMATS[fmt](v):
        out.append(f._cause("FieldValueTypeInvalid", path,
                            f"Invalid value: {f.go_quote(v)}: {_body(path)} must be of type "
                            f"{fmt}: {f.go_quote(v)}"))


def _number(s: Mapping[str, Any], v: float, path: str, out: list[Cause]) -> None:
    if "maximum" in s:
        mx = s["maximum"]
        if (v >= mx) if s.get("exclusiveMaximum") else (v > mx):
            rel = "less than" if s.get("exclusiveMaximum") else "less than or equal to"
            out.append(f.invalid(path, v, f"{_body(path)} should be {rel} {_num(mx)}"))
    if "minimum" in s:
        mn = s["minimum"]
        if (v <= mn) if s.get("exclusiveMinimum") else (v < mn):
            rel = "greater than" if s.get("exclusiveMinimum") else "greater than or equal to"
            out.append(f.invalid(path, v, f"{_body(path)} should be {rel} {_num(mn)}"))
    if s.get("multipleOf"):
        q = v / s["multipleOf"]
        if not math.isclose(q, round(q)):
            out.append(f.invalid(path, v, f"{_body(path)} should be a multiple of "
                                 f"{_num(s['multipleOf'])}"))


def _array(s: Mapping[str, Any], v: list[Any], path: str, out: list[Cause]) -> None:
    if "maxItems" in s and len(v) > int(s["maxItems"]):
        out.append(f.too_many(path, len(v), int(s["maxItems"])))
    if "minItems" in s and len(v) < int(s["minItems"]):
        out.append(f.invalid(path, _shown(v), f"{_body(path)} should have at least "
                             f"{s['minItems']} items"))
    if s.get("uniqueItems"):
        seen: list[Any] = []
        for item in v:
            if item in seen:
                out.append(f.invalid(path, _shown(v), f"{_body(path)} shouldn't contain "
                                     "duplicates"))
                break
            seen.append(item)
    items = s.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(v):
            _walk(items, item, f.index(path, i), out)
    lt = s.get("x-kubernetes-list-type")
    if lt == "set":
        seen2: list[Any] = []
        for i, item in enumerate(v):
            if item in seen2:
                out.append(f.duplicate(f.index(path, i), item))
            seen2.append(item)
    elif lt == "map":
        keys = list(s.get("x-kubernetes-list-map-keys") or [])
        seen3: list[tuple[Any, ...]] = []
        for i, item in enumerate(v):
            if not isinstance(item, dict):
                continue
            k = tuple(item.get(key) for key in keys)
            if k in seen3:
                shown = ({key: item.get(key) for key in keys} if len(keys) > 1
                         else item.get(keys[0]) if keys else None)
                out.append(f.duplicate(f.index(path, i), f.GoRaw(_json(shown))
                                       if isinstance(shown, dict) else shown))
            seen3.append(k)


def _object(s: Mapping[str, Any], v: dict[str, Any], path: str, out: list[Cause], *,
            root: bool) -> None:
    props: Mapping[str, Any] = s.get("properties") or {}
    for name in s.get("required") or []:
        if name not in v:
            out.append(f.required(f.child(path, str(name)), ""))
    if "maxProperties" in s and len(v) > int(s["maxProperties"]):
        out.append(f.too_many(path, len(v), int(s["maxProperties"])))
    if "minProperties" in s and len(v) < int(s["minProperties"]):
        out.append(f.invalid(path, _shown(v), f"{_body(path)} should have at least "
                             f"{s['minProperties']} properties"))
    if s.get("x-kubernetes-embedded-resource"):
        for key in ("apiVersion", "kind"):
            if not v.get(key):
                out.append(f.required(f.child(path, key), "must not be empty"))
    addl = s.get("additionalProperties")
    for k, item in v.items():
        if root and k in ("apiVersion", "kind", "metadata"):
            continue
        sub = props.get(k)
        if isinstance(sub, dict):
            _walk(sub, item, f.child(path, k), out)
        elif isinstance(addl, dict):
            _walk(addl, item, f.key(path, k) if path else k, out)
