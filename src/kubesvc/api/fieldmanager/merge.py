"""The structured walks of server-side apply over plain JSON values, each guided by a
:class:`.typed.Type` (upstream's structured-merge-diff ``typed`` package):

- :func:`field_set` — the fields a value sets (``ToFieldSet``: scalars, atomic maps and
  lists, every list item, map entries, empty maps and nulls are members; named fields
  holding a non-empty map only through their children);
- :func:`compare` — what changed from one value to another (added, modified, removed);
- :func:`merge` — an applied configuration merged into a live object (maps by key,
  list-maps by their keys, sets by value, atomic values replaced), in upstream's order;
- :func:`remove` — a value without the fields of a set (what pruning takes away).

``ignore`` is a small tree of keys left out of a walk (``None`` leaves = the whole key):
the metadata upstream's stripMeta hides and the reset fields of a (sub)resource. Values
are never mutated; results share unchanged subtrees with the inputs.

Called by :mod:`.manager`; calls :mod:`.fieldpath`, :mod:`.typed`.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.fieldmanager import fieldpath as fp
from kubesvc.api.fieldmanager.typed import Type
from kubesvc.api.patch.jsonpatch import json_equal

Ignore = dict[str, Any]


class FieldError(ValueError):
    """A value that cannot be walked with its type (a list-map item without its key)."""

    def __init__(self, path: fp.Path, message: str) -> None:
        super().__init__(f"{fp.path_string(path)}: {message}")
        self.path = path
        self.message = message


class _Missing:
    __slots__ = ()


MISSING: Any = _Missing()


def item_pe(t: Type, item: Any, index: int, path: fp.Path = ()) -> str:
    """The path element of a list item: ``k:`` for list-maps, ``v:`` for sets, ``i:``
    otherwise."""
    lt = t.list_type
    if lt == "map":
        if not isinstance(item, dict):
            raise FieldError(path, f"element {index}: associative list with keys has an "
                             "element that is not a map")
        fields: dict[str, Any] = {}
        for k in t.keys:
            v = item.get(k)
            if v is None:
                defaults = t.key_defaults()
                if k not in defaults:
                    raise FieldError(
                        path, f"element {index}: associative list with keys has an element "
                        f'that omits key field "{k}" (and doesn\'t have default value)')
                v = defaults[k]
            fields[k] = v
        return fp.key_pe(fields)
    if lt == "set":
        return fp.value_pe(item)
    return fp.index_pe(index)


def _equal(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, (dict, list)):
        return json_equal(a, b)
    return bool(a == b)


# -- field sets


def field_set(value: Any, t: Type, ignore: Ignore | None = None) -> fp.Node:
    """The set of fields ``value`` (an object) sets."""
    if not isinstance(value, dict):
        return {}
    return _fs_map(value, t, ignore, ())


def _fs_map(d: dict[str, Any], t: Type, ignore: Ignore | None, path: fp.Path) -> fp.Node:
    out: fp.Node = {}
    for k, v in d.items():
        sub_ignore = None
        if ignore is not None and k in ignore:
            sub_ignore = ignore[k]
            if sub_ignore is None:
                continue
        ct = t.child(k)
        pe = fp.field(k)
        member, children = _fs(v, ct, sub_ignore, (*path, pe))
        if member or v is None or (isinstance(v, dict) and not v) or not t.is_field(k):
            out[pe] = {**children, fp.DOT: {}} if children else {}
        elif children:
            out[pe] = children
    return out


def _fs(v: Any, t: Type, ignore: Ignore | None, path: fp.Path) -> tuple[bool, fp.Node]:
    if isinstance(v, dict):
        if t.atomic_map:
            return True, {}
        return False, _fs_map(v, t, ignore, path)
    if isinstance(v, list):
        if t.list_type == "atomic":
            return True, {}
        it = t.item()
        out: fp.Node = {}
        for i, item in enumerate(v):
            pe = item_pe(t, item, i, path)
            _, children = _fs(item, it, None, (*path, pe))
            out[pe] = {**children, fp.DOT: {}} if children else {}
        return False, out
    return True, {}


# -- comparison


class Comparison:
    """Paths added, modified and removed from one value to another."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self) -> None:
        self.added: fp.Node = {}
        self.modified: fp.Node = {}
        self.removed: fp.Node = {}

    def empty(self) -> bool:
        return not (self.added or self.modified or self.removed)

    def changed(self) -> fp.Node:
        """Added and modified (what an updater takes ownership of)."""
        return fp.union(self.added, self.modified)


