"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) on plain dicts.

Called by the API server's PATCH handler for ``application/json-patch+json`` and
``application/merge-patch+json``; calls only ``kubesvc.errors``. Inputs are never mutated.

Errors follow kube-apiserver (``staging/.../endpoints/handlers/patch.go``):
a patch that cannot be decoded is a 400 BadRequest; one with more than 10,000 operations
is 413; one that decodes but does not apply (missing path, failed ``test``) is the generic
422 response: reason Invalid, message "the server rejected our request due to an error in
our request", and one cause of reason ``UnexpectedServerResponse`` carrying the json-patch
library's message (e.g. ``testing value /spec/replicas failed: test failed``).
"""

from __future__ import annotations

from typing import Any

from kubesvc import errors
from kubesvc.api.jsonvalue import deep_copy

MAX_JSON_PATCH_OPERATIONS = 10000
REJECTED_MESSAGE = "the server rejected our request due to an error in our request"
BAD_MERGE_PATCH = "Invalid JSON Patch"


class _PatchFailed(Exception):
    """A well-formed operation that does not apply to the document."""


def patch_rejected(detail: str) -> errors.Invalid:
    """Upstream's ``NewGenericServerResponse(422, ...)`` for a patch that does not apply."""
    return errors.Invalid(
        message=REJECTED_MESSAGE,
        causes=[errors.Cause(reason="UnexpectedServerResponse", message=detail)],
    )


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality (``True`` is not ``1``; ``1`` equals ``1.0``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str):
        raise errors.BadRequest(message="json: cannot unmarshal path into Go value of type string")
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchFailed(f'JSON pointer must be empty or start with a "/": {path!r}')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(token: str, size: int, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return size
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise _PatchFailed(f"Unable to access invalid index: {token}: invalid index referenced")
    idx = int(token)
    if idx > size or (idx == size and not allow_end):
        raise _PatchFailed(f"Unable to access invalid index: {idx}: invalid index referenced")
    return idx


_MISSING = object()


def _walk(doc: Any, tokens: list[str]) -> Any:
    """The value ``tokens`` lead to from ``doc``, or ``_MISSING`` where one is not there."""
    cur = doc
    for token in tokens:
        if isinstance(cur, dict) and token in cur:
            cur = cur[token]
        elif isinstance(cur, list) and token.isdigit() and int(token) < len(cur):
            cur = cur[int(token)]
        else:
            return _MISSING
    return cur


def _container(doc: Any, parts: list[str], op: str, path: str) -> Any:
    """The value holding the last token of ``parts``."""
    cur = _walk(doc, parts[:-1])
    if not isinstance(cur, dict | list):
        raise _PatchFailed(
            f'{op} operation does not apply: doc is missing path: "{path}": missing value'
        )
    return cur


def _get(doc: Any, path: str, op: str, what: str = "path") -> Any:
    cur = _walk(doc, _pointer(path))
    if cur is _MISSING:
        raise _PatchFailed(
            f"{op} operation does not apply: doc is missing {what}: {path}: missing value"
        )
    return cur


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    else:
        parent.insert(_index(last, len(parent), allow_end=True), value)
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise _PatchFailed(
            f'{op} operation does not apply: doc is missing path: "{path}": missing value'
        )
    parent = _container(doc, parts, op, path)
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise _PatchFailed(
                f'{op} operation does not apply: doc is missing path: "{path}": missing value'
            )
        return doc, parent.pop(last)
    return doc, parent.pop(_index(last, len(parent), allow_end=False))


def _apply_one(doc: Any, operation: Any) -> Any:
    if not isinstance(operation, dict):
        raise errors.BadRequest(
            message="json: cannot unmarshal operation into Go value of type jsonpatch.Operation"
        )
    kind = operation.get("op")
    if "path" not in operation:
        raise _PatchFailed(f"operation, missing path field: {kind}: missing value")
    path = operation["path"]
    value = deep_copy(operation.get("value"))
    if kind == "add":
        return _add(doc, path, value)
    if kind == "remove":
        return _remove(doc, path)[0]
    if kind == "replace":
        _get(doc, path, "replace", "key")
        if not _pointer(path):
            return value
        doc, _ = _remove(doc, path, "replace")
        return _add(doc, path, value, "replace")
    if kind in ("move", "copy"):
        src = operation.get("from")
        if not isinstance(src, str):
            raise _PatchFailed(f"{kind} operation does not apply: missing from field")
        moved = deep_copy(_get(doc, src, kind, "from path"))
        if kind == "move":
            if path != src and path.startswith(src + "/"):
                raise _PatchFailed(
                    f"move operation does not apply: cannot move {src} into its own child {path}"
                )
            doc, _ = _remove(doc, src, "move")
        return _add(doc, path, moved, kind)
    if kind == "test":
        try:
            current = _get(doc, path, "test")
        except _PatchFailed:
            current = _MISSING
        if current is _MISSING or not json_equal(current, value):
            if current is _MISSING and value is None:
                return doc
            raise _PatchFailed(f"testing value {path} failed: test failed")
        return doc
    raise _PatchFailed(f"Unexpected kind: {kind}")


_MISSING = object()


def json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 JSON Patch (the decoded list of operations) to ``doc``; returns a
    new document. Raises BadRequest (malformed), RequestEntityTooLarge (over 10,000
    operations) or Invalid (an operation that does not apply, as upstream's 422)."""
    if not isinstance(ops, list):
        raise errors.BadRequest(
            message="json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise errors.RequestEntityTooLarge(
            message=f"The allowed maximum operations in a JSON patch is "
            f"{MAX_JSON_PATCH_OPERATIONS}, got {len(ops)}"
        )
    out = deep_copy(doc)
    try:
        for operation in ops:
            out = _apply_one(out, operation)
    except _PatchFailed as exc:
        raise patch_rejected(str(exc)) from exc
    return out


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return deep_copy(patch)
    out: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _merge(out.get(key), value)
    return out


def merge_patch(doc: Any, patch: Any) -> Any:
    """Apply an RFC 7386 JSON Merge Patch; returns a new document. ``null`` deletes a key,
    objects merge recursively, anything else (arrays included) replaces. A patch that is
    not an object is a 400 BadRequest ("Invalid JSON Patch"), as upstream."""
    if not isinstance(patch, dict):
        raise errors.BadRequest(message=BAD_MERGE_PATCH)
    result = _merge(deep_copy(doc), patch)
    return result
