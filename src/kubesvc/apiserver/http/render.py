"""Turn registry results into response bodies in the negotiated representation.

Plain JSON/YAML pass objects through; Table output goes through
:func:`kubesvc.api.tables.to_table` (columns as upstream ``kubectl get`` prints them) with
``includeObject`` honoured; the metadata representation builds ``PartialObjectMetadata``.
Called by :mod:`.crud` and :mod:`.watch`.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api import tables
from kubesvc.api.apiextensions import defaulting as crd_defaulting
from kubesvc.api.apiextensions import model as crd_model
from kubesvc.api.apiextensions import tables as crd_tables
from kubesvc.api.resources import ResourceInfo, is_custom
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


def needs_conversion(info: ResourceInfo) -> bool:
    """A custom resource: what storage holds may need :func:`convert_out`."""
    return is_custom(info)


def convert_out(info: ResourceInfo, obj: dict[str, Any], *, shared: bool = False
                ) -> dict[str, Any]:
    """The stored custom object as the request's version serves it (None conversion): its
    ``apiVersion`` (an object written under an earlier storage version keeps that one in
    storage), and the version schema's defaults, as upstream's decoder applies them on
    every read. Objects a request decoded for itself are changed in place; a ``shared``
    one (a watch event, encoded once for every watcher) is copied, and returned as is
    when nothing changes."""
    if obj.get("kind") in ("Status", "Scale"):
        return obj
    d = crd_model.for_info(info)
    ver = d.versions.get(info.version) if d is not None else None
    if ver is not None and ver.has_defaults:
        out = copy.deepcopy(obj) if shared else obj
        crd_defaulting.apply(out, ver.schema)
        out["apiVersion"] = info.api_version
        return obj if shared and out == obj else out
    if obj.get("apiVersion") == info.api_version:
        return obj
    if not shared:
        obj["apiVersion"] = info.api_version
        return obj
    return {**obj, "apiVersion": info.api_version}


def _custom_table(info: ResourceInfo, objs: list[dict[str, Any]], *, neg: Negotiated,
                  include_object: str, list_meta: dict[str, Any]) -> dict[str, Any]:
    d = crd_model.for_info(info)
    cols = d.versions[info.version].columns if d is not None and info.version in d.versions \
        else ()
    include = tables.validate_include_object(include_object)
    av = f"meta.k8s.io/{neg.version}"
    rows = []
    for o in objs:
        row: dict[str, Any] = {"cells": crd_tables.cells(cols, o)}
        if include == "None":
            row["object"] = None
        elif include == "Object":
            row["object"] = o
        else:
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": av,
                             "metadata": o.get("metadata") or {}}
        rows.append(row)
    meta: dict[str, Any] = {}
    if list_meta.get("resourceVersion"):
        meta["resourceVersion"] = str(list_meta["resourceVersion"])
    if list_meta.get("continue"):
        meta["continue"] = str(list_meta["continue"])
    if list_meta.get("remainingItemCount") is not None:
        meta["remainingItemCount"] = int(list_meta["remainingItemCount"])
    return {"kind": "Table", "apiVersion": av, "metadata": meta,
            "columnDefinitions": crd_tables.column_definitions(cols), "rows": rows}


def table(
    info: ResourceInfo,
    objs: list[dict[str, Any]],
    *,
    neg: Negotiated,
    include_object: str,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if is_custom(info):
        if needs_conversion(info):
            objs = [convert_out(info, o, shared=True) for o in objs]
        return _custom_table(info, objs, neg=neg, include_object=include_object,
                             list_meta=list_meta or {})
    return tables.to_table(
        info.key, objs, include_object=include_object, list_meta=list_meta or {},
        api_version=f"meta.k8s.io/{neg.version}",
    )


def render_object(
    info: ResourceInfo, obj: dict[str, Any], neg: Negotiated, *, include_object: str
) -> bytes:
    if needs_conversion(info):
        obj = convert_out(info, obj)
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
    if needs_conversion(info):
        lst = {**lst, "apiVersion": info.api_version,
               "items": [convert_out(info, o) for o in lst.get("items") or []]}
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
