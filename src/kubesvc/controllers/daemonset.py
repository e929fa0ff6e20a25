"""The DaemonSet controller (upstream pkg/controller/daemon, v1.32): one daemon pod on
every node that should run it (:func:`.daemonutil.should_run`), placed through required node
affinity on ``metadata.name`` (the scheduler binds it), removed from nodes that stop
qualifying (a NoExecute taint it does not tolerate, a label change) and from nodes that are
gone; failed daemon pods are deleted and replaced. Updates roll out per
``updateStrategy``: RollingUpdate with ``maxUnavailable`` (delete old pods within the budget,
the replacement follows) or ``maxSurge`` (start the new pod beside the old one, delete the
old one once the new one is available), or OnDelete (new pods only where old ones were
deleted). History is kept as upstream (:mod:`.daemonhistory`): one ControllerRevision per
template, named by the template's hash, numbered ``max(old) + 1`` (re-numbered when a
rollback returns to an older template), trimmed to ``revisionHistoryLimit``; pods carry the
current revision's ``controller-revision-hash`` (and ``pod-template-generation``), which
is what the rolling update and ``updatedNumberScheduled`` compare, and what
``kubectl rollout history/undo daemonset`` read.

Status: desiredNumberScheduled, currentNumberScheduled, numberMisscheduled, numberReady,
updatedNumberScheduled, numberAvailable, numberUnavailable, observedGeneration — what
``kubectl rollout status daemonset`` reads.

Reads the shared daemonsets/pods/nodes/controllerrevisions informers; writes pods,
``daemonsets/status`` and controllerrevisions; records Events. Created by the manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers import daemonhistory as dh
from kubesvc.controllers import daemonutil as du
from kubesvc.controllers.base import QueueController, ensure_index, pod_ready, split_key
from kubesvc.controllers.events import NORMAL, WARNING, EventRecorder
from kubesvc.controllers.replicaset import OWNER_INDEX, controller_uid_index
from kubesvc.controllers.statefulset.history import rev_number
from kubesvc.controllers.workloads import Expectations, available_in, owned_by_kind
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

DS = "daemonsets.apps"
REVISIONS = "controllerrevisions.apps"


def _created(pod: Obj) -> str:
    return str(meta(pod).get("creationTimestamp") or "")


class DaemonSetController(QueueController):
    name = "daemonset"

    def __init__(self, client: Client, *, daemonsets: Informer, pods: Informer,
                 nodes: Informer, revisions: Informer,
                 recorder: EventRecorder | None = None, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.daemonsets = daemonsets
        self.pods = pods
        self.nodes = nodes
        self.revisions = revisions
        self.recorder = recorder
        self.expectations = Expectations()
        ensure_index(pods.indexer, OWNER_INDEX, func=controller_uid_index)
        ensure_index(revisions.indexer, OWNER_INDEX, func=controller_uid_index)
        daemonsets.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n),
                               on_delete=lambda d: self.expectations.delete(object_key(d)))
        pods.add_handler(on_add=self._on_pod_add, on_update=lambda o, n: self._on_pod(n, o),
                         on_delete=self._on_pod_delete)
        nodes.add_handler(on_add=self._all, on_update=self._on_node_update,
                          on_delete=self._all)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.daemonsets.wait_synced(), self.pods.wait_synced(),
                             self.nodes.wait_synced(), self.revisions.wait_synced())

    def _enqueue(self, ds: Obj) -> None:
        self.queue.add(object_key(ds))

    def _all(self, _node: Obj) -> None:
        for ds in self.daemonsets.indexer.list():
            self._enqueue(ds)

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if (meta(old).get("labels") != meta(new).get("labels")
                or old.get("spec") != new.get("spec")):
            self._all(new)

    def _owner_key(self, pod: Obj) -> str | None:
        ref = owned_by_kind(pod, "DaemonSet")
        if ref is None:
            return None
        return f"{meta(pod).get('namespace', '')}/{ref.get('name', '')}"

    def _on_pod_add(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.lower_adds(key)
            self.queue.add(key)

    def _on_pod(self, pod: Obj, old: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            if meta(pod).get("deletionTimestamp") and not meta(old).get("deletionTimestamp"):
                self.expectations.observed_delete(key, object_key(pod))
            self.queue.add(key)

    def _on_pod_delete(self, pod: Obj) -> None:
        key = self._owner_key(pod)
        if key is not None:
            self.expectations.observed_delete(key, object_key(pod))
            self.queue.add(key)

    def _event(self, ds: Obj, typ: str, reason: str, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(ds, typ, reason=reason, message=message, kind="DaemonSet",
                                api_version="apps/v1")

    # -- sync
    async def sync(self, key: str) -> None:
        ds = self.daemonsets.indexer.get(key)
        if ds is None:
            self.expectations.delete(key)
            return
        uid = meta(ds).get("uid")
        pods = [p for p in self.pods.indexer.by_index(OWNER_INDEX, str(uid))
                if (owned_by_kind(p, "DaemonSet") or {}).get("uid") == uid]
        nodes = {str(meta(n).get("name")): n for n in self.nodes.indexer.list()}
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            if meta(p).get("deletionTimestamp"):
                continue
            by_node.setdefault(du.target_node(p) or "", []).append(p)
        if meta(ds).get("deletionTimestamp"):
            await self._update_status(key, ds, nodes, by_node, du.revision_hash(ds))
            return
        cur, old = await self._history(ds)
        hash_ = dh.revision_hash_of(cur)
        wake: float | None = None
        if self.expectations.satisfied(key):
            creates, deletes = self._plan(ds, nodes, by_node, hash_)
            wake = self._rollout(ds, nodes, by_node, hash_, creates, deletes)
            await self._apply(key, ds, hash_, creates, deletes)
            await self._cleanup_history(ds, old, pods)
        await self._update_status(key, ds, nodes, by_node, hash_)
        if wake is not None:
            self.queue.add_after(key, wake + 0.01)

    def _plan(self, ds: Obj, nodes: dict[str, Obj], by_node: dict[str, list[Obj]],
              hash_: str) -> tuple[list[str], list[Obj]]:
        """Upstream ``podsShouldBeOnNode`` over every node: nodes needing a pod, and pods
        to delete (failed, duplicates, on nodes that no longer qualify or exist)."""
        creates: list[str] = []
        deletes: list[Obj] = []
        surge = du.surge_and_unavailable(ds, len(nodes))[0] > 0 and self._rolling(ds)
        for name, ps in by_node.items():
            if name not in nodes:
                deletes.extend(ps)  # orphaned: the node is gone (or never named)
        for name, node in nodes.items():
            run, keep = du.should_run(ds, node)
            ps = by_node.get(name, [])
            failed = [p for p in ps if (p.get("status") or {}).get("phase") == "Failed"]
            if failed:
                deletes.extend(failed)
                self._event(ds, WARNING, "FailedDaemonPod",
                            f"Found failed daemon pod {meta(ds).get('namespace')}/"
                            f"{meta(failed[0]).get('name')} on node {name}, will try to "
                            "kill it")
            ps = [p for p in ps if p not in failed]
            if run and not ps:
                creates.append(name)
            elif not keep and ps:
                deletes.extend(ps)
            elif len(ps) > 1:
                ps = sorted(ps, key=_created)
                if surge:
                    new = [p for p in ps if _labels(p).get(du.REVISION_HASH) == hash_]
                    old = [p for p in ps if p not in new]
                    deletes.extend(new[1:])
                    deletes.extend(old[1:])
                else:
                    deletes.extend(ps[1:])
        return creates, deletes

    @staticmethod
    def _rolling(ds: Obj) -> bool:
        return ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") != "OnDelete"

    def _rollout(self, ds: Obj, nodes: dict[str, Obj], by_node: dict[str, list[Obj]],
                 hash_: str, creates: list[str], deletes: list[Obj]) -> float | None:
        """Add the rolling-update steps to ``creates``/``deletes``; seconds until a pod
        turns available (minReadySeconds), if the rollout waits on that."""
        if not self._rolling(ds):
            return None
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        gone = {id(p) for p in deletes}
        wanted = [n for n, node in nodes.items() if du.should_run(ds, node)[0]]
        surge, max_unavailable = du.surge_and_unavailable(ds, len(wanted))
        wake: float | None = None
        unavailable = 0
        candidates: list[tuple[str, Obj | None, Obj | None, bool]] = []
        for name in wanted:
            ps = [p for p in by_node.get(name, []) if id(p) not in gone]
            new = next((p for p in ps if _labels(p).get(du.REVISION_HASH) == hash_), None)
            old = next((p for p in ps if _labels(p).get(du.REVISION_HASH) != hash_), None)
            shown = new or old
            left = available_in(shown, min_ready) if shown is not None else None
            ok = left == 0.0
            if left:
                wake = left if wake is None else min(wake, left)
            if not ok:
                unavailable += 1
            if old is not None:
                candidates.append((name, old, new, ok))
        if surge == 0:
            budget = max_unavailable - unavailable
            for _name, old, new, ok in candidates:
                if old is None or new is not None:
                    continue
                if not ok:
                    deletes.append(old)  # already unavailable: replacing it costs nothing
                elif budget > 0:
                    deletes.append(old)
                    budget -= 1
            return wake
        surging = sum(1 for _n, _o, new, _ok in candidates if new is not None)
        for name, old, new, _ok in candidates:
            if old is None:
                continue
            if new is None:
                if surging < surge:
                    creates.append(name)
                    surging += 1
            elif available_in(new, min_ready) == 0.0:
                deletes.append(old)
        return wake

    async def _apply(self, key: str, ds: Obj, hash_: str, creates: list[str],
                     deletes: list[Obj]) -> None:
        ns, _ = split_key(key)
        victims = list({id(p): p for p in deletes}.values())
        self.expectations.expect(key, adds=len(creates),
                                 dels={object_key(p) for p in victims})
        for node in creates:
            pod = du.pod_for_node(ds, node, hash_)
            try:
                created = await self.client.create("pods", pod, namespace=ns)
            except errors.KubeError as exc:
                self.expectations.lower_adds(key)
                self._event(ds, WARNING, "FailedCreate", f"Error creating: {exc}")
                raise
            self._event(ds, NORMAL, "SuccessfulCreate",
                        f"Created pod: {meta(created).get('name')}")
        for p in victims:
            name = str(meta(p).get("name"))
            try:
                await self.client.delete("pods", name, namespace=ns)
            except errors.NotFound:
                self.expectations.observed_delete(key, object_key(p))
                continue
            self._event(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {name}")

    async def _history(self, ds: Obj) -> tuple[Obj, list[Obj]]:
        """Upstream ``constructHistory``: (the current revision, the old ones) — making
        the current one, or re-numbering it after a rollback, as needed."""
        md = meta(ds)
        ns = str(md.get("namespace") or "")
        uid = str(md.get("uid"))
        revs = [r for r in self.revisions.indexer.by_index(OWNER_INDEX, uid)
                if (owned_by_kind(r, "DaemonSet") or {}).get("uid") == uid]
        current, old, number = dh.split_history(ds, revs)
        if not current:
            want = dh.snapshot(ds, number, du.revision_hash(ds))
            try:
                return await self.client.create(REVISIONS, want, namespace=ns), old
            except errors.AlreadyExists:
                existing = await self.client.get(REVISIONS, str(want["metadata"]["name"]),
                                                 namespace=ns)
                if dh.matches(ds, existing):
                    return existing, old
                collisions = int((ds.get("status") or {}).get("collisionCount") or 0) + 1
                await self.client.patch(DS, str(md.get("name")),
                                        {"status": {"collisionCount": collisions}},
                                        namespace=ns, subresource="status")
                raise
        cur = current[-1]
        for dup in current[:-1]:  # dedupCurHistories: keep the newest
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(REVISIONS, str(meta(dup)["name"]), namespace=ns)
        if rev_number(cur) < number:
            cur = await self.client.patch(REVISIONS, str(meta(cur)["name"]),
                                          {"revision": number}, namespace=ns)
        return cur, old

    async def _cleanup_history(self, ds: Obj, old: list[Obj], pods: list[Obj]) -> None:
        live = {str(_labels(p).get(du.REVISION_HASH)) for p in pods}
        ns = str(meta(ds).get("namespace") or "")
        for r in dh.history_to_delete(ds, old, live):
            with contextlib.suppress(errors.NotFound):
                await self.client.delete(REVISIONS, str(meta(r)["name"]), namespace=ns)

    async def _update_status(self, key: str, ds: Obj, nodes: dict[str, Obj],
                             by_node: dict[str, list[Obj]], hash_: str) -> None:
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        desired = current = misscheduled = ready = updated = available = 0
        for name, node in nodes.items():
            run = du.should_run(ds, node)[0]
            ps = by_node.get(name, [])
            if run:
                desired += 1
                if ps:
                    current += 1
                    ps = sorted(ps, key=_created)
                    if any(pod_ready(p) for p in ps):
                        ready += 1
                    if any(available_in(p, min_ready) == 0.0 for p in ps):
                        available += 1
                    if any(_labels(p).get(du.REVISION_HASH) == hash_ for p in ps):
                        updated += 1
            elif ps:
                misscheduled += 1
        status = {
            "desiredNumberScheduled": desired,
            "currentNumberScheduled": current,
            "numberMisscheduled": misscheduled,
            "numberReady": ready,
            "updatedNumberScheduled": updated,
            "numberAvailable": available,
            "numberUnavailable": desired - available,
            "observedGeneration": int(meta(ds).get("generation") or 1),
        }
        cur = ds.get("status") or {}
        if all(cur.get(k) == v for k, v in status.items()):
            return
        ns, name = split_key(key)
        try:
            await self.client.patch(DS, name, {"status": status}, namespace=ns,
                                    patch_type="merge", subresource="status")
        except errors.NotFound:
            return


def _labels(pod: Obj) -> dict[str, str]:
    lab = meta(pod).get("labels")
    return lab if isinstance(lab, dict) else {}
