"""Server-side field validation (``fieldValidation=Strict|Warn|Ignore``) for the registry.

Unknown fields (per the kind's structural schema, :func:`kubesvc.api.fields.unknown_fields`)
are a 400 under Strict (422 on field ``patch`` for patches, as upstream), warnings under Warn
(appended to the caller's ``warnings`` list; the HTTP layer sends them as ``Warning``
headers), and in every mode dropped from the object, as upstream's decoding into typed
structs drops them.

Values of the wrong JSON type are refused first (:func:`check_types`), as upstream's typed
decoding fails before its strict checks. Called by :mod:`.core` and :mod:`.patching`;
calls :mod:`kubesvc.api.fields` and :mod:`kubesvc.api.typecheck`.
"""

from __future__ import annotations

from typing import Any

import orjson

from kubesvc import errors
from kubesvc.api import fields as apifields
from kubesvc.api import typecheck
from kubesvc.api.objects import Obj
from kubesvc.api.resources import ResourceInfo, is_custom
from kubesvc.api.validation import field as f

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
# The registry's default: a kubesvc component calling in-process (its Client), whose objects
# carry only declared fields (upstream's controllers decode into typed structs likewise);
# the walk is skipped. Requests always name one of FIELD_VALIDATION (Warn when absent).
IN_PROCESS = ""


def check_fields(info: ResourceInfo, obj: Obj, field_validation: str,
                 warnings: list[str] | None, *, patch: bool = False) -> None:
    """Server-side field validation: unknown fields are an error (Strict) or a warning
    appended to ``warnings`` (Warn); in every mode they are dropped from ``obj``, as
    upstream's decoding into typed structs drops them."""
    if field_validation == IN_PROCESS:
        return
    if field_validation not in FIELD_VALIDATION:
        raise errors.BadRequest(
            message=f'fieldValidation: Unsupported value: "{field_validation}": supported '
            'values: "Ignore", "Strict", "Warn"'
        )
    if is_custom(info):
        return  # pruned against the CRD's schema by its strategy (decode_custom)
    check_types(info, obj, patch=patch)
    unknown = apifields.unknown_fields(obj, api_version=info.api_version, kind=info.kind)
    if not unknown:
        return
    if field_validation == "Strict":
        detail = apifields.strict_decoding_message(unknown)
        if patch:
            name = str((obj.get("metadata") or {}).get("name") or "")
            shown = orjson.dumps(obj).decode()
            raise errors.invalid(info.kind, name, [
                f.invalid("patch", shown, detail)
            ], group=info.group)
        raise errors.BadRequest(
            message=apifields.decode_error_message(info.api_version, info.kind, detail)
        )
    if field_validation == "Warn" and warnings is not None:
        warnings.extend(apifields.warning_messages(unknown))
    for path in unknown:
        prune_path(obj, path)


def check_types(info: ResourceInfo, obj: Obj, *, patch: bool = False) -> None:
    """A value of the wrong JSON type for its field fails as upstream's decoding into Go
    structs fails: 400 ``<Kind> in version "v1" cannot be handled as a <Kind>: json: cannot
    unmarshal ...`` (422 on field ``patch`` for a patch, the patched object as the value)."""
    try:
        typecheck.check(obj, api_version=info.api_version, kind=info.kind)
    except typecheck.TypeMismatch as exc:
        if patch:
            shown = orjson.dumps(obj).decode()
            raise errors.Invalid(
                message=f' "" is invalid: patch: Invalid value: "{shown}": {exc}',
                causes=[errors.Cause("FieldValueInvalid", f'Invalid value: "{shown}": {exc}',
                                     "patch")],
            ) from exc
        raise errors.BadRequest(
            message=apifields.decode_error_message(info.api_version, info.kind, str(exc))
        ) from exc


def prune_path(obj: Any, path: str) -> None:
    """Delete the field at a :func:`kubesvc.api.fields.unknown_fields` path
    (``.spec.ports[0].bogus``) from ``obj``; keys may themselves contain dots."""
    node, rest = obj, path
    while rest:
        if rest[0] == "[":
            end = rest.find("]")
            if end < 0 or not isinstance(node, list):
                return
            try:
                node = node[int(rest[1:end])]
            except (ValueError, IndexError):
                return
            rest = rest[end + 1:]
        elif rest[0] == "." and isinstance(node, dict):
            rest = rest[1:]
            keys = [k for k in node if rest == k or rest.startswith((k + ".", k + "["))]
            if not keys:
                return
            key = max(keys, key=len)
            if rest == key:
                del node[key]
                return
            node, rest = node[key], rest[len(key):]
        else:
            return
