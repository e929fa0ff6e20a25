"""Helpers shared by the ReplicaSet and Deployment controllers (upstream
``pkg/controller/controller_utils.go`` and ``deployment/util``): controller expectations,
pod availability, the deletion ranking, pod-template hashing and intstr resolution.
Pure functions and bookkeeping; no I/O.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import now, parse_time
from kubesvc.controllers.base import condition, controller_ref, pod_ready

POD_TEMPLATE_HASH = "pod-template-hash"
_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(slots=True)
class _Expect:
    adds: int = 0
    dels: set[str] = field(default_factory=set)
    at: float = 0.0


class Expectations:
    """Upstream ``ControllerExpectations``: after creating/deleting pods, a controller waits
    until its informer has seen them before acting again (else a stale cache makes it
    create twice). Expire after ``ttl`` seconds so a lost event cannot wedge a key."""

    def __init__(self, ttl: float = 60.0) -> None:
        self._by_key: dict[str, _Expect] = {}
        self.ttl = ttl

    def expect(self, key: str, *, adds: int = 0, dels: set[str] | None = None) -> None:
        self._by_key[key] = _Expect(adds, set(dels or ()), time.monotonic())

    def lower_adds(self, key: str, n: int = 1) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.adds -= n

    def observed_delete(self, key: str, pod_key: str) -> None:
        e = self._by_key.get(key)
        if e is not None:
            e.dels.discard(pod_key)

    def satisfied(self, key: str) -> bool:
        e = self._by_key.get(key)
        if e is None:
            return True
        if (e.adds <= 0 and not e.dels) or time.monotonic() - e.at > self.ttl:
            del self._by_key[key]
            return True
        return False

    def delete(self, key: str) -> None:
        self._by_key.pop(key, None)


def is_active(pod: Obj) -> bool:
    """Upstream ``IsPodActive``: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not meta(pod).get("deletionTimestamp")


def available_in(pod: Obj, min_ready_seconds: int, *, at: datetime | None = None) -> float | None:
    """Seconds until ``pod`` counts as available (0 if it is), None if it is not ready."""
    if not pod_ready(pod):
        return None
    if min_ready_seconds <= 0:
        return 0.0
    cond = condition(pod, "Ready") or {}
    since = parse_time(cond.get("lastTransitionTime"))
    if since is None:
        return 0.0
    left = (since + timedelta(seconds=min_ready_seconds) - (at or now())).total_seconds()
    return max(0.0, left)


def deletion_rank(pod: Obj) -> tuple[Any, ...]:
    """Sort key: pods to delete first sort first (upstream ``ActivePods.Less``)."""
    spec = pod.get("spec") or {}
    st = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(str(st.get("phase")), 0)
    ready = pod_ready(pod)
    ready_since = parse_time((condition(pod, "Ready") or {}).get("lastTransitionTime"))
    restarts = sum(int(c.get("restartCount") or 0) for c in st.get("containerStatuses") or ())
    created = parse_time(meta(pod).get("creationTimestamp"))
    return (
        1 if spec.get("nodeName") else 0,
        phase_rank,
        1 if ready else 0,
        # ready for a shorter time first: later transition sorts first
        -(ready_since.timestamp() if (ready and ready_since) else 0.0),
        -restarts,
        -(created.timestamp() if created else 0.0),
    )


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(s: str) -> str:
    return "".join(_ALPHANUMS[ord(c) % len(_ALPHANUMS)] for c in s)


def template_hash(template: Obj, collision_count: int | None = None) -> str:
    """A stable hash of a pod template (upstream ``ComputeHash``: FNV-32a, printed in
    decimal, encoded with the safe alphabet)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += str(collision_count).encode()
    return safe_encode(str(fnv32a(data)))


def drop_nulls(value: Any) -> Any:
    """``value`` without null map entries, recursively: a Go client writes an unset
    pointer or zero time as ``null`` (``kubectl rollout undo`` sends the ReplicaSet's template
    back with ``metadata.creationTimestamp: null``) and upstream, decoding into structs,
    cannot tell that from absent — so neither may the template comparison or hash."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def template_without_hash(template: Obj) -> Obj:
    """The template as compared and hashed: no ``pod-template-hash`` label, no nulls
    (upstream ``EqualIgnoreHash`` over decoded structs)."""
    t: Obj = drop_nulls(copy.deepcopy(template or {}))
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(POD_TEMPLATE_HASH, None)
        if not labels:
            t["metadata"].pop("labels")
    if "metadata" in t and not t["metadata"]:
        del t["metadata"]
    return t


def resolve_intstr(value: Any, total: int, *, round_up: bool, default: str) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        value = default
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        pct = float(text[:-1] or 0)
        raw = pct * total / 100.0
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(text)


def owned_by_kind(obj: Obj, kind: str) -> dict[str, Any] | None:
    ref = controller_ref(obj)
    return ref if ref is not None and ref.get("kind") == kind else None
