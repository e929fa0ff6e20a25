"""Namespace lifecycle (upstream ``pkg/registry/core/namespace/storage`` plus the namespace
controller's deleter, which here runs inside the API server).

Create: ``status.phase: Active`` and the ``kubernetes`` finalizer in ``spec.finalizers``.
Update keeps ``status`` and ``spec.finalizers`` (they change through ``/status`` and
``/finalize``). Delete: ``default``, ``kube-system`` and ``kube-public`` are Forbidden; a
namespace with finalizers gets ``deletionTimestamp`` and ``phase: Terminating`` and a
background task deletes everything inside it (pods gracefully; a pod bound to a node that
does not exist is removed at once, as the pod GC would), waits for whatever is still
terminating, then removes the ``kubernetes`` finalizer and deletes the namespace. A second
delete of a terminating namespace is upstream's Conflict. Terminating namespaces resume on
restart.

Called by :class:`~.core.Registry`; calls the registry's delete path and the ``Store``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from kubesvc import errors
from kubesvc.api.defaults import prepare_namespace_create
from kubesvc.api.objects import Obj, ensure_meta, resource_version
from kubesvc.api.resources import BY_KEY, served
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry import deletion
from kubesvc.apiserver.registry.codec import conflict, decode, encode, forbidden, not_found
from kubesvc.apiserver.registry.strategies import Strategy
from kubesvc.client.options import DeleteOptions

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

log = logging.getLogger(__name__)

IMMORTAL = frozenset({"default", "kube-system", "kube-public"})
FINALIZER = "kubernetes"
MSG_TERMINATING = (
    "The system is ensuring all content is removed from this namespace.  Upon completion, "
    "this namespace will automatically be purged by the system."
)
_MAX_RETRIES = 16


class NamespaceStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        prepare_namespace_create(obj)

    def prepare_update(self, new: Obj, old: Obj) -> None:
        if "status" in old:
            new["status"] = old["status"]
        spec = new.setdefault("spec", {})
        ofins = (old.get("spec") or {}).get("finalizers")
        if ofins is None:
            spec.pop("finalizers", None)
        else:
            spec["finalizers"] = list(ofins)


def prepare_finalize(body: Obj, old: Obj) -> Obj:
    """PUT namespaces/{name}/finalize: only ``spec.finalizers`` changes."""
    new: Obj = {**old, "metadata": dict(old.get("metadata") or {}),
                "spec": dict(old.get("spec") or {})}
    fins = (body.get("spec") or {}).get("finalizers")
    if fins:
        new["spec"]["finalizers"] = list(fins)
    else:
        new["spec"].pop("finalizers", None)
    return new


class NamespaceLifecycle:
    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.info = BY_KEY["namespaces"]
        self._running: dict[str, asyncio.Task[None]] = {}
        self.poll_max = 2.0

    async def delete(
        self,
        name: str,
        *,
        propagation_policy: str = "",
        preconditions: dict[str, str] | None = None,
        dry_run: bool = False,
    ) -> Obj:
        info = self.info
        if name in IMMORTAL:
            raise forbidden(info, name, "this namespace may not be deleted")
        key = info.storage_key(name)
        for _ in range(_MAX_RETRIES):
            kv = await self.reg.store.get(key)
            if kv is None:
                raise not_found(info, name)
            obj = decode(kv)
            deletion.check_preconditions(info, name, obj, preconditions)
            m = ensure_meta(obj)
            spec_fins = (obj.get("spec") or {}).get("finalizers") or []
            if m.get("deletionTimestamp") and spec_fins:
                raise conflict(info, name, MSG_TERMINATING)
            fins = [str(f) for f in m.get("finalizers") or []]
            new_fins = deletion._apply_policy(fins, propagation_policy)
            if spec_fins or new_fins:
                if not m.get("deletionTimestamp"):
                    m["deletionTimestamp"] = rfc3339(self.reg.now())
                    m["deletionGracePeriodSeconds"] = 0
                if new_fins:
                    m["finalizers"] = new_fins
                else:
                    m.pop("finalizers", None)
                obj.setdefault("status", {})["phase"] = "Terminating"
                if dry_run:
                    return obj
                try:
                    kv2 = await self.reg.store.update(key, encode(obj),
                                                      expected_mod_revision=kv.mod_revision)
                except errors.Conflict:
                    continue
                m["resourceVersion"] = resource_version(kv2.mod_revision)
                self.kick(name)
                return obj
            if dry_run:
                return obj
            try:
                await self.reg.store.delete(key, expected_mod_revision=kv.mod_revision)
            except errors.Conflict:
                continue
            except errors.NotFound:
                raise not_found(info, name) from None
            return obj
        raise conflict(info, name)

    def kick(self, name: str) -> None:
        """Start (once) the background deletion of a terminating namespace's content."""
        task = self._running.get(name)
        if task is not None and not task.done():
            return
        self._running[name] = self.reg.spawn(self._finalize(name), name=f"namespace-delete {name}")

    async def resume(self) -> None:
        page = await self.reg.store.list(self.info.storage_prefix())
        for kv in page.items:
            obj = decode(kv)
            if ensure_meta(obj).get("deletionTimestamp"):
                self.kick(str(ensure_meta(obj).get("name")))

    async def wait_idle(self) -> None:
        """Wait for every running namespace deletion (tests, shutdown)."""
        while self._running:
            tasks = [t for t in self._running.values() if not t.done()]
            if not tasks:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _finalize(self, name: str) -> None:
        delay = 0.02
        try:
            while True:
                try:
                    if await self._delete_content(name) == 0:
                        # A create admitted just before the namespace was marked may land
                        # after our pass: look once more before letting the namespace go.
                        await asyncio.sleep(0.02)
                        if await self._delete_content(name) == 0 and await self._finish(name):
                            return
                except errors.NotFound:
                    return
                except Exception:
                    log.exception("deleting the content of namespace %s failed; retrying", name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.poll_max)
        finally:
            self._running.pop(name, None)

    async def _delete_content(self, ns: str) -> int:
        """One pass over every namespaced resource; returns how many objects remain."""
        remaining = 0
        nodes = BY_KEY["nodes"]
        seen_keys: set[str] = set()  # a custom resource is served in several versions
        for info in [BY_KEY.get(r.key, r) for r in served()
                     if r.key not in seen_keys and not seen_keys.add(r.key)]:  # type: ignore[func-returns-value]
            if not info.namespaced:
                continue
            page = await self.reg.store.list(info.storage_prefix(ns))
            for kv in page.items:
                obj = decode(kv)
                m = ensure_meta(obj)
                grace: int | None = None
                if info.key == "pods":
                    node = (obj.get("spec") or {}).get("nodeName")
                    if node and await self.reg.store.get(nodes.storage_key(str(node))) is None:
                        grace = 0  # no node agent will ever finish it
                if m.get("deletionTimestamp") and grace is None:
                    remaining += 1
                    continue
                try:
                    out = await deletion.delete_object(
                        self.reg, info, str(m.get("name")), ns,
                        opts=DeleteOptions(grace_period_seconds=grace),
                    )
                except errors.NotFound:
                    continue
                if ensure_meta(out).get("deletionTimestamp"):
                    remaining += 1
        return remaining

    async def _finish(self, name: str) -> bool:
        """Drop the ``kubernetes`` finalizer; delete the namespace when nothing else holds
        it. False when content reappeared meanwhile (retry)."""
        key = self.info.storage_key(name)
        for _ in range(_MAX_RETRIES):
            kv = await self.reg.store.get(key)
            if kv is None:
                return True
            obj = decode(kv)
            spec = obj.setdefault("spec", {})
            fins = [f for f in spec.get("finalizers") or [] if f != FINALIZER]
            if fins:
                spec["finalizers"] = fins
            else:
                spec.pop("finalizers", None)
            try:
                if not fins and not ensure_meta(obj).get("finalizers"):
                    await self.reg.store.delete(key, expected_mod_revision=kv.mod_revision)
                elif fins != ((decode(kv).get("spec") or {}).get("finalizers") or []):
                    await self.reg.store.update(key, encode(obj),
                                                expected_mod_revision=kv.mod_revision)
            except errors.Conflict:
                continue
            return True
        return False
