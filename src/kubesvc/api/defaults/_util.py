"""Tiny helpers for defaulting untrusted dicts: iterate only the well-shaped parts (the
decoder reports type errors; defaulting must not crash on them)."""

from __future__ import annotations

from typing import Any


def dicts(v: Any) -> list[dict[str, Any]]:
    """The dict items of ``v`` if it is a list, else nothing."""
    return [x for x in v if isinstance(x, dict)] if isinstance(v, list) else []


def as_int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0
