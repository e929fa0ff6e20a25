"""apps/v1 defaulting: Deployment (``SetDefaults_Deployment``) and ReplicaSet
(``SetDefaults_ReplicaSet``), plus their pod templates. Called by
:func:`kubesvc.api.defaults.apply_defaults`. Pure dict code.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults.pod import template_defaults
from kubesvc.api.objects import ensure_object


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return ensure_object(obj, "spec")


def apply_deployment_defaults(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        strategy = {}
        spec["strategy"] = strategy
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if not isinstance(ru, dict):
            ru = {}
            strategy["rollingUpdate"] = ru
        if ru.get("maxUnavailable") is None:
            ru["maxUnavailable"] = "25%"
        if ru.get("maxSurge") is None:
            ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    template_defaults(spec.get("template"))


def apply_replicaset_defaults(obj: dict[str, Any]) -> None:
    spec = _spec(obj)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    template_defaults(spec.get("template"))
