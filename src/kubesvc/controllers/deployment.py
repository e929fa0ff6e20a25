"""The Deployment controller (upstream ``pkg/controller/deployment``): one ReplicaSet per
pod template (named ``<deployment>-<pod-template-hash>``), rolling updates bounded by
``maxSurge``/``maxUnavailable`` (or Recreate), scaling, revision annotations, history
clean-up (``revisionHistoryLimit``) and the status ``kubectl get deploy`` and
``kubectl rollout status`` read (replicas, updatedReplicas, readyReplicas,
availableReplicas, unavailableReplicas, observedGeneration, Available/Progressing
conditions).

Reads the shared deployments/replicasets informers; writes ``replicasets.apps`` and
``deployments.apps`` (+ ``/status``) through the Client; records ScalingReplicaSet Events.
Pods are the ReplicaSet controller's business. Created by the manager.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import now, parse_time, rfc3339
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, ensure_index, owner_ref, split_key
from kubesvc.controllers.events import NORMAL, EventRecorder
from kubesvc.controllers.replicaset import OWNER_INDEX, RS, controller_uid_index
from kubesvc.controllers.workloads import (
    POD_TEMPLATE_HASH,
    owned_by_kind,
    resolve_intstr,
    template_hash,
    template_without_hash,
)
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

DEPLOY = "deployments.apps"
ANN_REVISION = "deployment.kubernetes.io/revision"
ANN_DESIRED = "deployment.kubernetes.io/desired-replicas"
ANN_MAX = "deployment.kubernetes.io/max-replicas"
ANN_HISTORY = "deployment.kubernetes.io/revision-history"
# Upstream ``annotationsToSkip``: never copied from the Deployment to its ReplicaSets.
_SKIP_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", ANN_REVISION, ANN_HISTORY,
    ANN_DESIRED, ANN_MAX, "deprecated.deployment.rollback.to",
})


def copied_annotations(d: Obj) -> dict[str, str]:
    """The Deployment's annotations a ReplicaSet carries (``kubernetes.io/change-cause``,
    user ones), as upstream ``copyDeploymentAnnotationsToReplicaSet``: ``kubectl rollout
    history`` reads CHANGE-CAUSE from the ReplicaSet and ``rollout undo`` puts them back."""
    ann = meta(d).get("annotations") or {}
    return {k: str(v) for k, v in ann.items() if k not in _SKIP_ANNOTATIONS}


def _replicas(obj: Obj) -> int:
    spec = obj.get("spec") or {}
    return int(spec["replicas"]) if spec.get("replicas") is not None else 1


def _st(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def _revision(rs: Obj) -> int:
    try:
        return int((meta(rs).get("annotations") or {}).get(ANN_REVISION, "0"))
    except ValueError:
        return 0


def surge_unavailable(d: Obj) -> tuple[int, int]:
    """Resolved (maxSurge, maxUnavailable) of a RollingUpdate Deployment (upstream
    ``ResolveFenceposts``)."""
    strategy = (d.get("spec") or {}).get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    want = _replicas(d)
    surge = resolve_intstr(ru.get("maxSurge"), want, round_up=True, default="25%")
    unavailable = resolve_intstr(ru.get("maxUnavailable"), want, round_up=False,
                                 default="25%")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_unavailable(d: Obj) -> int:
    strategy = ((d.get("spec") or {}).get("strategy") or {}).get("type")
    if strategy == "Recreate" or _replicas(d) == 0:
        return 0
    return min(surge_unavailable(d)[1], _replicas(d))


def new_rs_replicas(d: Obj, all_rs: list[Obj], *, new_rs: Obj | None) -> int:
    """Upstream ``NewRSNewReplicas`` for RollingUpdate: grow the new ReplicaSet as far as
    maxSurge allows."""
    want = _replicas(d)
    cur_new = _replicas(new_rs) if new_rs is not None else 0
    if ((d.get("spec") or {}).get("strategy") or {}).get("type") == "Recreate":
        return want
    surge, _ = surge_unavailable(d)
    current = sum(_replicas(rs) for rs in all_rs)
    max_total = want + surge
    if current >= max_total:
        return cur_new
    scale_up = min(max_total - current, want - cur_new)
    return cur_new + max(0, scale_up)


class DeploymentController(QueueController):
    name = "deployment"

    def __init__(
        self,
        client: Client,
        *,
        deployments: Informer,
        replicasets: Informer,
        recorder: EventRecorder | None = None,
        workers: int = 5,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.deployments = deployments
        self.replicasets = replicasets
        self.recorder = recorder
        ensure_index(replicasets.indexer, OWNER_INDEX, func=controller_uid_index)
        deployments.add_handler(
            on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n),
            on_delete=self._enqueue,
        )
        replicasets.add_handler(
            on_add=self._on_rs, on_update=self._on_rs_update, on_delete=self._on_rs
        )

    async def wait_synced(self) -> None:
        await asyncio.gather(self.deployments.wait_synced(), self.replicasets.wait_synced())

    def _enqueue(self, d: Obj) -> None:
        self.queue.add(object_key(d))

    def _on_rs(self, rs: Obj) -> None:
        ref = owned_by_kind(rs, "Deployment")
        if ref is not None:
            self.queue.add(f"{meta(rs).get('namespace', '')}/{ref.get('name', '')}")

    def _on_rs_update(self, old: Obj, new: Obj) -> None:
        self._on_rs(new)
        if owned_by_kind(old, "Deployment") != owned_by_kind(new, "Deployment"):
            self._on_rs(old)

    def _event(self, d: Obj, reason: str, *, message: str) -> None:
        if self.recorder is not None:
            self.recorder.event(d, NORMAL, reason=reason, message=message, kind="Deployment",
                                api_version="apps/v1")

    # -- sync
    async def sync(self, key: str) -> None:
        d = self.deployments.indexer.get(key)
        if d is None or meta(d).get("deletionTimestamp"):
            return
        uid = meta(d).get("uid")
        all_rs = [rs for rs in self.replicasets.indexer.by_index(OWNER_INDEX, str(uid))
                  if (owned_by_kind(rs, "Deployment") or {}).get("uid") == uid]
        spec = d.get("spec") or {}
        want_tpl = template_without_hash(spec.get("template") or {})
        new_rs = next((rs for rs in all_rs if template_without_hash(
            (rs.get("spec") or {}).get("template") or {}) == want_tpl), None)
        old_rs = [rs for rs in all_rs if rs is not new_rs]
        created = False
        if spec.get("paused"):
            await self._sync_status(key, d, all_rs=all_rs, new_rs=new_rs, created=created)
            return
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        if recreate:
            if await self._scale_old_to_zero(d, old_rs) or any(
                _st(rs, "replicas") > 0 for rs in old_rs
            ):
                await self._sync_status(key, d, all_rs=all_rs, new_rs=new_rs, created=created)
                return
        if new_rs is None:
            new_rs = await self._create_new_rs(key, d, all_rs=all_rs, old_rs=old_rs)
            created = True
            all_rs = [*old_rs, new_rs]
        else:
            new_rs = await self._sync_revision(d, new_rs, old_rs=old_rs)
        target = new_rs_replicas(d, all_rs, new_rs=new_rs)
        if _replicas(new_rs) > _replicas(d):
            target = _replicas(d)
        if target != _replicas(new_rs):
            new_rs = await self._scale(d, new_rs, n=target)
            all_rs = [*old_rs, new_rs]
        if not recreate:
            old_rs = await self._reconcile_old(d, all_rs, new_rs=new_rs, old_rs=old_rs)
            all_rs = [*old_rs, new_rs]
        await self._sync_status(key, d, all_rs=all_rs, new_rs=new_rs, created=created)
        await self._cleanup(d, old_rs)

    async def _sync_revision(self, d: Obj, new_rs: Obj, *, old_rs: list[Obj]) -> Obj:
        """Keep the new ReplicaSet's revision the highest (a rollback re-uses an old one,
        whose earlier numbers go to ``revision-history`` as upstream records them) and its
        copied annotations current."""
        max_old = max((_revision(rs) for rs in old_rs), default=0)
        rev = _revision(new_rs)
        want = rev if rev > max_old else max_old + 1
        have = meta(new_rs).get("annotations") or {}
        changes: dict[str, str] = {k: v for k, v in copied_annotations(d).items()
                                   if have.get(k) != v}
        if want != rev:
            changes[ANN_REVISION] = str(want)
            if rev > 0:
                old = [h for h in str(have.get(ANN_HISTORY) or "").split(",") if h]
                changes[ANN_HISTORY] = ",".join([*old, str(rev)])
        if changes:
            ns, name = split_key(object_key(new_rs))
            new_rs = await self.client.patch(RS, name, {"metadata": {"annotations": changes}},
                                             namespace=ns)
        await self._set_deploy_revision(d, str(want))
        return new_rs

    async def _set_deploy_revision(self, d: Obj, rev: str) -> None:
        if (meta(d).get("annotations") or {}).get(ANN_REVISION) != rev:
            ns, name = split_key(object_key(d))
            await self.client.patch(DEPLOY, name, {"metadata": {"annotations": {
                ANN_REVISION: rev}}}, namespace=ns)

    async def _create_new_rs(self, key: str, d: Obj, *, all_rs: list[Obj],
                             old_rs: list[Obj]) -> Obj:
        ns, dname = split_key(key)
        spec = d.get("spec") or {}
        collisions = (d.get("status") or {}).get("collisionCount")
        tpl = copy.deepcopy(spec.get("template") or {})
        h = template_hash(template_without_hash(tpl), collisions)
        tmd = tpl.setdefault("metadata", {})
        tmd["labels"] = {**(tmd.get("labels") or {}), POD_TEMPLATE_HASH: h}
        selector = copy.deepcopy(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), POD_TEMPLATE_HASH: h}
        rev = max((_revision(rs) for rs in old_rs), default=0) + 1
        surge, _ = surge_unavailable(d)
        rs: Obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{dname}-{h}",
                "namespace": ns,
                "labels": dict(tmd["labels"]),
                "annotations": {
                    **copied_annotations(d),
                    ANN_REVISION: str(rev),
                    ANN_DESIRED: str(_replicas(d)),
                    ANN_MAX: str(_replicas(d) + surge),
                },
                "ownerReferences": [owner_ref(d, api_version="apps/v1", kind="Deployment")],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                "selector": selector,
                "template": tpl,
            },
        }
        rs["spec"]["replicas"] = new_rs_replicas(d, [*all_rs, rs], new_rs=rs)
        try:
            created = await self.client.create(RS, rs, namespace=ns)
        except errors.AlreadyExists:
            existing = await self.client.get(RS, rs["metadata"]["name"], namespace=ns)
            if (owned_by_kind(existing, "Deployment") or {}).get("uid") == meta(d).get(
                "uid"
            ) and template_without_hash((existing.get("spec") or {}).get("template") or {}
                                        ) == template_without_hash(tpl):
                return existing  # our own, the cache had not seen it yet
            await self.client.patch(
                DEPLOY, dname, {"status": {"collisionCount": int(collisions or 0) + 1}},
                namespace=ns, subresource="status")
            raise
        self._event(d, "ScalingReplicaSet",
                    message=f"Scaled up replica set {meta(created)['name']} from 0 to "
                    f"{_replicas(created)}")
        await self._set_deploy_revision(d, str(rev))
        return created

    async def _scale(self, d: Obj, rs: Obj, *, n: int) -> Obj:
        ns, name = split_key(object_key(rs))
        old = _replicas(rs)
        surge, _ = surge_unavailable(d)
        out = await self.client.patch(RS, name, {
            "metadata": {"annotations": {ANN_DESIRED: str(_replicas(d)),
                                         ANN_MAX: str(_replicas(d) + surge)}},
            "spec": {"replicas": n},
        }, namespace=ns)
        direction = "up" if n > old else "down"
        self._event(d, "ScalingReplicaSet",
                    message=f"Scaled {direction} replica set {name} from {old} to {n}")
        return out

    async def _scale_old_to_zero(self, d: Obj, old_rs: list[Obj]) -> bool:
        scaled = False
        for rs in old_rs:
            if _replicas(rs) > 0:
                await self._scale(d, rs, n=0)
                scaled = True
        return scaled

    async def _reconcile_old(self, d: Obj, all_rs: list[Obj], *, new_rs: Obj,
                             old_rs: list[Obj]) -> list[Obj]:
        """Upstream ``reconcileOldReplicaSets``: first remove unhealthy old pods, then scale
        old ReplicaSets down as far as maxUnavailable allows."""
        if sum(_replicas(rs) for rs in old_rs) == 0:
            return old_rs
        want = _replicas(d)
        min_available = want - max_unavailable(d)
        all_pods = sum(_replicas(rs) for rs in all_rs)
        new_unavailable = _replicas(new_rs) - _st(new_rs, "availableReplicas")
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return old_rs
        out: list[Obj] = []
        by_age = sorted(old_rs, key=lambda rs: (str(meta(rs).get("creationTimestamp", "")),
                                                _revision(rs)))
        # 1. unhealthy replicas of old ReplicaSets
        cleaned: dict[str, Obj] = {}
        budget = max_scaled_down
        for rs in by_age:
            if budget <= 0:
                break
            unhealthy = _replicas(rs) - _st(rs, "availableReplicas")
            if _replicas(rs) == 0 or unhealthy <= 0:
                continue
            down = min(budget, unhealthy)
            cleaned[object_key(rs)] = await self._scale(d, rs, n=_replicas(rs) - down)
            budget -= down
        current = [cleaned.get(object_key(rs), rs) for rs in by_age]
        # 2. healthy ones, keeping minAvailable
        available = sum(_st(rs, "availableReplicas") for rs in [*current, new_rs])
        if available > min_available:
            left = available - min_available
            for rs in current:
                if left > 0 and _replicas(rs) > 0:
                    down = min(_replicas(rs), left)
                    rs = await self._scale(d, rs, n=_replicas(rs) - down)
                    left -= down
                out.append(rs)
            return out
        return current

    async def _cleanup(self, d: Obj, old_rs: list[Obj]) -> None:
        limit = (d.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else int(limit)
        idle = sorted((rs for rs in old_rs if _replicas(rs) == 0 and _st(rs, "replicas") == 0
                       and not meta(rs).get("deletionTimestamp")), key=_revision)
        for rs in idle[: max(0, len(idle) - limit)]:
            ns, name = split_key(object_key(rs))
            try:
                await self.client.delete(RS, name, namespace=ns)
            except errors.NotFound:
                pass

    async def _sync_status(self, key: str, d: Obj, *, all_rs: list[Obj], new_rs: Obj | None,
                           created: bool) -> None:
        want = _replicas(d)
        available = sum(_st(rs, "availableReplicas") for rs in all_rs)
        total_spec = sum(_replicas(rs) for rs in all_rs)
        prev = d.get("status") or {}
        status: dict[str, Any] = {
            "observedGeneration": int(meta(d).get("generation") or 1),
            "replicas": sum(_st(rs, "replicas") for rs in all_rs),
            "updatedReplicas": _st(new_rs, "replicas") if new_rs is not None else 0,
            "readyReplicas": sum(_st(rs, "readyReplicas") for rs in all_rs),
            "availableReplicas": available,
            "unavailableReplicas": max(0, total_spec - available),
        }
        if prev.get("collisionCount") is not None:
            status["collisionCount"] = prev["collisionCount"]
        conds = {c.get("type"): dict(c) for c in prev.get("conditions") or ()}
        ts = rfc3339()

        def set_cond(typ: str, st: str, *, reason: str, msg: str) -> None:
            cur = conds.get(typ)
            if cur is not None and cur.get("status") == st and cur.get("reason") == reason \
                    and cur.get("message") == msg:
                return
            trans = cur.get("lastTransitionTime", ts) if cur and cur.get("status") == st else ts
            conds[typ] = {"type": typ, "status": st, "lastUpdateTime": ts,
                          "lastTransitionTime": trans, "reason": reason, "message": msg}

        if available >= want - max_unavailable(d):
            set_cond("Available", "True", reason="MinimumReplicasAvailable",
                     msg="Deployment has minimum availability.")
        else:
            set_cond("Available", "False", reason="MinimumReplicasUnavailable",
                     msg="Deployment does not have minimum availability.")
        counts = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
        progressed = any(prev.get(k, 0) != status[k] for k in counts)
        spec = d.get("spec") or {}
        if new_rs is not None and not spec.get("paused"):
            rs_name = meta(new_rs).get("name", "")
            complete = (status["updatedReplicas"] == want and status["replicas"] == want
                        and available >= want)
            if complete:
                set_cond("Progressing", "True", reason="NewReplicaSetAvailable",
                         msg=f'ReplicaSet "{rs_name}" has successfully progressed.')
            elif created:
                set_cond("Progressing", "True", reason="NewReplicaSetCreated",
                         msg=f'Created new replica set "{rs_name}"')
            elif progressed or "Progressing" not in conds:
                set_cond("Progressing", "True", reason="ReplicaSetUpdated",
                         msg=f'ReplicaSet "{rs_name}" is progressing.')
                if "Progressing" in conds:
                    conds["Progressing"]["lastUpdateTime"] = ts
            else:
                deadline = spec.get("progressDeadlineSeconds", 600)
                cur = conds.get("Progressing") or {}
                last = parse_time(cur.get("lastUpdateTime"))
                if deadline is not None and last is not None and cur.get("reason") != \
                        "ProgressDeadlineExceeded":
                    left = last.timestamp() + int(deadline) - now().timestamp()
                    if left <= 0:
                        set_cond("Progressing", "False", reason="ProgressDeadlineExceeded",
                                 msg=f'ReplicaSet "{rs_name}" has timed out progressing.')
                    else:
                        self.queue.add_after(key, left + 0.05)
        status["conditions"] = [conds[t] for t in ("Available", "Progressing") if t in conds]
        status["conditions"] += [c for t, c in conds.items()
                                 if t not in ("Available", "Progressing")]
        if any(prev.get(k) != v for k, v in status.items()):
            ns, name = split_key(key)
            try:
                await self.client.patch(DEPLOY, name, {"status": status}, namespace=ns,
                                        subresource="status")
            except errors.NotFound:
                pass
