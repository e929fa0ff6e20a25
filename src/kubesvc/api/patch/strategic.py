"""Strategic merge patch (``application/strategic-merge-patch+json``) on plain dicts.

Semantics follow upstream's ``k8s.io/apimachinery/pkg/util/strategicpatch`` as the API
server applies a patch (MergeParallelList and IgnoreUnmatchedNulls on):

- maps merge recursively; ``null`` deletes a key;
- a list whose field has ``x-kubernetes-patch-strategy: merge`` merges: lists of objects by
  ``x-kubernetes-patch-merge-key`` (``ports`` by ``port``, ``containers`` by ``name``),
  lists of scalars as sets; any other list is replaced;
- directives: ``$patch: replace|delete`` in a map, ``{$patch: delete, <key>: v}`` and
  ``{$patch: replace}`` elements in a merging list, ``$deleteFromPrimitiveList/<field>``,
  ``$setElementOrder/<field>`` (the order kubectl apply sends), ``$retainKeys``;
- the order of a merged list: items named by the patch (or ``$setElementOrder``) in that
  order, server-only items interleaved where they were in the live list.

Patch metadata comes from the structural schemas (``kubesvc.api.schema``); a field with no
schema (unknown, or inside a preserve-unknown-fields subtree) merges maps and replaces
lists. Called by the API server's PATCH handler; calls ``kubesvc.api.schema`` and
``kubesvc.errors``. Inputs are never mutated.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesvc import errors
from kubesvc.api import schema as sch
from kubesvc.api.patch.jsonpatch import json_equal, patch_rejected

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

# Upstream's mergepatch error texts.
ERR_BAD_JSON_DOC = "invalid JSON document"
ERR_NO_LIST_OF_LISTS = "lists of lists are not supported"
ERR_BAD_PRIMITIVE_LIST = "invalid patch format of primitive list"
ERR_BAD_RETAIN_KEYS = "invalid patch format of retainKeys"
ERR_BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list"
ERR_RETAIN_KEYS_MISMATCH = "patch content doesn't match retainKeys list"


class _Failed(Exception):
    """A patch that does not apply; ``status`` picks the HTTP error."""

    def __init__(self, message: str, *, unprocessable: bool = False) -> None:
        super().__init__(message)
        self.unprocessable = unprocessable


def _go(v: Any) -> str:
    """Roughly how Go's %v prints a decoded JSON value (for error messages)."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{_go(x)}" for k, x in sorted(v.items())) + "]"
    if isinstance(v, list):
        return "[" + " ".join(_go(x) for x in v) + "]"
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _no_merge_key(m: dict[str, Any], key: str) -> _Failed:
    return _Failed(f"map: {_go(m)} does not contain declared merge key: {key}")


def _meta(field: sch.Schema | None) -> tuple[str, str | None]:
    """(patch strategy, merge key) of a field; ``retainKeys`` is not a list strategy."""
    if field is None:
        return "", None
    strategies, key = sch.patch_meta(field)
    rest = [s for s in strategies if s != "retainKeys"]
    if len(rest) > 1:
        raise _Failed(f"unexpected patch strategies: {','.join(strategies)}")
    return (rest[0] if rest else ""), key


def _same(a: Any, b: Any) -> bool:
    return json_equal(a, b)


def _clean(value: Any, field: sch.Schema | None) -> Any:
    """A patch value for a key absent from the original: drop nulls and directives, as
    upstream's typed decode would (merging into an empty value does both)."""
    if isinstance(value, dict):
        return _merge_map({}, value, field)
    if isinstance(value, list):
        strategy, key = _meta(field)
        if strategy == "merge":
            return _merge_list([], value, field, key, delete_list=False)
        return [_clean(v, _items(field)) for v in value]
    return value


def _items(field: sch.Schema | None) -> sch.Schema | None:
    return sch.items(field) if field is not None else None


def _child(field: sch.Schema | None, key: str) -> sch.Schema | None:
    return sch.child(field, key) if field is not None else None


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], field: sch.Schema | None
) -> dict[str, Any]:
    """Merge ``patch`` into ``original`` (both already private copies; mutated here)."""
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            rest = {k: v for k, v in patch.items() if k != DIRECTIVE}
            return _merge_map({}, rest, field)
        if directive == "delete":
            return {}
        raise _Failed(f"unknown patch type: {_go(directive)} in map: {_go(patch)}")
    patch = dict(patch)
    _apply_retain_keys(original, patch)
    _apply_set_element_order(original, patch, field)
    for key, value in patch.items():
        delete_list = False
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            key = _strip_prefix(key, DELETE_FROM_PRIMITIVE_LIST, ERR_BAD_PRIMITIVE_LIST)
            delete_list = True
        sub = _child(field, key)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original:
            if not delete_list:
                original[key] = _clean(value, sub)
            continue
        current = original[key]
        if isinstance(current, dict) and isinstance(value, dict):
            strategy, _ = _meta(sub)
            original[key] = (
                _clean(value, sub) if strategy == "replace" else _merge_map(current, value, sub)
            )
        elif isinstance(current, list) and isinstance(value, list):
            strategy, merge_key = _meta(sub)
            if strategy == "merge":
                original[key] = _merge_list(current, value, sub, merge_key, delete_list=delete_list)
            elif not delete_list:
                original[key] = _clean(value, sub) if value else value
        elif not delete_list:
            original[key] = _clean(value, sub)
    return original


