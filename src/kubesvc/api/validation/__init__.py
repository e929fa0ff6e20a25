"""Validation for every served kind, dispatched by resource key.

The API server calls, after defaulting (and for Services after
``kubesvc.api.defaults.service`` normalisation):

    validate_create(resource_key, obj) -> list[Cause]
    validate_update(resource_key, new, old) -> list[Cause]
    validate_status_update(resource_key, new, old) -> list[Cause]

and turns a non-empty list into ``errors.invalid(kind, name, causes, group=...)``. Per-kind
rules live in ``service``, ``service_update``, ``pod``, ``endpoints``, ``apps`` and ``misc``;
string formats in ``formats``; cause builders and Go value formatting in ``field``.
Submodules are imported lazily, on first dispatch, because :mod:`kubesvc.api.meta` itself
imports :mod:`kubesvc.api.validation.field`. ``validate_allocated`` runs after the Service
allocators (``healthCheckNodePort`` and clusterIPs/ipFamilies consistency).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from kubesvc.errors import Cause

_CRD = "customresourcedefinitions.apiextensions.k8s.io"
Create = Callable[[Mapping[str, Any]], list[Cause]]
Update = Callable[[Mapping[str, Any], Mapping[str, Any]], list[Cause]]

__all__ = [
    "validate_allocated",
    "validate_create",
    "validate_namespace_finalize",
    "validate_status_update",
    "validate_update",
]


@cache
def _tables() -> tuple[dict[str, Create], dict[str, Update], dict[str, Update]]:
    from kubesvc.api import meta
    from kubesvc.api.apiextensions import crdvalidation
    from kubesvc.api.defaults.service import normalize_cluster_ips
    from kubesvc.api.validation import apiregistration as apireg  # issue 24
    from kubesvc.api.validation import (
        apps,
        batch,
        certificates,
        endpoints,
        misc,
        networking,
        pod,
        quota,
        rbac,
        service,
        service_update,
    )
    from kubesvc.api.validation import networkpolicy as netpol  # issue 23
    from kubesvc.api.validation import statefulset as sts  # issue 21
    from kubesvc.api.validation import storage as stor

    def service_create(obj: Mapping[str, Any]) -> list[Cause]:
        # Upstream normalises clusterIP/clusterIPs before validating; do it on a copy so a
        # caller that skipped it still gets upstream's answer.
        svc = copy.deepcopy(dict(obj))
        normalize_cluster_ips(svc, None)
        return service.validate_service(svc)

    def meta_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
        return meta.validate_object_meta_update(new, old)

    create: dict[str, Create] = {
        "services": service_create,
        "pods": pod.validate_pod_create,
        "endpoints": endpoints.validate_endpoints,
        "endpointslices.discovery.k8s.io": endpoints.validate_endpoint_slice,
        "deployments.apps": apps.validate_deployment,
        "replicasets.apps": apps.validate_replicaset,
        "namespaces": misc.validate_namespace,
        "nodes": misc.validate_node,
        "configmaps": misc.validate_configmap,
        "secrets": misc.validate_secret,
        "leases.coordination.k8s.io": misc.validate_lease,
        "serviceaccounts": misc.validate_service_account,
        "events": misc.validate_event,
        "events.events.k8s.io": misc.validate_event,
        "roles.rbac.authorization.k8s.io": rbac.validate_role,
        "clusterroles.rbac.authorization.k8s.io": rbac.validate_cluster_role,
        "rolebindings.rbac.authorization.k8s.io": rbac.validate_role_binding,
        "clusterrolebindings.rbac.authorization.k8s.io": rbac.validate_cluster_role_binding,
        "certificatesigningrequests.certificates.k8s.io": certificates.validate_csr,
        "ingresses.networking.k8s.io": networking.validate_ingress,
        "ingressclasses.networking.k8s.io": networking.validate_ingress_class,
        "networkpolicies.networking.k8s.io": netpol.validate_network_policy,
        # -- issue 21: StatefulSet, ControllerRevision, PVC/PV/StorageClass
        "statefulsets.apps": sts.validate_statefulset,
        "controllerrevisions.apps": sts.validate_controller_revision,
        "persistentvolumeclaims": stor.validate_pvc,
        "persistentvolumes": stor.validate_pv,
        "storageclasses.storage.k8s.io": stor.validate_storage_class,
        # -- issue 21 kinds
        "jobs.batch": batch.validate_job,
        "cronjobs.batch": batch.validate_cronjob,
        "daemonsets.apps": batch.validate_daemonset,
        "replicationcontrollers": batch.validate_rc,
        "poddisruptionbudgets.policy": batch.validate_pdb,
        _CRD: crdvalidation.validate_crd,  # issue 24
        "resourcequotas": quota.validate_resource_quota,
        "apiservices.apiregistration.k8s.io": apireg.validate_apiservice,  # issue 24
    }
    update: dict[str, Update] = {
        "services": service_update.validate_service_update,
        "pods": pod.validate_pod_update,
        "endpoints": endpoints.validate_endpoints_update,
        "endpointslices.discovery.k8s.io": endpoints.validate_endpoint_slice_update,
        "deployments.apps": apps.validate_deployment_update,
        "replicasets.apps": apps.validate_replicaset_update,
        "namespaces": misc.validate_namespace_update,
        "nodes": misc.validate_node_update,
        "configmaps": misc.validate_configmap_update,
        "secrets": misc.validate_secret_update,
        "leases.coordination.k8s.io": misc.validate_lease_update,
        "serviceaccounts": misc.validate_service_account_update,
        "events": misc.validate_event_update,
        "events.events.k8s.io": misc.validate_event_update,
        "roles.rbac.authorization.k8s.io": rbac.validate_role_update,
        "clusterroles.rbac.authorization.k8s.io": rbac.validate_cluster_role_update,
        "rolebindings.rbac.authorization.k8s.io": rbac.validate_role_binding_update,
        "clusterrolebindings.rbac.authorization.k8s.io":
            rbac.validate_cluster_role_binding_update,
        "certificatesigningrequests.certificates.k8s.io": certificates.validate_csr_update,
        "ingresses.networking.k8s.io": networking.validate_ingress_update,
        "ingressclasses.networking.k8s.io": networking.validate_ingress_class_update,
        "networkpolicies.networking.k8s.io": netpol.validate_network_policy_update,
        # -- issue 21
        "statefulsets.apps": sts.validate_statefulset_update,
        "controllerrevisions.apps": sts.validate_controller_revision_update,
        "persistentvolumeclaims": stor.validate_pvc_update,
        "persistentvolumes": stor.validate_pv_update,
        "storageclasses.storage.k8s.io": stor.validate_storage_class_update,
        # -- issue 21 kinds
        "jobs.batch": batch.validate_job_update,
        "cronjobs.batch": batch.validate_cronjob_update,
        "daemonsets.apps": batch.validate_daemonset_update,
        "replicationcontrollers": batch.validate_rc_update,
        "poddisruptionbudgets.policy": batch.validate_pdb_update,
        _CRD: crdvalidation.validate_crd_update,  # issue 24
        "resourcequotas": quota.validate_resource_quota_update,
        "apiservices.apiregistration.k8s.io": apireg.validate_apiservice_update,  # issue 24
    }
    status: dict[str, Update] = {
        "services": service_update.validate_service_status_update,
        "pods": pod.validate_pod_status_update,
        "deployments.apps": apps.validate_workload_status_update,
        "replicasets.apps": apps.validate_workload_status_update,
        "namespaces": misc.validate_namespace_status_update,
        "nodes": misc.validate_node_update,
        "certificatesigningrequests.certificates.k8s.io":
            certificates.validate_csr_status_update,
        "ingresses.networking.k8s.io": networking.validate_ingress_status_update,
        "statefulsets.apps": sts.validate_statefulset_status_update,  # issue 21
        # -- issue 21 kinds
        "jobs.batch": batch.validate_job_status_update,
        "daemonsets.apps": batch.validate_daemonset_status_update,
        "replicationcontrollers": apps.validate_workload_status_update,
        "poddisruptionbudgets.policy": batch.validate_pdb_status_update,
        "resourcequotas": quota.validate_resource_quota_status_update,
    }
    return create, update, status


def validate_create(resource_key: str, obj: Mapping[str, Any]) -> list[Cause]:
    """All validation errors for a new object (empty list: valid). Unknown keys: KeyError."""
    return _tables()[0][resource_key](obj)


def validate_update(
    resource_key: str, new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[Cause]:
    """Validation for an update of the main resource (metadata rules + the kind's rules)."""
    return _tables()[1][resource_key](new, old)


def validate_status_update(
    resource_key: str, new: Mapping[str, Any], old: Mapping[str, Any]
) -> list[Cause]:
    """Validation for a ``/status`` update; kinds without status rules check metadata only."""
    fn = _tables()[2].get(resource_key)
    if fn is None:
        from kubesvc.api import meta

        return meta.validate_object_meta_update(new, old)
    return fn(new, old)


def validate_namespace_finalize(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """The ``namespaces/{name}/finalize`` subresource."""
    from kubesvc.api.validation import misc

    return misc.validate_namespace_finalize_update(new, old)


def validate_allocated(resource_key: str, obj: Mapping[str, Any]) -> list[Cause]:
    """Post-allocation checks (Services: healthCheckNodePort present for LoadBalancer +
    Local, clusterIPs consistent with ipFamilies). Other kinds: nothing."""
    if resource_key != "services":
        return []
    from kubesvc.api.validation import service

    return service.validate_service_allocated(obj)
