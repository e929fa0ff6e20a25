"""Defaulting of the issue-21 kinds: batch/v1 Job (``SetDefaults_Job``) and CronJob
(``SetDefaults_CronJob``), apps/v1 DaemonSet (``SetDefaults_DaemonSet``), core/v1
ReplicationController (``SetDefaults_ReplicationController``) and policy/v1
PodDisruptionBudget (none beyond the pod templates). Called by
:func:`kubesvc.api.defaults.apply_defaults`. Pure dict code.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults.pod import template_defaults
from kubesvc.api.objects import ensure_object

MAX_INT32 = 2**31 - 1


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return ensure_object(obj, "spec")


def job_spec_defaults(spec: dict[str, Any]) -> None:
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if spec.get("podFailurePolicy") is not None else "TerminatingOrFailed"
        )
    template_defaults(spec.get("template"))


def apply_job_defaults(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    job_spec_defaults(spec)
    md = ensure_object(obj, "metadata")
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if not md.get("labels") and isinstance(tlabels, dict) and tlabels:
        md["labels"] = dict(tlabels)


def apply_cronjob_defaults(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    jt = spec.get("jobTemplate")
    if isinstance(jt, dict) and isinstance(jt.get("spec"), dict):
        template_defaults(jt["spec"].get("template"))


def apply_daemonset_defaults(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    strategy = spec.get("updateStrategy")
    if not isinstance(strategy, dict):
        strategy = spec["updateStrategy"] = {}
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = strategy["rollingUpdate"] = {}
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = 1
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    template_defaults(spec.get("template"))


def apply_rc_defaults(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
    if isinstance(tlabels, dict) and tlabels:
        if not spec.get("selector"):
            spec["selector"] = dict(tlabels)
        md = ensure_object(obj, "metadata")
        if not md.get("labels"):
            md["labels"] = dict(tlabels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    template_defaults(spec.get("template"))
