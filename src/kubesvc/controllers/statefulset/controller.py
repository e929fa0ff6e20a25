"""StatefulSetController: the I/O half of the StatefulSet controller. Per set key it reads
the set, its pods and its ControllerRevisions from the shared informers, settles the
current and update revisions (creating or re-numbering a ControllerRevision, counting
hash collisions), asks :func:`.plan.plan_sync` what to do, creates the pods' claims and
the pods, deletes pods (and, with ``whenScaled: Delete``, the claims of condemned
ordinals), writes the status and trims the revision history.

Pods are claimed as upstream's ControllerRefManager does: orphans named ``<set>-<n>`` that
match the selector are adopted, owned pods that stopped matching are released.

Reads ``statefulsets.apps``, ``pods`` and ``controllerrevisions.apps`` informers; writes
those and ``persistentvolumeclaims`` through the Client; records SuccessfulCreate /
SuccessfulDelete Events as upstream words them. Created by the controller manager.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import (
    QueueController,
    controller_ref,
    ensure_index,
    labels_of,
    owner_ref,
    split_key,
)
from kubesvc.controllers.events import NORMAL, WARNING, EventRecorder
from kubesvc.controllers.labels import matches_label_selector
from kubesvc.controllers.replicaset import (
    ORPHAN_INDEX,
    OWNER_INDEX,
    controller_uid_index,
    orphan_namespace_index,
)
from kubesvc.controllers.statefulset import history as h
from kubesvc.controllers.statefulset import plan as p
from kubesvc.controllers.workloads import available_in, owned_by_kind
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

STS = "statefulsets.apps"
REVISIONS = "controllerrevisions.apps"
PVCS = "persistentvolumeclaims"
# How long a pod this controller deleted counts as terminating while the informer has not
# shown it so yet (a stale cache must not make a rolling update delete a second pod).
DELETED_TTL = 30.0


class StatefulSetController(QueueController):
    name = "statefulset"

    def __init__(self, client: Client, *, statefulsets: Informer, pods: Informer,
                 revisions: Informer, recorder: EventRecorder | None = None,
                 workers: int = 5) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.sets = statefulsets
        self.pods = pods
        self.revisions = revisions
        self.recorder = recorder
        # Upstream's StatefulSet controller keeps no expectations: creates are by fixed name
        # (AlreadyExists is harmless). Deletes this controller made are remembered by uid
        # until the informer shows the pod terminating or gone.
        self._deleted: dict[str, float] = {}
        ensure_index(pods.indexer, OWNER_INDEX, func=controller_uid_index)
        ensure_index(pods.indexer, ORPHAN_INDEX, func=orphan_namespace_index)
        ensure_index(revisions.indexer, OWNER_INDEX, func=controller_uid_index)
        statefulsets.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n),
                                 on_delete=self._on_set_delete)
        pods.add_handler(on_add=self._on_pod_add, on_update=self._on_pod_update,
                         on_delete=self._on_pod_delete)
        revisions.add_handler(on_add=self._on_owned, on_update=lambda _o, n: self._on_owned(n),
                              on_delete=self._on_owned)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.sets.wait_synced(), self.pods.wait_synced(),
                             self.revisions.wait_synced())

    # -- event handlers
    def _enqueue(self, sts: Obj) -> None:
        self.queue.add(object_key(sts))

    def _on_set_delete(self, sts: Obj) -> None:
        self._enqueue(sts)

    def _owner_key(self, obj: Obj) -> str | None:
        ref = owned_by_kind(obj, "StatefulSet")
        if ref is None:
            return None
        return f"{meta(obj).get('namespace', '')}/{ref.get('name', '')}"

    def _on_owned(self, obj: Obj) -> None:
        key = self._owner_key(obj)
        if key is not None:
            self.queue.add(key)

    def _on_pod_add(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.queue.add(key)
        elif controller_ref(pod) is None:
            self._enqueue_adopters(pod)

    def _enqueue_adopters(self, pod: Obj) -> None:
        """An orphan pod: the sets of its namespace that would adopt it."""
        ns = meta(pod).get("namespace")
        for sts in self.sets.indexer.list():
            if meta(sts).get("namespace") == ns and p.is_member(sts, pod) and \
                    matches_label_selector((sts.get("spec") or {}).get("selector"),
                                           labels_of(pod)):
                self._enqueue(sts)

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        key = self._owner_key(new)
        old_key = self._owner_key(old)
        if old_key is not None and old_key != key:
            self.queue.add(old_key)  # released
        if key is None:
            if controller_ref(new) is None:
                self._enqueue_adopters(new)
            return
        if meta(new).get("deletionTimestamp"):
            self._deleted.pop(str(meta(new).get("uid")), None)
        self.queue.add(key)

    def _on_pod_delete(self, pod: Obj) -> None:
        self._deleted.pop(str(meta(pod).get("uid")), None)
        key = self._owner_key(pod)
        if key is not None:
            self.queue.add(key)

    def _as_seen(self, pod: Obj) -> Obj:
        """The pod, marked terminating if this controller deleted it and the cache has not
        caught up (a copy: cached objects are never mutated)."""
        uid = str(meta(pod).get("uid"))
        at = self._deleted.get(uid)
        if at is None or meta(pod).get("deletionTimestamp"):
            return pod
        if time.monotonic() - at > DELETED_TTL:
            del self._deleted[uid]
            return pod
        return {**pod, "metadata": {**meta(pod), "deletionTimestamp": "pending"}}

    def _event(self, sts: Obj, type_: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(sts, type_, reason=reason, message=message,
                                kind="StatefulSet", api_version="apps/v1")

    # -- sync
    async def sync(self, key: str) -> None:
        sts = self.sets.indexer.get(key)
        if sts is None or meta(sts).get("deletionTimestamp"):
            return
        uid = str(meta(sts).get("uid") or "")
        owned = [pod for pod in self.pods.indexer.by_index(OWNER_INDEX, uid)
                 if (owned_by_kind(pod, "StatefulSet") or {}).get("uid") == uid]
        pods = [self._as_seen(pod) for pod in await self._claim_pods(sts, owned)]
        revs = [r for r in self.revisions.indexer.by_index(OWNER_INDEX, uid)
                if (owned_by_kind(r, "StatefulSet") or {}).get("uid") == uid]
        current, update, collisions, revs = await self._revisions(sts, revs)
        cur_name = str(meta(current).get("name"))
        upd_name = str(meta(update).get("name"))
        status = sts.get("status") or {}
        plan = p.plan_sync(sts, pods, current=cur_name, update=upd_name,
                           current_replicas=int(status.get("currentReplicas") or 0))
        if plan.waiting:
            log.debug("statefulset %s: %s", key, plan.waiting)
        ns, _ = split_key(key)
        by_name = {str(meta(pod).get("name")): pod for pod in pods}
        for n in plan.delete:
            await self._delete_pod(sts, by_name.get(n), n)
        for o in plan.create:
            rev = p.target_revision(sts, o, current=cur_name, update=upd_name,
                                    current_replicas=int(status.get("currentReplicas") or 0))
            rev_obj = current if rev == cur_name else update
            await self._create_pod(sts, o, rev_obj)
        await self._write_status(sts, pods, current=cur_name, update=upd_name,
                                 collisions=collisions)
        live = {cur_name, upd_name} | {p.revision_of(pod) for pod in pods}
        limit = (sts.get("spec") or {}).get("revisionHistoryLimit")
        for r in h.history_to_delete(revs, live=live,
                                     limit=10 if limit is None else int(limit)):
            try:
                await self.client.delete(REVISIONS, str(meta(r)["name"]), namespace=ns)
            except errors.NotFound:
                pass
        self._requeue_for_availability(key, sts, pods)

    async def _claim_pods(self, sts: Obj, owned: list[Obj]) -> list[Obj]:
        """Upstream ``ClaimPods`` with ``isMemberOf``: keep owned pods that match the
        selector and are named after the set, release the others, adopt orphans that
        match both."""
        ns = str(meta(sts).get("namespace", ""))
        selector = (sts.get("spec") or {}).get("selector")
        out: list[Obj] = []
        for pod in owned:
            if matches_label_selector(selector, labels_of(pod)) and p.is_member(sts, pod):
                out.append(pod)
                continue
            refs = [r for r in meta(pod).get("ownerReferences") or ()
                    if r.get("uid") != meta(sts).get("uid")]
            try:
                await self.client.patch("pods", str(meta(pod)["name"]), {"metadata": {
                    "ownerReferences": refs or None,
                    "resourceVersion": meta(pod).get("resourceVersion")}}, namespace=ns)
            except (errors.NotFound, errors.Conflict):
                pass
        for pod in self.pods.indexer.by_index(ORPHAN_INDEX, ns):
            if meta(pod).get("deletionTimestamp") or not p.is_member(sts, pod) or \
                    not matches_label_selector(selector, labels_of(pod)):
                continue
            refs = [*(meta(pod).get("ownerReferences") or ()),
                    owner_ref(sts, api_version="apps/v1", kind="StatefulSet")]
            try:
                out.append(await self.client.patch("pods", str(meta(pod)["name"]), {
                    "metadata": {"ownerReferences": refs,
                                 "resourceVersion": meta(pod).get("resourceVersion")}},
                    namespace=ns))
            except (errors.NotFound, errors.Conflict):
                continue
        return out

    def _requeue_for_availability(self, key: str, sts: Obj, pods: list[Obj]) -> None:
        mrs = p.min_ready_seconds(sts)
        if mrs <= 0:
            return
        waits = [w for pod in pods if (w := available_in(pod, mrs)) is not None and w > 0]
        if waits:
            self.queue.add_after(key, min(waits) + 0.05)

    async def _revisions(self, sts: Obj, revs: list[Obj]) -> tuple[Obj, Obj, int | None,
                                                                    list[Obj]]:
        """Upstream ``getStatefulSetRevisions``."""
        ns, _ = split_key(object_key(sts))
        revs = h.sort_revisions(revs)
        cc_raw = (sts.get("status") or {}).get("collisionCount")
        collisions: int | None = cc_raw if isinstance(cc_raw, int) else None
        want = h.new_revision(sts, h.next_revision(revs), collisions)
        equal = h.find_equal(revs, want)
        if equal and equal[-1] is revs[-1]:
            update = revs[-1]
        elif equal:
            update = await self.client.patch(
                REVISIONS, str(meta(equal[-1])["name"]), {"revision": h.rev_number(want)},
                namespace=ns)
            revs = [update if r is equal[-1] else r for r in revs]
        else:
            try:
                update = await self.client.create(REVISIONS, want, namespace=ns)
            except errors.AlreadyExists:
                existing = await self.client.get(REVISIONS, want["metadata"]["name"],
                                                 namespace=ns)
                if h.equal_revision(existing, want) and (
                        owned_by_kind(existing, "StatefulSet") or {}).get("uid") == \
                        meta(sts).get("uid"):
                    update = existing
                else:
                    name = str(meta(sts).get("name"))
                    await self.client.patch(
                        STS, name, {"status": {"collisionCount": int(collisions or 0) + 1}},
                        namespace=ns, subresource="status")
                    raise
            revs = [*revs, update]
        cur_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in revs if meta(r).get("name") == cur_name), update)
        return current, update, collisions, revs

    async def _create_pod(self, sts: Obj, ordinal: int, rev: Obj) -> None:
        ns, set_name = split_key(object_key(sts))
        pod = p.new_pod(sts, ordinal, revision_name=str(meta(rev).get("name")),
                        revision_data=rev.get("data"))
        pname = pod["metadata"]["name"]
        for claim in p.new_claims(sts, ordinal):
            try:
                await self.client.create(PVCS, claim, namespace=ns)
            except errors.AlreadyExists:
                continue
            except errors.KubeError as exc:
                self._event(sts, WARNING, "FailedCreate",
                            f"create Claim {claim['metadata']['name']} for Pod {pname} in "
                            f"StatefulSet {set_name} failed error: {exc}")
                raise
            self._event(sts, NORMAL, "SuccessfulCreate",
                        f"create Claim {claim['metadata']['name']} Pod {pname} in "
                        f"StatefulSet {set_name} success")
        try:
            await self.client.create("pods", pod, namespace=ns)
        except errors.AlreadyExists:
            return
        except errors.KubeError as exc:
            self._event(sts, WARNING, "FailedCreate",
                        f"create Pod {pname} in StatefulSet {set_name} failed error: {exc}")
            raise
        self._event(sts, NORMAL, "SuccessfulCreate",
                    f"create Pod {pname} in StatefulSet {set_name} successful")

    async def _delete_pod(self, sts: Obj, pod: Obj | None, pname: str) -> None:
        ns, set_name = split_key(object_key(sts))
        if pod is not None:
            self._deleted[str(meta(pod).get("uid"))] = time.monotonic()
        try:
            await self.client.delete("pods", pname, namespace=ns)
        except errors.NotFound:
            return
        self._event(sts, NORMAL, "SuccessfulDelete",
                    f"delete Pod {pname} in StatefulSet {set_name} successful")
        if pod is None:
            return
        spec = sts.get("spec") or {}
        o = p.ordinal_of(pod)
        start = p.start_ordinal(sts)
        condemned = not (start <= o < start + p.replicas_of(sts))
        policy = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        if condemned and policy.get("whenScaled") == "Delete":
            for claim in p.new_claims(sts, o):
                try:
                    await self.client.delete(PVCS, claim["metadata"]["name"], namespace=ns)
                except errors.NotFound:
                    pass

    async def _write_status(self, sts: Obj, pods: list[Obj], *, current: str, update: str,
                            collisions: int | None) -> None:
        status: dict[str, Any] = p.compute_status(sts, pods, current=current, update=update,
                                                  collision_count=collisions)
        prev = sts.get("status") or {}
        if all(prev.get(k) == v for k, v in status.items()):
            return
        ns, name = split_key(object_key(sts))
        try:
            await self.client.patch(STS, name, {"status": status}, namespace=ns,
                                    subresource="status")
        except errors.NotFound:
            pass
