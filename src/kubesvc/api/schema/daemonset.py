"""Structural schemas of apps/v1 DaemonSet and core/v1 ReplicationController (upstream
apps/v1 and core/v1 types.go, v1.32). ``spec.updateStrategy`` of a DaemonSet is plain
(no retainKeys); an RC's ``spec.selector`` is an atomic string map.

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    I64,
    IOS,
    A,
    C,
    M,
    S,
    by_type,
    condition_fields,
    defn,
    mapof,
    ref,
)

defn(
    A + "DaemonSet",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(A + "DaemonSetSpec"),
        "status": ref(A + "DaemonSetStatus"),
    },
)

defn(
    A + "DaemonSetSpec",
    {
        "minReadySeconds": I32,
        "revisionHistoryLimit": I32,
        "selector": ref(M + "LabelSelector"),
        "template": ref(C + "PodTemplateSpec"),
        "updateStrategy": ref(A + "DaemonSetUpdateStrategy"),
    },
    required=("selector", "template"),
)

defn(
    A + "DaemonSetUpdateStrategy",
    {"rollingUpdate": ref(A + "RollingUpdateDaemonSet"), "type": S},
)

defn(A + "RollingUpdateDaemonSet", {"maxSurge": IOS, "maxUnavailable": IOS})

defn(
    A + "DaemonSetStatus",
    {
        "collisionCount": I32,
        "conditions": by_type(A + "DaemonSetCondition"),
        "currentNumberScheduled": I32,
        "desiredNumberScheduled": I32,
        "numberAvailable": I32,
        "numberMisscheduled": I32,
        "numberReady": I32,
        "numberUnavailable": I32,
        "observedGeneration": I64,
        "updatedNumberScheduled": I32,
    },
    required=("currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled",
              "numberReady"),
)

defn(A + "DaemonSetCondition", condition_fields("lastTransitionTime"))

defn(
    C + "ReplicationController",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "ReplicationControllerSpec"),
        "status": ref(C + "ReplicationControllerStatus"),
    },
)

defn(
    C + "ReplicationControllerSpec",
    {
        "minReadySeconds": I32,
        "replicas": I32,
        "selector": mapof({"type": "string", "default": ""}, map_type="atomic"),
        "template": ref(C + "PodTemplateSpec"),
    },
)

defn(
    C + "ReplicationControllerStatus",
    {
        "availableReplicas": I32,
        "conditions": by_type(C + "ReplicationControllerCondition"),
        "fullyLabeledReplicas": I32,
        "observedGeneration": I64,
        "readyReplicas": I32,
        "replicas": I32,
    },
    required=("replicas",),
)

defn(C + "ReplicationControllerCondition", condition_fields("lastTransitionTime"))