def _strip_prefix(key: str, prefix: str, err: str) -> str:
    head, sep, rest = key.partition("/")
    if head != prefix or not sep:
        raise errors.BadRequest(message=err)
    return rest


def _apply_retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    keep = patch.pop(RETAIN_KEYS)
    if not isinstance(keep, list):
        raise errors.BadRequest(message=ERR_BAD_RETAIN_KEYS)
    allowed = {k for k in keep if isinstance(k, str)}
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if k not in allowed:
            raise errors.BadRequest(message=ERR_BAD_RETAIN_KEYS)
    for k in list(original):
        if k not in allowed:
            del original[k]


def _apply_set_element_order(
    original: dict[str, Any], patch: dict[str, Any], field: sch.Schema | None
) -> None:
    """Handle ``$setElementOrder/<key>`` together with the list ``<key>`` it orders;
    both are removed from ``patch`` once merged."""
    for name in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(name)
        key = _strip_prefix(name, SET_ELEMENT_ORDER, ERR_BAD_SET_ELEMENT_ORDER)
        if not isinstance(order, list):
            raise errors.BadRequest(message=ERR_BAD_SET_ELEMENT_ORDER)
        sub = _child(field, key)
        strategy, merge_key = _meta(sub)
        has_orig = isinstance(original.get(key), list)
        has_patch = key in patch
        patch_list = patch.get(key)
        if has_patch and not isinstance(patch_list, list):
            raise errors.BadRequest(message=ERR_BAD_SET_ELEMENT_ORDER)
        if not has_orig and not has_patch:
            continue
        orig_list: list[Any] = original[key] if has_orig else []
        plist: list[Any] = patch_list if isinstance(patch_list, list) else []
        _check_order(plist, order, merge_key)
        if has_patch:
            if strategy == "merge":
                merged = _merge_list(list(orig_list), plist, sub, merge_key, delete_list=False)
            else:
                merged = _clean(plist, sub)
            patch.pop(key)
        else:
            merged = list(orig_list)
        if merge_key:
            in_order = [m for m in merged if _find(order, merge_key, _key_of(m, merge_key)) >= 0]
            server_only = [m for m in merged if _find(order, merge_key, _key_of(m, merge_key)) < 0]
        else:
            in_order = [m for m in merged if any(_same(m, o) for o in order)]
            server_only = [m for m in merged if not any(_same(m, o) for o in order)]
        original[key] = _normalize(in_order, server_only, order, orig_list, merge_key)


def _check_order(plist: list[Any], order: list[Any], merge_key: str | None) -> None:
    """Items of the patch list must appear in ``$setElementOrder`` in the same order."""
    if not plist or not order:
        return
    items = (
        [p for p in plist if not (isinstance(p, dict) and DIRECTIVE in p)] if merge_key else plist
    )
    pi = oi = 0
    while pi < len(items) and oi < len(order):
        if _order_key(items[pi], merge_key) == _order_key(order[oi], merge_key):
            pi += 1
        oi += 1
    if pi < len(items):
        raise _Failed(
            f"The order in patch list:\n{_go(plist)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{_go(order)}\n"
        )


def _order_key(item: Any, merge_key: str | None) -> Any:
    if merge_key:
        if not isinstance(item, dict) or merge_key not in item:
            raise _no_merge_key(item if isinstance(item, dict) else {}, merge_key)
        return _hashable(item[merge_key])
    return _hashable(item)


def _hashable(v: Any) -> Any:
    if isinstance(v, bool):
        return ("b", v)
    if isinstance(v, int | float):
        return ("n", float(v))
    if isinstance(v, str):
        return ("s", v)
    return ("j", repr(v))


def _key_of(item: Any, merge_key: str) -> Any:
    if not isinstance(item, dict):
        raise _Failed(f"value for key {merge_key} is not a map.")
    if merge_key not in item:
        raise _no_merge_key(item, merge_key)
    return item[merge_key]


def _find(items: list[Any], merge_key: str, value: Any) -> int:
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise _Failed(f"value for key {i} is not a map.")
        if merge_key in item and _same(item[merge_key], value):
            return i
    return -1


