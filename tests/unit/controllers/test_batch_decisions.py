"""Pure decisions of the Job, CronJob, DaemonSet and disruption controllers."""

from __future__ import annotations

from typing import Any

from kubesvc.api.objects import Obj
from kubesvc.controllers import daemonutil as du
from kubesvc.controllers import jobutil as ju
from kubesvc.controllers.cronjob import history_to_delete, job_from_cronjob, job_name
from kubesvc.controllers.disruption import budget_status, desired
from kubesvc.controllers.ttlafterfinished import expires_in


def job(**spec: Any) -> Obj:
    return {"metadata": {"name": "j", "namespace": "ns", "uid": "u1"},
            "spec": {"parallelism": 2, "completions": 5, "backoffLimit": 6,
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                         "restartPolicy": "Never",
                         "containers": [{"name": "c", "image": "x"}]}}, **spec}}


def failed_pod(code: int, *, container: str = "c", conditions: list[Obj] | None = None) -> Obj:
    return {"metadata": {"name": "p", "namespace": "ns"}, "status": {
        "phase": "Failed", "conditions": conditions or [],
        "containerStatuses": [{"name": container, "state": {"terminated": {"exitCode": code}}}]}}


def test_wanted_active() -> None:
    assert ju.wanted_active(job(), succeeded=0, active=0) == 2
    assert ju.wanted_active(job(), succeeded=4, active=0) == 1
    assert ju.wanted_active(job(), succeeded=5, active=0) == 0
    queue = job(completions=None)
    assert ju.wanted_active(queue, succeeded=0, active=0) == 2
    assert ju.wanted_active(queue, succeeded=1, active=1) == 0


def test_indexes() -> None:
    assert ju.format_indexes([0, 1, 2, 4, 6, 7]) == "0-2,4,6-7"
    assert ju.parse_indexes("0-2,4,6-7", 7) == {0, 1, 2, 4, 6}
    assert ju.missing_indexes(5, succeeded={0, 2}, active={1}) == [3, 4]


def test_backoff() -> None:
    assert ju.backoff_delay(0) == 0
    assert ju.backoff_delay(1) == 10
    assert ju.backoff_delay(3) == 40
    assert ju.backoff_delay(20) == 360
    on_failure = job(backoffLimit=2)
    on_failure["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    pod = {"status": {"containerStatuses": [{"restartCount": 2}]}}
    assert ju.past_backoff_limit_on_failure(on_failure, [pod])
    assert not ju.past_backoff_limit_on_failure(job(backoffLimit=2), [pod])


def test_pod_failure_policy() -> None:
    rules = [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        {"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In",
                                              "values": [42]}},
        {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1]}},
    ]
    j = job(podFailurePolicy={"rules": rules})
    v = ju.match_pod_failure_policy(j, failed_pod(42))
    assert v.action == "FailJob"
    assert v.message == ("Container c for pod ns/p failed with exit code 42 matching FailJob "
                         "rule at index 1")
    assert ju.match_pod_failure_policy(j, failed_pod(42, container="d")).action == "Count"
    disrupted = failed_pod(1, conditions=[{"type": "DisruptionTarget", "status": "True"}])
    assert ju.match_pod_failure_policy(j, disrupted).action == "Ignore"
    assert ju.match_pod_failure_policy(j, failed_pod(1)).action == "Count"  # no rule matched
    assert ju.match_pod_failure_policy(job(), failed_pod(42)).action == "Count"


def test_failed_indexes() -> None:
    def at(i: int) -> Obj:
        return {"metadata": {"annotations": {ju.INDEX_ANNOTATION: str(i)}}}

    j = job(completionMode="Indexed", backoffLimitPerIndex=1)
    j["status"] = {"failedIndexes": "4"}
    got = ju.failed_indexes(j, [(at(0), "Count"), (at(1), "Count"), (at(1), "Count"),
                                (at(2), "FailIndex"), (at(9), "Count")])
    assert got == {1, 2, 4}  # 0 has one failure left; 9 is out of range
    assert ju.failed_indexes(job(completionMode="Indexed"), [(at(1), "Count")]) == set()


