"""Table printers for PersistentVolumeClaims, PersistentVolumes and StorageClasses.

Role: ``kubectl get pvc`` (STATUS, VOLUME, CAPACITY, ACCESS MODES, STORAGECLASS,
VOLUMEATTRIBUTESCLASS, AGE, wide VOLUMEMODE), ``kubectl get pv`` (CAPACITY, ACCESS MODES,
RECLAIM POLICY, STATUS, CLAIM, STORAGECLASS, VOLUMEATTRIBUTESCLASS, REASON, AGE) and
``kubectl get storageclass`` (``local-path (default)``, PROVISIONER, RECLAIMPOLICY,
VOLUMEBINDINGMODE, ALLOWVOLUMEEXPANSION). Callers: :mod:`kubesvc.api.tables`.
Calls: :mod:`.columns`, :mod:`.common`.
Reference: pkg/printers/internalversion/printers.go printPersistentVolume[Claim],
printStorageClass (v1.32) and ``GetAccessModesAsString``.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, get, name

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
_BETA_DEFAULT = "storageclass.beta.kubernetes.io/is-default-class"
_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
          ("ReadWriteOncePod", "RWOP"))


def access_modes(modes: Any) -> str:
    """``GetAccessModesAsString``: the short names in upstream's fixed order."""
    have = set(modes) if isinstance(modes, list) else set()
    return ",".join(short for long, short in _MODES if long in have)


def claim_class(obj: Obj) -> str:
    ann = get(obj, "metadata", "annotations") or {}
    beta = ann.get("volume.beta.kubernetes.io/storage-class")
    if beta is not None:
        return str(beta)
    return str(get(obj, "spec", "storageClassName") or "")


def _vac(obj: Obj) -> str:
    v = get(obj, "spec", "volumeAttributesClassName")
    return str(v) if v else "<unset>"


def _phase(obj: Obj) -> str:
    if get(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    return str(get(obj, "status", "phase") or "")


def _mode(obj: Obj) -> str:
    return str(get(obj, "spec", "volumeMode") or "<unset>")


PVC_COLUMNS = (
    NAME,
    Column("Status", description="PersistentVolumeClaimPhase represents the current phase of "
           "PersistentVolumeClaim."),
    Column("Volume", description="volumeName is the binding reference to the "
           "PersistentVolume backing this claim."),
    Column("Capacity", description="capacity represents the actual resources of the "
           "underlying volume."),
    Column("Access Modes", description="accessModes contains the actual access modes the "
           "volume backing the PVC has."),
    Column("StorageClass", description="storageClassName is the name of the StorageClass "
           "required by the claim."),
    Column("VolumeAttributesClass", description="volumeAttributesClassName may be used to "
           "set the VolumeAttributesClass used by this claim."),
    AGE,
    Column("VolumeMode", priority=1, description="volumeMode defines what type of volume is "
           "required by the claim."),
)

PV_COLUMNS = (
    NAME,
    Column("Capacity", description="capacity is the description of the persistent volume's "
           "resources and capacity."),
    Column("Access Modes", description="accessModes contains all ways the volume can be "
           "mounted."),
    Column("Reclaim Policy", description="persistentVolumeReclaimPolicy defines what happens "
           "to a persistent volume when released from its claim."),
    Column("Status", description="phase indicates if a volume is available, bound to a claim,"
           " or released by a claim."),
    Column("Claim", description="claimRef is part of a bi-directional binding between "
           "PersistentVolume and PersistentVolumeClaim."),
    Column("StorageClass", description="storageClassName is the name of StorageClass to "
           "which this persistent volume belongs."),
    Column("VolumeAttributesClass", description="Name of VolumeAttributesClass to which this "
           "persistent volume belongs."),
    Column("Reason", description="reason is a brief CamelCase string that describes any "
           "failure and is meant for machine parsing and tidy display in the CLI."),
    AGE,
    Column("VolumeMode", priority=1, description="volumeMode defines if a volume is intended "
           "to be used with a formatted filesystem or to remain in raw block state."),
)

STORAGE_CLASS_COLUMNS = (
    NAME,
    Column("Provisioner", description="provisioner indicates the type of the provisioner."),
    Column("ReclaimPolicy", description="reclaimPolicy controls the reclaimPolicy for "
           "dynamically provisioned PersistentVolumes of this storage class."),
    Column("VolumeBindingMode", description="volumeBindingMode indicates how "
           "PersistentVolumeClaims should be provisioned and bound."),
    Column("AllowVolumeExpansion", description="allowVolumeExpansion shows whether the "
           "storage class allow volume expand."),
    AGE,
)


def pvc_cells(pvc: Obj, now: float, wide: bool = True) -> list[Any]:
    volume = str(get(pvc, "spec", "volumeName") or "")
    capacity = ""
    modes = ""
    if volume:
        capacity = str((get(pvc, "status", "capacity") or {}).get("storage") or "")
        modes = access_modes(get(pvc, "status", "accessModes"))
    return [name(pvc), _phase(pvc), volume, capacity, modes, claim_class(pvc), _vac(pvc),
            age(pvc, now), _mode(pvc)]


def pv_cells(pv: Obj, now: float, wide: bool = True) -> list[Any]:
    ref = get(pv, "spec", "claimRef") or {}
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    return [
        name(pv),
        str((get(pv, "spec", "capacity") or {}).get("storage") or ""),
        access_modes(get(pv, "spec", "accessModes")),
        str(get(pv, "spec", "persistentVolumeReclaimPolicy") or ""),
        _phase(pv),
        claim,
        claim_class(pv),
        _vac(pv),
        str(get(pv, "status", "reason") or ""),
        age(pv, now),
        _mode(pv),
    ]


def is_default_class(sc: Obj) -> bool:
    ann = get(sc, "metadata", "annotations") or {}
    return bool(ann.get(DEFAULT_CLASS_ANNOTATION) == "true" or ann.get(_BETA_DEFAULT) == "true")


def storage_class_cells(sc: Obj, now: float, wide: bool = True) -> list[Any]:
    n = name(sc) + (" (default)" if is_default_class(sc) else "")
    return [n, str(sc.get("provisioner") or ""), str(sc.get("reclaimPolicy") or "Delete"),
            str(sc.get("volumeBindingMode") or "Immediate"),
            bool(sc.get("allowVolumeExpansion") or False), age(sc, now)]


PVC = Printer(PVC_COLUMNS, pvc_cells)
PV = Printer(PV_COLUMNS, pv_cells)
STORAGE_CLASS = Printer(STORAGE_CLASS_COLUMNS, storage_class_cells)
