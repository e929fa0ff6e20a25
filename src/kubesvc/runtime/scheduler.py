"""A trivial scheduler: binds each unscheduled pod (``spec.nodeName`` empty, schedulerName
``default-scheduler``) to a Ready, schedulable node (a cordoned one only for pods that
tolerate ``node.kubernetes.io/unschedulable``) whose labels match its nodeSelector and
required node affinity (DaemonSet pods name their node there) and whose NoSchedule/NoExecute
taints it tolerates, with room left (``allocatable.pods``), and
that its bound local volumes are pinned to (a PV's ``kubernetes.io/hostname`` affinity),
spreading replicas: fewest pods of the same controller owner, then fewest pods, then name.

Binding goes through the ``pods/binding`` subresource when the client supports
``create(..., subresource="binding")``; otherwise it falls back to a merge patch of
``spec.nodeName`` plus a PodScheduled=True status patch. A pod that fits nowhere gets
PodScheduled=False/Unschedulable with upstream's "0/N nodes are available: ..." message and
is retried when nodes change. Called by ``kubesvc up`` / ``kubesvc server``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import Counter
from typing import Any

from kubesvc import errors
from kubesvc.api.nodeaffinity import node_affinity_matches
from kubesvc.api.objects import Obj
from kubesvc.api.storage import node_of
from kubesvc.api.timefmt import rfc3339_epoch
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer, WorkQueue, object_key
from kubesvc.informers.worker import run_workers
from kubesvc.runtime.events import EventRecorder

log = logging.getLogger(__name__)
DEFAULT_SCHEDULER = "default-scheduler"
# spec.unschedulable (kubectl cordon) is this taint upstream; pods tolerating it (daemon
# pods) may still land on a cordoned node.
_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def _node_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _tolerates(pod: Obj, taint: Obj) -> bool:
    for t in (pod.get("spec") or {}).get("tolerations") or []:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        op = t.get("operator") or "Equal"
        if not t.get("key"):
            if op == "Exists":
                return True
            continue
        if t.get("key") != taint.get("key"):
            continue
        if op == "Exists" or t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _owner(pod: Obj) -> str:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid") or ref.get("name"))
    return ""


def _active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [str(node)] if node and _active(pod) else []


def _owner_node_index(pod: Obj) -> list[str]:
    """``owner|node`` for bound, active pods: replicas of one owner per node, in O(1)."""
    owner = _owner(pod)
    node = (pod.get("spec") or {}).get("nodeName")
    return [f"{owner}|{node}"] if owner and node and _active(pod) else []


def _unscheduled(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    return (not spec.get("nodeName")
            and (spec.get("schedulerName") or DEFAULT_SCHEDULER) == DEFAULT_SCHEDULER
            and not pod["metadata"].get("deletionTimestamp") and _active(pod))


class Scheduler:
    """``pods`` and ``nodes``: informers shared with other components of the process (run
    by the caller); by default the scheduler makes and runs its own."""

    def __init__(self, client: Client, *, workers: int = 16, pods: Informer | None = None,
                 nodes: Informer | None = None) -> None:
        self.client = client
        self.pods = pods if pods is not None else Informer(client, "pods")
        self.pods.indexer.add_index("node", _node_index)
        self.pods.indexer.add_index("owner_node", _owner_node_index)
        self.nodes = nodes if nodes is not None else Informer(client, "nodes")
        self._own_informers = [inf for inf, given in ((self.pods, pods), (self.nodes, nodes))
                               if given is None]
        self.queue = WorkQueue("scheduler", base_delay=0.5, max_delay=30.0)
        self._workers = workers
        # Pods bound by us that the informer does not show bound yet: uid -> (node, owner),
        # and their counts per node and per owner|node (choose() adds them to the indexes').
        self._assumed: dict[str, tuple[str, str]] = {}
        self._assumed_node: Counter[str] = Counter()
        self._assumed_owner_node: Counter[str] = Counter()
        self.events = EventRecorder(client, component=DEFAULT_SCHEDULER)
        self._binding_subresource = "subresource" in inspect.signature(client.create).parameters

    def synced(self) -> bool:
        return self.pods.has_synced and self.nodes.has_synced

    async def run(self, stop: asyncio.Event) -> None:
        self.pods.add_handler(on_add=self._on_pod, on_update=lambda _o, n: self._on_pod(n),
                              on_delete=lambda p: self._forget(str(p["metadata"].get("uid"))))
        self.nodes.add_handler(on_add=self._on_node, on_update=self._on_node_update)
        try:
            async with asyncio.TaskGroup() as tg:
                for inf in self._own_informers:
                    tg.create_task(inf.run(stop), name=f"scheduler-{inf.resource}")
                tg.create_task(self._main(stop), name="scheduler-workers")
                tg.create_task(self.events.run(stop), name="scheduler-events")
        finally:
            self.queue.shutdown()

    def _on_pod(self, pod: Obj) -> None:
        if _unscheduled(pod):
            self.queue.add(object_key(pod))
        else:
            self._forget(str(pod["metadata"].get("uid")))

    def _assume(self, uid: str, node: str, owner: str) -> None:
        self._assumed[uid] = (node, owner)
        self._assumed_node[node] += 1
        if owner:
            self._assumed_owner_node[f"{owner}|{node}"] += 1

    def _forget(self, uid: str) -> None:
        got = self._assumed.pop(uid, None)
        if got is None:
            return
        node, owner = got
        self._assumed_node[node] -= 1
        if owner:
            self._assumed_owner_node[f"{owner}|{node}"] -= 1

    def _on_node(self, _node: Obj) -> None:
        for pod in self.pods.indexer.list():
            if _unscheduled(pod):
                self.queue.add(object_key(pod))

    def _on_node_update(self, old: Obj, new: Obj) -> None:
        if (_node_ready(old) != _node_ready(new) or old.get("spec") != new.get("spec")
                or (old.get("status") or {}).get("allocatable")
                != (new.get("status") or {}).get("allocatable")):
            self._on_node(new)

    async def _main(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.pods.wait_synced(), self.nodes.wait_synced())
        await run_workers(self.queue, self.schedule, stop, name="scheduler",
                          workers=self._workers, logger=log)

    async def volume_nodes(self, pod: Obj) -> set[str] | None:
        """The nodes the pod's bound local volumes are pinned to (upstream VolumeBinding's
        node-affinity check); None when no volume restricts it. Lookup failures restrict
        nothing (the binder may not have bound the claim yet)."""
        allowed: set[str] | None = None
        ns = (pod.get("metadata") or {}).get("namespace", "default")
        for vol in (pod.get("spec") or {}).get("volumes") or ():
            claim_name = ((vol or {}).get("persistentVolumeClaim") or {}).get("claimName")
            if not claim_name:
                continue
            try:
                claim = await self.client.get("persistentvolumeclaims", str(claim_name),
                                              namespace=ns)
                volume = (claim.get("spec") or {}).get("volumeName")
                if not volume:
                    continue
                node = node_of(await self.client.get("persistentvolumes", str(volume)))
            except errors.KubeError:
                continue
            if node:
                allowed = {node} if allowed is None else allowed & {node}
        return allowed

    def choose(self, pod: Obj, *, allowed: set[str] | None = None) -> tuple[str | None, str]:
        """The node for ``pod`` (or None) and, when None, upstream's failure message.
        ``allowed``: the only nodes its volumes permit (:meth:`volume_nodes`)."""
        nodes = self.nodes.indexer.list()
        idx = self.pods.indexer
        per_node: Counter[str] = Counter()
        per_owner: Counter[str] = Counter()
        owner = _owner(pod)
        # Counts come from indexes (O(nodes) per pod, not O(pods)).
        for node in nodes:
            name = str(node["metadata"]["name"])
            per_node[name] = idx.index_count("node", name)
            if owner:
                per_owner[name] = idx.index_count("owner_node", f"{owner}|{name}")
            # Bound by us, not yet seen bound by the informer.
            per_node[name] += self._assumed_node[name]
            if owner:
                per_owner[name] += self._assumed_owner_node[f"{owner}|{name}"]
        reasons: Counter[str] = Counter()
        fits: list[str] = []
        selector = (pod.get("spec") or {}).get("nodeSelector") or {}
        for node in nodes:
            name = str(node["metadata"]["name"])
            labels = node["metadata"].get("labels") or {}
            taints = [t for t in (node.get("spec") or {}).get("taints") or []
                      if t.get("effect") in ("NoSchedule", "NoExecute")
                      and t.get("key") != _UNSCHEDULABLE_TAINT["key"]]
            untolerated = [t for t in taints if not _tolerates(pod, t)]
            cap = int(str(((node.get("status") or {}).get("allocatable") or {})
                          .get("pods") or 110))
            if (node.get("spec") or {}).get("unschedulable") and not _tolerates(
                    pod, _UNSCHEDULABLE_TAINT):
                reasons["node(s) were unschedulable"] += 1
            elif not _node_ready(node):
                reasons["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"] += 1
            elif untolerated:
                t = untolerated[0]
                reasons[f"node(s) had untolerated taint {{{t.get('key')}: "
                        f"{t.get('value', '')}}}"] += 1
            elif any(labels.get(k) != v for k, v in selector.items()) or not (
                    node_affinity_matches(pod.get("spec") or {}, node)):
                reasons["node(s) didn't match Pod's node affinity/selector"] += 1
            elif allowed is not None and name not in allowed:
                reasons["node(s) had volume node affinity conflict"] += 1
            elif per_node[name] >= cap:
                reasons["Too many pods"] += 1
            else:
                fits.append(name)
        if not fits:
            detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda x: x[0]))
            msg = f"0/{len(nodes)} nodes are available"
            msg += f": {detail}." if detail else "."
            if nodes:
                msg += (" preemption: 0/{n} nodes are available: {n} Preemption is not "
                        "helpful for scheduling.").format(n=len(nodes))
            return None, msg
        fits.sort(key=lambda n: (per_owner[n], per_node[n], n))
        return fits[0], ""

    async def schedule(self, key: str) -> bool:
        """Try to place one pod; True to retry later."""
        pod = self.pods.indexer.get(key)
        if pod is None or not _unscheduled(pod):
            return False
        uid = str(pod["metadata"].get("uid"))
        if uid in self._assumed:
            return False
        node, msg = self.choose(pod, allowed=await self.volume_nodes(pod))
        ns, name = pod["metadata"].get("namespace", "default"), pod["metadata"]["name"]
        if node is None:
            cond = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                    "lastTransitionTime": rfc3339_epoch(), "reason": "Unschedulable",
                    "message": msg}
            old = [c for c in (pod.get("status") or {}).get("conditions") or []
                   if c.get("type") == "PodScheduled"]
            if not old or old[0].get("message") != msg:
                self.events.emit(pod, "Warning", "FailedScheduling", msg)
                await self.client.patch("pods", name, {"status": {
                    "phase": "Pending", "conditions": [cond]}}, namespace=ns,
                    subresource="status")
            return True
        self._assume(uid, node, _owner(pod))
        try:
            await self.bind(ns, name, uid, node)
        except errors.NotFound:
            self._forget(uid)
            return False
        except Exception:
            self._forget(uid)
            raise
        self.events.emit(pod, "Normal", "Scheduled",
                         f"Successfully assigned {ns}/{name} to {node}")
        return False

    async def bind(self, namespace: str, name: str, uid: str, node: str) -> None:
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": name, "namespace": namespace, "uid": uid},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        if self._binding_subresource:
            create: Any = self.client.create
            await create("pods", binding, namespace=namespace, subresource="binding")
            return
        # Status first: once nodeName is set the node agent owns the status.
        cond = {"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                "lastTransitionTime": rfc3339_epoch()}
        await self.client.patch("pods", name, {"status": {"conditions": [cond]}},
                                namespace=namespace, subresource="status")
        await self.client.patch("pods", name, {"spec": {"nodeName": node}},
                                namespace=namespace)
