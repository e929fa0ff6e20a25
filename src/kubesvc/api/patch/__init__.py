"""The three PATCH formats of the Kubernetes API, on plain dicts (no I/O):

- :func:`json_patch` — ``application/json-patch+json`` (RFC 6902),
- :func:`merge_patch` — ``application/merge-patch+json`` (RFC 7386),
- :func:`strategic_merge_patch` — ``application/strategic-merge-patch+json``.

``application/apply-patch+yaml`` (server-side apply) is not implemented here.
Called by the API server's PATCH handler; inputs are never mutated.
"""

from __future__ import annotations

from kubesvc.api.patch.jsonpatch import (
    BAD_MERGE_PATCH,
    MAX_JSON_PATCH_OPERATIONS,
    REJECTED_MESSAGE,
    json_patch,
    merge_patch,
    patch_rejected,
)
from kubesvc.api.patch.strategic import strategic_merge_patch

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

__all__ = [
    "APPLY_PATCH",
    "BAD_MERGE_PATCH",
    "JSON_PATCH",
    "MAX_JSON_PATCH_OPERATIONS",
    "MERGE_PATCH",
    "REJECTED_MESSAGE",
    "STRATEGIC_MERGE_PATCH",
    "json_patch",
    "merge_patch",
    "patch_rejected",
    "strategic_merge_patch",
]
