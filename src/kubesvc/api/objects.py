"""The plain-dict object model's shared names: the ``Obj`` alias, metadata accessors,
well-known labels and the typed keys used at the informer/store seams.

Objects stay plain JSON dicts (DESIGN.md, convention 3); this module only names them.
Everything above ``api`` imports these instead of redefining them; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NewType

Obj = dict[str, Any]

# discovery.k8s.io/v1 LabelServiceName: the Service an EndpointSlice (or a mirrored
# Endpoints' slice) belongs to.
LABEL_SERVICE_NAME = "kubernetes.io/service-name"

# ``namespace/name`` (or ``name`` for cluster-scoped kinds), as client-go's
# MetaNamespaceKeyFunc builds it: the key of informer indexers and work queues.
NamespacedName = NewType("NamespacedName", str)
# metadata.resourceVersion: the store's revision, as a decimal string on the wire.
ResourceVersion = NewType("ResourceVersion", str)


def meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """``obj["metadata"]`` read-only: ``{}`` (a fresh dict, not stored) when absent."""
    md = obj.get("metadata")
    return md if isinstance(md, dict) else {}


def ensure_object(obj: dict[str, Any], field: str) -> dict[str, Any]:
    """``obj[field]``, created (and stored in ``obj``) when absent or not an object."""
    value = obj.get(field)
    if not isinstance(value, dict):
        value = {}
        obj[field] = value
    return value


def ensure_meta(obj: dict[str, Any]) -> dict[str, Any]:
    """``obj["metadata"]``, created when absent (:func:`ensure_object`)."""
    return ensure_object(obj, "metadata")


def resource_version(revision: int) -> ResourceVersion:
    """The ``metadata.resourceVersion`` of a store revision (its decimal string)."""
    return ResourceVersion(str(revision))
