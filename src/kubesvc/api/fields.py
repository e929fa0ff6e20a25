"""Unknown-field detection for server-side field validation (``fieldValidation``).

kube-apiserver decodes request bodies strictly when ``fieldValidation=Strict`` (kubectl's
default since v1.27) or ``Warn``: every JSON field that the kind's structural schema does
not declare is an error or a warning. This module finds those fields on a decoded object,
walking the schemas of ``kubesvc.api.schema``: free-form maps (``metadata.labels``,
``data``, ``spec.selector``, resource lists) and preserve-unknown-fields subtrees accept
anything.

Called by the API server's create/update/patch handlers; calls ``kubesvc.api.schema``.
No I/O. Upstream wording (``sigs.k8s.io/json`` strict errors, aggregated by
``runtime.NewStrictDecodingError``, wrapped by the handlers' ``transformDecodeError``):

- Strict, create/update: 400 BadRequest,
  ``Service in version "v1" cannot be handled as a Service: strict decoding error:
  unknown field "spec.foo", unknown field "spec.ports[0].bogus"``
  (see :func:`strict_decoding_message` and :func:`decode_error_message`);
- Strict, patch: 422 Invalid on field ``patch`` (upstream puts the patched JSON as the
  invalid value) with the same ``strict decoding error: ...`` detail;
- Warn: one ``Warning`` header per field, text ``unknown field "spec.foo"``
  (:func:`warning_messages`).
"""

from __future__ import annotations

from typing import Any

from kubesvc.api import schema as sch

#: ``unknown field "<path>"`` — one strict-decoding error (and one Warn-mode warning).
UNKNOWN_FIELD = 'unknown field "{path}"'
#: Prefix of the aggregated strict-decoding error.
STRICT_DECODING_PREFIX = "strict decoding error: "
#: The create/update handlers' wrapping of a decode error (a 400 BadRequest).
DECODE_ERROR = '{kind} in version "{version}" cannot be handled as a {kind}: {detail}'

FIELD_VALIDATION_IGNORE = "Ignore"
FIELD_VALIDATION_WARN = "Warn"
FIELD_VALIDATION_STRICT = "Strict"


def unknown_fields(obj: Any, *, api_version: str, kind: str) -> list[str]:
    """JSON paths (``.spec.foo``, ``.spec.ports[0].bogus``) of the fields of ``obj`` that
    the schema of ``api_version``/``kind`` does not declare, in document order. A kind
    without a schema reports nothing."""
    try:
        root = sch.shared_schema(api_version, kind)
    except KeyError:
        return []
    out: list[str] = []
    _walk(obj, root, None, out)
    return out


# Memo of the schema look-ups the walk repeats for every object (schemas are long-lived
# shared dicts, so their id() is stable). Only keys the schema declares are remembered, so
# arbitrary input keys cannot grow these tables.
_OPEN: dict[int, bool] = {}
_OBJECT: dict[int, bool] = {}
_ITEMS: dict[int, sch.Schema | None] = {}
_CHILD: dict[tuple[int, str], sch.Schema] = {}


def _is_open(schema: sch.Schema) -> bool:
    k = id(schema)
    v = _OPEN.get(k)
    if v is None:
        v = _OPEN[k] = sch.is_open(schema)
    return v


def _is_object(schema: sch.Schema) -> bool:
    k = id(schema)
    v = _OBJECT.get(k)
    if v is None:
        v = _OBJECT[k] = sch.resolve(schema).get("type") in (None, "object")
    return v


def _items(schema: sch.Schema) -> sch.Schema | None:
    k = id(schema)
    if k not in _ITEMS:
        _ITEMS[k] = sch.items(schema)
    return _ITEMS[k]


def _child(schema: sch.Schema, key: str) -> sch.Schema | None:
    ck = (id(schema), key)
    hit = _CHILD.get(ck)
    if hit is not None:
        return hit
    child = sch.child(schema, key)
    if child is not None:
        _CHILD[ck] = child
    return child


# A path is built only when a field is unknown: (parent, segment) links until then.
_Path = tuple[Any, str] | None


def _render(path: _Path) -> str:
    parts: list[str] = []
    while path is not None:
        path, seg = path
        parts.append(seg)
    return "".join(reversed(parts))


def _walk(value: Any, schema: sch.Schema, path: _Path, out: list[str]) -> None:
    if _is_open(schema):
        return
    if isinstance(value, dict):
        if not _is_object(schema):
            return  # a type error, not an unknown field
        for key, sub in value.items():
            child = _child(schema, key)
            if child is None:
                out.append(_render((path, f".{key}")))
            elif isinstance(sub, (dict, list)):
                _walk(sub, child, (path, f".{key}"), out)
    elif isinstance(value, list):
        item = _items(schema)
        if item is None:
            return
        for i, sub in enumerate(value):
            if isinstance(sub, (dict, list)):
                _walk(sub, item, (path, f"[{i}]"), out)


def _bare(path: str) -> str:
    return path[1:] if path.startswith(".") else path


def unknown_field_errors(paths: list[str]) -> list[str]:
    """``unknown field "spec.foo"`` for each path (leading dot dropped, as upstream)."""
    return [UNKNOWN_FIELD.format(path=_bare(p)) for p in paths]


def warning_messages(paths: list[str]) -> list[str]:
    """The Warn-mode warning texts, one per unknown field."""
    return unknown_field_errors(paths)


def strict_decoding_message(paths: list[str]) -> str:
    """``strict decoding error: unknown field "spec.foo", unknown field "spec.bar"``."""
    return STRICT_DECODING_PREFIX + ", ".join(unknown_field_errors(paths))


def decode_error_message(api_version: str, kind: str, detail: str) -> str:
    """The create/update handlers' 400 message around a decode error ``detail``."""
    version = api_version.rpartition("/")[2]
    return DECODE_ERROR.format(kind=kind, version=version, detail=detail)


# -- duplicate fields (issue 24) ----------------------------------------------------------

DUPLICATE_FIELD = 'duplicate field "{path}"'


class _Pairs(dict[str, Any]):
    """A decoded JSON object that remembers which of its keys appeared more than once."""

    dups: list[str]


def _pairs(items: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs()
    out.dups = []
    for key, value in items:
        if key in out and key not in out.dups:
            out.dups.append(key)
        out[key] = value
    return out


def duplicate_fields(body: bytes) -> list[str]:
    """The paths of keys repeated within one JSON object of ``body`` (``spec.replicas``),
    which upstream's strict decoder reports; [] for a body that is not JSON."""
    import json

    try:
        doc = json.loads(body, object_pairs_hook=_pairs)
    except ValueError:
        return []
    out: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, _Pairs):
            out.extend(f"{path}.{k}" if path else k for k in value.dups)
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{path}[{i}]")

    walk(doc, "")
    return out


def duplicate_field_errors(paths: list[str]) -> list[str]:
    return [DUPLICATE_FIELD.format(path=p) for p in paths]
