"""The StatefulSet controller's pure decisions (``controllers/statefulset/plan.py`` and
``history.py``): ordering, scale-down order, partitioned and maxUnavailable rolling
updates, identities, revision hashing and history trimming."""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.objects import Obj
from kubesvc.controllers.statefulset import history as h
from kubesvc.controllers.statefulset import plan as p


def sts(replicas: int = 3, **spec: Any) -> Obj:
    obj: Obj = {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "generation": 2},
        "spec": {
            "replicas": replicas, "serviceName": "nginx",
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                         "spec": {"containers": [{"name": "c", "image": "img:1"}]}},
            **spec,
        },
    }
    apply_defaults("statefulsets.apps", obj)
    return obj


def pod(ordinal: int, *, rev: str = "r1", ready: bool = True, phase: str = "Running",
        deleting: bool = False) -> Obj:
    md: Obj = {"name": f"web-{ordinal}", "namespace": "default",
               "labels": {h.REVISION_LABEL: rev}}
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": md, "status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def plan(s: Obj, pods: list[Obj], *, current: str = "r1", update: str = "r1") -> p.Plan:
    return p.plan_sync(s, pods, current=current, update=update, current_replicas=len(pods))


def test_ordered_ready_creates_one_at_a_time_in_order() -> None:
    s = sts()
    assert plan(s, []).create == [0]
    assert plan(s, [pod(0)]).create == [1]
    assert plan(s, [pod(0), pod(1)]).create == [2]
    blocked = plan(s, [pod(0, ready=False)])
    assert blocked.create == [] and blocked.delete == [] and "not available" in blocked.waiting
    # a missing lower ordinal comes back before anything else happens
    assert plan(s, [pod(1), pod(2)]).create == [0]


def test_parallel_creates_all_at_once_and_ignores_readiness() -> None:
    s = sts(podManagementPolicy="Parallel")
    assert plan(s, []).create == [0, 1, 2]
    assert plan(s, [pod(0, ready=False)]).create == [1, 2]


def test_scale_down_removes_the_highest_ordinal_first() -> None:
    s = sts(1)
    pods = [pod(0), pod(1), pod(2)]
    assert plan(s, pods).delete == ["web-2"]
    # OrderedReady waits for the terminating one before the next
    assert plan(s, [pod(0), pod(1), pod(2, deleting=True)]).delete == []
    assert plan(s, [pod(0), pod(1)]).delete == ["web-1"]
    par = sts(1, podManagementPolicy="Parallel")
    assert plan(par, pods).delete == ["web-2", "web-1"]


def test_failed_pod_is_replaced() -> None:
    s = sts(2)
    assert plan(s, [pod(0, phase="Failed"), pod(1)]).delete == ["web-0"]


def test_rolling_update_goes_from_the_highest_ordinal_down_to_the_partition() -> None:
    s = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 1}})
    old = [pod(0), pod(1), pod(2)]
    assert plan(s, old, update="r2").delete == ["web-2"]
    step2 = [pod(0), pod(1), pod(2, rev="r2")]
    assert plan(s, step2, update="r2").delete == ["web-1"]
    done = [pod(0), pod(1, rev="r2"), pod(2, rev="r2")]
    assert plan(s, done, update="r2").delete == []  # web-0 is below the partition
    # one unavailable pod uses the whole default budget of 1
    waiting = plan(s, [pod(0), pod(1), pod(2, rev="r2", ready=False)], update="r2")
    assert waiting.delete == []


def test_max_unavailable_bounds_parallel_updates() -> None:
    s = sts(4, podManagementPolicy="Parallel", updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 0, "maxUnavailable": 2}})
    pods = [pod(i) for i in range(4)]
    assert plan(s, pods, update="r2").delete == ["web-3", "web-2"]
    pct = sts(4, updateStrategy={"type": "RollingUpdate",
                                 "rollingUpdate": {"partition": 0, "maxUnavailable": "50%"}})
    assert p.max_unavailable(pct) == 2


def test_on_delete_never_deletes_for_an_update() -> None:
    s = sts(updateStrategy={"type": "OnDelete"})
    assert plan(s, [pod(0), pod(1), pod(2)], update="r2").delete == []


def test_new_pods_below_the_partition_keep_the_current_revision() -> None:
    s = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": 2}})
    assert p.target_revision(s, 1, current="a", update="b", current_replicas=3) == "a"
    assert p.target_revision(s, 2, current="a", update="b", current_replicas=3) == "b"
    od = sts(updateStrategy={"type": "OnDelete"})
    assert p.target_revision(od, 0, current="a", update="b", current_replicas=3) == "b"


