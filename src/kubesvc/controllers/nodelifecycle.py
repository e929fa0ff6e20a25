"""Node lifecycle (upstream ``pkg/controller/nodelifecycle``, health monitoring part):
nodes heartbeat by renewing their Lease in ``kube-node-lease`` (or by posting a new
``Ready`` condition ``lastHeartbeatTime``). A node not heard from for the grace period
(default 40 s) gets every condition set to ``Unknown`` (``NodeStatusUnknown``, "Kubelet
stopped posting node status."), the ``node.kubernetes.io/unreachable`` taints, and its pods'
``Ready`` condition set to False (upstream ``MarkPodsNotReady``) so endpoint controllers
mark them not ready. When heartbeats resume the conditions, taints and the pods this
controller marked are restored.

Heartbeats are timed on this process's monotonic clock when they are observed (as
upstream's probe timestamps), so clock skew between machines does not matter. One timer
per node through the workqueue's ``add_after``; no polling loop. Reads the nodes, leases
(kube-node-lease) and pods informers; writes ``nodes`` (+``/status``) and
``pods/status``; records NodeNotReady/NodeReady Events. Created by the manager.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import rfc3339
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, condition, ensure_index, pod_ready, split_key
from kubesvc.controllers.events import NORMAL, EventRecorder
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
NODE_INDEX = "node-name"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
UNKNOWN_REASON = "NodeStatusUnknown"
UNKNOWN_MESSAGE = "Kubelet stopped posting node status."
NEVER_REASON = "NodeStatusNeverUpdated"
NEVER_MESSAGE = "Kubelet never posted node status."
MONITORED = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
RESTORED: dict[str, tuple[str, str, str]] = {
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
    "MemoryPressure": ("False", "KubeletHasSufficientMemory",
                       "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
}


def pod_node_index(pod: Obj) -> list[str]:
    node = (pod.get("spec") or {}).get("nodeName")
    return [str(node)] if node else []


def _heartbeat_of(node: Obj) -> str:
    return str((condition(node, "Ready") or {}).get("lastHeartbeatTime") or "")


class NodeLifecycleController(QueueController):
    name = "node-lifecycle"

    def __init__(
        self,
        client: Client,
        *,
        nodes: Informer,
        leases: Informer,
        pods: Informer,
        grace_period: float = 40.0,
        recorder: EventRecorder | None = None,
        workers: int = 2,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.nodes = nodes
        self.leases = leases
        self.pods = pods
        self.grace = grace_period
        self.recorder = recorder
        self._probe: dict[str, float] = {}  # node -> monotonic time of last heartbeat seen
        self._renew: dict[str, str] = {}  # node -> last lease renewTime seen
        self._hb: dict[str, str] = {}  # node -> last Ready lastHeartbeatTime seen
        self._down: set[str] = set()  # nodes we declared unreachable
        self._marked: dict[str, set[str]] = {}  # node -> pod keys we marked NotReady
        ensure_index(pods.indexer, NODE_INDEX, func=pod_node_index)
        nodes.add_handler(on_add=self._on_node, on_update=lambda _o, n: self._on_node(n),
                          on_delete=self._on_node_delete)
        leases.add_handler(on_add=self._on_lease, on_update=lambda _o, n: self._on_lease(n))
        pods.add_handler(on_add=self._on_pod, on_update=lambda _o, n: self._on_pod(n))

    async def wait_synced(self) -> None:
        await asyncio.gather(self.nodes.wait_synced(), self.leases.wait_synced(),
                             self.pods.wait_synced())

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _beat(self, node: str) -> None:
        self._probe[node] = self._now()
        self.queue.add(node)

    def _on_node(self, node: Obj) -> None:
        name = str(meta(node).get("name", ""))
        hb = _heartbeat_of(node)
        if name not in self._probe:
            self._hb[name] = hb
            self._beat(name)  # grace starts when we first see the node
        elif hb and hb != self._hb.get(name):
            self._hb[name] = hb
            self._beat(name)

    def _on_node_delete(self, node: Obj) -> None:
        name = str(meta(node).get("name", ""))
        for d in (self._probe, self._renew, self._hb, self._marked):
            d.pop(name, None)
        self._down.discard(name)

    def _on_lease(self, lease: Obj) -> None:
        if meta(lease).get("namespace") != LEASE_NAMESPACE:
            return
        name = str(meta(lease).get("name", ""))
        renew = str((lease.get("spec") or {}).get("renewTime") or "")
        if renew and renew != self._renew.get(name):
            self._renew[name] = renew
            self._beat(name)

    def _on_pod(self, pod: Obj) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node in self._down and pod_ready(pod):
            self.queue.add(str(node))

    # -- sync
    async def sync(self, key: str) -> None:
        node = self.nodes.indexer.get(key)
        if node is None:
            return
        probe = self._probe.setdefault(key, self._now())
        elapsed = self._now() - probe
        if elapsed >= self.grace:
            await self._mark_down(key, node)
        else:
            if key in self._down or self._shows_our_unknown(node):
                await self._mark_up(key, node)
            self.queue.add_after(key, self.grace - elapsed + 0.01)

    def _shows_our_unknown(self, node: Obj) -> bool:
        c = condition(node, "Ready") or {}
        return c.get("status") == "Unknown" and c.get("reason") == UNKNOWN_REASON

    async def _mark_down(self, key: str, node: Obj) -> None:
        ts = rfc3339()
        conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or ()]
        changed = False
        present = {c.get("type") for c in conds}
        for c in conds:
            if c.get("type") in MONITORED and c.get("status") != "Unknown":
                c.update(status="Unknown", reason=UNKNOWN_REASON, message=UNKNOWN_MESSAGE,
                         lastTransitionTime=ts)
                changed = True
        for typ in MONITORED:
            if typ not in present:
                conds.append({"type": typ, "status": "Unknown", "reason": NEVER_REASON,
                              "message": NEVER_MESSAGE,
                              "lastTransitionTime": ts})
                changed = True
        if changed:
            await self.client.patch("nodes", key, {"status": {"conditions": conds}},
                                    subresource="status")
            if self.recorder is not None:
                self.recorder.event(node, NORMAL, reason="NodeNotReady",
                                    message=f"Node {key} status is now: NodeNotReady",
                                    kind="Node", api_version="v1")
        await self._set_taints(key, node, present=True)
        self._down.add(key)
        await self._mark_pods(key)

    async def _mark_pods(self, node: str) -> None:
        """Upstream MarkPodsNotReady: Ready=False on every pod bound to the node."""
        marked = self._marked.setdefault(node, set())
        ts = rfc3339()
        for pod in self.pods.indexer.by_index(NODE_INDEX, node):
            if not pod_ready(pod) or meta(pod).get("deletionTimestamp"):
                continue
            conds = [dict(c) for c in (pod.get("status") or {}).get("conditions") or ()]
            for c in conds:
                if c.get("type") == "Ready":
                    c.update(status="False", lastTransitionTime=ts)
            ns, name = split_key(object_key(pod))
            try:
                await self.client.patch("pods", name, {"status": {"conditions": conds}},
                                        namespace=ns, subresource="status")
            except errors.NotFound:
                continue
            marked.add(object_key(pod))

    async def _mark_up(self, key: str, node: Obj) -> None:
        ts = rfc3339()
        conds = [dict(c) for c in (node.get("status") or {}).get("conditions") or ()]
        changed = False
        for c in conds:
            typ = str(c.get("type"))
            if typ in RESTORED and c.get("reason") in (UNKNOWN_REASON, NEVER_REASON):
                st, reason, msg = RESTORED[typ]
                c.update(status=st, reason=reason, message=msg, lastTransitionTime=ts)
                changed = True
        if changed:
            await self.client.patch("nodes", key, {"status": {"conditions": conds}},
                                    subresource="status")
            if self.recorder is not None:
                self.recorder.event(node, NORMAL, reason="NodeReady",
                                    message=f"Node {key} status is now: NodeReady",
                                    kind="Node", api_version="v1")
        await self._set_taints(key, node, present=False)
        self._down.discard(key)
        for pkey in sorted(self._marked.pop(key, set())):
            pod = self.pods.indexer.get(pkey)
            if pod is None or pod_ready(pod) or meta(pod).get("deletionTimestamp"):
                continue
            if (condition(pod, "ContainersReady") or {}).get("status") == "False":
                continue  # the agent says the containers are not ready: leave it
            conds = [dict(c) for c in (pod.get("status") or {}).get("conditions") or ()]
            for c in conds:
                if c.get("type") == "Ready":
                    c.update(status="True", lastTransitionTime=ts)
            ns, name = split_key(pkey)
            try:
                await self.client.patch("pods", name, {"status": {"conditions": conds}},
                                        namespace=ns, subresource="status")
            except errors.NotFound:
                continue

    async def _set_taints(self, key: str, node: Obj, *, present: bool) -> None:
        taints: list[dict[str, Any]] = [
            copy.deepcopy(t) for t in (node.get("spec") or {}).get("taints") or ()
        ]
        others = [t for t in taints if t.get("key") != TAINT_UNREACHABLE]
        if present:
            if len(others) != len(taints):
                return
            ts = rfc3339()
            want = [*others,
                    {"key": TAINT_UNREACHABLE, "effect": "NoSchedule"},
                    {"key": TAINT_UNREACHABLE, "effect": "NoExecute", "timeAdded": ts}]
        else:
            if len(others) == len(taints):
                return
            want = others
        await self.client.patch("nodes", key, {"spec": {"taints": want or None}})
