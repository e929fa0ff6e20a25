"""Storage object in-use protection (upstream's StorageObjectInUseProtection admission and
``pkg/controller/volume/pvcprotection`` / ``pvprotection``): claims carry the
``kubernetes.io/pvc-protection`` finalizer and volumes ``kubernetes.io/pv-protection``; a
claim being deleted keeps it while a pod that is not finished still uses it, a volume being
deleted while it is still Bound. Pure functions; the PV binder (:mod:`.binder`) applies
them, the API server's storage strategy adds the finalizers on create.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubesvc.api.objects import Obj, meta

PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def uses_claim(pod: Obj, claim_name: str) -> bool:
    return any(isinstance(v, dict) and (v.get("persistentVolumeClaim") or {}).get("claimName")
               == claim_name for v in (pod.get("spec") or {}).get("volumes") or ())


def claim_in_use(claim: Obj, pods: Iterable[Obj]) -> bool:
    """A pod of the claim's namespace that names it and has not finished (upstream treats
    a terminating pod as a user until it is gone)."""
    name = str(meta(claim).get("name") or "")
    ns = meta(claim).get("namespace")
    return any(meta(p).get("namespace") == ns and uses_claim(p, name)
               and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
               for p in pods)


def volume_in_use(pv: Obj) -> bool:
    return (pv.get("status") or {}).get("phase") == "Bound"


def finalizers_without(obj: Obj, finalizer: str) -> list[Any] | None:
    """The finalizers list with ``finalizer`` removed, or None when it is not there."""
    have = list(meta(obj).get("finalizers") or [])
    if finalizer not in have:
        return None
    return [f for f in have if f != finalizer]
