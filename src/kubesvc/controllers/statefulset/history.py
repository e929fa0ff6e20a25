"""ControllerRevisions of a StatefulSet (upstream ``pkg/controller/history`` and the
revision helpers of ``pkg/controller/statefulset/stateful_set_utils.go``). Pure functions.

A revision's ``data`` is the strategic-merge patch that turns any StatefulSet back into
the one it snapshots: ``{"spec": {"template": {..., "$patch": "replace"}}}`` — the shape
``kubectl rollout history --revision`` and ``rollout undo`` apply. Its name is
``<set>-<hash>``, where the hash is FNV-32a of the data (plus the collision count), written
with the safe alphabet; that name is the pods' ``controller-revision-hash`` label.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Any

from kubesvc.api.objects import Obj, meta
from kubesvc.controllers.base import owner_ref
from kubesvc.controllers.workloads import fnv32a, safe_encode

REVISION_LABEL = "controller-revision-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def template_of(sts: Obj) -> Obj:
    return copy.deepcopy((sts.get("spec") or {}).get("template") or {})


def revision_data(sts: Obj) -> Obj:
    """Upstream ``getPatch``: the set's template, marked to replace the whole template."""
    tpl = template_of(sts)
    tpl["$patch"] = "replace"
    return {"spec": {"template": tpl}}


def data_template(data: Any) -> Obj:
    """The pod template a revision's data holds (without the patch directive)."""
    tpl = copy.deepcopy(((data or {}).get("spec") or {}).get("template") or {})
    tpl.pop("$patch", None)
    return tpl


def revision_hash(data: Obj, collision_count: int | None = None) -> str:
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        raw += str(collision_count).encode()
    return safe_encode(str(fnv32a(raw)))


def new_revision(sts: Obj, revision: int, collision_count: int | None = None) -> Obj:
    """Upstream ``newRevision``: a ControllerRevision owned by the set, labelled with the
    template's labels (``kubectl rollout history`` finds them by the set's selector)."""
    m = meta(sts)
    data = revision_data(sts)
    labels = dict(((sts.get("spec") or {}).get("template") or {}).get("metadata", {})
                  .get("labels") or {})
    name = f"{m.get('name', '')}-{revision_hash(data, collision_count)}"
    labels[REVISION_LABEL] = name
    md: dict[str, Any] = {
        "name": name,
        "namespace": m.get("namespace", ""),
        "labels": labels,
        "ownerReferences": [owner_ref(sts, api_version="apps/v1", kind="StatefulSet")],
    }
    cause = (m.get("annotations") or {}).get(CHANGE_CAUSE)
    if cause:
        md["annotations"] = {CHANGE_CAUSE: cause}
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": md,
            "data": data, "revision": revision}


def rev_number(cr: Obj) -> int:
    v = cr.get("revision")
    return v if isinstance(v, int) else 0


def sort_revisions(revisions: Iterable[Obj]) -> list[Obj]:
    """Oldest first: by revision number, then creation time, then name (upstream
    ``SortControllerRevisions``)."""
    return sorted(revisions, key=lambda r: (rev_number(r),
                                            str(meta(r).get("creationTimestamp") or ""),
                                            str(meta(r).get("name") or "")))


def equal_revision(a: Obj, b: Obj) -> bool:
    """Upstream ``EqualRevision``: same data (the hash label is only a shortcut there)."""
    return data_template(a.get("data")) == data_template(b.get("data"))


def next_revision(revisions: Iterable[Obj]) -> int:
    return max((rev_number(r) for r in revisions), default=0) + 1


def find_equal(revisions: list[Obj], want: Obj) -> list[Obj]:
    return [r for r in revisions if equal_revision(r, want)]


def history_to_delete(revisions: list[Obj], *, live: set[str], limit: int) -> list[Obj]:
    """Upstream ``truncateHistory``: the oldest revisions not in use beyond ``limit``."""
    idle = [r for r in sort_revisions(revisions) if meta(r).get("name") not in live]
    return idle[: max(0, len(idle) - limit)]
