"""How each part of an object merges, read from the structural schemas of
:mod:`kubesvc.api.schema` (upstream's ``x-kubernetes-*`` markers, as structured-merge-diff
reads them through kube-openapi's schemaconv):

- lists: ``x-kubernetes-list-type`` ``atomic`` | ``set`` | ``map`` (keyed by
  ``x-kubernetes-list-map-keys``); a list without one falls back to its strategic-merge
  tags (``patch-strategy: merge`` with a merge key is a map on that key, without one a
  set), else it is atomic;
- maps: granular unless ``x-kubernetes-map-type: atomic``; a declared property is a
  *named field*, any other key a map entry;
- anything without a schema (kinds this server has no schema for, custom resources without
  one, preserve-unknown-fields subtrees) is *deduced*: maps granular, lists atomic.

Types are compiled once per shared schema object and cached. Called by :mod:`.merge`.
"""

from __future__ import annotations

from typing import Any, Literal

from kubesvc.api import resources
from kubesvc.api import schema as sch
from kubesvc.api.apiextensions import model as crd_model
from kubesvc.api.schema._dsl import LIST_MAP_KEYS, LIST_TYPE, MAP_TYPE, PRESERVE_UNKNOWN

ListType = Literal["atomic", "set", "map"]

# Defaults of list-map key fields that upstream declares with +default (so an applied
# port without a protocol is the same item as the stored, defaulted one).
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}

# Structs upstream marks ``+structType=atomic`` (``x-kubernetes-map-type: atomic`` in its
# OpenAPI): set and owned as one value.
ATOMIC_STRUCTS = frozenset({
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
    "io.k8s.api.core.v1.TopologySelectorTerm",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
})


class Type:
    """The merge behaviour at one place of an object. ``schema`` None means deduced."""

    __slots__ = ("_children", "_item", "_kdef", "atomic_map", "keys", "list_type", "props",
                 "schema")

    def __init__(self, schema: sch.Schema | None) -> None:
        self.schema = schema
        self._children: dict[str, Type] = {}
        self._item: Type | None = None
        self._kdef: dict[str, Any] | None = None
        self.atomic_map = False
        self.list_type: ListType = "atomic"
        self.keys: tuple[str, ...] = ()
        self.props: frozenset[str] = frozenset()
        if schema is None:
            return
        res = sch.resolve(schema)
        self.atomic_map = (schema.get(MAP_TYPE) or res.get(MAP_TYPE)) == "atomic" or \
            sch.ref_name(schema) in ATOMIC_STRUCTS
        props = res.get("properties")
        if isinstance(props, dict):
            self.props = frozenset(props)
        lt = schema.get(LIST_TYPE) or res.get(LIST_TYPE)
        if lt in ("atomic", "set", "map"):
            self.list_type = lt
            if lt == "map":
                keys = schema.get(LIST_MAP_KEYS) or res.get(LIST_MAP_KEYS) or ()
                self.keys = tuple(str(k) for k in keys)
        else:
            strategies, key = sch.patch_meta(schema)
            if "merge" in strategies:
                self.list_type = "map" if key else "set"
                self.keys = (key,) if key else ()
        if self.list_type == "map" and not self.keys:
            self.list_type = "atomic"

    def is_field(self, key: str) -> bool:
        """True for a declared property (a named field), False for a map entry."""
        return key in self.props

    def child(self, key: str) -> Type:
        t = self._children.get(key)
        if t is None:
            if self.schema is None:
                t = DEDUCED
            else:
                sub = sch.child(self.schema, key)
                t = DEDUCED if sub is None or _open(sub) else of(sub)
            self._children[key] = t
        return t

    def item(self) -> Type:
        if self._item is None:
            sub = sch.items(self.schema) if self.schema is not None else None
            self._item = DEDUCED if sub is None or _open(sub) else of(sub)
        return self._item

    def key_defaults(self) -> dict[str, Any]:
        """Defaults of this list's key fields: the item schema's ``default``, else
        :data:`KEY_DEFAULTS`."""
        if self._kdef is not None:
            return self._kdef
        out: dict[str, Any] = {}
        item = self.item()
        for k in self.keys:
            sub = sch.child(item.schema, k) if item.schema is not None else None
            if sub is not None and "default" in sch.resolve(sub):
                out[k] = sch.resolve(sub)["default"]
            elif k in KEY_DEFAULTS:
                out[k] = KEY_DEFAULTS[k]
        self._kdef = out
        return out


def _open(schema: sch.Schema) -> bool:
    res = sch.resolve(schema)
    return bool(schema.get(PRESERVE_UNKNOWN) or res.get(PRESERVE_UNKNOWN)) and "properties" \
        not in res


OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
DEDUCED = Type(None)
_CACHE: dict[int, Type] = {}


def of(schema: sch.Schema) -> Type:
    """The compiled type of a shared (never mutated, never freed) schema object."""
    t = _CACHE.get(id(schema))
    if t is None:
        t = _CACHE[id(schema)] = Type(schema)
    return t


def _untyped_object() -> Type:
    """An object of a kind without a schema: its top-level fields are named fields and its
    metadata is an ObjectMeta, as for every kind; below that, everything is deduced."""
    t = Type(None)
    t.props = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})
    t._children["metadata"] = of(sch.COMPONENTS[OBJECT_META])
    return t


UNTYPED_OBJECT = _untyped_object()


# custom kinds: (apiVersion, kind) -> (the version's schema object, its type); the schema
# is kept (and compared by identity) so a CRD update is seen and an id never reused
_CUSTOM: dict[tuple[str, str], tuple[sch.Schema, Type]] = {}


def for_kind(api_version: str, kind: str) -> Type:
    """The type of a served kind's objects: its schema's, a custom resource's version's
    ``openAPIV3Schema`` (its metadata an ObjectMeta), else :data:`UNTYPED_OBJECT`."""
    try:
        return of(sch.shared_schema(api_version, kind))
    except KeyError:
        pass
    group, _, version = api_version.rpartition("/")
    info = resources.BY_GVK.get((group, version, kind))
    d = crd_model.for_info(info) if info is not None else None
    ver = d.versions.get(version) if d is not None else None
    schema = ver.schema if ver is not None else None
    if schema is None:
        return UNTYPED_OBJECT
    cached = _CUSTOM.get((api_version, kind))
    if cached is not None and cached[0] is schema:
        return cached[1]
    t = Type(schema)
    t.props = t.props | UNTYPED_OBJECT.props
    t._children["metadata"] = of(sch.COMPONENTS[OBJECT_META])
    _CUSTOM[(api_version, kind)] = (schema, t)
    return t
