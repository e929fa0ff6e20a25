"""PersistentVolumeController (upstream ``pkg/controller/volume/persistentvolume``, the
``persistentvolume-binder``): binds claims to volumes and runs the local-path provisioner.

Claims: one with ``spec.volumeName`` is finished (volume's ``claimRef`` checked, claim
status Bound with the volume's capacity and access modes); else the smallest Available
volume of the claim's class that fits is bound; else a class whose provisioner is
``kubesvc.io/local-path`` provisions — at once for ``Immediate``, and for
``WaitForFirstConsumer`` once a pod using the claim is on a node (or the claim carries
``volume.kubernetes.io/selected-node``). Volumes: no claimRef is Available, a claimRef
whose claim is bound is Bound, one whose claim is gone is Released and then reclaimed
(``Delete``: the directory and the volume go; ``Retain``: it stays Released).

In-use protection (:mod:`.protection`): a claim being deleted loses its
``kubernetes.io/pvc-protection`` finalizer once no unfinished pod uses it, a volume being
deleted its ``kubernetes.io/pv-protection`` once it is not Bound.

Reads the ``persistentvolumeclaims``, ``persistentvolumes``, ``storageclasses`` and
``pods`` informers; writes claims and volumes (+ status) through the Client; makes the
default ``local-path`` class on start. Created by the controller manager with the storage
root (``<data dir>/storage``); without one it binds but does not provision.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, ensure_index, split_key
from kubesvc.controllers.events import NORMAL, EventRecorder
from kubesvc.controllers.storage import localpath as lp
from kubesvc.controllers.storage import protection as prot
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

PVCS = "persistentvolumeclaims"
PVS = "persistentvolumes"
CLASSES = "storageclasses.storage.k8s.io"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
CLAIM_INDEX = "pod-claims"
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
          "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
          "E": 10**18}


def quantity_bytes(q: Any) -> float:
    """A storage quantity in bytes (the binary and decimal suffixes; ``m`` milli)."""
    s = str(q or "0").strip()
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if s.endswith(suffix):
            try:
                return float(s[: -len(suffix)]) * _UNITS[suffix]
            except ValueError:
                return 0.0
    try:
        return float(s[:-1]) / 1000 if s.endswith("m") else float(s)
    except ValueError:
        return 0.0


def claim_index(pod: Obj) -> list[str]:
    ns = meta(pod).get("namespace", "")
    return [f"{ns}/{v['persistentVolumeClaim'].get('claimName', '')}"
            for v in (pod.get("spec") or {}).get("volumes") or ()
            if isinstance(v, dict) and isinstance(v.get("persistentVolumeClaim"), dict)]


def claim_class(claim: Obj) -> str:
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def volume_fits(pv: Obj, claim: Obj) -> bool:
    """Upstream ``findMatchingVolume`` for one volume: same class, not claimed by another
    claim, access modes a superset, big enough, same volume mode."""
    ps, cs = pv.get("spec") or {}, claim.get("spec") or {}
    if meta(pv).get("deletionTimestamp"):
        return False
    if str(ps.get("storageClassName") or "") != claim_class(claim):
        return False
    ref = ps.get("claimRef")
    if ref and (ref.get("name") != meta(claim).get("name")
                or ref.get("namespace") != meta(claim).get("namespace")
                or (ref.get("uid") and ref.get("uid") != meta(claim).get("uid"))):
        return False
    if not ref and (pv.get("status") or {}).get("phase") not in ("Available", "Pending", None):
        return False
    if not set(cs.get("accessModes") or ()) <= set(ps.get("accessModes") or ()):
        return False
    if (cs.get("volumeMode") or "Filesystem") != (ps.get("volumeMode") or "Filesystem"):
        return False
    want = quantity_bytes(((cs.get("resources") or {}).get("requests") or {}).get("storage"))
    return quantity_bytes((ps.get("capacity") or {}).get("storage")) >= want


def pick_volume(pvs: list[Obj], claim: Obj) -> Obj | None:
    """A volume pre-bound to the claim first, else the smallest that fits."""
    fits = [pv for pv in pvs if volume_fits(pv, claim)]
    pre = [pv for pv in fits if (pv.get("spec") or {}).get("claimRef")]
    if pre:
        return pre[0]
    fits.sort(key=lambda pv: quantity_bytes(((pv.get("spec") or {}).get("capacity") or {})
                                            .get("storage")))
    return fits[0] if fits else None


class PersistentVolumeController(QueueController):
    name = "persistentvolume-binder"

    def __init__(self, client: Client, *, claims: Informer, volumes: Informer,
                 classes: Informer, pods: Informer, storage_root: Path | None = None,
                 recorder: EventRecorder | None = None, workers: int = 2) -> None:
        super().__init__(workers=workers)
        self.client = client
        self.claims = claims
        self.volumes = volumes
        self.classes = classes
        self.pods = pods
        self.root = storage_root
        self.recorder = recorder
        ensure_index(pods.indexer, CLAIM_INDEX, func=claim_index)
        claims.add_handler(on_add=self._claim, on_update=lambda _o, n: self._claim(n),
                           on_delete=self._claim_deleted)
        volumes.add_handler(on_add=self._volume, on_update=lambda _o, n: self._volume(n),
                            on_delete=lambda _v: None)
        classes.add_handler(on_add=lambda _c: self._all_claims(),
                            on_update=lambda _o, _n: None, on_delete=lambda _c: None)
        pods.add_handler(on_add=self._pod, on_update=lambda _o, n: self._pod(n),
                         on_delete=self._pod_gone)

    async def wait_synced(self) -> None:
        await asyncio.gather(self.claims.wait_synced(), self.volumes.wait_synced(),
                             self.classes.wait_synced(), self.pods.wait_synced())

    async def run(self, stop: asyncio.Event) -> None:
        await self.wait_synced()
        if self.root is not None:
            await self._ensure_default_class()
        await super().run(stop)

    async def _ensure_default_class(self) -> None:
        if self.classes.indexer.get(lp.CLASS_NAME) is not None:
            return
        try:
            await self.client.create(CLASSES, lp.default_storage_class())
        except errors.AlreadyExists:
            pass
        except errors.KubeError as exc:
            log.warning("cannot create the default StorageClass: %s", exc)

    # -- handlers: claim keys are "claim:ns/name", volume keys "volume:name"
    def _claim(self, claim: Obj) -> None:
        self.queue.add(f"claim:{object_key(claim)}")

    def _claim_deleted(self, claim: Obj) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(f"volume:{name}")
        for pv in self.volumes.indexer.list():
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if ref.get("uid") == meta(claim).get("uid"):
                self.queue.add(f"volume:{meta(pv).get('name')}")

    def _volume(self, pv: Obj) -> None:
        self.queue.add(f"volume:{meta(pv).get('name')}")
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.queue.add(f"claim:{ref.get('namespace', '')}/{ref['name']}")

    def _all_claims(self) -> None:
        for c in self.claims.indexer.list():
            if not (c.get("spec") or {}).get("volumeName"):
                self._claim(c)

    def _pod(self, pod: Obj) -> None:
        if (pod.get("spec") or {}).get("nodeName") or (pod.get("status") or {}).get(
                "phase") in ("Succeeded", "Failed"):
            for key in claim_index(pod):
                self.queue.add(f"claim:{key}")

    def _pod_gone(self, pod: Obj) -> None:
        for key in claim_index(pod):  # a claim being deleted may be free now
            self.queue.add(f"claim:{key}")

    def _event(self, obj: Obj, reason: str, message: str, *, kind: str) -> None:
        if self.recorder is not None:
            self.recorder.event(obj, NORMAL, reason=reason, message=message, kind=kind,
                                api_version="v1")

    async def sync(self, key: str) -> None:
        kind, _, rest = key.partition(":")
        if kind == "claim":
            await self._sync_claim(rest)
        else:
            await self._sync_volume(rest)

    # -- claims
    async def _drop_finalizer(self, resource: str, obj: Obj, finalizer: str) -> None:
        left = prot.finalizers_without(obj, finalizer)
        if left is None:
            return
        ns, name = split_key(object_key(obj))
        try:
            await self.client.patch(resource, name, {"metadata": {
                "finalizers": left, "resourceVersion": meta(obj).get("resourceVersion")}},
                namespace=ns or None)
        except errors.NotFound:
            pass

    async def _sync_claim(self, key: str) -> None:
        claim = self.claims.indexer.get(key)
        if claim is None:
            return
        if meta(claim).get("deletionTimestamp"):
            if not prot.claim_in_use(claim, self.pods.indexer.by_index(CLAIM_INDEX, key)):
                await self._drop_finalizer(PVCS, claim, prot.PVC_PROTECTION)
            return
        vname = (claim.get("spec") or {}).get("volumeName")
        if vname:
            pv = self.volumes.indexer.get(str(vname))
            if pv is not None:
                await self._finish_bind(claim, pv)
            return
        pv = pick_volume(self.volumes.indexer.list(), claim)
        if pv is not None:
            await self._bind(claim, pv)
            return
        sc = self.classes.indexer.get(claim_class(claim)) if claim_class(claim) else None
        if sc is None:
            if not claim_class(claim):
                self._event(claim, "FailedBinding", "no persistent volumes available for this "
                            "claim and no storage class is set", kind="PersistentVolumeClaim")
            return
        if sc.get("provisioner") != lp.PROVISIONER or self.root is None:
            self._event(claim, "ExternalProvisioning", "Waiting for a volume to be created "
                        f"either by the external provisioner '{sc.get('provisioner')}' or "
                        "manually by the system administrator. If volume creation is "
                        "delayed, please verify that the provisioner is running and "
                        "correctly registered.", kind="PersistentVolumeClaim")
            return
        node = self._node_for(claim, sc)
        if not node:
            self._event(claim, "WaitForFirstConsumer", "waiting for first consumer to be "
                        "created before binding", kind="PersistentVolumeClaim")
            return
        await self._provision(claim, sc, node)

    def _node_for(self, claim: Obj, sc: Obj) -> str:
        ann = meta(claim).get("annotations") or {}
        if ann.get(SELECTED_NODE):
            return str(ann[SELECTED_NODE])
        for pod in self.pods.indexer.by_index(CLAIM_INDEX, object_key(claim)):
            node = (pod.get("spec") or {}).get("nodeName")
            if node and not meta(pod).get("deletionTimestamp"):
                return str(node)
        if sc.get("volumeBindingMode") != "WaitForFirstConsumer":
            pods = sorted(str((p.get("spec") or {}).get("nodeName") or "")
                          for p in self.pods.indexer.list())
            return next((n for n in pods if n), "")
        return ""

    async def _provision(self, claim: Obj, sc: Obj, node: str) -> None:
        assert self.root is not None
        path = lp.volume_dir(self.root, node, claim)
        await asyncio.to_thread(lp.make_dir, path)
        pv = lp.new_volume(claim, sc, node=node, path=path)
        ns, name = split_key(object_key(claim))
        await self.client.patch(PVCS, name, {"metadata": {"annotations": {
            STORAGE_PROVISIONER: lp.PROVISIONER, BETA_STORAGE_PROVISIONER: lp.PROVISIONER,
            SELECTED_NODE: node}}}, namespace=ns)
        try:
            await self.client.create(PVS, pv)
        except errors.AlreadyExists:
            return
        self._event(claim, "ProvisioningSucceeded",
                    f"Successfully provisioned volume {pv['metadata']['name']}",
                    kind="PersistentVolumeClaim")

    async def _bind(self, claim: Obj, pv: Obj) -> None:
        cm = meta(claim)
        ns, name = split_key(object_key(claim))
        pv_name = str(meta(pv).get("name"))
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref or not ref.get("uid"):
            await self.client.patch(PVS, pv_name, {"spec": {"claimRef": {
                "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": ns,
                "name": name, "uid": cm.get("uid", ""),
                "resourceVersion": cm.get("resourceVersion", "")}},
                # guarded by the volume's version: two claims racing for one volume, one wins
                "metadata": {"annotations": {BOUND_BY_CONTROLLER: "yes"},
                             "resourceVersion": meta(pv).get("resourceVersion")}})
        await self.client.patch(PVCS, name, {
            "metadata": {"annotations": {BIND_COMPLETED: "yes", BOUND_BY_CONTROLLER: "yes"}},
            "spec": {"volumeName": pv_name}}, namespace=ns)

    async def _finish_bind(self, claim: Obj, pv: Obj) -> None:
        ns, name = split_key(object_key(claim))
        ps = pv.get("spec") or {}
        ref = ps.get("claimRef") or {}
        if ref.get("uid") and ref.get("uid") != meta(claim).get("uid"):
            if (claim.get("status") or {}).get("phase") != "Lost":
                await self.client.patch(PVCS, name, {"status": {"phase": "Lost"}},
                                        namespace=ns, subresource="status")
            return
        if not ref.get("uid"):
            await self._bind(claim, pv)
            return
        if (pv.get("status") or {}).get("phase") != "Bound":
            await self.client.patch(PVS, str(meta(pv).get("name")),
                                    {"status": {"phase": "Bound"}}, subresource="status")
        want = {"phase": "Bound", "accessModes": list(ps.get("accessModes") or []),
                "capacity": dict(ps.get("capacity") or {})}
        st = claim.get("status") or {}
        if any(st.get(k) != v for k, v in want.items()):
            await self.client.patch(PVCS, name, {"status": want}, namespace=ns,
                                    subresource="status")
        if (meta(claim).get("annotations") or {}).get(BIND_COMPLETED) != "yes":
            await self.client.patch(PVCS, name, {"metadata": {"annotations": {
                BIND_COMPLETED: "yes"}}}, namespace=ns)

    # -- volumes
    async def _sync_volume(self, name: str) -> None:
        pv = self.volumes.indexer.get(name)
        if pv is None:
            return
        if meta(pv).get("deletionTimestamp"):
            if not prot.volume_in_use(pv):
                await self._drop_finalizer(PVS, pv, prot.PV_PROTECTION)
            return
        ps = pv.get("spec") or {}
        phase = (pv.get("status") or {}).get("phase")
        ref = ps.get("claimRef")
        if not ref:
            if phase != "Available":
                await self._set_phase(name, "Available")
            return
        claim = self.claims.indexer.get(f"{ref.get('namespace', '')}/{ref.get('name', '')}")
        if claim is not None and (not ref.get("uid") or ref.get("uid") == meta(claim).get("uid")):
            if (claim.get("spec") or {}).get("volumeName") == name and phase != "Bound":
                await self._set_phase(name, "Bound")
            return
        if not ref.get("uid"):
            if phase != "Available":  # pre-bound to a claim not created yet
                await self._set_phase(name, "Available")
            return
        if phase != "Released":
            await self._set_phase(name, "Released")
        if ps.get("persistentVolumeReclaimPolicy") == "Delete":
            await self._reclaim_delete(pv)

    async def _set_phase(self, name: str, phase: str) -> None:
        try:
            await self.client.patch(PVS, name, {"status": {"phase": phase}},
                                    subresource="status")
        except errors.NotFound:
            pass

    async def _reclaim_delete(self, pv: Obj) -> None:
        name = str(meta(pv).get("name"))
        ours = (meta(pv).get("annotations") or {}).get(lp.PROVISIONED_BY) == lp.PROVISIONER
        if ours and self.root is not None:
            path = lp.host_path_for(pv)
            if path is not None and not await asyncio.to_thread(lp.remove_dir, self.root, path):
                await self.client.patch(PVS, name, {"status": {
                    "phase": "Failed", "reason": "VolumeFailedDelete",
                    "message": f"cannot remove {path}"}}, subresource="status")
                return
        elif not ours:
            return  # no deleter for a volume this server did not provision
        try:
            await self.client.delete(PVS, name)
        except errors.NotFound:
            pass
