"""What a StatefulSet sync should do next, as pure functions over the set, its pods and
its revisions (upstream ``pkg/controller/statefulset/stateful_set_control.go`` and
``stateful_set_utils.go``, v1.32): stable identities ``<set>-<ordinal>`` from
``ordinals.start``, the pods to create (which revision each gets, given the partition),
the pods to delete (failed ones, condemned ones highest ordinal first, then the rolling
update from the highest ordinal down to the partition, bounded by ``maxUnavailable``),
OrderedReady's one-at-a-time rule against Parallel, and the status counters.

Called by :mod:`.controller`; calls :mod:`.history` and the controller helpers. No I/O.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubesvc.api.objects import Obj, meta
from kubesvc.controllers.base import owner_ref, pod_ready
from kubesvc.controllers.statefulset.history import REVISION_LABEL, data_template
from kubesvc.controllers.workloads import available_in, resolve_intstr

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def spec_of(sts: Obj) -> dict[str, Any]:
    s = sts.get("spec")
    return s if isinstance(s, dict) else {}


def replicas_of(sts: Obj) -> int:
    r = spec_of(sts).get("replicas")
    return r if isinstance(r, int) else 1


def start_ordinal(sts: Obj) -> int:
    start = (spec_of(sts).get("ordinals") or {}).get("start")
    return start if isinstance(start, int) else 0


def parallel(sts: Obj) -> bool:
    return spec_of(sts).get("podManagementPolicy") == "Parallel"


def strategy_type(sts: Obj) -> str:
    return str((spec_of(sts).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def partition(sts: Obj) -> int:
    ru = (spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
    p = ru.get("partition")
    return p if isinstance(p, int) else 0


def max_unavailable(sts: Obj) -> int:
    """Resolved ``rollingUpdate.maxUnavailable`` (1 when unset, as the gate-off default)."""
    ru = (spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
    n = resolve_intstr(ru.get("maxUnavailable"), replicas_of(sts), round_up=False, default="1")
    return max(1, n)


def min_ready_seconds(sts: Obj) -> int:
    v = spec_of(sts).get("minReadySeconds")
    return v if isinstance(v, int) else 0


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    m = _ORDINAL.match(str(meta(pod).get("name") or ""))
    if m is None:
        return "", -1
    return m.group(1), int(m.group(2))


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def is_member(sts: Obj, pod: Obj) -> bool:
    parent, ordinal = parent_and_ordinal(pod)
    return ordinal >= 0 and parent == meta(sts).get("name")


def pod_name(sts: Obj, ordinal: int) -> str:
    return f"{meta(sts).get('name', '')}-{ordinal}"


def claim_name(template_name: str, sts: Obj, ordinal: int) -> str:
    """Upstream ``getPersistentVolumeClaimName``: ``<template>-<set>-<ordinal>``."""
    return f"{template_name}-{meta(sts).get('name', '')}-{ordinal}"


def claim_templates(sts: Obj) -> list[Obj]:
    t = spec_of(sts).get("volumeClaimTemplates")
    return [c for c in t if isinstance(c, dict)] if isinstance(t, list) else []


def revision_of(pod: Obj) -> str:
    return str((meta(pod).get("labels") or {}).get(REVISION_LABEL) or "")


def is_terminating(pod: Obj) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def is_failed(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Failed"


def is_succeeded(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def is_running_and_ready(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod)


def is_available(pod: Obj, min_ready: int, at: datetime | None = None) -> bool:
    left = available_in(pod, min_ready, at=at)
    return left is not None and left <= 0 and is_running_and_ready(pod)


def is_healthy(pod: Obj) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def new_pod(sts: Obj, ordinal: int, *, revision_name: str, revision_data: Obj | None) -> Obj:
    """Upstream ``newVersionedStatefulSetPod``: the pod of ``ordinal`` from the template
    the revision holds, with its identity (hostname, subdomain, labels) and storage."""
    tpl = data_template(revision_data) if revision_data is not None else copy.deepcopy(
        spec_of(sts).get("template") or {})
    m = meta(sts)
    name = pod_name(sts, ordinal)
    tmeta = tpl.get("metadata") or {}
    labels = dict(tmeta.get("labels") or {})
    labels[POD_NAME_LABEL] = name
    labels[POD_INDEX_LABEL] = str(ordinal)
    labels[REVISION_LABEL] = revision_name
    pmeta: dict[str, Any] = {
        "name": name,
        "namespace": m.get("namespace", ""),
        "labels": labels,
        "ownerReferences": [owner_ref(sts, api_version="apps/v1", kind="StatefulSet")],
    }
    if tmeta.get("annotations"):
        pmeta["annotations"] = dict(tmeta["annotations"])
    spec = copy.deepcopy(tpl.get("spec") or {})
    spec["hostname"] = name
    svc = spec_of(sts).get("serviceName")
    if svc:
        spec["subdomain"] = svc
    volumes = [v for v in spec.get("volumes") or [] if isinstance(v, dict)]
    for claim in claim_templates(sts):
        cname = str((claim.get("metadata") or {}).get("name") or "")
        volumes = [v for v in volumes if v.get("name") != cname]
        volumes.append({"name": cname, "persistentVolumeClaim": {
            "claimName": claim_name(cname, sts, ordinal)}})
    if volumes:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pmeta, "spec": spec}


def new_claims(sts: Obj, ordinal: int) -> list[Obj]:
    """The PVCs of ``ordinal`` (upstream ``getPersistentVolumeClaims``): the templates,
    named per ordinal, labelled with the set's selector labels."""
    m = meta(sts)
    sel_labels = (spec_of(sts).get("selector") or {}).get("matchLabels") or {}
    policy = spec_of(sts).get("persistentVolumeClaimRetentionPolicy") or {}
    out: list[Obj] = []
    for claim in claim_templates(sts):
        c = copy.deepcopy(claim)
        cmeta = c.setdefault("metadata", {})
        cname = str(cmeta.get("name") or "")
        cmeta["name"] = claim_name(cname, sts, ordinal)
        cmeta["namespace"] = m.get("namespace", "")
        cmeta["labels"] = {**(cmeta.get("labels") or {}), **sel_labels}
        for k in ("uid", "resourceVersion", "creationTimestamp"):
            cmeta.pop(k, None)
        if policy.get("whenDeleted") == "Delete":
            cmeta["ownerReferences"] = [owner_ref(sts, api_version="apps/v1",
                                                  kind="StatefulSet", controller=True)]
        c.pop("status", None)
        c["apiVersion"], c["kind"] = "v1", "PersistentVolumeClaim"
        out.append(c)
    return out