def test_ordinals_start_shifts_identities() -> None:
    s = sts(2, ordinals={"start": 5})
    assert plan(s, []).create == [5]
    par = sts(2, ordinals={"start": 5}, podManagementPolicy="Parallel")
    assert plan(par, [pod(0)]).create == [5, 6]
    assert plan(par, [pod(0)]).delete == ["web-0"]  # Parallel: in the same pass
    assert plan(s, [pod(0), pod(5), pod(6)]).delete == ["web-0"]


def test_new_pod_identity_and_claims() -> None:
    s = sts(volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}],
        persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete", "whenScaled": "Retain"})
    rev = h.new_revision(s, 1)
    pod0 = p.new_pod(s, 0, revision_name=rev["metadata"]["name"], revision_data=rev["data"])
    assert pod0["metadata"]["name"] == "web-0"
    assert pod0["spec"]["hostname"] == "web-0" and pod0["spec"]["subdomain"] == "nginx"
    labels = pod0["metadata"]["labels"]
    assert labels[p.POD_NAME_LABEL] == "web-0" and labels[p.POD_INDEX_LABEL] == "0"
    assert labels[h.REVISION_LABEL] == rev["metadata"]["name"] and labels["app"] == "nginx"
    assert pod0["spec"]["volumes"] == [{"name": "www",
                                        "persistentVolumeClaim": {"claimName": "www-web-0"}}]
    assert "$patch" not in str(pod0)
    (claim,) = p.new_claims(s, 0)
    assert claim["metadata"]["name"] == "www-web-0"
    assert claim["metadata"]["labels"] == {"app": "nginx"}
    assert claim["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert "status" not in claim


def test_status_counts_and_completes_the_rollout() -> None:
    s = sts()
    pods = [pod(0, rev="r2"), pod(1, rev="r2"), pod(2, rev="r2")]
    st = p.compute_status(s, pods, current="r1", update="r2", collision_count=None)
    assert st["replicas"] == 3 and st["readyReplicas"] == 3 and st["availableReplicas"] == 3
    assert st["updatedReplicas"] == 3
    assert st["currentRevision"] == "r2" and st["currentReplicas"] == 3
    assert st["observedGeneration"] == 2
    half = p.compute_status(s, [pod(0), pod(1, rev="r2"), pod(2, rev="r2", ready=False)],
                            current="r1", update="r2", collision_count=1)
    assert half["currentRevision"] == "r1" and half["currentReplicas"] == 1
    assert half["updatedReplicas"] == 2 and half["readyReplicas"] == 2
    assert half["collisionCount"] == 1


def test_revision_hash_follows_the_template_and_collisions() -> None:
    s = sts()
    a = h.new_revision(s, 1)
    assert a["metadata"]["name"] == h.new_revision(copy.deepcopy(s), 7)["metadata"]["name"]
    assert a["metadata"]["name"].startswith("web-")
    assert a["data"]["spec"]["template"]["$patch"] == "replace"
    assert a["metadata"]["labels"]["app"] == "nginx"
    other = copy.deepcopy(s)
    other["spec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    b = h.new_revision(other, 2)
    assert b["metadata"]["name"] != a["metadata"]["name"]
    assert h.new_revision(s, 1, 1)["metadata"]["name"] != a["metadata"]["name"]
    assert h.equal_revision(a, h.new_revision(s, 3)) and not h.equal_revision(a, b)


def test_history_trims_the_oldest_idle_revisions() -> None:
    revs = [{"metadata": {"name": f"r{i}"}, "revision": i} for i in range(1, 6)]
    out = h.history_to_delete(revs, live={"r1", "r5"}, limit=2)
    assert [r["metadata"]["name"] for r in out] == ["r2"]
    assert h.history_to_delete(revs, live=set(), limit=10) == []


def test_ordered_scale_down_halts_on_an_unhealthy_pod_but_the_first() -> None:
    """Upstream: the condemned target, if unhealthy, is deleted only when it is the first
    unhealthy pod; a set whose pods are all unhealthy does not scale down."""
    s = sts(0)
    sick = [pod(0, ready=False), pod(1, ready=False), pod(2, ready=False)]
    blocked = plan(s, sick)
    assert blocked.delete == [] and blocked.waiting
    assert plan(s, [pod(0, ready=False), pod(1), pod(2)]).delete == ["web-2"]
    assert plan(s, [pod(0), pod(1), pod(2, ready=False)]).delete == ["web-2"]
    assert plan(sts(1), [pod(0), pod(1, ready=False)]).delete == ["web-1"]
