"""Structural schemas of apps/v1 Deployment and ReplicaSet, and of autoscaling/v1 Scale
(the ``scale`` subresource of both). Patch tags as upstream's apps/v1 types.go
(``spec.strategy`` is ``retainKeys``; conditions merge by ``type``).

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    AS,
    I32,
    I64,
    IOS,
    A,
    B,
    C,
    M,
    S,
    by_type,
    condition_fields,
    defn,
    ref,
)

defn(
    A + "Deployment",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(A + "DeploymentSpec"),
        "status": ref(A + "DeploymentStatus"),
    },
)

defn(
    A + "DeploymentSpec",
    {
        "minReadySeconds": I32,
        "paused": B,
        "progressDeadlineSeconds": I32,
        "replicas": I32,
        "revisionHistoryLimit": I32,
        "selector": ref(M + "LabelSelector"),
        "strategy": ref(A + "DeploymentStrategy", patch="retainKeys"),
        "template": ref(C + "PodTemplateSpec"),
    },
    required=("selector", "template"),
)

defn(A + "DeploymentStrategy", {"rollingUpdate": ref(A + "RollingUpdateDeployment"), "type": S})

defn(A + "RollingUpdateDeployment", {"maxSurge": IOS, "maxUnavailable": IOS})

defn(
    A + "DeploymentStatus",
    {
        "availableReplicas": I32,
        "collisionCount": I32,
        "conditions": by_type(A + "DeploymentCondition"),
        "observedGeneration": I64,
        "readyReplicas": I32,
        "replicas": I32,
        "unavailableReplicas": I32,
        "updatedReplicas": I32,
    },
)

defn(
    A + "DeploymentCondition",
    condition_fields("lastTransitionTime", "lastUpdateTime"),
)

defn(
    A + "ReplicaSet",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(A + "ReplicaSetSpec"),
        "status": ref(A + "ReplicaSetStatus"),
    },
)

defn(
    A + "ReplicaSetSpec",
    {
        "minReadySeconds": I32,
        "replicas": I32,
        "selector": ref(M + "LabelSelector"),
        "template": ref(C + "PodTemplateSpec"),
    },
    required=("selector",),
)

defn(
    A + "ReplicaSetStatus",
    {
        "availableReplicas": I32,
        "conditions": by_type(A + "ReplicaSetCondition"),
        "fullyLabeledReplicas": I32,
        "observedGeneration": I64,
        "readyReplicas": I32,
        "replicas": I32,
    },
    required=("replicas",),
)

defn(
    A + "ReplicaSetCondition",
    condition_fields("lastTransitionTime"),
)

defn(
    AS + "Scale",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(AS + "ScaleSpec"),
        "status": ref(AS + "ScaleStatus"),
    },
)

defn(AS + "ScaleSpec", {"replicas": I32})

defn(AS + "ScaleStatus", {"replicas": I32, "selector": S}, required=("replicas",))
