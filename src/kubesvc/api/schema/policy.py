"""Structural schemas of policy/v1 PodDisruptionBudget and Eviction (the body of a
``pods/{name}/eviction`` POST), as upstream staging/src/k8s.io/api/policy/v1 types.go.

Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, I64, IOS, M, S, T, by_type, defn, mapof, ref

POLICY = "io.k8s.api.policy.v1."

defn(
    POLICY + "PodDisruptionBudget",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(POLICY + "PodDisruptionBudgetSpec"),
        "status": ref(POLICY + "PodDisruptionBudgetStatus"),
    },
)

defn(
    POLICY + "PodDisruptionBudgetSpec",
    {
        "maxUnavailable": IOS,
        "minAvailable": IOS,
        "selector": ref(M + "LabelSelector", patch="replace"),
        "unhealthyPodEvictionPolicy": S,
    },
)

defn(
    POLICY + "PodDisruptionBudgetStatus",
    {
        "conditions": by_type(M + "Condition"),
        "currentHealthy": I32,
        "desiredHealthy": I32,
        "disruptedPods": mapof(T),
        "disruptionsAllowed": I32,
        "expectedPods": I32,
        "observedGeneration": I64,
    },
    required=("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"),
)

defn(
    POLICY + "Eviction",
    {
        "apiVersion": S,
        "deleteOptions": ref(M + "DeleteOptions"),
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
    },
)
