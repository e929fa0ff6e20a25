"""The ReplicaSet controller (upstream ``pkg/controller/replicaset``): keeps
``spec.replicas`` active pods per ReplicaSet, created from its template as
``<rs-name>-<5 random chars>`` with a controller ownerReference, deleting the least
valuable ones first on scale-down, adopting matching orphans and releasing pods that no
longer match; reports ``status`` (replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas, observedGeneration, and upstream's ``ReplicaFailure`` condition while
creating or deleting pods fails — e.g. a pod create over a ResourceQuota).

Reads the shared replicasets/pods informers; writes pods and ``replicasets/status``
through the Client; records SuccessfulCreate/SuccessfulDelete Events. Creates at most
``burstReplicas`` (500) pods a sync, in upstream's slow-start batches (1, 2, 4, ..., stopping
at the first error), so ``replicas: 1000000000`` adds pods at a bounded pace instead of
flooding the API server. Uses expectations so a cache that lags its own writes never
double-creates. Created by the manager.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kubesvc import errors
from kubesvc.api.meta import generate_name
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import rfc3339
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import (
    QueueController,
    ensure_index,
    labels_of,
    owner_ref,
    pod_ready,
    split_key,
)
from kubesvc.controllers.events import NORMAL, WARNING, EventRecorder
from kubesvc.controllers.labels import label_selector, matches_label_selector
from kubesvc.controllers.workloads import (
    Expectations,
    available_in,
    deletion_rank,
    is_active,
    owned_by_kind,
)
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

RS = "replicasets.apps"
OWNER_INDEX = "controller-uid"
ORPHAN_INDEX = "orphan-namespace"
BURST = 500  # upstream burstReplicas: most pods created or deleted in one sync
SLOW_START_INITIAL_BATCH = 1  # upstream SlowStartInitialBatchSize


REPLICA_FAILURE = "ReplicaFailure"


def failure_conditions(rs: Obj, active: int, manage_error: Exception | None) -> list[Obj]:
    """``status.conditions`` after a sync, as upstream's ``calculateStatus``: a failed
    create/delete adds ``ReplicaFailure`` (True, FailedCreate/FailedDelete, the error) when
    there is none; a sync without an error removes it; other conditions are kept."""
    cur: list[Obj] = list((rs.get("status") or {}).get("conditions") or [])
    has = any(c.get("type") == REPLICA_FAILURE for c in cur)
    if manage_error is not None and not has:
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        reason = ("FailedCreate" if active < want else "FailedDelete" if active > want
                  else "")
        return [*cur, {"type": REPLICA_FAILURE, "status": "True",
                       "lastTransitionTime": rfc3339(),
                       "reason": reason, "message": str(manage_error)}]
    if manage_error is None and has:
        return [c for c in cur if c.get("type") != REPLICA_FAILURE]
    return cur


async def slow_start(
    count: int, create: Callable[[], Awaitable[str]], *, initial: int = SLOW_START_INITIAL_BATCH
) -> tuple[list[str], Exception | None]:
    """Upstream ``slowStartBatch``: run ``create`` ``count`` times in batches of 1, 2, 4, ...
    (each batch concurrently) and stop after the first batch with an error, so a template
    the API server rejects (quota, admission, a full store) costs one call, not ``count``.
    Returns the results of the successful calls and the first error."""
    done: list[str] = []
    remaining = count
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(create() for _ in range(batch)),
                                       return_exceptions=True)
        failure: Exception | None = None
        for r in results:
            if isinstance(r, Exception):
                failure = failure or r
            elif isinstance(r, BaseException):
                raise r
            else:
                done.append(r)
        if failure is not None:
            return done, failure
        remaining -= batch
        batch = min(2 * batch, remaining)
    return done, None


def orphan_namespace_index(obj: Obj) -> list[str]:
    """Pods without a controller, by namespace: the only adoption candidates."""
    if any(r.get("controller") for r in meta(obj).get("ownerReferences") or ()):
        return []
    return [str(meta(obj).get("namespace", ""))]


def controller_uid_index(obj: Obj) -> list[str]:
    for ref in meta(obj).get("ownerReferences") or ():
        if ref.get("controller") and ref.get("uid"):
            return [str(ref["uid"])]
    return []


class ReplicaSetController(QueueController):
    name = "replicaset"
    # What it manages; the ReplicationController subclass (``.replication``) changes these.
    resource = RS
    kind = "ReplicaSet"
    api_version = "apps/v1"

    def selector_of(self, rs: Obj) -> dict[str, Any] | None:
        """The owner's selector as a metav1.LabelSelector dict."""
        sel = (rs.get("spec") or {}).get("selector")
        return sel if isinstance(sel, dict) else None

    def __init__(
        self,
        client: Client,
        *,
        replicasets: Informer,
        pods: Informer,
        recorder: EventRecorder | None = None,
        workers: int = 5,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.replicasets = replicasets
        self.pods = pods
        self.recorder = recorder
        self.expectations = Expectations()
        ensure_index(pods.indexer, OWNER_INDEX, func=controller_uid_index)
        ensure_index(pods.indexer, ORPHAN_INDEX, func=orphan_namespace_index)
        replicasets.add_handler(
            on_add=self._enqueue,
            on_update=lambda _o, n: self._enqueue(n),
            on_delete=self._on_rs_delete,
        )
        pods.add_handler(on_add=self._on_pod_add, on_update=self._on_pod_update,
                         on_delete=self._on_pod_delete)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.replicasets.wait_synced(), self.pods.wait_synced())

    def _enqueue(self, rs: Obj) -> None:
        self.queue.add(object_key(rs))

    def _on_rs_delete(self, rs: Obj) -> None:
        self.expectations.delete(object_key(rs))
        self.queue.add(object_key(rs))

    def _owner_key(self, pod: Obj) -> str | None:
        ref = owned_by_kind(pod, self.kind)
        if ref is None:
            return None
        return f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}"

    def _enqueue_matching(self, pod: Obj) -> None:
        """An orphan: wake the ReplicaSets whose selector matches (they may adopt it)."""
        ns = meta(pod).get("namespace", "")
        for rs in self.replicasets.indexer.by_index("namespace", ns):
            if matches_label_selector(self.selector_of(rs), labels_of(pod)):
                self._enqueue(rs)

    def _on_pod_add(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.lower_adds(key)
            self.queue.add(key)
        elif is_active(pod):
            self._enqueue_matching(pod)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        new_key, old_key = self._owner_key(new), self._owner_key(old)
        if new_key is not None:
            self.queue.add(new_key)
            if meta(new).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
                self.expectations.observed_delete(new_key, object_key(new))
        if old_key is not None and old_key != new_key:
            self.queue.add(old_key)
        if new_key is None and labels_of(old) != labels_of(new) and is_active(new):
            self._enqueue_matching(new)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed_delete(key, object_key(pod))
            self.queue.add(key)

    # -- sync
    async def sync(self, key: str) -> None:
        rs = self.replicasets.indexer.get(key)
        if rs is None:
            self.expectations.delete(key)
            return
        uid = meta(rs).get("uid")
        owned = [p for p in self.pods.indexer.by_index(OWNER_INDEX, str(uid))
                 if (owned_by_kind(p, self.kind) or {}).get("uid") == uid]
        owned = await self._claim(rs, owned)
        active = [p for p in owned if is_active(p)]

        manage_error: Exception | None = None
        if self.expectations.satisfied(key) and not meta(rs).get("deletionTimestamp"):
            try:
                await self._manage(key, rs, active=active)
            except Exception as exc:  # still report status, then retry
                manage_error = exc
        await self._update_status(key, rs, active=active, manage_error=manage_error)
        if manage_error is not None:
            raise manage_error

    async def _claim(self, rs: Obj, owned: list[Obj]) -> list[Obj]:
        """Adopt matching orphans, release owned pods whose labels stopped matching."""
        selector = self.selector_of(rs)
        ns = meta(rs).get("namespace", "")
        out: list[Obj] = []
        for p in owned:
            if matches_label_selector(selector, labels_of(p)):
                out.append(p)
            elif not meta(rs).get("deletionTimestamp"):
                refs = [r for r in meta(p).get("ownerReferences") or ()
                        if r.get("uid") != meta(rs).get("uid")]
                try:
                    await self.client.patch("pods", meta(p)["name"],
                                            {"metadata": {"ownerReferences": refs or None}},
                                            namespace=ns)
                except errors.NotFound:
                    pass
        if meta(rs).get("deletionTimestamp") or (not (selector or {}).get("matchLabels") and not (
            selector or {}
        ).get("matchExpressions")):
            return out
        matcher = label_selector(selector)
        for p in self.pods.indexer.by_index(ORPHAN_INDEX, ns):
            if (
                is_active(p)
                and matcher.matches(labels_of(p))
            ):
                refs = [*(meta(p).get("ownerReferences") or ()),
                        owner_ref(rs, api_version=self.api_version, kind=self.kind)]
                try:
                    adopted = await self.client.patch(
                        "pods", meta(p)["name"], {"metadata": {"ownerReferences": refs}},
                        namespace=ns)
                except errors.NotFound:
                    continue
                out.append(adopted)
        return out

    async def _manage(self, key: str, rs: Obj, *, active: list[Obj]) -> None:
        want = int((rs.get("spec") or {}).get("replicas", 1) or 0)
        diff = len(active) - want
        ns, _ = split_key(key)
        if diff < 0:
            n = min(-diff, BURST)
            self.expectations.expect(key, adds=n)
            created, failure = await slow_start(n, lambda: self._create_pod(rs, ns))
            for name in created:
                if self.recorder is not None:
                    self.recorder.event(rs, NORMAL, reason="SuccessfulCreate",
                                        message=f"Created pod: {name}",
                                        kind=self.kind, api_version=self.api_version)
            if failure is not None:
                # The informer will never see the pods that failed or were not tried.
                self.expectations.lower_adds(key, n - len(created))
                if self.recorder is not None:
                    self.recorder.event(rs, WARNING, reason="FailedCreate",
                                        message=f"Error creating: {failure}",
                                        kind=self.kind, api_version=self.api_version)
                raise failure
        elif diff > 0:
            victims = sorted(active, key=deletion_rank)[: min(diff, BURST)]
            self.expectations.expect(key, dels={object_key(p) for p in victims})
            for p in victims:
                name = meta(p)["name"]
                try:
                    await self.client.delete("pods", name, namespace=ns)
                except errors.NotFound:
                    self.expectations.observed_delete(key, object_key(p))
                    continue
                if self.recorder is not None:
                    self.recorder.event(rs, NORMAL, reason="SuccessfulDelete",
                                        message=f"Deleted pod: {name}",
                                        kind=self.kind, api_version=self.api_version)

    async def _create_pod(self, rs: Obj, ns: str) -> str:
        tpl = (rs.get("spec") or {}).get("template") or {}
        tmd = tpl.get("metadata") or {}
        prefix = f"{meta(rs).get('name', '')}-"
        md: dict[str, Any] = {
            "generateName": prefix,
            "namespace": ns,
            "labels": dict(tmd.get("labels") or {}),
            "ownerReferences": [owner_ref(rs, api_version=self.api_version, kind=self.kind)],
        }
        if tmd.get("annotations"):
            md["annotations"] = dict(tmd["annotations"])
        if tmd.get("finalizers"):
            md["finalizers"] = list(tmd["finalizers"])
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": md,
               "spec": copy.deepcopy(tpl.get("spec") or {})}
        for _ in range(5):
            md["name"] = generate_name(prefix)
            try:
                created = await self.client.create("pods", pod, namespace=ns)
                return str(meta(created).get("name"))
            except errors.AlreadyExists:
                continue
        raise errors.AlreadyExists(f"could not find a free name for a pod of {prefix}")

    async def _update_status(self, key: str, rs: Obj, *, active: list[Obj],
                             manage_error: Exception | None = None) -> None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        tpl_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        ready = available = 0
        wake: float | None = None
        for p in active:
            if pod_ready(p):
                ready += 1
            left = available_in(p, min_ready)
            if left == 0.0:
                available += 1
            elif left is not None:
                wake = left if wake is None else min(wake, left)
        status: dict[str, Any] = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(
                1 for p in active
                if all(labels_of(p).get(k) == v for k, v in tpl_labels.items())
            ),
            "readyReplicas": ready,
            "availableReplicas": available,
            "observedGeneration": int(meta(rs).get("generation") or 1),
        }
        cur = rs.get("status") or {}
        conditions = failure_conditions(rs, len(active), manage_error)
        changed = conditions != (cur.get("conditions") or [])
        if changed:
            status["conditions"] = conditions or None
        if changed or any(cur.get(k, 0) != v for k, v in status.items() if k != "conditions"):
            ns, name = split_key(key)
            try:
                await self.client.patch(self.resource, name, {"status": status}, namespace=ns,
                                        patch_type="merge", subresource="status")
            except errors.NotFound:
                return
        if wake is not None:
            self.queue.add_after(key, wake + 0.01)
