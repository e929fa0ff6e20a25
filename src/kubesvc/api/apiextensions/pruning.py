"""Pruning: drop the fields a structural schema does not declare (upstream
``apiextensions-apiserver/pkg/apiserver/schema/pruning``), unless the schema says
``x-kubernetes-preserve-unknown-fields: true`` there. At the root (and in
``x-kubernetes-embedded-resource`` objects) ``apiVersion``, ``kind`` and ``metadata`` are
kept, and ``metadata`` is pruned to ObjectMeta's fields.

:func:`prune` mutates the object and returns the dropped paths (``spec.foo``), which are
what ``fieldValidation=Strict|Warn`` reports as ``unknown field "spec.foo"``. Called by
the CR strategy before defaulting, as upstream's decoder does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_META_FIELDS = ("apiVersion", "kind", "metadata")
#: ObjectMeta's fields: anything else under a root or embedded ``metadata`` is pruned
OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
    "annotations", "ownerReferences", "finalizers", "managedFields",
})


def prune(obj: Any, schema: Mapping[str, Any] | None, *, root: bool = True) -> list[str]:
    out: list[str] = []
    if schema is None:
        return out
    _prune(obj, schema, "", out, root=root)
    return out


def _join(path: str, k: str) -> str:
    return f"{path}.{k}" if path else k


def _prune(v: Any, s: Mapping[str, Any], path: str, out: list[str], *, root: bool) -> None:
    if isinstance(v, dict):
        keep_meta = root or bool(s.get("x-kubernetes-embedded-resource"))
        props: Mapping[str, Any] = s.get("properties") or {}
        addl = s.get("additionalProperties")
        preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
        for k in list(v):
            if keep_meta and k in _META_FIELDS:
                md = v[k]
                if k == "metadata" and isinstance(md, dict):
                    for mk in [mk for mk in md if mk not in OBJECT_META_FIELDS]:
                        out.append(_join(_join(path, k), mk))
                        del md[mk]
                continue
            sub = props.get(k)
            if isinstance(sub, dict):
                _prune(v[k], sub, _join(path, k), out, root=False)
            elif isinstance(addl, dict):
                _prune(v[k], addl, _join(path, k), out, root=False)
            elif addl is True or preserve:
                continue
            else:
                out.append(_join(path, k))
                del v[k]
    elif isinstance(v, list):
        items = s.get("items")
        if isinstance(items, dict):
            for i, item in enumerate(v):
                _prune(item, items, f"{path}[{i}]", out, root=False)
