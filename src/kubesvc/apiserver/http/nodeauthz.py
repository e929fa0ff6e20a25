"""The Node authorizer of the API server (``--authorization-mode=Node,RBAC``): a pod
informer keeps the :class:`~kubesvc.api.rbac.nodegraph.NodeGraph` (node -> the Secrets,
ConfigMaps, PVCs and ServiceAccounts its pods reference, and the PVs those claims are
bound to, from a PVC informer) up to date as pods are bound, change and go, and
:meth:`NodeAuthorizer.decide` answers from it with no I/O.

Built and run by :class:`.server.ApiServer` beside the RBAC :class:`~.rbacpolicy.PolicyCache`;
consulted by :class:`.authz.Authz` before RBAC (upstream's union authorizer: the first
"allow" wins, the reasons of every "no opinion" are joined with a newline).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, cast

from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.authorizer import Decision
from kubesvc.api.rbac.componentroles import NODE_RULES
from kubesvc.api.rbac.nodegraph import NodeGraph, authorize_node
from kubesvc.apiserver.http.backend import Backend
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer


class NodeAuthorizer:
    """The graph, fed by an informer over every pod."""

    def __init__(self, backend: Backend) -> None:
        self.graph = NodeGraph()
        # The Registry is a Client; the Backend protocol names only what HTTP handlers use.
        self.pods = Informer(cast(Client, backend), "pods")
        self.pods.add_handler(on_add=self._set, on_update=lambda _o, n: self._set(n),
                              on_delete=self._delete)
        # claims -> their volumes, so a node may read the PV its pods' claims are bound to
        self.claims = Informer(cast(Client, backend), "persistentvolumeclaims")
        self.claims.add_handler(on_add=self.graph.set_claim,
                                on_update=lambda _o, n: self.graph.set_claim(n),
                                on_delete=self.graph.delete_claim)
        self.rules = NODE_RULES

    def _set(self, pod: Mapping[str, Any]) -> None:
        self.graph.set_pod(pod)

    def _delete(self, pod: Mapping[str, Any]) -> None:
        md = pod.get("metadata") or {}
        self.graph.delete_pod(str(md.get("namespace") or ""), str(md.get("name") or ""))

    def decide(self, attrs: Attributes) -> Decision:
        return authorize_node(self.graph, attrs, self.rules)

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.pods.run(stop), name="node-authorizer/pods")
            tg.create_task(self.claims.run(stop), name="node-authorizer/claims")

    async def wait_synced(self) -> None:
        await self.pods.wait_synced()
        await self.claims.wait_synced()
