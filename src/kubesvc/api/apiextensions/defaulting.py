"""Defaulting from a structural schema's ``default`` values (upstream
``apiextensions-apiserver/pkg/apiserver/schema/defaulting``): an absent property with a
``default`` gets a copy of it, and so does a ``null`` one whose schema is not
``nullable``; defaults apply inside ``properties``, ``additionalProperties`` and
``items``, top-down, so a defaulted object gets its own properties' defaults too.

Applied on every decode (create, update, and objects read from storage when served),
after pruning, as upstream's decoder does. Called by the CR strategy; pure.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def apply(obj: Any, schema: Mapping[str, Any] | None) -> None:
    if schema is not None:
        _default(obj, schema)


def _default(v: Any, s: Mapping[str, Any]) -> None:
    if isinstance(v, dict):
        props: Mapping[str, Any] = s.get("properties") or {}
        for k, sub in props.items():
            if not isinstance(sub, dict):
                continue
            if "default" in sub and (k not in v or (v[k] is None and not sub.get("nullable"))):
                v[k] = copy.deepcopy(sub["default"])
            if k in v:
                _default(v[k], sub)
        addl = s.get("additionalProperties")
        if isinstance(addl, dict):
            for k in v:
                if k not in props:
                    _default(v[k], addl)
    elif isinstance(v, list):
        items = s.get("items")
        if isinstance(items, dict):
            for item in v:
                _default(item, items)
