"""The NetworkPolicy agent of one node: informers (NetworkPolicies, pods, namespaces) ->
:func:`~.render.render` -> an ``nft -f`` transaction through :class:`NftApply`.

Any change marks the state dirty; one task re-renders from the informer caches and applies
only the difference (set element deletes and adds; the whole table on the first sync and
after a failure, which is retried with back-off). On stop the table is deleted. Run by
``kubesvc agent`` in netns mode with the node's credentials (list/watch of the three
resources: the ``kubesvc:network-policy-agent`` role); it owns the runner it is given
(closed with it). ``applied_at`` and
``programmed`` expose when the kernel last took a change, for benchmarks and tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from kubesvc.api.objects import Obj
from kubesvc.informers import Informer
from kubesvc.netpol.model import Namespace, Pod, Policy, namespace_from, pod_from, policy_from
from kubesvc.netpol.render import TABLE, Cluster, State, render_for, transaction

log = logging.getLogger(__name__)

POLICIES = "networkpolicies.networking.k8s.io"


class NftApply(Protocol):
    """What the controller needs of an nftables runner (``kubesvc.proxy.nftables.nft``)."""

    async def apply(self, text: str) -> None: ...

    async def close(self) -> None: ...


def _key(obj: Obj) -> str:
    md = obj.get("metadata") or {}
    return f"{md.get('namespace') or ''}/{md.get('name') or ''}"


class NetpolController:
    def __init__(self, runner: NftApply, *, node_name: str, policies: Informer,
                 pods: Informer, namespaces: Informer, table: str = TABLE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.runner = runner
        self.node_name = node_name
        self.policies = policies
        self.pods = pods
        self.namespaces = namespaces
        self.table = table
        self.clock = clock
        self._dirty = asyncio.Event()
        self._applied: State | None = None
        self._synced = False
        self.applied_at = 0.0  # clock() when the last transaction was committed
        self.syncs = 0
        self.last_transaction = ""
        # projections kept current by the handlers, so a sync only renders
        self._policies: dict[str, Policy] = {}
        self._pods: dict[str, Pod] = {}
        self._namespaces: dict[str, Namespace] = {}
        self._cluster: Cluster | None = None  # rebuilt after a pod or namespace change
        for inf, into, project in ((policies, self._policies, policy_from),
                                   (pods, self._pods, pod_from),
                                   (namespaces, self._namespaces, namespace_from)):
            put = self._put(into, project, resets=inf is not policies)
            inf.add_handler(on_add=put, on_update=self._replace(put),
                            on_delete=self._drop(into, resets=inf is not policies))

    def synced(self) -> bool:
        return self._synced

    def _put(self, into: dict[str, Any], project: Callable[[Obj], Any], *,
             resets: bool) -> Callable[[Obj], None]:
        def put(obj: Obj) -> None:
            if resets:
                self._cluster = None
            value = project(obj)
            if value is None:
                into.pop(_key(obj), None)
            else:
                into[_key(obj)] = value
            self._dirty.set()
        return put

    @staticmethod
    def _replace(put: Callable[[Obj], None]) -> Callable[[Obj, Obj], None]:
        def replace(_old: Obj, new: Obj) -> None:
            put(new)
        return replace

    def _drop(self, into: dict[str, Any], *, resets: bool) -> Callable[[Obj], None]:
        def drop(obj: Obj) -> None:
            if resets:
                self._cluster = None
            into.pop(_key(obj), None)
            self._dirty.set()
        return drop

    def desired(self) -> State:
        if self._cluster is None:
            self._cluster = Cluster(self._pods.values(), self._namespaces.values())
        return render_for(self._cluster, list(self._policies.values()),
                          node_name=self.node_name)

    async def sync_once(self) -> None:
        cur = self.desired()
        text = transaction(self._applied, cur, table=self.table)
        if text:
            try:
                await self.runner.apply(text)
            except BaseException:
                self._applied = None  # unknown: the next sync writes the whole table
                raise
            self.last_transaction = text
        self._applied = cur
        self.applied_at = self.clock()
        self.syncs += 1

    async def run(self, stop: asyncio.Event) -> None:
        for inf in (self.policies, self.pods, self.namespaces):
            await inf.wait_synced()
        backoff = 0.1
        stopping = asyncio.ensure_future(stop.wait())
        self._dirty.set()
        try:
            while not stop.is_set():
                dirty = asyncio.ensure_future(self._dirty.wait())
                await asyncio.wait({dirty, stopping}, return_when=asyncio.FIRST_COMPLETED)
                dirty.cancel()
                if stop.is_set():
                    break
                self._dirty.clear()
                try:
                    await self.sync_once()
                    self._synced = True
                    backoff = 0.1
                except Exception as exc:
                    log.error("network policy: sync failed (retrying in %.1fs): %s",
                              backoff, exc)
                    self._dirty.set()
                    await asyncio.wait({stopping}, timeout=backoff)
                    backoff = min(backoff * 2, 5.0)
        finally:
            stopping.cancel()
            await self.close()

    async def close(self) -> None:
        try:
            if self._applied is not None or self.syncs:
                await self.runner.apply(
                    f"add table ip {self.table}\ndelete table ip {self.table}\n")
        except Exception as exc:
            log.warning("network policy: could not remove table %s: %s", self.table, exc)
        finally:
            self._applied = None
            await self.runner.close()
