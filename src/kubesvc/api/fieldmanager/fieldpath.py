"""Field sets in upstream's FieldsV1 shape, and the set algebra managedFields needs.

A set is a nested dict exactly as ``metadata.managedFields[].fieldsV1`` holds it: each key
is one path element (``f:<field>``, ``k:<json of the key fields>``, ``v:<json value>``,
``i:<index>``) mapping to the node of that path; a node is a *member* of the set when it
is a leaf (``{}``) or carries ``"."`` (upstream's marker for "this path itself, and some
of its children"). The root is never a member: ``{}`` at the root is the empty set.
Keeping the wire form as the working form means stored managedFields are used without a
decode step. Operations never mutate their inputs (results may share subtrees with them).

Called by :mod:`.merge` and :mod:`.manager`; pure.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

Node = dict[str, Any]
Path = tuple[str, ...]
DOT = "."
_LEAF: Node = {}


def field(name: str) -> str:
    return "f:" + name


def value_pe(v: Any) -> str:
    return "v:" + json_text(v)


def key_pe(fields: dict[str, Any]) -> str:
    return "k:" + json_text(fields)


def index_pe(i: int) -> str:
    return f"i:{i}"


def json_text(v: Any) -> str:
    """Go's json.Marshal of a decoded value: compact, map keys sorted."""
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def is_member(node: Node) -> bool:
    return not node or DOT in node


def insert(root: Node, path: Path) -> None:
    """Add ``path`` to ``root`` in place (``root`` must be private to the caller)."""
    node = root
    last = len(path) - 1
    for i, pe in enumerate(path):
        nxt = node.get(pe)
        if i == last:
            if nxt is None:
                node[pe] = {}
            elif nxt:
                nxt[DOT] = _LEAF
            return
        if nxt is None:
            nxt = node[pe] = {}
        elif not nxt:
            nxt[DOT] = _LEAF  # a member leaf gaining children stays a member
        node = nxt


def put(root: Node, path: Path, node: Node) -> None:
    """Add the subtree ``node`` (its root a member) at ``path`` of ``root``, in place;
    ``node`` is taken over (not copied)."""
    parent = root
    for pe in path[:-1]:
        nxt = parent.get(pe)
        if nxt is None:
            nxt = parent[pe] = {}
        elif not nxt:
            nxt[DOT] = _LEAF
        parent = nxt
    last = path[-1]
    old = parent.get(last)
    parent[last] = node if old is None else _union(old, node)


def _union(a: Node, b: Node) -> Node:
    if a is b:
        return a
    member = is_member(a) or is_member(b)
    out: Node = {}
    for k, v in a.items():
        if k == DOT:
            continue
        w = b.get(k)
        out[k] = v if w is None else _union(v, w)
    for k, w in b.items():
        if k != DOT and k not in a:
            out[k] = w
    if member and out:
        out[DOT] = _LEAF
    return out


def union(a: Node, b: Node) -> Node:
    if not a:
        return b
    if not b:
        return a
    out: Node = dict(a)
    for k, w in b.items():
        v = out.get(k)
        out[k] = w if v is None else _union(v, w)
    return out


def _difference(a: Node, b: Node) -> Node | None:
    """``a`` minus ``b`` for two nodes at the same path; None when nothing is left."""
    member = is_member(a) and not is_member(b)
    out: Node = {}
    for k, v in a.items():
        if k == DOT:
            continue
        w = b.get(k)
        if w is None:
            out[k] = v
        else:
            d = _difference(v, w)
            if d is not None:
                out[k] = d
    if out:
        if member:
            out[DOT] = _LEAF
        return out
    return {} if member else None


def difference(a: Node, b: Node) -> Node:
    if not a or not b:
        return a
    out: Node = {}
    for k, v in a.items():
        w = b.get(k)
        if w is None:
            out[k] = v
        else:
            d = _difference(v, w)
            if d is not None:
                out[k] = d
    return out


def _intersection(a: Node, b: Node) -> Node | None:
    member = is_member(a) and is_member(b)
    out: Node = {}
    for k, v in a.items():
        if k == DOT:
            continue
        w = b.get(k)
        if w is not None:
            i = _intersection(v, w)
            if i is not None:
                out[k] = i
    if out:
        if member:
            out[DOT] = _LEAF
        return out
    return {} if member else None


def intersection(a: Node, b: Node) -> Node:
    if not a or not b:
        return {}
    out: Node = {}
    for k, v in a.items():
        w = b.get(k)
        if w is not None:
            i = _intersection(v, w)
            if i is not None:
                out[k] = i
    return out


def members(root: Node) -> Iterator[Path]:
    """Every member path, in sorted order of path elements (as upstream iterates)."""

    def walk(node: Node, prefix: Path) -> Iterator[Path]:
        if is_member(node):
            yield prefix
        for k in sorted(node):
            if k != DOT:
                yield from walk(node[k], (*prefix, k))

    for k in sorted(root):
        yield from walk(root[k], (k,))


def has(root: Node, path: Path) -> bool:
    node = root
    for pe in path:
        nxt = node.get(pe)
        if nxt is None:
            return False
        node = nxt
    return bool(path) and is_member(node)


def canonical(raw: Any) -> Node:
    """A FieldsV1 value from a client as a set: keys and values re-encoded as this module
    writes them (so equal paths compare equal). Raises ValueError on a malformed one."""
    if not isinstance(raw, dict):
        raise ValueError("fieldsV1 must be an object")
    out: Node = {}
    for k, v in raw.items():
        if k == DOT:
            if v != {}:
                raise ValueError("the '.' marker must map to {}")
            out[DOT] = _LEAF
            continue
        out[_canonical_pe(k)] = canonical(v)
    return out


def _canonical_pe(pe: str) -> str:
    kind, sep, rest = pe.partition(":")
    if not sep or kind not in ("f", "k", "v", "i"):
        raise ValueError(f"unknown path element {pe!r}")
    if kind in ("k", "v"):
        try:
            return kind + ":" + json_text(orjson.loads(rest))
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"bad path element {pe!r}") from exc
    if kind == "i" and not rest.lstrip("-").isdigit():
        raise ValueError(f"bad index {pe!r}")
    return pe


def encode(root: Node) -> Node:
    """The FieldsV1 object for a set (a copy with ``.`` first and keys sorted, as upstream
    serializes)."""

    def enc(node: Node) -> Node:
        out: Node = {DOT: {}} if DOT in node else {}
        for k in sorted(node):
            if k != DOT:
                sub = node[k]
                out[k] = enc(sub) if sub else {}
        return out

    return {k: enc(root[k]) for k in sorted(root)}


def path_string(path: Path) -> str:
    """Upstream's ``fieldpath.Path.String()``: ``.spec.containers[name="nginx"].image``."""
    parts: list[str] = []
    for pe in path:
        kind, rest = pe[0], pe[2:]
        if kind == "f":
            parts.append("." + rest)
        elif kind == "k":
            fields = orjson.loads(rest)
            parts.append("[" + ",".join(f"{k}={json_text(v)}" for k, v in fields.items()) + "]")
        elif kind == "v":
            parts.append("[=" + rest + "]")
        else:
            parts.append("[" + rest + "]")
    return "".join(parts)
