"""Typed decoding of request objects against the structural schemas.

kube-apiserver decodes a request body into Go structs, so a value of the wrong JSON type
(``data: [1]`` in a ConfigMap, a string where an int32 belongs) fails the request before
anything is stored, with encoding/json's message::

    json: cannot unmarshal array into Go struct field ConfigMap.data of type map[string]string

(the innermost Go struct, the field's JSON path from the root without indexes, the Go type
of the value being decoded). This module walks a decoded object with the schemas of
:mod:`kubesvc.api.schema` — iteratively, so any nesting is safe — and reports the first
such mismatch, and any nesting deeper than :data:`MAX_DEPTH`, as :class:`TypeMismatch`.
Unknown fields are :mod:`kubesvc.api.fields`' concern and are skipped here; null is
accepted anywhere (Go decodes it as the zero value).

Called by the registry's field validation (requests from outside the process) and by the
API server's body decoding (:data:`MAX_DEPTH`). No I/O.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api import schema as sch

#: Deepest nesting accepted in a request object. Upstream's JSON decoder allows 10000; this
#: server stores, patches and serializes objects with recursive code (and orjson refuses to
#: encode more than 254 levels), so objects are bounded well below that.
MAX_DEPTH = 100

_INT_RANGE = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


class TypeMismatch(ValueError):
    """The first value whose JSON type its schema does not allow (encoding/json wording)."""


def depth_message() -> str:
    return f"json: exceeded max depth of {MAX_DEPTH}"


def check_depth(value: Any) -> None:
    """Raise TypeMismatch when ``value`` nests deeper than MAX_DEPTH (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TypeMismatch(depth_message())
        if isinstance(v, dict):
            stack.extend((sub, depth + 1) for sub in v.values() if isinstance(sub, (dict, list)))
        elif isinstance(v, list):
            stack.extend((sub, depth + 1) for sub in v if isinstance(sub, (dict, list)))


def check(obj: Any, *, api_version: str, kind: str) -> None:
    """Raise TypeMismatch at the first field of ``obj`` whose value has the wrong JSON type
    for the schema of ``api_version``/``kind``, or when it nests too deep. A kind without
    a schema is only depth-checked."""
    try:
        root: sch.Schema | None = sch.shared_schema(api_version, kind)
    except KeyError:
        root = None
    # (value, schema or None for "anything", Go struct name, field path, depth)
    stack: list[tuple[Any, sch.Schema | None, str, str, int]] = [(obj, root, kind, "", 0)]
    while stack:
        value, schema, struct, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise TypeMismatch(depth_message())
        if value is None:
            continue
        if schema is None or sch.is_open(schema):
            _push_any(stack, value, depth)
            continue
        name = sch.ref_name(schema)
        s = sch.resolve(schema)
        if name in (_INT_OR_STRING, _QUANTITY):
            ok = isinstance(value, str) or (_is_number(value) and (
                name == _QUANTITY or isinstance(value, int)))
            if not ok:
                raise _mismatch(value, schema, struct, path)
            continue
        typ = s.get("type")
        if typ == "object" or (typ is None and ("properties" in s
                                                or "additionalProperties" in s)):
            if not isinstance(value, dict):
                raise _mismatch(value, schema, struct, path)
            props = s.get("properties")
            if props is not None:
                here = _short(name) if name else struct
                for key, sub in value.items():
                    child = sch.child(schema, key)
                    if child is not None and sub is not None:
                        stack.append((sub, child, here, f"{path}.{key}" if path else key,
                                      depth + 1))
            else:
                extra = s.get("additionalProperties")
                item = extra if isinstance(extra, dict) else None
                for sub in value.values():
                    if sub is not None:
                        stack.append((sub, item, struct, path, depth + 1))
        elif typ == "array":
            if not isinstance(value, list):
                raise _mismatch(value, schema, struct, path)
            item = sch.items(schema)
            for sub in value:
                if sub is not None:
                    stack.append((sub, item, struct, path, depth + 1))
        elif typ == "string":
            if not isinstance(value, str):
                raise _mismatch(value, schema, struct, path)
        elif typ == "boolean":
            if not isinstance(value, bool):
                raise _mismatch(value, schema, struct, path)
        elif typ == "number":
            if not _is_number(value):
                raise _mismatch(value, schema, struct, path)
        elif typ == "integer":
            lo, hi = _INT_RANGE.get(str(s.get("format") or "int64"), _INT_RANGE["int64"])
            if not (isinstance(value, int) and not isinstance(value, bool)
                    and lo <= value <= hi):
                raise _mismatch(value, schema, struct, path)


def _push_any(stack: list[tuple[Any, sch.Schema | None, str, str, int]], value: Any,
              depth: int) -> None:
    if isinstance(value, dict):
        stack.extend((v, None, "", "", depth + 1) for v in value.values()
                     if isinstance(v, (dict, list)))
    elif isinstance(value, list):
        stack.extend((v, None, "", "", depth + 1) for v in value if isinstance(v, (dict, list)))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "number"


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def go_type(schema: sch.Schema) -> str:
    """The Go type upstream decodes a field of this schema into (``v1.ServicePort``,
    ``[]v1.ContainerPort``, ``map[string]string``, ``int32``)."""
    name = sch.ref_name(schema)
    if name:
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}"
    typ = schema.get("type")
    if typ == "string":
        return "[]uint8" if schema.get("format") == "byte" else "string"
    if typ == "integer":
        return str(schema.get("format") or "int64")
    if typ == "number":
        return "float64"
    if typ == "boolean":
        return "bool"
    if typ == "array":
        item = sch.items(schema)
        return "[]" + (go_type(item) if item is not None else "interface {}")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return "map[string]" + go_type(extra)
    return "map[string]interface {}"


def _mismatch(value: Any, schema: sch.Schema, struct: str, path: str) -> TypeMismatch:
    shown = _json_kind(value)
    if shown == "number" and sch.resolve(schema).get("type") == "integer":
        shown = f"number {value!r}"
    where = f"Go struct field {struct}.{path}" if path else "Go value"
    return TypeMismatch(f"json: cannot unmarshal {shown} into {where} of type "
                        f"{go_type(schema)}")
