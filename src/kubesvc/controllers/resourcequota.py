"""The resource-quota controller (upstream pkg/controller/resourcequota): keeps each
ResourceQuota's ``status.hard`` (its ``spec.hard``) and ``status.used`` (what the
namespace's objects use, :mod:`kubesvc.api.quota`) current.

Reads the shared resourcequotas and pods informers (a pod change re-syncs its namespace's
quotas at once); the other counted kinds are listed through the Client at each sync, and
every quota is re-synced every ``resync`` seconds (upstream ``--resource-quota-sync-period``,
5m; shorter here so counts of non-pod kinds do not lag long). Updates
``resourcequotas/status`` (a stale cache is a Conflict, retried). Created by the manager.
"""

from __future__ import annotations

from typing import Any

from kubesvc import errors
from kubesvc.api import quota as q
from kubesvc.api.objects import Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, ensure_index, split_key
from kubesvc.informers import Informer, object_key

QUOTAS = "resourcequotas"
NS_INDEX = "namespace"


def _namespace(obj: Obj) -> list[str]:
    return [str(meta(obj).get("namespace") or "")]


class ResourceQuotaController(QueueController):
    name = "resourcequota"

    def __init__(self, client: Client, *, quotas: Informer, pods: Informer,
                 resync: float = 15.0, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.quotas = quotas
        self.pods = pods
        self.resync = resync
        ensure_index(quotas.indexer, NS_INDEX, func=_namespace)
        quotas.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))
        pods.add_handler(on_add=self._on_pod, on_update=lambda _o, n: self._on_pod(n),
                         on_delete=self._on_pod)

    async def wait_synced(self) -> None:
        await self.quotas.wait_synced()
        await self.pods.wait_synced()

    def _enqueue(self, rq: Obj) -> None:
        self.queue.add(object_key(rq))

    def _on_pod(self, pod: Obj) -> None:
        ns = str(meta(pod).get("namespace") or "")
        for rq in self.quotas.indexer.by_index(NS_INDEX, ns):
            self.queue.add(object_key(rq))

    async def _objects(self, resource: str, ns: str) -> list[Obj]:
        if resource == "pods":
            return [p for p in self.pods.indexer.list()
                    if meta(p).get("namespace") == ns]
        try:
            lst = await self.client.list(resource, namespace=ns)
        except (errors.NotFound, KeyError):
            return []  # count/<resource> of a kind this server does not serve
        return list(lst.get("items") or [])

    async def sync(self, key: str) -> None:
        rq = self.quotas.indexer.get(key)
        if rq is None:
            return
        ns, _ = split_key(key)
        used: dict[str, Any] = {}
        by_resource: dict[str, list[str]] = {}
        for n in q.hard_of(rq):
            res = q.count_resource(n)
            if res is None:
                res = "services" if n in q.SERVICE_TYPES else "pods" if n in q.COMPUTE else ""
            if res:
                by_resource.setdefault(res, []).append(n)
        for res, names in by_resource.items():
            used.update(q.total_usage(res, await self._objects(res, ns), names))
        status = q.status_of(rq, used)
        if (rq.get("status") or {}) != status:
            try:
                await self.client.update(QUOTAS, {**rq, "status": status}, namespace=ns,
                                         subresource="status")
            except errors.NotFound:
                return
        self.queue.add_after(key, self.resync)
