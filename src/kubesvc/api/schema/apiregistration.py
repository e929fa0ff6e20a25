"""Structural schema of apiregistration.k8s.io/v1 APIService (v1.32, the kube-aggregator's
kind): which server answers a group-version. kubesvc serves every group itself, so its
APIServices are the "Local" ones upstream's autoregister controller writes (issue 24).
Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import BYTES, I32, B, M, S, by_type, condition_fields, defn, ref

#: Upstream's definition-name prefix of the group.
APIREG = "io.k8s.kube-aggregator.pkg.apis.apiregistration.v1."

defn(
    APIREG + "APIService",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(APIREG + "APIServiceSpec"),
        "status": ref(APIREG + "APIServiceStatus"),
    },
)

defn(
    APIREG + "APIServiceSpec",
    {
        "caBundle": {**BYTES, "x-kubernetes-list-type": "atomic"},
        "group": S,
        "groupPriorityMinimum": {**I32, "default": 0},
        "insecureSkipTLSVerify": B,
        "service": ref(APIREG + "ServiceReference"),
        "version": S,
        "versionPriority": {**I32, "default": 0},
    },
    required=("groupPriorityMinimum", "versionPriority"),
)

defn(APIREG + "ServiceReference", {"name": S, "namespace": S, "port": I32})

defn(APIREG + "APIServiceStatus", {"conditions": by_type(APIREG + "APIServiceCondition")})

defn(
    APIREG + "APIServiceCondition",
    condition_fields("lastTransitionTime"),
    required=("type", "status"),
)

