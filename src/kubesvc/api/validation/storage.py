"""core/v1 PersistentVolumeClaim and PersistentVolume, storage.k8s.io/v1 StorageClass
validation (upstream pkg/apis/core/validation ValidatePersistentVolume[Claim][Update],
pkg/apis/storage/validation ValidateStorageClass[Update], v1.32): access modes, the storage
request/capacity, volume mode, one volume source per PV, reclaim policy and binding mode
values; a claim's spec is immutable once created except ``resources.requests`` (and
``volumeName`` while unset, which the binder fills); a class's parameters, provisioner,
reclaimPolicy and volumeBindingMode are immutable. Called through
:mod:`kubesvc.api.validation` (and by :mod:`.statefulset` for volumeClaimTemplates).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats as fm
from kubesvc.errors import Cause

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
_VOLUME_MODES = ("Block", "Filesystem")
_RECLAIM = ("Delete", "Recycle", "Retain")
_SOURCES = ("awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
            "flexVolume", "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi",
            "local", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd",
            "scaleIO", "storageos", "vsphereVolume")


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _access_modes(path: str, modes: Any) -> list[Cause]:
    modes = modes if isinstance(modes, list) else []
    if not modes:
        return [f.required(path, "at least 1 access mode is required")]
    out = [f.not_supported(path, m, ACCESS_MODES) for m in modes if m not in ACCESS_MODES]
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        out.append(f.forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return out


def validate_pvc_spec(spec: Mapping[str, Any], path: str = "spec") -> list[Cause]:
    out = _access_modes(f.child(path, "accessModes"), spec.get("accessModes"))
    requests = _m(_m(spec.get("resources")).get("requests"))
    if "storage" not in requests:
        out.append(f.required(f.key(f.child(path, "resources"), "storage")))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in _VOLUME_MODES:
        out.append(f.not_supported(f.child(path, "volumeMode"), vm, _VOLUME_MODES))
    sc = spec.get("storageClassName")
    if sc:
        out.extend(fm.validate_dns1123_subdomain(f.child(path, "storageClassName"), str(sc)))
    return out


def validate_pvc(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + validate_pvc_spec(_m(obj.get("spec")))


def validate_pvc_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    ns, os_ = dict(_m(new.get("spec"))), dict(_m(old.get("spec")))
    out.extend(validate_pvc_spec(ns))
    for s in (ns, os_):
        s.pop("resources", None)
    if os_.get("storageClassName") is None:  # retroactive default class assignment
        ns.pop("storageClassName", None)
        os_.pop("storageClassName", None)
    if not os_.get("volumeName"):
        ns.pop("volumeName", None)
        os_.pop("volumeName", None)
    if ns != os_:
        out.append(f.forbidden("spec", "spec is immutable after creation except "
                               "resources.requests and volumeAttributesClassName for bound "
                               "claims"))
    return out


def validate_pv_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out = _access_modes("spec.accessModes", spec.get("accessModes"))
    cap = _m(spec.get("capacity"))
    if not cap:
        out.append(f.required("spec.capacity"))
    elif "storage" not in cap or len(cap) > 1:
        out.append(f.not_supported("spec.capacity", f.GoRaw(str(sorted(cap))), ("storage",)))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in _RECLAIM:
        out.append(f.not_supported("spec.persistentVolumeReclaimPolicy", policy, _RECLAIM))
    vm = spec.get("volumeMode")
    if vm is not None and vm not in _VOLUME_MODES:
        out.append(f.not_supported("spec.volumeMode", vm, _VOLUME_MODES))
    sources = [s for s in _SOURCES if spec.get(s) is not None]
    if not sources:
        out.append(f.required("spec", "must specify a volume type"))
    elif len(sources) > 1:
        out.append(f.forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
    for s in ("hostPath", "local"):
        if spec.get(s) is not None and not _m(spec[s]).get("path"):
            out.append(f.required(f"spec.{s}.path"))
    if spec.get("local") is not None and not _m(spec.get("nodeAffinity")).get("required"):
        out.append(f.required("spec.nodeAffinity", "Local volume requires node affinity"))
    return out


def validate_pv(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, False, meta.name_is_dns_subdomain)
    return out + validate_pv_spec(_m(obj.get("spec")))


def validate_pv_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    ns, os_ = _m(new.get("spec")), _m(old.get("spec"))
    out.extend(validate_pv_spec(ns))
    for s in _SOURCES:
        if os_.get(s) is not None and ns.get(s) != os_.get(s):
            out.extend(fm.validate_immutable("spec.persistentvolumesource", ns.get(s),
                                             os_.get(s)))
    if os_.get("nodeAffinity") and ns.get("nodeAffinity") != os_.get("nodeAffinity"):
        out.append(f.invalid("spec.nodeAffinity", f.GoRaw("<nodeAffinity>"),
                             fm.FIELD_IMMUTABLE))
    return out


def validate_storage_class(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, False, meta.name_is_dns_subdomain)
    prov = str(obj.get("provisioner") or "")
    if not prov:
        out.append(f.required("provisioner"))
    else:
        out.extend(fm.validate_qualified_name("provisioner", prov))
    rp = obj.get("reclaimPolicy")
    if rp is not None and rp not in ("Delete", "Retain"):
        out.append(f.not_supported("reclaimPolicy", rp, ("Delete", "Retain")))
    mode = obj.get("volumeBindingMode")
    if mode is None:
        out.append(f.required("volumeBindingMode"))
    elif mode not in ("Immediate", "WaitForFirstConsumer"):
        out.append(f.not_supported("volumeBindingMode", mode,
                                   ("Immediate", "WaitForFirstConsumer")))
    return out


def validate_storage_class_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    if (new.get("parameters") or {}) != (old.get("parameters") or {}):
        out.append(f.forbidden("parameters", "updates to parameters are forbidden."))
    if new.get("provisioner") != old.get("provisioner"):
        out.append(f.forbidden("provisioner", "updates to provisioner are forbidden."))
    if new.get("reclaimPolicy") != old.get("reclaimPolicy"):
        out.append(f.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."))
    out.extend(fm.validate_immutable("volumeBindingMode", new.get("volumeBindingMode"),
                                     old.get("volumeBindingMode")))
    return out
