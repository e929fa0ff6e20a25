"""Where a PersistentVolume's data lives on its node, for every layer that needs it: the
local-path provisioner (``kubesvc.controllers.storage``) that makes the directory, and the
node agent (``kubesvc.runtime``) that mounts a pod's ``persistentVolumeClaim`` volume —
resolve the claim's ``spec.volumeName`` to the PV, then :func:`host_path_for` (a claim not
yet Bound has no path: the agent waits, as the kubelet does). Pure functions, no I/O.
"""

from __future__ import annotations

from pathlib import Path

from kubesvc.api.objects import Obj

HOSTNAME_LABEL = "kubernetes.io/hostname"


def host_path_for(pv: Obj) -> Path | None:
    """The directory on the node that backs ``pv`` (``spec.hostPath.path`` or
    ``spec.local.path``); None for a volume of another type."""
    spec = pv.get("spec") or {}
    for src in ("hostPath", "local"):
        path = (spec.get(src) or {}).get("path")
        if path:
            return Path(str(path))
    return None


def node_of(pv: Obj) -> str:
    """The node a local volume is pinned to (its required node affinity on
    ``kubernetes.io/hostname``), or ""."""
    terms = ((((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
             .get("nodeSelectorTerms") or [])
    for term in terms:
        for expr in term.get("matchExpressions") or ():
            if expr.get("key") == HOSTNAME_LABEL and expr.get("operator") == "In":
                values = expr.get("values") or []
                if values:
                    return str(values[0])
    return ""


def claim_host_path(claim: Obj, pv: Obj | None) -> Path | None:
    """The directory a pod's claim mounts: the bound volume's path, None while the claim
    is not Bound to ``pv``."""
    if pv is None or (claim.get("status") or {}).get("phase") != "Bound":
        return None
    if (claim.get("spec") or {}).get("volumeName") != (pv.get("metadata") or {}).get("name"):
        return None
    return host_path_for(pv)