def compare(lhs: Any, rhs: Any, t: Type, ignore: Ignore | None = None) -> Comparison:
    cmp = Comparison()
    _cmp(lhs, rhs, t, (), cmp, ignore)
    return cmp


def _cmp(old: Any, new: Any, t: Type, path: fp.Path, cmp: Comparison,
         ignore: Ignore | None) -> None:
    if old is MISSING:
        if path:  # a whole subtree added: build its node at once
            fp.put(cmp.added, path, _added(new, t, ignore, path))
        return
    if new is not MISSING and old is new:
        return  # shared subtree: nothing changed below
    ld, rd = isinstance(old, dict), isinstance(new, dict)
    if (ld or old is MISSING) and (rd or new is MISSING) and not t.atomic_map and (old or new):
        keys = list(old) if ld else []
        if rd:
            keys += [k for k in new if not ld or k not in old]
        for k in keys:
            sub_ignore = None
            if ignore is not None and k in ignore:
                sub_ignore = ignore[k]
                if sub_ignore is None:
                    continue
            _cmp(old.get(k, MISSING) if ld else MISSING, new.get(k, MISSING) if rd else MISSING,
                 t.child(k), (*path, fp.field(k)), cmp, sub_ignore)
        _node_added_removed(old, new, path, cmp)
        return
    ll, rl = isinstance(old, list), isinstance(new, list)
    if (ll or old is MISSING) and (rl or new is MISSING) and t.list_type != "atomic" \
            and (old or new):
        lmap = _index(old, t, path) if ll else {}
        rmap = _index(new, t, path) if rl else {}
        it = t.item()
        for pe, item in lmap.items():
            _cmp(item, rmap.get(pe, MISSING), it, (*path, pe), cmp, None)
        for pe, item in rmap.items():
            if pe not in lmap:
                _cmp(MISSING, item, it, (*path, pe), cmp, None)
        _node_added_removed(old, new, path, cmp)
        return
    if not path:
        return
    if old is MISSING:
        fp.insert(cmp.added, path)
    elif new is MISSING:
        fp.insert(cmp.removed, path)
    elif not _equal(old, new):
        fp.insert(cmp.modified, path)


def _added(v: Any, t: Type, ignore: Ignore | None, path: fp.Path) -> fp.Node:
    """The node of a value absent before: it and everything in it."""
    if isinstance(v, dict) and v and not t.atomic_map:
        out: fp.Node = {}
        for k, cv in v.items():
            sub_ignore = None
            if ignore is not None and k in ignore:
                sub_ignore = ignore[k]
                if sub_ignore is None:
                    continue
            pe = "f:" + k
            if isinstance(cv, (dict, list)) and cv:
                out[pe] = _added(cv, t.child(k), sub_ignore, (*path, pe))
            else:
                out[pe] = {}  # a leaf (or an empty container): no walk needed
        if out:
            out[fp.DOT] = {}
        return out
    if isinstance(v, list) and v and t.list_type != "atomic":
        it = t.item()
        out = {}
        for i, item in enumerate(v):
            pe = item_pe(t, item, i, path)
            if pe not in out:
                out[pe] = _added(item, it, None, (*path, pe))
        out[fp.DOT] = {}
        return out
    return {}


def _node_added_removed(lv_: Any, rv_: Any, path: fp.Path, cmp: Comparison) -> None:
    if not path:
        return
    if lv_ is MISSING:
        fp.insert(cmp.added, path)
    elif rv_ is MISSING:
        fp.insert(cmp.removed, path)


