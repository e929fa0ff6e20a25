"""Defaulting of apps/v1 StatefulSet (``SetDefaults_StatefulSet``, v1.32 with its default
feature gates), of the core/v1 PersistentVolumeClaim and PersistentVolume
(``SetDefaults_PersistentVolumeClaim[Spec]``, ``SetDefaults_PersistentVolume``) and of
storage.k8s.io/v1 StorageClass. Called by :func:`kubesvc.api.defaults.apply_defaults`.
Pure dict code.

Upstream runs the PVC defaulters on the claims embedded in ``volumeClaimTemplates`` too,
so each template reads back with ``volumeMode: Filesystem`` and ``status.phase: Pending``.
``rollingUpdate.maxUnavailable`` is not defaulted (its gate, MaxUnavailableStatefulSet, is
alpha and off in v1.32); the retention policy is (StatefulSetAutoDeletePVC is on).
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults._util import dicts
from kubesvc.api.defaults.pod import template_defaults
from kubesvc.api.objects import ensure_object


def apply_statefulset_defaults(obj: dict[str, Any]) -> None:
    spec = ensure_object(obj, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        if ru.get("partition") is None:
            ru["partition"] = 0
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if not isinstance(policy, dict):
        policy = spec["persistentVolumeClaimRetentionPolicy"] = {}
    for k in ("whenDeleted", "whenScaled"):
        if not policy.get(k):
            policy[k] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    for claim in dicts(spec.get("volumeClaimTemplates")):
        apply_pvc_defaults(claim)
    template_defaults(spec.get("template"))


def apply_pvc_defaults(obj: dict[str, Any]) -> None:
    spec = ensure_object(obj, "spec")
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    status = ensure_object(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def apply_pv_defaults(obj: dict[str, Any]) -> None:
    spec = ensure_object(obj, "spec")
    if not spec.get("persistentVolumeReclaimPolicy"):
        spec["persistentVolumeReclaimPolicy"] = "Retain"
    if not spec.get("volumeMode"):
        spec["volumeMode"] = "Filesystem"
    status = ensure_object(obj, "status")
    if not status.get("phase"):
        status["phase"] = "Pending"


def apply_storageclass_defaults(obj: dict[str, Any]) -> None:
    if not obj.get("reclaimPolicy"):
        obj["reclaimPolicy"] = "Delete"
    if not obj.get("volumeBindingMode"):
        obj["volumeBindingMode"] = "Immediate"