def target_revision(sts: Obj, ordinal: int, *, current: str, update: str,
                    current_replicas: int) -> str:
    """Which revision a new pod of ``ordinal`` gets (upstream
    ``newVersionedStatefulSetPod``): below the partition the current one."""
    if strategy_type(sts) == "RollingUpdate":
        ru = (spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate")
        bound = partition(sts) if ru is not None else current_replicas
        if ordinal < start_ordinal(sts) + bound:
            return current
    return update


@dataclass(slots=True)
class Plan:
    """The writes of one sync, in order."""

    create: list[int] = field(default_factory=list)  # ordinals
    delete: list[str] = field(default_factory=list)  # pod names
    waiting: str = ""  # why the sync stopped early (debug)


def plan_sync(sts: Obj, pods: list[Obj], *, current: str, update: str,
              current_replicas: int, at: datetime | None = None) -> Plan:
    """Upstream ``updateStatefulSet``'s decisions for one pass."""
    plan = Plan()
    want = replicas_of(sts)
    start = start_ordinal(sts)
    ordered = not parallel(sts)
    by_ordinal: dict[int, Obj] = {}
    condemned: list[Obj] = []
    for p in pods:
        o = ordinal_of(p)
        if start <= o < start + want:
            by_ordinal[o] = p
        else:
            condemned.append(p)
    condemned.sort(key=ordinal_of, reverse=True)
    min_ready = min_ready_seconds(sts)

    # 1. replicas: replace failed/succeeded pods, create missing ones.
    for o in range(start, start + want):
        pod = by_ordinal.get(o)
        if pod is not None and (is_failed(pod) or is_succeeded(pod)) and \
                not is_terminating(pod):
            plan.delete.append(str(meta(pod).get("name")))
            if ordered:
                plan.waiting = f"replacing failed pod {meta(pod).get('name')}"
                return plan
            continue
        if pod is None:
            plan.create.append(o)
            if ordered:
                plan.waiting = f"creating pod of ordinal {o}"
                return plan
            continue
        if ordered and is_terminating(pod):
            plan.waiting = f"pod {meta(pod).get('name')} is terminating"
            return plan
        if ordered and not is_available(pod, min_ready, at):
            plan.waiting = f"pod {meta(pod).get('name')} is not available"
            return plan

    # 2. condemned: highest ordinal first; OrderedReady one at a time, all healthy first.
    if condemned:
        if ordered:
            first = condemned[0]
            if is_terminating(first):
                plan.waiting = f"pod {meta(first).get('name')} is terminating"
                return plan
            # upstream: an unhealthy target blocks unless it is the first unhealthy pod
            # (the lowest ordinal), so a set of unhealthy pods does not scale down
            unhealthy = sorted((p for p in [*by_ordinal.values(), *condemned]
                                if not is_healthy(p)), key=ordinal_of)
            if not is_healthy(first) and unhealthy and unhealthy[0] is not first:
                plan.waiting = (f"pod {meta(first).get('name')} is unhealthy, and so is "
                                f"{meta(unhealthy[0]).get('name')} before it")
                return plan
            plan.delete.append(str(meta(first).get("name")))
            return plan
        plan.delete.extend(str(meta(p).get("name")) for p in condemned
                           if not is_terminating(p))
        return plan
    if plan.create or plan.delete:
        return plan

    # 3. rolling update, highest ordinal first, down to the partition.
    if strategy_type(sts) != "RollingUpdate":
        return plan
    bound = start + partition(sts)
    unavailable = sum(1 for p in by_ordinal.values()
                      if not is_available(p, min_ready, at) or is_terminating(p))
    budget = max_unavailable(sts) - unavailable
    for o in sorted(by_ordinal, reverse=True):
        if o < bound:
            break
        pod = by_ordinal[o]
        if revision_of(pod) == update:
            continue
        if is_terminating(pod):
            plan.waiting = f"pod {meta(pod).get('name')} is terminating"
            return plan
        if budget <= 0:
            plan.waiting = "maxUnavailable reached"
            return plan
        plan.delete.append(str(meta(pod).get("name")))
        budget -= 1
    return plan


def compute_status(sts: Obj, pods: list[Obj], *, current: str, update: str,
                   collision_count: int | None, at: datetime | None = None) -> dict[str, Any]:
    """Upstream ``computeReplicaStatus`` + ``completeRollingUpdate``."""
    min_ready = min_ready_seconds(sts)
    live = [p for p in pods if not is_terminating(p)]
    status: dict[str, Any] = {
        "observedGeneration": int(meta(sts).get("generation") or 1),
        "replicas": len(live),
        "readyReplicas": sum(1 for p in live if is_running_and_ready(p)),
        "availableReplicas": sum(1 for p in live if is_available(p, min_ready, at)),
        "currentReplicas": sum(1 for p in live if revision_of(p) == current),
        "updatedReplicas": sum(1 for p in live if revision_of(p) == update),
        "currentRevision": current,
        "updateRevision": update,
    }
    if collision_count is not None:
        status["collisionCount"] = collision_count
    want = replicas_of(sts)
    if (strategy_type(sts) == "RollingUpdate" and status["updatedReplicas"] == want
            and status["replicas"] == want and status["readyReplicas"] == want):
        status["currentReplicas"] = status["updatedReplicas"]
        status["currentRevision"] = update
    return status
