"""Structural schemas of apps/v1 StatefulSet and ControllerRevision (upstream
k8s.io/api/apps/v1 types.go, v1.32): the spec with volumeClaimTemplates, update strategy
(partition, maxUnavailable), PVC retention policy and ordinals; the status counters and
revisions. ``ControllerRevision.data`` is a RawExtension (any JSON object).

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    I64,
    IOS,
    OPEN,
    A,
    C,
    M,
    S,
    arr,
    by_type,
    condition_fields,
    defn,
    ref,
)

defn(
    A + "StatefulSet",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(A + "StatefulSetSpec"),
        "status": ref(A + "StatefulSetStatus"),
    },
)

defn(
    A + "StatefulSetSpec",
    {
        "minReadySeconds": I32,
        "ordinals": ref(A + "StatefulSetOrdinals"),
        "persistentVolumeClaimRetentionPolicy": ref(
            A + "StatefulSetPersistentVolumeClaimRetentionPolicy"),
        "podManagementPolicy": S,
        "replicas": I32,
        "revisionHistoryLimit": I32,
        "selector": ref(M + "LabelSelector"),
        "serviceName": S,
        "template": ref(C + "PodTemplateSpec"),
        "updateStrategy": ref(A + "StatefulSetUpdateStrategy"),
        "volumeClaimTemplates": arr(ref(C + "PersistentVolumeClaim"), list_type="atomic"),
    },
    required=("selector", "template"),
)

defn(A + "StatefulSetOrdinals", {"start": I32})

defn(
    A + "StatefulSetPersistentVolumeClaimRetentionPolicy",
    {"whenDeleted": S, "whenScaled": S},
)

defn(
    A + "StatefulSetUpdateStrategy",
    {"rollingUpdate": ref(A + "RollingUpdateStatefulSetStrategy"), "type": S},
)

defn(A + "RollingUpdateStatefulSetStrategy", {"maxUnavailable": IOS, "partition": I32})

defn(
    A + "StatefulSetStatus",
    {
        "availableReplicas": I32,
        "collisionCount": I32,
        "conditions": by_type(A + "StatefulSetCondition"),
        "currentReplicas": I32,
        "currentRevision": S,
        "observedGeneration": I64,
        "readyReplicas": I32,
        "replicas": I32,
        "updateRevision": S,
        "updatedReplicas": I32,
    },
    required=("replicas",),
)

defn(A + "StatefulSetCondition", condition_fields("lastTransitionTime"))

defn(
    A + "ControllerRevision",
    {
        "apiVersion": S,
        "data": OPEN,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "revision": I64,
    },
    required=("revision",),
)
