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
    _walk(obj, root, "", out)
    return out


def _walk(value: Any, schema: sch.Schema, path: str, out: list[str]) -> None:
    if sch.is_open(schema):
        return
    if isinstance(value, dict):
        resolved = sch.resolve(schema)
        if resolved.get("type") not in (None, "object"):
            return  # a type error, not an unknown field
        for key, sub in value.items():
            child = sch.child(schema, key)
            here = f"{path}.{key}"
            if child is None:
                out.append(here)
            else:
                _walk(sub, child, here, out)
    elif isinstance(value, list):
        item = sch.items(schema)
        if item is None:
            return
        for i, sub in enumerate(value):
            _walk(sub, item, f"{path}[{i}]", out)


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
