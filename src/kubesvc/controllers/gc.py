"""The garbage collector (upstream ``pkg/controller/garbagecollector``): deletes objects
whose owners (``metadata.ownerReferences``) are gone, and carries out the two deletion
modes that need a controller:

- background (default): the owner is deleted at once; its dependents are found here by
  owner UID and deleted (Deployment -> ReplicaSets -> Pods; Service -> EndpointSlices);
- foreground: the owner carries the ``foregroundDeletion`` finalizer and a
  deletionTimestamp; its dependents are deleted first and the finalizer is removed once no
  dependent with ``blockOwnerDeletion`` remains;
- orphan: the owner carries the ``orphan`` finalizer; its dependents lose the
  ownerReference, then the finalizer is removed.

The dependency graph (uid -> object identity, owner uid -> dependent uids) is built from
the shared informers handed in (a resource key -> Informer map); owners not in any watched
resource are verified with a live GET (and remembered when absent). The API server is
expected to add those finalizers for ``propagationPolicy=Foreground|Orphan`` deletes.
Custom resources join the graph as their CRDs are established (upstream's GC follows
discovery): with a CRD informer handed in, one informer per established CRD's resource
is started and stopped as CRDs come and go, so custom objects are collected and
cascaded like built-in ones.

Created by the manager; writes through the Client (delete with a UID precondition, patch,
update).
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from kubesvc import errors
from kubesvc.api import resources
from kubesvc.api.objects import Obj, meta
from kubesvc.client.options import DeleteOptions
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"


@dataclass(slots=True)
class _Node:
    resource: str
    namespace: str
    name: str
    owners: list[dict[str, Any]]
    deleting: bool
    finalizers: tuple[str, ...]
    dependents: set[str] = field(default_factory=set)


class GarbageCollector(QueueController):
    name = "garbage-collector"

    def __init__(
        self, client: Client, informers: dict[str, Informer], *, workers: int = 5,
        crds: Informer | None = None,
    ) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.informers = informers
        # custom resources: key -> (informer, its task), following the CRD informer
        self.crds = crds
        self._custom: dict[str, tuple[Informer, asyncio.Task[None]]] = {}
        self._crds_changed = asyncio.Event()
        if crds is not None:
            crds.add_handler(on_add=lambda _o: self._crds_changed.set(),
                             on_update=lambda _o, _n: self._crds_changed.set(),
                             on_delete=lambda _o: self._crds_changed.set())
        self.graph: dict[str, _Node] = {}
        # dependents of owners we have not seen (yet): owner uid -> dependent uids
        self._waiting: dict[str, set[str]] = {}
        self._absent: OrderedDict[str, None] = OrderedDict()
        for res, inf in informers.items():
            self._watch(res, inf)

    def _watch(self, resource: str, inf: Informer) -> None:
        def on_add(obj: Obj) -> None:
            self._upsert(resource, obj)

        def on_update(_old: Obj, new: Obj) -> None:
            self._upsert(resource, new)

        inf.add_handler(on_add=on_add, on_update=on_update, on_delete=self._remove)

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.wait_synced() for i in self.informers.values()))

    async def run(self, stop: asyncio.Event) -> None:
        if self.crds is None:
            await super().run(stop)
            return
        monitor = asyncio.create_task(self._monitor_custom(stop), name="gc-custom-resources")
        try:
            await super().run(stop)
        finally:
            monitor.cancel()
            tasks = [monitor, *(t for _, t in self._custom.values())]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def custom_resources(self) -> set[str]:
        """The resource keys of the established CRDs the CRD informer holds."""
        assert self.crds is not None
        out: set[str] = set()
        for crd in self.crds.indexer.list():
            conds = {c.get("type"): c.get("status")
                     for c in (crd.get("status") or {}).get("conditions") or []}
            names = (crd.get("status") or {}).get("acceptedNames") or {}
            group = (crd.get("spec") or {}).get("group")
            if conds.get("Established") == "True" and names.get("plural") and group:
                out.add(f"{names['plural']}.{group}")
        return out

    async def _monitor_custom(self, stop: asyncio.Event) -> None:
        assert self.crds is not None
        await self.crds.wait_synced()
        while not stop.is_set():
            self._crds_changed.clear()
            want = self.custom_resources()
            for key in want - set(self._custom):
                inf = Informer(self.client, key)
                self._watch(key, inf)
                self._custom[key] = (inf, asyncio.create_task(inf.run(stop),
                                                              name=f"gc-informer:{key}"))
            for key in set(self._custom) - want:
                _, task = self._custom.pop(key)
                task.cancel()
            await self._crds_changed.wait()

    # -- graph maintenance (informer handlers)
    def _upsert(self, resource: str, obj: Obj) -> None:
        md = meta(obj)
        uid = str(md.get("uid") or "")
        if not uid:
            return
        owners = [dict(r) for r in md.get("ownerReferences") or () if r.get("uid")]
        finalizers = tuple(md.get("finalizers") or ())
        deleting = bool(md.get("deletionTimestamp"))
        old = self.graph.get(uid)
        node = _Node(resource, str(md.get("namespace") or ""), str(md.get("name", "")),
                     owners, deleting, finalizers)
        if old is not None:
            node.dependents = old.dependents
            for ref in old.owners:
                self._unlink(str(ref["uid"]), uid)
        else:
            node.dependents = self._waiting.pop(uid, set())
            self._absent.pop(uid, None)
        self.graph[uid] = node
        for ref in owners:
            self._link(str(ref["uid"]), uid)
            if str(ref["uid"]) not in self.graph:
                self.queue.add(f"attempt:{uid}")
            elif self.graph[str(ref["uid"])].deleting:
                self.queue.add(f"attempt:{uid}")
        if deleting and (FOREGROUND in finalizers or ORPHAN in finalizers):
            self.queue.add(f"owner:{uid}")
            if FOREGROUND in finalizers and (old is None or not old.deleting):
                for dep in node.dependents:
                    self.queue.add(f"attempt:{dep}")

    def _link(self, owner: str, dep: str) -> None:
        node = self.graph.get(owner)
        (node.dependents if node is not None else self._waiting.setdefault(owner, set())).add(
            dep)

    def _unlink(self, owner: str, dep: str) -> None:
        node = self.graph.get(owner)
        if node is not None:
            node.dependents.discard(dep)
        else:
            deps = self._waiting.get(owner)
            if deps is not None:
                deps.discard(dep)
                if not deps:
                    del self._waiting[owner]

    def _remove(self, obj: Obj) -> None:
        uid = str(meta(obj).get("uid") or "")
        node = self.graph.pop(uid, None)
        if node is None:
            return
        for ref in node.owners:
            owner = str(ref["uid"])
            self._unlink(owner, uid)
            o = self.graph.get(owner)
            if o is not None and o.deleting:
                self.queue.add(f"owner:{owner}")
        self._remember_absent(uid)
        for dep in node.dependents:
            self._waiting.setdefault(uid, set()).add(dep)
            self.queue.add(f"attempt:{dep}")

    def _remember_absent(self, uid: str) -> None:
        self._absent[uid] = None
        while len(self._absent) > 10000:
            self._absent.popitem(last=False)

    # -- work
    async def sync(self, key: str) -> None:
        kind, _, uid = key.partition(":")
        if kind == "attempt":
            await self._attempt_to_delete(uid)
        else:
            await self._process_owner(uid)

    async def _owner_state(self, ref: dict[str, Any], namespace: str) -> str:
        """"solid", "absent" or "waiting" (owner being deleted in the foreground)."""
        uid = str(ref.get("uid"))
        node = self.graph.get(uid)
        if node is not None:
            if node.deleting and FOREGROUND in node.finalizers:
                return "waiting"
            return "solid"
        if uid in self._absent:
            return "absent"
        try:
            info = resources.for_api_version(str(ref.get("apiVersion", "")),
                                             str(ref.get("kind", "")))
        except KeyError:
            return "solid"  # a kind we do not serve: we cannot tell, so keep the dependent
        try:
            live = await self.client.get(info.key, str(ref.get("name", "")),
                                         namespace=namespace if info.namespaced else None)
        except errors.NotFound:
            self._remember_absent(uid)
            return "absent"
        if meta(live).get("uid") != uid:
            self._remember_absent(uid)
            return "absent"
        lmd = meta(live)
        if lmd.get("deletionTimestamp") and FOREGROUND in (lmd.get("finalizers") or ()):
            return "waiting"
        return "solid"

    async def _attempt_to_delete(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None or node.deleting or not node.owners:
            return
        states = {str(r["uid"]): await self._owner_state(r, node.namespace)
                  for r in node.owners}
        solid = [u for u, s in states.items() if s == "solid"]
        if solid:
            drop = {u for u, s in states.items() if s != "solid"}
            if drop:
                refs = [r for r in node.owners if str(r["uid"]) not in drop]
                await self._patch_owner_refs(node, refs)
            return
        waiting = [u for u, s in states.items() if s == "waiting"]
        if waiting:
            policy = "Foreground" if node.dependents else "Background"
        elif ORPHAN in node.finalizers:
            policy = "Orphan"
        elif FOREGROUND in node.finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        log.info("garbage-collector: deleting %s %s/%s (owners gone), policy %s",
                 node.resource, node.namespace, node.name, policy)
        try:
            await self.client.delete(node.resource, node.name,
                                     namespace=node.namespace or None,
                                     opts=DeleteOptions(propagation_policy=policy,
                                                        preconditions={"uid": uid}))
        except errors.NotFound:
            pass
        except errors.Conflict:
            pass  # a different object of that name now: not ours to delete

    async def _patch_owner_refs(self, node: _Node, refs: list[dict[str, Any]]) -> None:
        try:
            await self.client.patch(node.resource, node.name,
                                    {"metadata": {"ownerReferences": refs or None}},
                                    namespace=node.namespace or None)
        except errors.NotFound:
            pass

    async def _process_owner(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None or not node.deleting:
            return
        if ORPHAN in node.finalizers:
            for dep_uid in list(node.dependents):
                dep = self.graph.get(dep_uid)
                if dep is None:
                    continue
                refs = [r for r in dep.owners if str(r["uid"]) != uid]
                await self._patch_owner_refs(dep, refs)
            await self._remove_finalizer(uid, node, finalizer=ORPHAN)
            return
        if FOREGROUND in node.finalizers:
            blocking = []
            for dep_uid in node.dependents:
                dep = self.graph.get(dep_uid)
                if dep is None:
                    continue
                ref = next((r for r in dep.owners if str(r["uid"]) == uid), {})
                if ref.get("blockOwnerDeletion"):
                    blocking.append(dep_uid)
                if not dep.deleting:
                    self.queue.add(f"attempt:{dep_uid}")
            if not blocking:
                await self._remove_finalizer(uid, node, finalizer=FOREGROUND)

    async def _remove_finalizer(self, uid: str, node: _Node, *, finalizer: str) -> None:
        inf = self.informers.get(node.resource)
        cached = inf.indexer.get(f"{node.namespace}/{node.name}" if node.namespace
                                 else node.name) if inf is not None else None
        try:
            obj = copy.deepcopy(cached) if cached is not None else await self.client.get(
                node.resource, node.name, namespace=node.namespace or None)
        except errors.NotFound:
            return
        if meta(obj).get("uid") != uid:
            return
        fins = [f for f in meta(obj).get("finalizers") or () if f != finalizer]
        obj["metadata"]["finalizers"] = fins
        try:
            await self.client.update(node.resource, obj, namespace=node.namespace or None)
        except errors.NotFound:
            pass
