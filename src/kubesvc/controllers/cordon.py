"""The unschedulable taint (upstream node lifecycle controller, ``TaintNodesByCondition``):
a node with ``spec.unschedulable: true`` (``kubectl cordon``) carries the
``node.kubernetes.io/unschedulable:NoSchedule`` taint, and loses it on ``uncordon``. The
scheduler refuses such a node to pods that do not tolerate that taint, which DaemonSet pods
do.

Reads the shared nodes informer; patches ``nodes``. Created by the manager with the
node-lifecycle controller.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import rfc3339
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController
from kubesvc.informers import Informer, object_key

TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"


def wanted_taints(node: Obj) -> list[dict[str, Any]] | None:
    """The node's taints with the unschedulable taint reconciled; None when unchanged."""
    spec = node.get("spec") or {}
    taints = [copy.deepcopy(t) for t in spec.get("taints") or ()]
    has = any(t.get("key") == TAINT_UNSCHEDULABLE and t.get("effect") == "NoSchedule"
              for t in taints)
    if spec.get("unschedulable") and not has:
        return [*taints, {"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule",
                          "timeAdded": rfc3339()}]
    if not spec.get("unschedulable") and has:
        return [t for t in taints if t.get("key") != TAINT_UNSCHEDULABLE]
    return None


class UnschedulableTaintController(QueueController):
    name = "node-unschedulable-taint"

    def __init__(self, client: Client, *, nodes: Informer) -> None:
        super().__init__(workers=1)
        self.client = client
        self.nodes = nodes
        nodes.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    async def wait_synced(self) -> None:
        await self.nodes.wait_synced()

    def _enqueue(self, node: Obj) -> None:
        if wanted_taints(node) is not None:
            self.queue.add(object_key(node))

    async def sync(self, key: str) -> None:
        node = self.nodes.indexer.get(key)
        if node is None:
            return
        want = wanted_taints(node)
        if want is None:
            return
        try:
            await self.client.patch("nodes", key, {"spec": {"taints": want or None}})
        except errors.NotFound:
            return
