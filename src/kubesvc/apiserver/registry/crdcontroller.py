"""The API server's CustomResourceDefinition controllers (upstream's apiextensions-apiserver
runs them in-process too): naming (``acceptedNames``, ``NamesAccepted``), establishing
(``Established``), the served-resource table, and the ``customresourcecleanup`` finalizer.

One loop per registry: list the CRDs in the store, reconcile, then watch the CRD prefix
and reconcile again on every change (so every API server on one etcd serves the same
custom resources). A reconcile decides each CRD's names against the CRDs of its group
(:func:`kubesvc.api.apiextensions.model.naming_status`; names a CRD holds stay its own), writes the
status when it changed (compare-and-swap on the stored object), and publishes the
definitions of the established CRDs (:func:`~kubesvc.api.apiextensions.model.publish`):
discovery, OpenAPI, paths and the CR strategy read them from there. A CRD being deleted
gets ``Terminating``; its custom resources are deleted (finalizers honoured, so the CRD
waits for them as upstream's does), then the finalizer is dropped and the CRD goes.

Called by :class:`~.core.Registry` (``start``/``stop``, and ``delete`` adds the finalizer);
calls the store, the registry's delete paths and :mod:`kubesvc.api.apiextensions`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import resources
from kubesvc.api.apiextensions import model
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.objects import Obj, ensure_meta
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry.codec import decode, encode
from kubesvc.apiserver.registry.customresources import CRD_KEY
from kubesvc.client.options import DeleteOptions, ListOptions

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

log = logging.getLogger(__name__)


class CrdController:
    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.info = resources.BY_KEY[CRD_KEY]
        self._cleaning: dict[str, asyncio.Task[Any]] = {}
        self._changed = asyncio.Event()

    async def sync(self) -> None:
        """One reconcile of every CRD (also run once before the registry serves)."""
        page = await self.reg.store.list(self.info.storage_prefix())
        crds = [decode(kv) for kv in page.items]
        crds.sort(key=lambda c: (str(ensure_meta(c).get("creationTimestamp") or ""),
                                 str(ensure_meta(c).get("name") or "")))
        defs: list[model.Definition] = []
        for i, crd in enumerate(crds):
            # against every other CRD's names as they stand (a CRD keeps names it already
            # holds; of two new ones the older, then the first by name, wins)
            status = self._status(crd, crds[:i] + crds[i + 1:])
            if status != (crd.get("status") or {}):
                crd = await self._write_status(crd, status) or {**crd, "status": status}
                crds[i] = crd
            if model.established(crd):
                d = model.definition(crd)
                if d is not None:
                    defs.append(d)
            if ensure_meta(crd).get("deletionTimestamp"):
                self._cleanup(crd)
        model.publish(defs)

    def _status(self, crd: Obj, others: list[Obj]) -> dict[str, Any]:
        old = crd.get("status") or {}
        status: dict[str, Any] = deep_copy(old)
        accepted, ok, reason, message = model.naming_status(crd, others)
        status["acceptedNames"] = accepted
        now = rfc3339(self.reg.now())
        conds = list(status.get("conditions") or [])
        _set_condition(conds, "NamesAccepted", ok, reason, message, now)
        if ok == "True":
            _set_condition(conds, "Established", "True", "InitialNamesAccepted",
                           "the initial names have been accepted", now)
        elif model.condition(crd, "Established") != "True":
            _set_condition(conds, "Established", "False", "NotAccepted",
                           "not all names are accepted", now)
        if ensure_meta(crd).get("deletionTimestamp"):
            _set_condition(conds, "Terminating", "True", "InstanceDeletionInProgress",
                           "CustomResource deletion is in progress", now)
        status["conditions"] = conds
        stored = list(status.get("storedVersions") or [])
        for v in (crd.get("spec") or {}).get("versions") or []:
            if v.get("storage") and v.get("name") not in stored:
                stored.append(v.get("name"))
        status["storedVersions"] = stored
        return status

    async def _write_status(self, crd: Obj, status: dict[str, Any]) -> Obj | None:
        key = self.info.storage_key(str(ensure_meta(crd).get("name")))
        kv = await self.reg.store.get(key)
        if kv is None:
            return None
        current = decode(kv)
        if ensure_meta(current).get("uid") != ensure_meta(crd).get("uid"):
            return None
        current["status"] = status
        try:
            kv2 = await self.reg.store.update(key, encode(current),
                                              expected_mod_revision=kv.mod_revision)
        except (errors.Conflict, errors.NotFound):
            self._changed.set()  # someone wrote it meanwhile: the watch brings us back
            return None
        ensure_meta(current)["resourceVersion"] = str(kv2.mod_revision)
        return current

    # -- the cleanup finalizer
    def _cleanup(self, crd: Obj) -> None:
        name = str(ensure_meta(crd).get("name"))
        if model.CLEANUP_FINALIZER not in (ensure_meta(crd).get("finalizers") or []):
            return
        if name in self._cleaning and not self._cleaning[name].done():
            return
        self._cleaning[name] = self.reg.spawn(self._clean(crd), name=f"crd-cleanup-{name}")

    async def _clean(self, crd: Obj) -> None:
        name = str(ensure_meta(crd).get("name"))
        d = model.DEFINITIONS.get(name) or model.definition(crd)
        delay = 0.05
        while d is not None:
            info = next((i for i in d.infos if i.extra.get("storage") == "true"), d.infos[0])
            info = resources.BY_KEY.get(info.key, info)
            try:
                await self.reg.delete_collection(info.key, namespace=None,
                                                 opts=DeleteOptions(), list_opts=ListOptions())
            except errors.NotFound:
                pass
            page = await self.reg.store.list(info.storage_prefix(), limit=1)
            if not page.items:
                break
            await asyncio.sleep(delay)  # CRs held by their own finalizers: wait for them
            delay = min(delay * 2, 2.0)
        for _ in range(16):
            kv = await self.reg.store.get(self.info.storage_key(name))
            if kv is None:
                return
            cur = decode(kv)
            fins = [x for x in ensure_meta(cur).get("finalizers") or []
                    if x != model.CLEANUP_FINALIZER]
            ensure_meta(cur)["finalizers"] = fins
            try:
                await self.reg.update_object(self.info, cur, "", current=kv)
                return
            except errors.Conflict:
                continue

    # -- the loop
    async def run(self) -> None:
        delay = 0.1
        while True:
            try:
                rev = await self.reg.store.revision()
                await self.sync()
                watch = await self.reg.store.watch(self.info.storage_prefix(),
                                                   start_revision=rev + 1)
                try:
                    async for _batch in watch:
                        await self.sync()
                        delay = 0.1
                finally:
                    await watch.close()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("CRD controller failed; retrying in %.1fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def add_finalizer(self, name: str) -> None:
        """Upstream's CRD delete: the first delete adds the cleanup finalizer."""
        for _ in range(16):
            kv = await self.reg.store.get(self.info.storage_key(name))
            if kv is None:
                return
            cur = decode(kv)
            m = ensure_meta(cur)
            if m.get("deletionTimestamp") or model.CLEANUP_FINALIZER in (m.get("finalizers")
                                                                        or []):
                return
            m["finalizers"] = [*(m.get("finalizers") or []), model.CLEANUP_FINALIZER]
            try:
                await self.reg.store.update(kv.key, encode(cur),
                                            expected_mod_revision=kv.mod_revision)
                return
            except errors.Conflict:
                continue


def _set_condition(conds: list[dict[str, Any]], ctype: str, status: str, reason: str,
                   message: str, now: str) -> None:
    for c in conds:
        if c.get("type") == ctype:
            if c.get("status") != status:
                c["lastTransitionTime"] = now
            c.update({"status": status, "reason": reason, "message": message})
            return
    conds.append({"type": ctype, "status": status, "lastTransitionTime": now,
                  "reason": reason, "message": message})