def test_indexed_pod_template() -> None:
    pod, prefix = ju.pod_template(job(completionMode="Indexed"), 3)
    assert prefix == "j-3-"
    assert pod["metadata"]["annotations"][ju.INDEX_ANNOTATION] == "3"
    assert pod["metadata"]["labels"][ju.INDEX_LABEL] == "3"
    assert pod["spec"]["hostname"] == "j-3"
    env = pod["spec"]["containers"][0]["env"][0]
    assert env["name"] == "JOB_COMPLETION_INDEX"
    assert env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.annotations['batch.kubernetes.io/job-completion-index']")
    owner = pod["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("Job", "u1", True)


def test_ttl_expiry() -> None:
    done = job(ttlSecondsAfterFinished=30)
    done["status"] = {"conditions": [{"type": "Complete", "status": "True",
                                      "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    t = 1767225600.0  # 2026-01-01T00:00:00Z
    assert expires_in(done, t + 10) == 20
    assert expires_in(job(ttlSecondsAfterFinished=30), t) is None


def test_cronjob_job_and_history() -> None:
    cj = {"metadata": {"name": "cj", "namespace": "ns", "uid": "c1"},
          "spec": {"jobTemplate": {"metadata": {"labels": {"x": "y"}}, "spec": {"a": 1}}}}
    from kubesvc.api import cron

    body = job_from_cronjob(cj, 1767225600.0, cron.load_zone("America/New_York"))
    assert body["metadata"]["name"] == job_name("cj", 1767225600.0) == "cj-29453760"
    assert body["metadata"]["annotations"][
        "batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2025-12-31T19:00:00-05:00"
    assert body["metadata"]["labels"] == {"x": "y"} and body["spec"] == {"a": 1}

    def finished(name: str, typ: str, start: str) -> Obj:
        return {"metadata": {"name": name}, "status": {"startTime": start, "conditions": [
            {"type": typ, "status": "True"}]}}

    jobs = [finished("a", "Complete", "2026-01-01T00:00:00Z"),
            finished("b", "Complete", "2026-01-01T00:01:00Z"),
            finished("c", "Failed", "2026-01-01T00:02:00Z"),
            finished("d", "Failed", "2026-01-01T00:03:00Z")]
    gone = history_to_delete(jobs, successful_limit=1, failed_limit=1)
    assert [j["metadata"]["name"] for j in gone] == ["a", "c"]


def node(name: str, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def ds(**tspec: Any) -> Obj:
    return {"metadata": {"name": "ds", "uid": "d1", "generation": 2},
            "spec": {"template": {"metadata": {"labels": {"app": "ds"}},
                                  "spec": {"containers": [{"name": "c"}], **tspec}}}}


def test_should_run() -> None:
    assert du.should_run(ds(), node("n")) == (True, True)
    assert du.should_run(ds(nodeSelector={"disk": "ssd"}), node("n")) == (False, False)
    assert du.should_run(ds(nodeSelector={"disk": "ssd"}), node("n", {"disk": "ssd"}))[0]
    tainted = node("n", taints=[{"key": "k", "effect": "NoSchedule"}])
    assert du.should_run(ds(), tainted) == (False, True)  # keeps a running pod
    evicting = node("n", taints=[{"key": "k", "effect": "NoExecute"}])
    assert du.should_run(ds(), evicting) == (False, False)
    cordoned = node("n", unschedulable=True, taints=[
        {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}])
    assert du.should_run(ds(), cordoned) == (True, True)  # default daemon toleration
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    assert not du.should_run(ds(affinity=aff), node("n", {"zone": "b"}))[0]
    assert du.should_run(ds(affinity=aff), node("n", {"zone": "a"}))[0]


def test_pod_for_node_targets_the_node_by_affinity() -> None:
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}
    pod = du.pod_for_node(ds(affinity=aff, hostNetwork=True), "n2", "h1")
    term = pod["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
    assert term["matchFields"] == [{"key": "metadata.name", "operator": "In",
                                    "values": ["n2"]}]
    assert term["matchExpressions"][0]["key"] == "zone"
    assert du.target_node(pod) == "n2"
    assert pod["metadata"]["labels"] == {"app": "ds", "controller-revision-hash": "h1",
                                         "pod-template-generation": "2"}
    keys = {t["key"] for t in pod["spec"]["tolerations"]}
    assert "node.kubernetes.io/network-unavailable" in keys  # hostNetwork only
    assert len(keys) == 7


def test_revision_hash_follows_the_template() -> None:
    a, b = ds(), ds()
    assert du.revision_hash(a) == du.revision_hash(b)
    b["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    assert du.revision_hash(a) != du.revision_hash(b)


def test_pdb_desired_counts() -> None:
    assert desired({"minAvailable": 2}, pods=3, expected_scale=None) == (3, 2)
    assert desired({"minAvailable": "50%"}, pods=3, expected_scale=5) == (5, 3)
    assert desired({"maxUnavailable": 1}, pods=3, expected_scale=4) == (4, 3)
    assert desired({"maxUnavailable": "25%"}, pods=3, expected_scale=5) == (5, 3)


def test_budget_status_counts_healthy_pods_and_disrupted_ones() -> None:
    def pod(name: str, ready: bool = True) -> Obj:
        return {"metadata": {"name": name}, "status": {"conditions": [
            {"type": "Ready", "status": "True" if ready else "False"}]}}

    pdb = {"metadata": {"generation": 3}, "spec": {"minAvailable": 1},
           "status": {"disruptedPods": {"a": "2026-01-01T00:00:00Z",
                                        "gone": "2026-01-01T00:00:00Z"}}}
    t = 1767225600.0 + 10
    st = budget_status(pdb, [pod("a"), pod("b"), pod("c", ready=False)], expected_scale=None,
                       now=t)
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"],
            st["disruptionsAllowed"]) == (1, 1, 3, 0)
    assert st["disruptedPods"] == {"a": "2026-01-01T00:00:00Z"}  # the gone pod's entry goes
    assert st["conditions"][0]["reason"] == "InsufficientPods"
    st = budget_status(pdb, [pod("a"), pod("b")], expected_scale=None, now=t + 300)
    assert st["disruptionsAllowed"] == 1 and st["disruptedPods"] is None  # entry expired
    assert st["observedGeneration"] == 3


def test_most_recent_schedule_counts_missed_times() -> None:
    from datetime import UTC

    from kubesvc.api import cron
    from kubesvc.controllers.cronjob import MAX_MISSED, most_recent_schedule

    every_minute = cron.parse("* * * * *")
    t0 = 1767225600.0  # 2026-01-01T00:00:00Z
    latest, missed, nxt = most_recent_schedule(every_minute, UTC, earliest=t0, now=t0 + 30)
    assert (latest, missed, nxt) == (None, 0, t0 + 60)
    latest, missed, nxt = most_recent_schedule(every_minute, UTC, earliest=t0,
                                               now=t0 + 185)
    assert (latest, missed, nxt) == (t0 + 180, 3, t0 + 240)
    # A long outage: more than MAX_MISSED start times; the latest one is still found.
    latest, missed, nxt = most_recent_schedule(every_minute, UTC, earliest=t0,
                                               now=t0 + 3 * 3600 + 5)
    assert missed > MAX_MISSED
    assert (latest, nxt) == (t0 + 3 * 3600, t0 + 3 * 3600 + 60)


def test_cron_clock_runs_faster_and_maps_times_both_ways() -> None:
    from kubesvc.controllers.cronclock import CronClock

    real = [1000.0]
    c = CronClock(rate=60.0, real=lambda: real[0], origin=1000.0)
    assert c.now() == 1000.0
    real[0] = 1001.0
    assert c.now() == 1060.0  # one real second is a minute
    assert c.local(1000.5) == 1030.0
    assert c.real_delay(60.0) == 1.0
    assert CronClock(real=lambda: 5.0).now() == 5.0  # rate 1: real time
