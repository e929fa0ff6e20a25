"""Defaulting for the remaining core, discovery and coordination kinds: Endpoints (port
protocol), EndpointSlice (port name/protocol), Namespace (the ``kubernetes.io/metadata.name``
label, ``Active`` phase; the create-only ``kubernetes`` finalizer is
:func:`prepare_namespace_create`), Secret (``Opaque``), ConfigMap, Node.
Called by :func:`kubesvc.api.defaults.apply_defaults`. Pure dict code.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults._util import dicts

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def apply_endpoints_defaults(obj: dict[str, Any]) -> None:
    for ss in dicts(obj.get("subsets")):
        for p in dicts(ss.get("ports")):
            if isinstance(p, dict) and not p.get("protocol"):
                p["protocol"] = "TCP"


def apply_endpointslice_defaults(obj: dict[str, Any]) -> None:
    for p in dicts(obj.get("ports")):
        if isinstance(p, dict):
            if p.get("name") is None:
                p["name"] = ""
            if p.get("protocol") is None:
                p["protocol"] = "TCP"


def apply_namespace_defaults(obj: dict[str, Any]) -> None:
    """``SetDefaults_Namespace``/``_NamespaceStatus``."""
    meta = obj.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if isinstance(meta, dict) and isinstance(name, str) and name:
        labels = meta.get("labels")
        if not isinstance(labels, dict):
            labels = {}
            meta["labels"] = labels
        labels[NAMESPACE_NAME_LABEL] = name
    status = obj.get("status")
    if not isinstance(status, dict):
        status = {}
        obj["status"] = status
    if not status.get("phase"):
        status["phase"] = "Active"


def apply_secret_defaults(obj: dict[str, Any]) -> None:
    if not obj.get("type"):
        obj["type"] = "Opaque"


def apply_configmap_defaults(obj: dict[str, Any]) -> None:
    """Upstream defaults ``data`` to an empty map internally; it is omitted when empty on
    the wire, so nothing to add here beyond normalising ``null``."""
    if obj.get("data") is None:
        obj.pop("data", None)


def apply_node_defaults(obj: dict[str, Any]) -> None:
    """``SetDefaults_NodeStatus``: allocatable defaults to capacity."""
    status = obj.get("status")
    if (
        isinstance(status, dict)
        and status.get("allocatable") is None
        and isinstance(status.get("capacity"), dict)
    ):
        status["allocatable"] = dict(status["capacity"])


def prepare_namespace_create(obj: dict[str, Any]) -> None:
    """The Namespace strategy's ``PrepareForCreate``: status ``Active`` and the
    ``kubernetes`` finalizer appended to ``spec.finalizers``. Create only: the finalize
    subresource may remove it later, and defaulting must not put it back."""
    obj["status"] = {"phase": "Active"}
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        obj["spec"] = spec
    fins = spec.get("finalizers")
    if not isinstance(fins, list):
        fins = []
    if "kubernetes" not in fins:
        fins = [*fins, "kubernetes"]
    spec["finalizers"] = fins
