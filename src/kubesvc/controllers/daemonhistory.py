"""ControllerRevisions of a DaemonSet (upstream ``pkg/controller/daemon/update.go``
``constructHistory``/``snapshot``/``cleanupHistory``, v1.32). Pure functions.

A revision's ``data`` is the patch ``{"spec": {"template": {..., "$patch": "replace"}}}``
that ``kubectl rollout undo daemonset`` applies; the DaemonSet matches a revision when
their data are equal. Unlike a StatefulSet's, a DaemonSet revision is named
``<set>-<hash>`` with the hash of the *template* (``ComputeHash``, the same hash the pods
carry in ``controller-revision-hash``), and it copies the DaemonSet's annotations (so
``kubernetes.io/change-cause`` shows in ``kubectl rollout history``). The current revision
gets the next number (``max(old) + 1``) when it is made, and again when the template goes
back to an older revision (a rollback re-numbers that revision, as upstream).
"""

from __future__ import annotations

from kubesvc.api.objects import Obj, meta
from kubesvc.controllers.base import owner_ref
from kubesvc.controllers.statefulset.history import (
    data_template,
    rev_number,
    revision_data,
    sort_revisions,
)

REVISION_HASH = "controller-revision-hash"
DEFAULT_HISTORY_LIMIT = 10


def matches(ds: Obj, rev: Obj) -> bool:
    """Upstream ``Match``: the revision holds the DaemonSet's current template."""
    return data_template(rev.get("data")) == data_template(revision_data(ds))


def snapshot(ds: Obj, revision: int, hash_: str) -> Obj:
    """Upstream ``snapshot``: the ControllerRevision of the DaemonSet's template."""
    md = meta(ds)
    labels = dict((((ds.get("spec") or {}).get("template") or {}).get("metadata") or {})
                  .get("labels") or {})
    labels[REVISION_HASH] = hash_
    rmd: Obj = {"name": f"{md.get('name')}-{hash_}", "namespace": md.get("namespace", ""),
                "labels": labels,
                "ownerReferences": [owner_ref(ds, api_version="apps/v1", kind="DaemonSet")]}
    if md.get("annotations"):
        rmd["annotations"] = dict(md["annotations"])
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": rmd,
            "data": revision_data(ds), "revision": revision}


def split_history(ds: Obj, revisions: list[Obj]) -> tuple[list[Obj], list[Obj], int]:
    """(revisions matching the template, the others, the number the current one should
    have) — the first half of ``constructHistory``."""
    current = [r for r in revisions if matches(ds, r)]
    old = [r for r in revisions if not matches(ds, r)]
    return sort_revisions(current), sort_revisions(old), max(
        (rev_number(r) for r in old), default=0) + 1


def revision_hash_of(rev: Obj) -> str:
    """The hash pods of this revision carry (the label, else the name's suffix)."""
    label = (meta(rev).get("labels") or {}).get(REVISION_HASH)
    return str(label) if label else str(meta(rev).get("name") or "").rsplit("-", 1)[-1]


def history_to_delete(ds: Obj, old: list[Obj], live_hashes: set[str]) -> list[Obj]:
    """Upstream ``cleanupHistory``: the oldest old revisions no pod runs, beyond
    ``revisionHistoryLimit`` (default 10)."""
    limit_raw = (ds.get("spec") or {}).get("revisionHistoryLimit")
    limit = limit_raw if isinstance(limit_raw, int) else DEFAULT_HISTORY_LIMIT
    idle = [r for r in sort_revisions(old) if revision_hash_of(r) not in live_hashes]
    return idle[: max(0, len(idle) - limit)]
