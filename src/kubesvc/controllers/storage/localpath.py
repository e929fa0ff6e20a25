"""The local-path provisioner (the idea of rancher/local-path-provisioner, which k3s runs
as its default StorageClass): a claim of class ``local-path`` gets a directory
``<root>/<node>/<pv-name>_<namespace>_<claim>`` on the node that runs its first consumer,
and a PersistentVolume with that ``hostPath`` and a node affinity to that node. Reclaim
``Delete`` removes the directory with the volume.

Pure path and object builders plus two small filesystem calls; used by :mod:`.binder`.
The node agent mounts a claim by resolving its bound volume with
:func:`kubesvc.api.storage.host_path_for` (re-exported here; the runtime imports it from
``kubesvc.api``, below both layers).
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from kubesvc.api.objects import Obj, meta
from kubesvc.api.storage import HOSTNAME_LABEL, claim_host_path, host_path_for, node_of

__all__ = [
    "CLASS_NAME", "HOSTNAME_LABEL", "PROVISIONED_BY", "PROVISIONER", "claim_host_path",
    "default_storage_class", "host_path_for", "make_dir", "new_volume", "node_of",
    "remove_dir", "volume_dir", "volume_name",
]

log = logging.getLogger(__name__)

PROVISIONER = "kubesvc.io/local-path"
CLASS_NAME = "local-path"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


def default_storage_class() -> Obj:
    """The ``local-path`` class as k3s installs it: default, Delete, WaitForFirstConsumer."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": CLASS_NAME,
                     "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


def volume_name(claim: Obj) -> str:
    """Upstream's provisioned-volume name: ``pvc-<claim uid>``."""
    return f"pvc-{meta(claim).get('uid', '')}"


def volume_dir(root: Path, node: str, claim: Obj) -> Path:
    m = meta(claim)
    return root / node / f"{volume_name(claim)}_{m.get('namespace', '')}_{m.get('name', '')}"


def new_volume(claim: Obj, sc: Obj, *, node: str, path: Path) -> Obj:
    """The PersistentVolume for ``claim`` on ``node``, pre-bound to the claim."""
    m = meta(claim)
    spec = claim.get("spec") or {}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    pv_spec: dict[str, Any] = {
        "capacity": {"storage": storage},
        "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
        "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
        "storageClassName": meta(sc).get("name", ""),
        "volumeMode": spec.get("volumeMode") or "Filesystem",
        "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}]}]}},
        "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                     "namespace": m.get("namespace", ""), "name": m.get("name", ""),
                     "uid": m.get("uid", ""), "resourceVersion": m.get("resourceVersion", "")},
    }
    if sc.get("mountOptions"):
        pv_spec["mountOptions"] = list(sc["mountOptions"])
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": volume_name(claim),
                     "annotations": {PROVISIONED_BY: PROVISIONER}},
        "spec": pv_spec,
    }


def make_dir(path: Path) -> None:
    # 0777 as local-path-provisioner makes them: the pod's user is not known here.
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o777)


def remove_dir(root: Path, path: Path) -> bool:
    """Remove a provisioned directory; only ever below ``root`` (a PV edited to point
    elsewhere must not make the controller delete it). True when it is gone."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        log.warning("not removing %s: outside the storage root %s", path, root)
        return False
    shutil.rmtree(path, ignore_errors=True)
    return not path.exists()
