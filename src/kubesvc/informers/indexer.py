"""A local cache of objects keyed by ``namespace/name`` with secondary indexes.

Filled by :class:`kubesvc.informers.Informer`; read by controllers, DNS, proxy and the node
agent. Objects in it are shared: never mutate one (copy first).
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Iterable

from kubesvc.api.objects import NamespacedName, Obj

IndexFunc = Callable[[Obj], Iterable[str]]


def object_key(obj: Obj) -> NamespacedName:
    """``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones."""
    md = obj.get("metadata") or {}
    ns = md.get("namespace")
    # Interned: every informer's indexes and queues of a process share one string per key.
    return NamespacedName(
        sys.intern(f"{ns}/{md.get('name', '')}" if ns else str(md.get("name", ""))))


def namespace_index(obj: Obj) -> list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


class Indexer:
    def __init__(self) -> None:
        self._items: dict[NamespacedName, Obj] = {}
        self._funcs: dict[str, IndexFunc] = {"namespace": namespace_index}
        self._indices: dict[str, dict[str, set[NamespacedName]]] = {"namespace": {}}
        self._values: dict[str, dict[NamespacedName, tuple[str, ...]]] = {"namespace": {}}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Obj | None:
        """By key (an :func:`object_key`, or ``ns/name`` built by the caller)."""
        return self._items.get(NamespacedName(key))

    def list(self) -> builtins.list[Obj]:
        return list(self._items.values())

    def keys(self) -> builtins.list[NamespacedName]:
        return list(self._items)

    def add_index(self, name: str, func: IndexFunc) -> None:
        """Register an index; existing items are indexed at once."""
        self._funcs[name] = func
        self._indices[name] = {}
        self._values[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, key, obj)

    def by_index(self, name: str, value: str) -> builtins.list[Obj]:
        keys = self._indices[name].get(value, ())
        return [self._items[k] for k in keys if k in self._items]

    def index_keys(self, name: str, value: str) -> builtins.list[NamespacedName]:
        return list(self._indices[name].get(value, ()))

    def index_count(self, name: str, value: str) -> int:
        """How many objects have ``value`` in index ``name`` (O(1))."""
        return len(self._indices[name].get(value, ()))

    # -- mutation, by the informer only
    def _index_one(self, name: str, key: NamespacedName, obj: Obj) -> None:
        vals = tuple(dict.fromkeys(self._funcs[name](obj)))
        self._values[name][key] = vals
        idx = self._indices[name]
        for v in vals:
            idx.setdefault(v, set()).add(key)

    def _unindex(self, key: NamespacedName) -> None:
        for name, vals_by_key in self._values.items():
            idx = self._indices[name]
            for v in vals_by_key.pop(key, ()):
                bucket = idx.get(v)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del idx[v]

    def upsert(self, obj: Obj) -> Obj | None:
        """Store ``obj``; return the previous object under its key, if any."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key)
        self._items[key] = obj
        for name in self._funcs:
            self._index_one(name, key, obj)
        return old

    def remove(self, key: str) -> Obj | None:
        k = NamespacedName(key)
        old = self._items.pop(k, None)
        if old is not None:
            self._unindex(k)
        return old
