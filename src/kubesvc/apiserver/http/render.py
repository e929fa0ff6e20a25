"""Turn registry results into response bodies in the negotiated representation.

Plain JSON/YAML pass objects through; Table output goes through
:func:`kubesvc.api.tables.to_table` (columns as upstream ``kubectl get`` prints them) with
``includeObject`` honoured; the metadata representation builds ``PartialObjectMetadata``.
Called by :mod:`.crud` and :mod:`.watch`.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api import tables
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.http.negotiation import Negotiated, encode


def include_object_param(value: str | None) -> str:
    """The ``includeObject`` query parameter (Metadata when absent). Raises BadRequest."""
    return tables.validate_include_object(value or "")


def _partial(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata") or {},
    }


def table(
    info: ResourceInfo,
    objs: list[dict[str, Any]],
    *,
    neg: Negotiated,
    include_object: str,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return tables.to_table(
        info.key, objs, include_object=include_object, list_meta=list_meta or {},
        api_version=f"meta.k8s.io/{neg.version}",
    )


def render_object(
    info: ResourceInfo, obj: dict[str, Any], neg: Negotiated, *, include_object: str
) -> bytes:
    if neg.kind == "table" and obj.get("kind") != "Status":
        md = obj.get("metadata") or {}
        meta = {"resourceVersion": md["resourceVersion"]} if "resourceVersion" in md else {}
        return encode(table(info, [obj], neg=neg, include_object=include_object,
                            list_meta=meta))
    if neg.kind == "metadata" and obj.get("kind") != "Status":
        return encode(_partial(obj, neg.version))
    return encode(obj, neg)


def render_list(
    info: ResourceInfo, lst: dict[str, Any], neg: Negotiated, *, include_object: str
) -> bytes:
    if neg.kind == "table":
        return encode(table(info, lst.get("items") or [], neg=neg,
                            include_object=include_object, list_meta=lst.get("metadata")))
    if neg.kind == "metadata":
        return encode({
            "kind": "PartialObjectMetadataList",
            "apiVersion": f"meta.k8s.io/{neg.version}",
            "metadata": lst.get("metadata") or {},
            "items": [_partial(o, neg.version) for o in lst.get("items") or []],
        })
    return encode(lst, neg)
