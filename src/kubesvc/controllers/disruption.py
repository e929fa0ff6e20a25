"""The disruption controller (upstream pkg/controller/disruption, v1.32): keeps each
PodDisruptionBudget's status — ``expectedPods``, ``currentHealthy``, ``desiredHealthy``,
``disruptionsAllowed``, ``disruptedPods`` and the ``DisruptionAllowed`` condition — from the
pods its selector picks, so the eviction subresource
(:mod:`kubesvc.apiserver.registry.eviction`) can refuse evictions that would break it.

``minAvailable`` as a number needs only the pods; a percentage, and any ``maxUnavailable``,
need the expected scale: the sum of ``spec.replicas`` of the pods' controllers, read through
their ``scale`` subresource (ReplicaSet, ReplicationController, StatefulSet, Deployment —
found through the ReplicaSet's owner — and anything else that serves ``scale``). A pod
without a scalable controller makes that budget fail safe (``disruptionsAllowed: 0``,
condition reason ``SyncFailed``), as upstream. Pods the eviction subresource recorded in
``disruptedPods`` are not healthy until they are gone or the entry is two minutes old.

Reads the shared poddisruptionbudgets/pods informers; writes
``poddisruptionbudgets/status``. Created by the manager. The clock is injectable.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.api.resources import BY_GVK
from kubesvc.api.timefmt import parse_time_epoch, rfc3339_epoch
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, controller_ref, labels_of, pod_ready
from kubesvc.controllers.labels import label_selector
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

PDBS = "poddisruptionbudgets.policy"
DELETION_TIMEOUT = 120.0  # upstream DeletionTimeout: 2 minutes


def _intstr(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.endswith("%"):
        raw = float(text[:-1] or 0) * total / 100.0
        return math.ceil(raw) if round_up else math.floor(raw)
    return int(text)


def desired(spec: Obj, *, pods: int, expected_scale: int | None) -> tuple[int, int]:
    """(expectedCount, desiredHealthy) — upstream ``getExpectedPodCount``. Percentages and
    maxUnavailable need ``expected_scale``; a plain minAvailable uses the pod count."""
    mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
    if mx is not None:
        scale = expected_scale or 0
        return scale, max(0, scale - _intstr(mx, scale, round_up=True))
    if mn is None:
        return pods, pods  # neither set: upstream treats it as minAvailable 100%
    if isinstance(mn, int) or not str(mn).endswith("%"):
        return pods, _intstr(mn, pods, round_up=True)
    scale = expected_scale or 0
    return scale, _intstr(mn, scale, round_up=True)


def needs_scale(spec: Obj) -> bool:
    mn = spec.get("minAvailable")
    return spec.get("maxUnavailable") is not None or (isinstance(mn, str) and mn.endswith("%"))


def budget_status(pdb: Obj, pods: list[Obj], *, expected_scale: int | None, now: float
                  ) -> Obj:
    """The status the controller writes for ``pods`` (the ones the selector picks)."""
    spec: Obj = pdb.get("spec") or {}
    old: Obj = pdb.get("status") or {}
    live = {str(meta(p).get("name")): p for p in pods}
    disrupted: dict[str, str] = {}
    for name, stamp in (old.get("disruptedPods") or {}).items():
        t = parse_time_epoch(stamp)
        pod = live.get(name)
        if pod is None or meta(pod).get("deletionTimestamp") or t is None:
            continue
        if t + DELETION_TIMEOUT > now:
            disrupted[name] = stamp
    healthy = sum(1 for p in pods if pod_ready(p) and not meta(p).get("deletionTimestamp")
                  and str(meta(p).get("name")) not in disrupted)
    expected, desired_healthy = desired(spec, pods=len(pods), expected_scale=expected_scale)
    allowed = max(0, healthy - desired_healthy) if expected > 0 else 0
    if expected > 0 and healthy - desired_healthy < 0:
        allowed = 0
    gen = int(meta(pdb).get("generation") or 1)
    cond = {"type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
            "reason": "SufficientPods" if allowed > 0 else "InsufficientPods", "message": "",
            "observedGeneration": gen}
    return {
        "observedGeneration": gen,
        "disruptedPods": disrupted or None,
        "disruptionsAllowed": allowed,
        "currentHealthy": healthy,
        "desiredHealthy": desired_healthy,
        "expectedPods": expected,
        "conditions": [cond],
    }


def fail_safe_status(pdb: Obj, message: str) -> Obj:
    old: Obj = pdb.get("status") or {}
    gen = int(meta(pdb).get("generation") or 1)
    return {**old, "observedGeneration": gen, "disruptionsAllowed": 0,
            "currentHealthy": int(old.get("currentHealthy") or 0),
            "desiredHealthy": int(old.get("desiredHealthy") or 0),
            "expectedPods": int(old.get("expectedPods") or 0),
            "conditions": [{"type": "DisruptionAllowed", "status": "False",
                            "reason": "SyncFailed", "message": message,
                            "observedGeneration": gen}]}


class DisruptionController(QueueController):
    name = "disruption"

    def __init__(self, client: Client, *, pdbs: Informer, pods: Informer,
                 clock: Callable[[], float] = time.time, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.pdbs = pdbs
        self.pods = pods
        self.clock = clock
        pdbs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))
        pods.add_handler(on_add=self._on_pod, on_update=self._on_pod_update,
                         on_delete=self._on_pod)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.pdbs.wait_synced(), self.pods.wait_synced())

    def _enqueue(self, pdb: Obj) -> None:
        self.queue.add(object_key(pdb))

    def _on_pod(self, pod: Obj) -> None:
        ns = meta(pod).get("namespace", "")
        for pdb in self.pdbs.indexer.by_index("namespace", ns):
            sel = (pdb.get("spec") or {}).get("selector")
            if sel and label_selector(sel).matches(labels_of(pod)):
                self._enqueue(pdb)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        if labels_of(old) != labels_of(new):
            self._on_pod(old)
        self._on_pod(new)

    async def sync(self, key: str) -> None:
        pdb = self.pdbs.indexer.get(key)
        if pdb is None or meta(pdb).get("deletionTimestamp"):
            return
        ns = str(meta(pdb).get("namespace") or "")
        sel = (pdb.get("spec") or {}).get("selector")
        pods: list[Obj] = []
        if sel and (sel.get("matchLabels") or sel.get("matchExpressions")):
            matcher = label_selector(sel)
            pods = [p for p in self.pods.indexer.by_index("namespace", ns)
                    if matcher.matches(labels_of(p))]
        now = self.clock()
        spec: Obj = pdb.get("spec") or {}
        try:
            scale = await self._expected_scale(ns, pods) if needs_scale(spec) else None
        except LookupError as exc:
            status = fail_safe_status(pdb, str(exc))
        else:
            status = budget_status(pdb, pods, expected_scale=scale, now=now)
        await self._write(key, pdb, status, now)
        if status.get("disruptedPods"):
            self.queue.add_after(key, DELETION_TIMEOUT / 4)

    async def _expected_scale(self, ns: str, pods: list[Obj]) -> int:
        """Sum of spec.replicas over the distinct controllers of ``pods``."""
        seen: dict[str, int] = {}
        for p in pods:
            ref = controller_ref(p)
            if ref is None:
                raise LookupError(f"found no controllers for pod {meta(p).get('name')!r}")
            uid = str(ref.get("uid"))
            if uid in seen:
                continue
            seen[uid] = await self._scale_of(ns, ref)
        return sum(seen.values())

    async def _scale_of(self, ns: str, ref: Obj) -> int:
        group, _, version = str(ref.get("apiVersion") or "").rpartition("/")
        info = BY_GVK.get((group, version, str(ref.get("kind"))))
        if info is None or "scale" not in info.subresources:
            raise LookupError(f"found no controllers for pod owned by {ref.get('kind')} "
                              f"{ref.get('name')!r}")
        try:
            owner = await self.client.get(info.key, str(ref.get("name")), namespace=ns)
        except errors.NotFound as exc:
            raise LookupError(f"{ref.get('kind')} {ref.get('name')!r} not found") from exc
        parent = controller_ref(owner)
        if info.kind == "ReplicaSet" and parent is not None and parent.get("kind") == "Deployment":
            return await self._scale_of(ns, parent)
        return int((owner.get("spec") or {}).get("replicas") or 0)

    async def _write(self, key: str, pdb: Obj, status: Obj, now: float) -> None:
        old: Obj = pdb.get("status") or {}
        conds = status.get("conditions") or []
        for c in conds:
            prev = next((o for o in old.get("conditions") or () if o.get("type") == c["type"]),
                        None)
            c["lastTransitionTime"] = (prev.get("lastTransitionTime")
                                       if prev and prev.get("status") == c["status"]
                                       else rfc3339_epoch(now))
        if all(old.get(k) == v for k, v in status.items() if v is not None) and all(
                k not in old for k, v in status.items() if v is None):
            return
        ns, _, name = key.partition("/")
        # A merge patch merges maps: entries that left disruptedPods must be nulled.
        gone = {k: None for k in old.get("disruptedPods") or {}
                if k not in (status.get("disruptedPods") or {})}
        if gone:
            status = {**status, "disruptedPods": {**gone, **(status.get("disruptedPods") or {})}}
        try:
            await self.client.patch(PDBS, name, {"status": status}, namespace=ns,
                                    patch_type="merge", subresource="status")
        except errors.NotFound:
            return
