"""The status every object of a kind reads back with before any controller wrote one.

Upstream's types hold ``Status`` as a struct (not a pointer), and Go's JSON encoder writes a
struct even under ``omitempty``, together with every field of it that has no ``omitempty``.
So a Deployment read back right after create shows ``status: {}``, a ReplicaSet
``status: {replicas: 0}``, a Service ``status: {loadBalancer: {}}``. Clients rely on the key
being there (the Python client's ``V1Deployment.status`` is an object, not ``None``).

:func:`fill_zero_status` merges that zero value under whatever status the object has; the
API server calls it after the create strategy cleared the client's status and, through
:func:`kubesvc.api.defaults.apply_defaults`, on every update. Kinds whose initial status
carries more (Pod ``phase: Pending``, Namespace ``phase: Active``, PVC/PV
``phase: Pending``) get it from their own defaulting or strategy. Pure dict code.
"""

from __future__ import annotations

import copy
from typing import Any

#: The status of each kind as upstream encodes its zero value (fields without omitempty).
ZERO_STATUS: dict[str, dict[str, Any]] = {
    "deployments.apps": {},
    "replicasets.apps": {"replicas": 0},
    "statefulsets.apps": {"replicas": 0, "availableReplicas": 0},
    "daemonsets.apps": {
        "currentNumberScheduled": 0,
        "numberMisscheduled": 0,
        "desiredNumberScheduled": 0,
        "numberReady": 0,
    },
    "replicationcontrollers": {"replicas": 0},
    "jobs.batch": {},
    "cronjobs.batch": {},
    "services": {"loadBalancer": {}},
    "ingresses.networking.k8s.io": {"loadBalancer": {}},
    "poddisruptionbudgets.policy": {
        "disruptionsAllowed": 0,
        "currentHealthy": 0,
        "desiredHealthy": 0,
        "expectedPods": 0,
    },
    "certificatesigningrequests.certificates.k8s.io": {},
    "namespaces": {},
    "persistentvolumeclaims": {},
    "persistentvolumes": {},
}


def fill_zero_status(resource_key: str, obj: dict[str, Any]) -> None:
    """Give ``obj`` its kind's zero status where it lacks one or lacks some of its fields
    (in place). Kinds without a status struct (ConfigMap, Endpoints, ...) are untouched."""
    zero = ZERO_STATUS.get(resource_key)
    if zero is None:
        return
    status = obj.get("status")
    if not isinstance(status, dict):
        status = {}
        obj["status"] = status
    for key, value in zero.items():
        if key not in status:
            status[key] = copy.deepcopy(value)
