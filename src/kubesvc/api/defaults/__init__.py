"""Defaulting for every served kind: ``apply_defaults(resource_key, obj)``.

The API server calls :func:`apply_defaults` on each decoded object before create/update
validation (upstream runs defaulting at decode time, so it applies to both). It mutates the
object in place; the caller owns it (a fresh copy, never an informer-cached object). Service
helpers that run around IP/port allocation live in :mod:`kubesvc.api.defaults.service`.
Per-group modules: ``service``, ``pod``, ``apps``, ``core``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubesvc.api.apiextensions.crdvalidation import apply_defaults as crd_defaults
from kubesvc.api.defaults.apps import apply_deployment_defaults, apply_replicaset_defaults
from kubesvc.api.defaults.batch import (
    apply_cronjob_defaults,
    apply_daemonset_defaults,
    apply_job_defaults,
    apply_rc_defaults,
)
from kubesvc.api.defaults.core import (
    apply_configmap_defaults,
    apply_endpoints_defaults,
    apply_endpointslice_defaults,
    apply_namespace_defaults,
    apply_node_defaults,
    apply_secret_defaults,
    prepare_namespace_create,
)
from kubesvc.api.defaults.networkpolicy import apply_network_policy_defaults  # issue 23
from kubesvc.api.defaults.pod import apply_pod_defaults, pod_qos_class
from kubesvc.api.defaults.rbac import apply_binding_defaults
from kubesvc.api.defaults.service import (
    apply_service_defaults,
    finish_service_defaults,
    normalize_cluster_ips,
    prepare_service_update,
)
from kubesvc.api.defaults.statefulset import (  # StatefulSet, PVC/PV/StorageClass (issue 21)
    apply_pv_defaults,
    apply_pvc_defaults,
    apply_statefulset_defaults,
    apply_storageclass_defaults,
)
from kubesvc.api.defaults.zerostatus import fill_zero_status  # issue 24: status {} as upstream

__all__ = [
    "apply_defaults",
    "fill_zero_status",
    "finish_service_defaults",
    "normalize_cluster_ips",
    "pod_qos_class",
    "prepare_namespace_create",
    "prepare_service_update",
]

_DEFAULTERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "services": apply_service_defaults,
    "pods": apply_pod_defaults,
    "endpoints": apply_endpoints_defaults,
    "endpointslices.discovery.k8s.io": apply_endpointslice_defaults,
    "namespaces": apply_namespace_defaults,
    "secrets": apply_secret_defaults,
    "configmaps": apply_configmap_defaults,
    "nodes": apply_node_defaults,
    "deployments.apps": apply_deployment_defaults,
    "replicasets.apps": apply_replicaset_defaults,
    "rolebindings.rbac.authorization.k8s.io": apply_binding_defaults,
    "clusterrolebindings.rbac.authorization.k8s.io": apply_binding_defaults,
    # -- issue 21: StatefulSet, PVC/PV/StorageClass
    "statefulsets.apps": apply_statefulset_defaults,
    "persistentvolumeclaims": apply_pvc_defaults,
    "persistentvolumes": apply_pv_defaults,
    "storageclasses.storage.k8s.io": apply_storageclass_defaults,
    # -- issue 21 kinds
    "jobs.batch": apply_job_defaults,
    "cronjobs.batch": apply_cronjob_defaults,
    "daemonsets.apps": apply_daemonset_defaults,
    "replicationcontrollers": apply_rc_defaults,
    "customresourcedefinitions.apiextensions.k8s.io": crd_defaults,  # issue 24
    "networkpolicies.networking.k8s.io": apply_network_policy_defaults,  # issue 23
}


def apply_defaults(resource_key: str, obj: dict[str, Any]) -> None:
    """Fill upstream's defaults into ``obj`` in place. Kinds without defaults (leases,
    events, serviceaccounts) are left as they are."""
    fn = _DEFAULTERS.get(resource_key)
    if fn is not None:
        fn(obj)
    fill_zero_status(resource_key, obj)
