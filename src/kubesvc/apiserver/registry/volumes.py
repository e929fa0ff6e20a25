"""Strategy of PersistentVolumeClaims and PersistentVolumes (upstream
``pkg/registry/core/persistentvolume[claim]/strategy.go``): a client may not set status
on create, and the new object starts in phase ``Pending`` (upstream resets the status, and
its decode-time defaulting fills the phase back in on every read). Claims also get the
default StorageClass on create (the DefaultStorageClass admission plugin), and both get the
in-use protection finalizer (StorageObjectInUseProtection).

Called by :class:`~kubesvc.apiserver.registry.core.Registry`; calls :mod:`.strategies`.
"""

from __future__ import annotations

from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.strategies import NOOP_TXN, Strategy, Txn

KEYS = frozenset({"persistentvolumeclaims", "persistentvolumes"})


# The StorageObjectInUseProtection admission plugin's finalizers (removed by the
# controller manager's PV binder once nothing uses the object).
PROTECTION = {"persistentvolumeclaims": "kubernetes.io/pvc-protection",
              "persistentvolumes": "kubernetes.io/pv-protection"}


class PendingPhaseStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending"}

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        md = obj.setdefault("metadata", {})
        fin = PROTECTION[self.info.key]
        have = md.get("finalizers") if isinstance(md.get("finalizers"), list) else []
        if fin not in have:
            md["finalizers"] = [*have, fin]
        return NOOP_TXN


DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")


def default_class(classes: list[Obj]) -> str | None:
    """Upstream ``GetDefaultClass``: among the classes annotated default, the newest (then
    the first by name); None without one."""
    defaults = [c for c in classes if any(
        ((c.get("metadata") or {}).get("annotations") or {}).get(a) == "true"
        for a in DEFAULT_CLASS_ANNOTATIONS)]
    if not defaults:
        return None
    by_name = sorted(defaults, key=lambda c: str((c.get("metadata") or {}).get("name") or ""))
    best = max(by_name, key=lambda c: str((c.get("metadata") or {}).get("creationTimestamp")
                                          or ""))
    return str((best.get("metadata") or {}).get("name") or "")


class ClaimStrategy(PendingPhaseStrategy):
    """PVCs also pass the DefaultStorageClass admission plugin: a claim that names no class
    (the field absent, not ``""``) gets the default class."""

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        spec = obj.get("spec")
        if isinstance(spec, dict) and spec.get("storageClassName") is None:
            classes = await self.registry.list("storageclasses.storage.k8s.io")
            name = default_class(list(classes.get("items") or []))
            if name is not None:
                spec["storageClassName"] = name
        return await super().admit_create(obj, dry_run=dry_run)