def _index(items: list[Any], t: Type, path: fp.Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, item in enumerate(items):
        out.setdefault(item_pe(t, item, i, path), item)
    return out


# -- merge


def merge(live: Any, config: Any, t: Type, path: fp.Path = ()) -> Any:
    """``config`` merged into ``live``."""
    if isinstance(live, dict) and isinstance(config, dict) and not t.atomic_map:
        out = dict(live)
        for k, cv in config.items():
            if cv is None:
                out.pop(k, None)
            elif k in live:
                out[k] = merge(live[k], cv, t.child(k), (*path, fp.field(k)))
            else:
                out[k] = cv
        return out
    if isinstance(live, list) and isinstance(config, list) and t.list_type != "atomic":
        return _merge_list(live, config, t, path)
    return config


def _merge_list(live: list[Any], config: list[Any], t: Type, path: fp.Path) -> list[Any]:
    """Items of both merged, as upstream's walk orders them: the two lists side by side,
    live-only items where they were, applied items in the applied order."""
    lpes = [item_pe(t, item, i, path) for i, item in enumerate(live)]
    rpes = [item_pe(t, item, i, path) for i, item in enumerate(config)]
    rset = set(rpes)
    lmap: dict[str, Any] = {}
    for pe, item in zip(lpes, live, strict=True):
        lmap.setdefault(pe, item)
    it = t.item()
    out: list[Any] = []
    merged: set[str] = set()
    li = ri = 0
    while li < len(lpes) or ri < len(rpes):
        if li < len(lpes) and ri < len(rpes) and lpes[li] == rpes[ri]:
            pe = rpes[ri]
            merged.add(pe)
            out.append(merge(lmap[pe], config[ri], it, (*path, pe)))
            li += 1
            ri += 1
            continue
        if li < len(lpes):
            pe = lpes[li]
            if pe not in rset:
                out.append(live[li])
                li += 1
                continue
            if pe in merged:
                li += 1
                continue
        if ri < len(rpes):
            pe = rpes[ri]
            merged.add(pe)
            old = lmap.get(pe, MISSING)
            out.append(config[ri] if old is MISSING else merge(old, config[ri], it,
                                                               (*path, pe)))
            ri += 1
        else:
            li += 1  # (a live item that the applied list names twice)
    return out


# -- removal


def remove(value: Any, s: fp.Node, t: Type, owned: fp.Node | None = None) -> Any:
    """``value`` without the member paths of ``s``, except what ``owned`` still holds
    below them; a named field left empty by the removal goes too (upstream removes named
    fields as members, then adds back what anyone still owns)."""
    if not s:
        return value
    return _remove(value, s, owned or {}, t, ())


def _gone(sub: fp.Node, owned: fp.Node | None) -> bool:
    """A member of the removal set goes as a whole unless someone owns part of it."""
    return fp.is_member(sub) and not (owned and any(k != fp.DOT for k in owned))


def _remove(v: Any, node: fp.Node, owned: fp.Node, t: Type, path: fp.Path) -> Any:
    if isinstance(v, dict):
        out: dict[str, Any] | None = None
        for pe, sub in node.items():
            if pe == fp.DOT or not pe.startswith("f:"):
                continue
            k = pe[2:]
            if k not in v:
                continue
            if out is None:
                out = dict(v)
            osub = owned.get(pe)
            if _gone(sub, osub):
                del out[k]
                continue
            old = v[k]
            nv = _remove(old, sub, osub or {}, t.child(k), (*path, pe))
            if nv is not old and isinstance(nv, (dict, list)) and not nv and t.is_field(k):
                del out[k]
            else:
                out[k] = nv
        return v if out is None else out
    if isinstance(v, list) and t.list_type != "atomic":
        it = t.item()
        items: list[Any] = []
        changed = False
        for i, item in enumerate(v):
            try:
                pe = item_pe(t, item, i, path)
            except FieldError:
                items.append(item)
                continue
            sub = node.get(pe)
            if sub is None:
                items.append(item)
            elif _gone(sub, owned.get(pe)):
                changed = True
            else:
                ni = _remove(item, sub, owned.get(pe) or {}, it, (*path, pe))
                changed = changed or ni is not item
                items.append(ni)
        return items if changed else v
    return v
