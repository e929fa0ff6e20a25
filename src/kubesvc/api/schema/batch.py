"""Structural schemas of batch/v1 Job and CronJob (upstream staging/src/k8s.io/api/batch/v1
types.go, v1.32): Job spec (completions, parallelism, completionMode, backoffLimit(PerIndex),
podFailurePolicy, successPolicy, suspend, ttlSecondsAfterFinished, manualSelector), Job
status (conditions, counters, uncountedTerminatedPods, completed/failed indexes), CronJob
spec (schedule, timeZone, concurrencyPolicy, history limits, jobTemplate) and status.

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    I64,
    B,
    C,
    M,
    S,
    T,
    arr,
    condition_fields,
    defn,
    ref,
)

BATCH = "io.k8s.api.batch.v1."

defn(
    BATCH + "Job",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(BATCH + "JobSpec"),
        "status": ref(BATCH + "JobStatus"),
    },
)

defn(
    BATCH + "JobSpec",
    {
        "activeDeadlineSeconds": I64,
        "backoffLimit": I32,
        "backoffLimitPerIndex": I32,
        "completionMode": S,
        "completions": I32,
        "managedBy": S,
        "manualSelector": B,
        "maxFailedIndexes": I32,
        "parallelism": I32,
        "podFailurePolicy": ref(BATCH + "PodFailurePolicy"),
        "podReplacementPolicy": S,
        "selector": ref(M + "LabelSelector"),
        "successPolicy": ref(BATCH + "SuccessPolicy"),
        "suspend": B,
        "template": ref(C + "PodTemplateSpec"),
        "ttlSecondsAfterFinished": I32,
    },
    required=("template",),
)

defn(
    BATCH + "PodFailurePolicy",
    {"rules": arr(ref(BATCH + "PodFailurePolicyRule"), list_type="atomic")},
    required=("rules",),
)

defn(
    BATCH + "PodFailurePolicyRule",
    {
        "action": S,
        "onExitCodes": ref(BATCH + "PodFailurePolicyOnExitCodesRequirement"),
        "onPodConditions": arr(
            ref(BATCH + "PodFailurePolicyOnPodConditionsPattern"), list_type="atomic"
        ),
    },
    required=("action",),
)

defn(
    BATCH + "PodFailurePolicyOnExitCodesRequirement",
    {
        "containerName": S,
        "operator": S,
        "values": arr(I32, list_type="set"),
    },
    required=("operator", "values"),
)

defn(
    BATCH + "PodFailurePolicyOnPodConditionsPattern",
    {"status": S, "type": S},
    required=("type", "status"),
)

defn(
    BATCH + "SuccessPolicy",
    {"rules": arr(ref(BATCH + "SuccessPolicyRule"), list_type="atomic")},
    required=("rules",),
)

defn(BATCH + "SuccessPolicyRule", {"succeededCount": I32, "succeededIndexes": S})

defn(
    BATCH + "JobStatus",
    {
        "active": I32,
        "completedIndexes": S,
        "completionTime": T,
        "conditions": arr(ref(BATCH + "JobCondition"), key="type", strategy="merge",
                          list_type="atomic"),
        "failed": I32,
        "failedIndexes": S,
        "ready": I32,
        "startTime": T,
        "succeeded": I32,
        "terminating": I32,
        "uncountedTerminatedPods": ref(BATCH + "UncountedTerminatedPods"),
    },
)

defn(
    BATCH + "UncountedTerminatedPods",
    {"failed": arr(S, list_type="set"), "succeeded": arr(S, list_type="set")},
)

defn(BATCH + "JobCondition", condition_fields("lastProbeTime", "lastTransitionTime"))

defn(
    BATCH + "CronJob",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(BATCH + "CronJobSpec"),
        "status": ref(BATCH + "CronJobStatus"),
    },
)

defn(
    BATCH + "CronJobSpec",
    {
        "concurrencyPolicy": S,
        "failedJobsHistoryLimit": I32,
        "jobTemplate": ref(BATCH + "JobTemplateSpec"),
        "schedule": S,
        "startingDeadlineSeconds": I64,
        "successfulJobsHistoryLimit": I32,
        "suspend": B,
        "timeZone": S,
    },
    required=("schedule", "jobTemplate"),
)

defn(
    BATCH + "JobTemplateSpec",
    {"metadata": ref(M + "ObjectMeta"), "spec": ref(BATCH + "JobSpec")},
)

defn(
    BATCH + "CronJobStatus",
    {
        "active": arr(ref(C + "ObjectReference"), list_type="atomic"),
        "lastScheduleTime": T,
        "lastSuccessfulTime": T,
    },
)
