"""A compact way to write structural schemas, and the registry they are written into.

The kind modules of this package (``meta``, ``core``, ``pod``, ``volumes``, ``apps``,
``discovery``, ``coordination``, ``events``) call :func:`defn` at import time; each call
stores one component schema, already in the shape upstream's OpenAPI v3 documents use
(``properties``, references as ``allOf: [{$ref}]``, the ``x-kubernetes-*`` patch and
list extensions). ``kubesvc.api.schema`` (lookups, sub-schema resolution) and
``kubesvc.api.schema.openapi`` (documents) read :data:`COMPONENTS`. No I/O.

Component schemas are shared, never copied here: readers must not mutate them (the public
functions of ``kubesvc.api.schema`` hand out deep copies).
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

#: Every component schema, keyed by upstream's name (``io.k8s.api.core.v1.Service``).
COMPONENTS: dict[str, Schema] = {}

REF_PREFIX = "#/components/schemas/"

# Name prefixes, as upstream names its definitions.
M = "io.k8s.apimachinery.pkg.apis.meta.v1."
C = "io.k8s.api.core.v1."
A = "io.k8s.api.apps.v1."
D = "io.k8s.api.discovery.v1."
E = "io.k8s.api.events.v1."
L = "io.k8s.api.coordination.v1."
AS = "io.k8s.api.autoscaling.v1."
AUTHN = "io.k8s.api.authentication.v1."
AUTHZ = "io.k8s.api.authorization.v1."

QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
TIME = M + "Time"
MICRO_TIME = M + "MicroTime"
# References to these are scalars on the wire: no ``default: {}`` on the reference.
_SCALAR_REFS = frozenset({QUANTITY, INT_OR_STRING, TIME, MICRO_TIME})

S: Schema = {"type": "string"}
B: Schema = {"type": "boolean"}
I32: Schema = {"type": "integer", "format": "int32"}
I64: Schema = {"type": "integer", "format": "int64"}
F64: Schema = {"type": "number", "format": "double"}
BYTES: Schema = {"type": "string", "format": "byte"}
OPEN: Schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}

# Extension keys (upstream spelling).
PATCH_STRATEGY = "x-kubernetes-patch-strategy"
PATCH_MERGE_KEY = "x-kubernetes-patch-merge-key"
LIST_TYPE = "x-kubernetes-list-type"
LIST_MAP_KEYS = "x-kubernetes-list-map-keys"
MAP_TYPE = "x-kubernetes-map-type"
PRESERVE_UNKNOWN = "x-kubernetes-preserve-unknown-fields"
GVK = "x-kubernetes-group-version-kind"


def ref(name: str, *, patch: str | None = None, map_type: str | None = None) -> Schema:
    """A reference to component ``name`` (upstream v3 shape: ``allOf`` of one ``$ref``)."""
    out: Schema = {"allOf": [{"$ref": REF_PREFIX + name}]}
    if name not in _SCALAR_REFS:
        out["default"] = {}
    if patch:
        out[PATCH_STRATEGY] = patch
    if map_type:
        out[MAP_TYPE] = map_type
    return out


Q = ref(QUANTITY)
IOS = ref(INT_OR_STRING)
T = ref(TIME)
MT = ref(MICRO_TIME)


def arr(
    item: Schema,
    *,
    key: str | None = None,
    strategy: str | None = None,
    list_type: str | None = None,
    map_keys: tuple[str, ...] = (),
) -> Schema:
    """An array; ``key``/``strategy`` are the strategic-merge tags, ``list_type``/``map_keys``
    the server-side-apply ones, as upstream's types.go declares them."""
    out: Schema = {"type": "array", "items": item}
    if key:
        out[PATCH_MERGE_KEY] = key
    if strategy:
        out[PATCH_STRATEGY] = strategy
    if list_type:
        out[LIST_TYPE] = list_type
    if map_keys:
        out[LIST_MAP_KEYS] = list(map_keys)
    return out


def by_type(item: str) -> Schema:
    """A list of component ``item`` that upstream merges by ``type`` (conditions, node
    addresses): ``type`` is its patch merge key and its list-map key."""
    return arr(ref(item), key="type", strategy="merge", list_type="map", map_keys=("type",))


def condition_fields(*times: str) -> dict[str, Schema]:
    """The fields of a status condition: ``times`` (``lastTransitionTime``, ...) as Time, and
    the message, reason, status and type strings, in name order as upstream lists them."""
    fields = dict.fromkeys(times, T) | {"message": S, "reason": S, "status": S, "type": S}
    return dict(sorted(fields.items()))


def mapof(value: Schema, *, map_type: str | None = None) -> Schema:
    """A free-form map with values of one schema (labels, data, resource lists)."""
    out: Schema = {"type": "object", "additionalProperties": value}
    if map_type:
        out[MAP_TYPE] = map_type
    return out


smap: Schema = mapof({"type": "string", "default": ""})
qmap: Schema = mapof(Q)
bytes_map: Schema = mapof(BYTES)


def defn(
    name: str,
    properties: dict[str, Schema],
    *,
    required: tuple[str, ...] = (),
    description: str = "",
    map_type: str | None = None,
) -> Schema:
    """Register the object schema ``name`` and return it."""
    out: Schema = {"type": "object", "properties": properties}
    if description:
        out["description"] = description
    if required:
        out["required"] = list(required)
    if map_type:
        out[MAP_TYPE] = map_type
    COMPONENTS[name] = out
    return out


def scalar(name: str, schema: Schema) -> None:
    """Register a non-object component (Time, Quantity, IntOrString, ...)."""
    COMPONENTS[name] = schema
