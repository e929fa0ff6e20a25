"""Label selector matching for the controllers, on top of :mod:`kubesvc.api.selectors`:
a Service's ``spec.selector`` (``from_set``) and a ``metav1.LabelSelector``
(``from_label_selector_dict``) for ReplicaSets. Parsed selectors are cached by value so a
hot loop (every pod of a namespace, every candidate Service of a pod) does not re-parse.

Called by the service/pod index and the ReplicaSet controller.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from kubesvc import errors
from kubesvc.api.selectors import LabelSelector, from_label_selector_dict, from_set


@lru_cache(maxsize=16384)
def _from_set(items: tuple[tuple[str, str], ...]) -> LabelSelector:
    return from_set(dict(items))


@lru_cache(maxsize=4096)
def _from_dict(text: str) -> LabelSelector:
    try:
        return from_label_selector_dict(json.loads(text))
    except errors.KubeError:
        return LabelSelector.nothing()  # an invalid selector selects nothing


def set_selector(selector: Mapping[str, str] | None) -> LabelSelector:
    """A Service's ``spec.selector``; empty or absent selects nothing."""
    return _from_set(tuple(sorted((selector or {}).items())))


def label_selector(selector: Mapping[str, Any] | None) -> LabelSelector:
    """A metav1.LabelSelector; None selects nothing, ``{}`` everything."""
    if selector is None:
        return LabelSelector.nothing()
    return _from_dict(json.dumps(selector, sort_keys=True))


def matches_label_selector(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    return label_selector(selector).matches(labels)