def _element_kind(*lists: list[Any]) -> str:
    """ "map" or "scalar" for the elements of the lists; errors on mixes and lists."""
    kind = ""
    for lst in lists:
        for v in lst:
            k = "map" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar"
            if k == "list":
                raise _Failed(ERR_NO_LIST_OF_LISTS, unprocessable=True)
            if kind and k != kind:
                raise _Failed(
                    f"list element types are not identical: {' '.join(_go(x) for x in lists)}"
                )
            kind = k
    return kind


def _merge_list(
    original: list[Any],
    patch: list[Any],
    field: sch.Schema | None,
    merge_key: str | None,
    *,
    delete_list: bool,
) -> list[Any]:
    if not original and not patch:
        return original
    kind = _element_kind(original, patch)
    if kind != "map":
        if delete_list:
            return [v for v in original if not any(_same(v, d) for d in patch)]
        merged: list[Any] = []
        for v in [*original, *patch]:
            if not any(_same(v, m) for m in merged):
                merged.append(v)
        in_patch = [m for m in merged if any(_same(m, p) for p in patch)]
        server_only = [m for m in merged if not any(_same(m, p) for p in patch)]
        return _normalize(in_patch, server_only, patch, original, None)
    if not merge_key:
        raise _Failed("cannot merge lists without merge key for type map")
    item_schema = _items(field)
    # Special elements first: deletions and a whole-list replace.
    plain: list[dict[str, Any]] = []
    replace = False
    for v in patch:
        directive = v.get(DIRECTIVE, None) if DIRECTIVE in v else None
        if DIRECTIVE not in v:
            plain.append(v)
        elif directive == "delete":
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)
            original = [
                o
                for o in original
                if not (
                    isinstance(o, dict) and merge_key in o and _same(o[merge_key], v[merge_key])
                )
            ]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise _Failed("merging lists cannot yet be specified in the patch")
        else:
            raise _Failed(f"unknown patch type: {_go(directive)} in map: {_go(v)}")
    if replace:
        return [_clean(v, item_schema) for v in plain]
    merged = list(original)
    for v in plain:
        value = _key_of(v, merge_key)
        idx = _find(merged, merge_key, value)
        if idx >= 0:
            merged[idx] = _merge_map(merged[idx], v, item_schema)
        else:
            merged.append(_clean(v, item_schema))
    in_patch = [m for m in merged if _find(plain, merge_key, _key_of(m, merge_key)) >= 0]
    server_only = [m for m in merged if _find(plain, merge_key, _key_of(m, merge_key)) < 0]
    return _normalize(in_patch, server_only, plain, original, merge_key)


def _position(items: list[Any], item: Any, merge_key: str | None) -> int:
    for i, v in enumerate(items):
        if merge_key:
            if (
                isinstance(v, dict)
                and isinstance(item, dict)
                and merge_key in v
                and merge_key in item
                and _same(v[merge_key], item[merge_key])
            ):
                return i
        elif _same(v, item):
            return i
    return -1


def _sort_by(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def rank(pair: tuple[int, Any]) -> tuple[int, int]:
        pos = _position(order, pair[1], merge_key)
        return (0, pos) if pos >= 0 else (1, pair[0])

    return [v for _, v in sorted(enumerate(items), key=rank)]


def _normalize(
    patch_items: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str | None,
) -> list[Any]:
    """Upstream's normalizeElementOrder: patch items in patch order, server-only items in
    live order, then interleave the server-only items where the live list had them."""
    right = _sort_by(patch_items, patch_order, merge_key)
    left = _sort_by(server_only, server_order, merge_key)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li = _position(server_order, left[i], merge_key)
            ri = _position(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def strategic_merge_patch(
    doc: dict[str, Any], patch: Any, *, api_version: str, kind: str
) -> dict[str, Any]:
    """Apply a strategic merge patch to ``doc`` (an object of ``api_version``/``kind``);
    returns a new object. Raises BadRequest for a malformed patch or unknown directive,
    Invalid (422, upstream's generic response) for lists of lists and retainKeys
    mismatches, KeyError never (an unknown kind merges without list metadata)."""
    if not isinstance(patch, dict) or not isinstance(doc, dict):
        raise errors.BadRequest(message=ERR_BAD_JSON_DOC)
    try:
        root: sch.Schema | None = sch.shared_schema(api_version, kind)
    except KeyError:
        root = None
    try:
        return _merge_map(copy.deepcopy(doc), copy.deepcopy(patch), root)
    except _Failed as exc:
        if exc.unprocessable:
            raise patch_rejected(str(exc)) from exc
        raise errors.BadRequest(message=str(exc)) from exc
