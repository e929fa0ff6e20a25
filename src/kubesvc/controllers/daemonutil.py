"""Pure decisions of the DaemonSet controller (upstream pkg/controller/daemon and
pkg/controller/daemon/util, v1.32): which nodes should run a daemon pod (the template's
nodeSelector, required node affinity and the tolerations — the template's plus the ones
upstream adds to every daemon pod — against the node's NoSchedule/NoExecute taints), the
pod that is placed on a node through node affinity on ``metadata.name``, the
``controller-revision-hash`` of a template. Node-affinity and toleration matching come from
:mod:`kubesvc.api.nodeaffinity`, shared with the scheduler.

Called by :mod:`kubesvc.controllers.daemonset`; no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kubesvc.api.nodeaffinity import node_affinity_matches, tolerates
from kubesvc.api.objects import Obj, meta
from kubesvc.controllers.workloads import template_hash

REVISION_HASH = "controller-revision-hash"
TEMPLATE_GENERATION = "pod-template-generation"

#: The tolerations ``AddOrUpdateDaemonPodTolerations`` adds (network-unavailable: only
#: for hostNetwork pods).
DAEMON_TOLERATIONS: tuple[dict[str, str], ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                       "effect": "NoSchedule"}


def daemon_tolerations(pod_spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = [dict(t) for t in pod_spec.get("tolerations") or ()]
    extra = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        extra.append(NETWORK_UNAVAILABLE)
    for t in extra:
        if not any(o.get("key") == t["key"] and o.get("effect") == t["effect"] for o in out):
            out.append(dict(t))
    return out


def should_run(ds: Obj, node: Obj) -> tuple[bool, bool]:
    """(should run, should continue running) — upstream ``NodeShouldRunDaemonPod``."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    if not node_affinity_matches(spec, node):
        return False, False
    tolerations = daemon_tolerations(spec)
    taints = (node.get("spec") or {}).get("taints") or ()
    run = all(tolerates(tolerations, t) for t in taints
              if t.get("effect") in ("NoSchedule", "NoExecute"))
    keep = all(tolerates(tolerations, t) for t in taints if t.get("effect") == "NoExecute")
    return run, keep


def revision_hash(ds: Obj) -> str:
    """The ``controller-revision-hash`` of the DaemonSet's current template (the hash the
    ControllerRevision of the template is named by)."""
    template = (ds.get("spec") or {}).get("template") or {}
    collision = (ds.get("status") or {}).get("collisionCount")
    return template_hash(template, collision)


def target_node(pod: Obj) -> str | None:
    """``GetTargetNodeName``: ``spec.nodeName``, else the node named by the affinity."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
    for term in required.get("nodeSelectorTerms") or ():
        for fld in term.get("matchFields") or ():
            if fld.get("key") == "metadata.name" and fld.get("operator") == "In":
                values = fld.get("values") or []
                if len(values) == 1:
                    return str(values[0])
    return None


def pod_for_node(ds: Obj, node_name: str, hash_: str) -> Obj:
    """The daemon pod for ``node_name``: template labels plus the revision labels, the
    daemon tolerations, and required node affinity replaced so that it selects exactly
    that node (``ReplaceDaemonSetPodNodeNameNodeAffinity``); bound by the scheduler."""
    md = meta(ds)
    tpl = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    tmd = tpl.get("metadata") or {}
    spec: Obj = tpl.get("spec") or {}
    labels = dict(tmd.get("labels") or {})
    labels[REVISION_HASH] = hash_
    labels[TEMPLATE_GENERATION] = str(md.get("generation") or 1)
    name_req = {"key": "metadata.name", "operator": "In", "values": [node_name]}
    affinity = spec.setdefault("affinity", {})
    node_aff = affinity.setdefault("nodeAffinity", {})
    required = node_aff.get("requiredDuringSchedulingIgnoredDuringExecution")
    terms = (required or {}).get("nodeSelectorTerms") or []
    if terms:
        terms = [{**t, "matchFields": [dict(name_req)]} for t in terms]
    else:
        terms = [{"matchFields": [dict(name_req)]}]
    node_aff["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": terms}
    spec["tolerations"] = daemon_tolerations(spec)
    pod_md: Obj = {
        "generateName": f"{md.get('name')}-",
        "labels": labels,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                             "name": md.get("name"), "uid": md.get("uid"),
                             "controller": True, "blockOwnerDeletion": True}],
    }
    if tmd.get("annotations"):
        pod_md["annotations"] = dict(tmd["annotations"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_md, "spec": spec}


def surge_and_unavailable(ds: Obj, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against the desired count, as upstream
    ``updatedDesiredNodeCounts`` (maxUnavailable rounds up; at least one when both 0)."""
    from kubesvc.controllers.workloads import resolve_intstr

    ru = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate") or {})
    surge = resolve_intstr(ru.get("maxSurge"), desired, round_up=True, default="0")
    unavailable = resolve_intstr(ru.get("maxUnavailable"), desired, round_up=True, default="1")
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable
