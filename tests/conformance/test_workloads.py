"""Upstream ``test/e2e/apps`` (Kubernetes v1.32) [Conformance] cases of job.go, cronjob.go,
daemon_set.go, rc.go and disruption.go that kubesvc supports, written anew against it (not
copied): each test's docstring is upstream's full case name. Jobs run ``busybox`` shell
commands (the process runtime runs a given command for any image); long-running pods are
``pause``. Run by pytest; uses :mod:`.framework`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.framework import Api, ApiError, core, is_ready, poll, unique

PAUSE = "registry.k8s.io/pause:3.9"


def gpath(group: str, ns: str | None, resource: str, name: str = "", sub: str = "") -> str:
    base = f"/apis/{group}" + (f"/namespaces/{ns}" if ns else "") + f"/{resource}"
    return base + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def jobs(ns: str, name: str = "", sub: str = "") -> str:
    return gpath("batch/v1", ns, "jobs", name, sub)


def cronjobs(ns: str | None, name: str = "", sub: str = "") -> str:
    return gpath("batch/v1", ns, "cronjobs", name, sub)


def daemonsets(ns: str | None, name: str = "", sub: str = "") -> str:
    return gpath("apps/v1", ns, "daemonsets", name, sub)


def pdbs(ns: str | None, name: str = "", sub: str = "") -> str:
    return gpath("policy/v1", ns, "poddisruptionbudgets", name, sub)


def job_body(name: str, *, command: str = "exit 0", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                {"name": "c", "image": "busybox", "command": ["sh", "-c", command]}]}},
                **spec}}


def pods_with(api: Api, ns: str, selector: str) -> list[dict[str, Any]]:
    return api.list(core(ns, "pods"), labelSelector=selector)


def job_finished(api: Api, ns: str, name: str, typ: str = "Complete") -> bool:
    st = api.get(jobs(ns, name)).get("status") or {}
    return any(c["type"] == typ and c["status"] == "True" for c in st.get("conditions") or ())


# -- job.go

def test_job_should_run_a_job_to_completion_with_cpu_requests(api: Api, ns: str) -> None:
    """[sig-apps] Job should run a job to completion with CPU requests [Serial]"""
    body = job_body("all-succeed", parallelism=2, completions=4)
    body["spec"]["template"]["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": "100m"}, "limits": {"cpu": "100m"}}
    api.create(jobs(ns), body)
    poll(lambda: job_finished(api, ns, "all-succeed"), timeout=60, what="job complete")
    pods = pods_with(api, ns, "batch.kubernetes.io/job-name=all-succeed")
    assert len([p for p in pods if p["status"]["phase"] == "Succeeded"]) == 4


def test_job_should_run_a_job_to_completion_when_tasks_sometimes_fail_and_are_locally_restarted(
        api: Api, ns: str) -> None:
    """[sig-apps] Job should run a job to completion when tasks sometimes fail and are
    locally restarted [Conformance]"""
    # upstream's "failOnce": fail the first run, succeed once restarted in the same pod
    body = job_body("fail-once-local", parallelism=2, completions=4, backoffLimit=6,
                    command="if [ -r /data/foo ]; then exit 0; else touch /data/foo; exit 1; "
                            "fi")
    tspec = body["spec"]["template"]["spec"]
    tspec["restartPolicy"] = "OnFailure"
    tspec["volumes"] = [{"name": "data", "emptyDir": {}}]
    tspec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    api.create(jobs(ns), body)
    poll(lambda: job_finished(api, ns, "fail-once-local"), timeout=60, what="job complete")
    st = api.get(jobs(ns, "fail-once-local"))["status"]
    assert st["succeeded"] == 4 and not st.get("failed"), st
    pods = pods_with(api, ns, "batch.kubernetes.io/job-name=fail-once-local")
    assert all(p["status"]["containerStatuses"][0]["restartCount"] >= 1 for p in pods)


def test_job_should_delete_a_job(api: Api, ns: str) -> None:
    """[sig-apps] Job should delete a job [Conformance]"""
    api.create(jobs(ns), job_body("foo", command="sleep 60", parallelism=2, completions=None))
    poll(lambda: (api.get(jobs(ns, "foo")).get("status") or {}).get("active") == 2,
         timeout=30, what="2 active pods")
    api.delete(jobs(ns, "foo"), propagationPolicy="Foreground")

    def gone() -> bool:
        try:
            api.get(jobs(ns, "foo"))
        except ApiError as exc:
            return exc.status == 404
        return False

    poll(gone, timeout=40, what="job gone")
    assert not pods_with(api, ns, "batch.kubernetes.io/job-name=foo")


def test_job_should_create_pods_for_an_indexed_job(api: Api, ns: str) -> None:
    """[sig-apps] Job should create pods for an Indexed job with completion indexes and
    specified hostname [Conformance]"""
    api.create(jobs(ns), job_body("indexed-job", parallelism=2, completions=4,
                                  completionMode="Indexed"))
    poll(lambda: job_finished(api, ns, "indexed-job"), timeout=60, what="indexed job complete")
    pods = pods_with(api, ns, "batch.kubernetes.io/job-name=indexed-job")
    indexes = set()
    for p in pods:
        if p["status"]["phase"] != "Succeeded":
            continue
        ix = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert p["spec"]["hostname"] == f"indexed-job-{ix}"
        indexes.add(int(ix))
    assert indexes == {0, 1, 2, 3}
    assert api.get(jobs(ns, "indexed-job"))["status"]["completedIndexes"] == "0-3"


def test_job_should_apply_changes_to_a_job_status(api: Api, ns: str) -> None:
    """[sig-apps] Job should apply changes to a job status [Conformance]"""
    api.create(jobs(ns), job_body("suspended-job", suspend=True))
    got = api.get(jobs(ns, "suspended-job", "status"))
    assert got["metadata"]["name"] == "suspended-job"
    start = "2026-01-01T00:00:00Z"
    patched = api.patch(jobs(ns, "suspended-job", "status"), {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"startTime": start}})
    assert patched["status"]["startTime"] == start
    assert patched["metadata"]["annotations"]["patchedstatus"] == "true"
    cur = api.get(jobs(ns, "suspended-job"))
    cur["status"]["startTime"] = "2026-01-02T00:00:00Z"
    updated = api.update(jobs(ns, "suspended-job", "status"), cur)
    assert updated["status"]["startTime"] == "2026-01-02T00:00:00Z"


def test_job_should_manage_the_lifecycle_of_a_job(api: Api, ns: str) -> None:
    """[sig-apps] Job should manage the lifecycle of a job [Conformance]"""
    name = unique("e2e")
    body = job_body(name, suspend=True)
    body["metadata"]["labels"] = {"e2e-job-label": name}
    api.create(jobs(ns), body)
    api.patch(jobs(ns, name), {"metadata": {"labels": {name: "patched"}}})
    cur = api.get(jobs(ns, name))
    cur["metadata"].setdefault("annotations", {})["updated"] = "true"
    api.update(jobs(ns, name), cur)
    listed = api.list(gpath("batch/v1", None, "jobs"), labelSelector=f"{name}=patched")
    assert [j["metadata"]["name"] for j in listed] == [name]
    assert listed[0]["metadata"]["annotations"]["updated"] == "true"
    api.delete(jobs(ns), labelSelector=f"{name}=patched")
    poll(lambda: not api.list(jobs(ns), labelSelector=f"{name}=patched"), what="deleted")


# -- cronjob.go

def test_cronjob_should_support_cronjob_api_operations(api: Api, ns: str) -> None:
    """[sig-apps] CronJob should support CronJob API operations [Conformance]"""
    name = unique("e2e-cj")
    body = {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": name, "labels": {"special-label": name}},
            "spec": {"schedule": "@every 1m", "suspend": True,
                     "jobTemplate": {"spec": job_body("x")["spec"]}}}
    for i in range(2):
        api.create(cronjobs(ns), {**body, "metadata": {**body["metadata"],
                                                      "name": f"{name}-{i}"}})
    got = api.get(cronjobs(ns, f"{name}-0"))
    assert got["spec"]["concurrencyPolicy"] == "Allow"  # defaulted
    assert len(api.list(cronjobs(ns), labelSelector=f"special-label={name}")) == 2
    assert len(api.list(cronjobs(None), labelSelector=f"special-label={name}")) >= 2
    patched = api.patch(cronjobs(ns, f"{name}-0"), {"metadata": {"annotations": {
        "patched": "true"}}})
    assert patched["metadata"]["annotations"]["patched"] == "true"
    cur = api.get(cronjobs(ns, f"{name}-0"))
    cur["metadata"]["annotations"]["updated"] = "true"
    assert api.update(cronjobs(ns, f"{name}-0"), cur)["metadata"]["annotations"][
        "updated"] == "true"
    now = "2026-01-01T00:00:00Z"
    st = api.patch(cronjobs(ns, f"{name}-0", "status"), {"status": {"lastScheduleTime": now}})
    assert st["status"]["lastScheduleTime"] == now
    assert api.get(cronjobs(ns, f"{name}-0", "status"))["status"]["lastScheduleTime"] == now
    api.delete(cronjobs(ns, f"{name}-0"))
    assert [c["metadata"]["name"] for c in api.list(
        cronjobs(ns), labelSelector=f"special-label={name}")] == [f"{name}-1"]
    api.delete(cronjobs(ns), labelSelector=f"special-label={name}")
    poll(lambda: not api.list(cronjobs(ns), labelSelector=f"special-label={name}"),
         what="cronjobs deleted")


# CronJob cases that wait on minute schedules run on a cluster of their own whose CronJob
# controller clock runs 60 times faster (kubesvc up --cronjob-clock-rate 60): "*/1 * * * ?"
# fires every second, upstream's 5-minute waits take 5 s.
CRON_RATE = 60.0


@pytest.fixture(scope="module")
def fast_cron(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from tests.e2e.conftest import start_cluster

    c = start_cluster(tmp_path_factory.mktemp("cron60") / "data",
                      "--cronjob-clock-rate", str(CRON_RATE), "--no-ingress")
    try:
        yield Api(c.kubeconfig)
    finally:
        c.stop()


@pytest.fixture
def cron_ns(fast_cron: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    from tests.conformance.conftest import case_namespace

    with case_namespace(fast_cron, request) as name:
        yield name


def cronjob_body(name: str, policy: str, **spec: Any) -> dict[str, Any]:
    """Upstream ``newTestCronJob`` with ``sleep 300`` pods."""
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": "*/1 * * * ?", "concurrencyPolicy": policy, **spec,
                     "jobTemplate": {"spec": {"parallelism": 1, "completions": 1,
                                              "backoffLimit": 1, "template": {"spec": {
                                                  "restartPolicy": "OnFailure",
                                                  "containers": [{
                                                      "name": "c", "image": "busybox",
                                                      "command": ["sleep", "300"]}]}}}}}}


def active_jobs(api: Api, ns: str) -> list[dict[str, Any]]:
    """Upstream ``filterActiveJobs``: the Jobs not finished."""
    return [j for j in api.list(jobs(ns)) if not any(
        c["type"] in ("Complete", "Failed") and c["status"] == "True"
        for c in (j.get("status") or {}).get("conditions") or ())]


def cron_active(api: Api, ns: str, name: str) -> list[dict[str, Any]]:
    return list((api.get(cronjobs(ns, name)).get("status") or {}).get("active") or [])


def consistently(pred: Any, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert pred(), what
        time.sleep(0.2)


def test_cronjob_should_schedule_multiple_jobs_concurrently(fast_cron: Api,
                                                            cron_ns: str) -> None:
    """[sig-apps] CronJob should schedule multiple jobs concurrently [Conformance]"""
    api, ns = fast_cron, cron_ns
    api.create(cronjobs(ns), cronjob_body("concurrent", "Allow"))
    poll(lambda: len(cron_active(api, ns, "concurrent")) >= 2, timeout=30,
         what="2 active jobs")
    assert len(active_jobs(api, ns)) >= 2
    api.delete(cronjobs(ns, "concurrent"))


def test_cronjob_should_not_schedule_jobs_when_suspended(fast_cron: Api, cron_ns: str) -> None:
    """[sig-apps] CronJob should not schedule jobs when suspended [Slow] [Conformance]"""
    api, ns = fast_cron, cron_ns
    api.create(cronjobs(ns), cronjob_body("suspended", "Allow", suspend=True))
    consistently(lambda: not cron_active(api, ns, "suspended"), 300 / CRON_RATE,
                 "no job scheduled")
    assert not api.list(jobs(ns))
    api.delete(cronjobs(ns, "suspended"))


def test_cronjob_should_not_schedule_new_jobs_when_forbidconcurrent(fast_cron: Api,
                                                                    cron_ns: str) -> None:
    """[sig-apps] CronJob should not schedule new jobs when ForbidConcurrent [Slow]
    [Conformance]"""
    api, ns = fast_cron, cron_ns
    api.create(cronjobs(ns), cronjob_body("forbid", "Forbid"))
    poll(lambda: len(cron_active(api, ns, "forbid")) == 1, timeout=30, what="a job scheduled")
    assert len(active_jobs(api, ns)) == 1
    # several schedules pass (one a second here): still that one job
    consistently(lambda: len(cron_active(api, ns, "forbid")) < 2
                 and len(api.list(jobs(ns))) == 1, 180 / CRON_RATE, "no more jobs")
    api.delete(cronjobs(ns, "forbid"))


def test_cronjob_should_replace_jobs_when_replaceconcurrent(fast_cron: Api,
                                                           cron_ns: str) -> None:
    """[sig-apps] CronJob should replace jobs when ReplaceConcurrent [Conformance]"""
    api, ns = fast_cron, cron_ns
    api.create(cronjobs(ns), cronjob_body("replace", "Replace"))
    poll(lambda: len(cron_active(api, ns, "replace")) == 1, timeout=30, what="a job scheduled")
    # (a schedule a second: the listing may fall between a replacement's delete and create)
    first = poll(lambda: (js := active_jobs(api, ns)) and len(js) == 1 and js, timeout=5,
                 interval=0.05, what="exactly one running job listed")
    old = first[0]["metadata"]["name"]

    def replaced() -> bool:  # upstream ``waitForJobReplaced``
        names = [j["metadata"]["name"] for j in api.list(jobs(ns))
                 if not j["metadata"].get("deletionTimestamp")]
        return len(names) == 1 and names[0] != old

    poll(replaced, timeout=30, what=f"job {old} replaced by a new one")
    api.delete(cronjobs(ns, "replace"))


# -- daemon_set.go

def ds_body(name: str, image: str = PAUSE, **tspec: Any) -> dict[str, Any]:
    labels = {"daemonset-name": name}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}], **tspec}}}}


def node_names(api: Api) -> list[str]:
    return [n["metadata"]["name"] for n in api.list(core(None, "nodes"))
            if not (n.get("spec") or {}).get("taints")]


def daemon_pods_on_every_node(api: Api, ns: str, name: str) -> bool:
    pods = [p for p in pods_with(api, ns, f"daemonset-name={name}")
            if not p["metadata"].get("deletionTimestamp") and is_ready(p)]
    return sorted(p["spec"].get("nodeName", "") for p in pods) == sorted(node_names(api))


def test_daemonset_should_run_and_stop_simple_daemon(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should run and stop simple daemon [Conformance]"""
    api.create(daemonsets(ns), ds_body("daemon-set"))
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set"), timeout=40,
         what="a daemon pod on every node")
    victim = pods_with(api, ns, "daemonset-name=daemon-set")[0]["metadata"]["name"]
    api.delete(core(ns, "pods", victim))
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set") and victim not in {
        p["metadata"]["name"] for p in pods_with(api, ns, "daemonset-name=daemon-set")},
        timeout=40, what="the daemon pod revived")


def test_daemonset_should_retry_creating_failed_daemon_pods(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should retry creating failed daemon pods
    [Conformance]"""
    api.create(daemonsets(ns), ds_body("daemon-set"))
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set"), timeout=40,
         what="a daemon pod on every node")
    pod = pods_with(api, ns, "daemonset-name=daemon-set")[0]
    pod["status"]["phase"] = "Failed"
    api.update(core(ns, "pods", pod["metadata"]["name"], "status"), pod)
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set") and pod["metadata"]["name"]
         not in {p["metadata"]["name"] for p in pods_with(api, ns, "daemonset-name=daemon-set")},
         timeout=40, what="the failed daemon pod replaced")


def test_daemonset_rolling_update(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should update pod when spec was updated and update
    strategy is RollingUpdate [Conformance]"""
    api.create(daemonsets(ns), ds_body("daemon-set"))
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set"), timeout=40,
         what="a daemon pod on every node")
    first = poll(lambda: ds_histories(api, ns, "daemon-set"), what="the first history")
    assert [r["revision"] for r in first] == [1]
    first_hash = first[0]["metadata"]["labels"]["controller-revision-hash"]
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods_with(
        api, ns, "daemonset-name=daemon-set")} == {first_hash}
    agnhost = "registry.k8s.io/e2e-test-images/agnhost:2.53"
    api.patch(daemonsets(ns, "daemon-set"), {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": agnhost, "args": ["pause"]}]}}}}, kind="strategic")

    def updated() -> bool:
        pods = [p for p in pods_with(api, ns, "daemonset-name=daemon-set")
                if not p["metadata"].get("deletionTimestamp")]
        return bool(pods) and all(p["spec"]["containers"][0]["image"] == agnhost
                                  for p in pods) and daemon_pods_on_every_node(
            api, ns, "daemon-set")

    poll(updated, timeout=60, what="every daemon pod updated")
    st = api.get(daemonsets(ns, "daemon-set"))["status"]
    assert st["updatedNumberScheduled"] == st["desiredNumberScheduled"]
    # upstream: two histories, the current one is revision 2 and its hash is on every pod
    revs = poll(lambda: (r := ds_histories(api, ns, "daemon-set")) and len(r) == 2 and r,
                what="2 controller revisions")
    cur = max(revs, key=lambda r: r["revision"])
    assert cur["revision"] == 2
    h2 = cur["metadata"]["labels"]["controller-revision-hash"]
    assert h2 != first_hash and cur["metadata"]["name"] == f"daemon-set-{h2}"
    assert {p["metadata"]["labels"]["controller-revision-hash"] for p in pods_with(
        api, ns, "daemonset-name=daemon-set") if not p["metadata"].get(
        "deletionTimestamp")} == {h2}


def ds_histories(api: Api, ns: str, name: str) -> list[dict[str, Any]]:
    return [r for r in api.list(gpath("apps/v1", ns, "controllerrevisions"),
                                labelSelector=f"daemonset-name={name}")
            if any(o.get("kind") == "DaemonSet" and o.get("name") == name
                   for o in r["metadata"].get("ownerReferences") or ())]


def test_daemonset_should_rollback_without_unnecessary_restarts(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should rollback without unnecessary restarts
    [Conformance]"""
    body = ds_body("daemon-set")
    body["spec"]["updateStrategy"] = {"type": "RollingUpdate"}
    api.create(daemonsets(ns), body)
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set"), timeout=40,
         what="a daemon pod on every node")
    bad = "foo:non-existent"
    api.patch(daemonsets(ns, "daemon-set"), {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": bad}]}}}}, kind="strategic")

    def live() -> list[dict[str, Any]]:
        return [p for p in pods_with(api, ns, "daemonset-name=daemon-set")
                if not p["metadata"].get("deletionTimestamp")]

    poll(lambda: any(p["spec"]["containers"][0]["image"] == bad for p in live()),
         timeout=30, what="in the middle of a rollout: a pod with the new image")
    pods = live()
    existing = [p for p in pods if p["spec"]["containers"][0]["image"] == PAUSE]
    new = [p for p in pods if p["spec"]["containers"][0]["image"] == bad]
    assert len(existing) + len(new) == len(pods), "unexpected pod image"
    assert new
    if len(node_names(api)) < 2:
        assert not existing
    else:
        assert existing
    api.patch(daemonsets(ns, "daemon-set"), {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": PAUSE}]}}}}, kind="strategic")
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set") and all(
        p["spec"]["containers"][0]["image"] == PAUSE for p in live()), timeout=40,
        what="the rollback complete")
    after = {p["metadata"]["name"] for p in live()}
    restarted = [p["metadata"]["name"] for p in existing if p["metadata"]["name"] not in after]
    assert not restarted, f"pods restarted by the rollback: {restarted}"
    # the rollback went back to revision 1's template: that revision is now number 3
    revs = ds_histories(api, ns, "daemon-set")
    assert sorted(r["revision"] for r in revs) == [2, 3]


def test_daemonset_should_list_and_delete_a_collection(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should list and delete a collection of DaemonSets
    [Conformance]"""
    api.create(daemonsets(ns), ds_body("daemon-set"))
    listed = api.list(daemonsets(None), labelSelector="")
    assert "daemon-set" in {d["metadata"]["name"] for d in listed}
    api.delete(daemonsets(ns), labelSelector="")
    poll(lambda: not api.list(daemonsets(ns)), what="daemonsets deleted")


def test_daemonset_should_verify_changes_to_a_daemon_set_status(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should verify changes to a daemon set status
    [Conformance]"""
    api.create(daemonsets(ns), ds_body("daemon-set"))
    poll(lambda: daemon_pods_on_every_node(api, ns, "daemon-set"), timeout=40,
         what="a daemon pod on every node")
    cur = api.get(daemonsets(ns, "daemon-set"))
    cond = {"type": "StatusUpdate", "status": "True", "reason": "E2E",
            "message": "Set from e2e test", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    cur["status"]["conditions"] = [cond]
    got = api.update(daemonsets(ns, "daemon-set", "status"), cur)
    assert got["status"]["conditions"][0]["type"] == "StatusUpdate"
    patched = api.patch(daemonsets(ns, "daemon-set", "status"), {"status": {"conditions": [
        {**cond, "type": "StatusPatched"}]}})
    assert patched["status"]["conditions"][0]["type"] == "StatusPatched"


# -- rc.go

def rc_body(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"name": name}, "template": {
                "metadata": {"labels": {"name": name}},
                "spec": {"containers": [{"name": name, "image": PAUSE}]}}}}


def test_rc_should_get_and_update_a_replication_controller_scale(api: Api, ns: str) -> None:
    """[sig-apps] ReplicationController should get and update a ReplicationController
    scale [Conformance]"""
    api.create(core(ns, "replicationcontrollers"), rc_body("e2e-rc", 1))
    poll(lambda: api.get(core(ns, "replicationcontrollers", "e2e-rc")).get("status", {}).get(
        "readyReplicas") == 1, timeout=30, what="rc ready")

    def rescale() -> bool:  # the controller's status writes may race the read
        scale = api.get(core(ns, "replicationcontrollers", "e2e-rc", "scale"))
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] in (1, 2)
        scale["spec"]["replicas"] = 2
        api.update(core(ns, "replicationcontrollers", "e2e-rc", "scale"), scale)
        return True

    poll(rescale, what="scale updated")
    poll(lambda: api.get(core(ns, "replicationcontrollers", "e2e-rc")).get("status", {}).get(
        "readyReplicas") == 2, timeout=30, what="rc scaled to 2")
    assert api.get(core(ns, "replicationcontrollers", "e2e-rc", "scale"))["status"][
        "selector"] == "name=e2e-rc"


def test_rc_should_adopt_matching_pods_on_creation(api: Api, ns: str) -> None:
    """[sig-apps] ReplicationController should adopt matching pods on creation
    [Conformance]"""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "pod-adoption", "labels": {"name": "pod-adoption"}},
        "spec": {"containers": [{"name": "pod-adoption", "image": PAUSE}]}}
    api.create(core(ns, "pods"), pod)
    poll(lambda: is_ready(api.get(core(ns, "pods", "pod-adoption"))), timeout=30,
         what="orphan running")
    api.create(core(ns, "replicationcontrollers"), rc_body("pod-adoption", 1))

    def adopted() -> bool:
        refs = api.get(core(ns, "pods", "pod-adoption"))["metadata"].get("ownerReferences")
        return bool(refs) and refs[0]["kind"] == "ReplicationController" and refs[0][
            "controller"]

    poll(adopted, timeout=20, what="the orphan adopted")
    assert len(pods_with(api, ns, "name=pod-adoption")) == 1


def test_rc_should_surface_a_failure_condition_on_exceeded_quota(api: Api, ns: str) -> None:
    """[sig-apps] ReplicationController should surface a failure condition on a common
    issue like exceeded quota [Conformance]"""
    name = "condition-test"
    api.create(core(ns, "resourcequotas"), {
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
        "spec": {"hard": {"pods": "2"}}})
    poll(lambda: (api.get(core(ns, "resourcequotas", name)).get("status") or {}).get(
        "hard", {}).get("pods") == "2", timeout=20, what="quota status.hard")
    api.create(core(ns, "replicationcontrollers"), rc_body(name, 3))

    def failure() -> dict[str, Any] | None:
        rc = api.get(core(ns, "replicationcontrollers", name))
        return next((c for c in (rc.get("status") or {}).get("conditions") or ()
                     if c["type"] == "ReplicaFailure"), None)

    cond = poll(failure, timeout=30, what="ReplicaFailure condition")
    assert cond is not None
    assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
    api.patch(core(ns, "replicationcontrollers", name), {"spec": {"replicas": 2}})
    poll(lambda: failure() is None, timeout=30, what="ReplicaFailure condition removed")


def test_rc_should_release_no_longer_matching_pods(api: Api, ns: str) -> None:
    """[sig-apps] ReplicationController should release no longer matching pods
    [Conformance]"""
    api.create(core(ns, "replicationcontrollers"), rc_body("pod-release", 1))
    pod = poll(lambda: next(iter(pods_with(api, ns, "name=pod-release")), None), timeout=20,
               what="the rc's pod")
    api.patch(core(ns, "pods", pod["metadata"]["name"]),
              {"metadata": {"labels": {"name": "not-matching-name"}}})

    def released() -> bool:
        refs = api.get(core(ns, "pods", pod["metadata"]["name"]))["metadata"].get(
            "ownerReferences") or []
        return not any(r.get("controller") for r in refs)

    poll(released, timeout=20, what="the pod released")


# -- disruption.go

def pdb_body(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "labels": {"e2e": "pdb"}},
            "spec": {"selector": {"matchLabels": {"foo": "bar"}}, **spec}}


def test_disruption_should_list_and_delete_a_collection(api: Api, ns: str) -> None:
    """[sig-apps] DisruptionController should list and delete a collection of
    PodDisruptionBudgets [Conformance]"""
    for i in range(3):
        api.create(pdbs(ns), pdb_body(f"pdb-{i}", minAvailable=1))
    assert len(api.list(pdbs(ns), labelSelector="e2e=pdb")) == 3
    api.delete(pdbs(ns), labelSelector="e2e=pdb")
    poll(lambda: not api.list(pdbs(ns)), what="pdbs deleted")


def test_disruption_should_observe_status_and_update_patch(api: Api, ns: str) -> None:
    """[sig-apps] DisruptionController should update/patch PodDisruptionBudget status
    [Conformance] (with the create and observe-status steps of its neighbours)"""
    api.create(pdbs(ns), pdb_body("foo", minAvailable="50%"))
    poll(lambda: (api.get(pdbs(ns, "foo")).get("status") or {}).get(
        "observedGeneration") == 1, what="pdb processed")
    for i in range(2):
        api.create(core(ns, "pods"), {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": f"pod-{i}", "labels": {"foo": "bar"}},
            "spec": {"containers": [{"name": "c", "image": PAUSE}]}})
    # Bare pods: a percentage needs their controllers' scale, so the budget fails safe.
    poll(lambda: [c.get("reason") for c in api.get(pdbs(ns, "foo")).get("status", {}).get(
        "conditions") or ()] == ["SyncFailed"], timeout=20,
         what="sync failed for pods without controller")
    api.update(pdbs(ns, "foo"), {**api.get(pdbs(ns, "foo")),
                                 "spec": {**pdb_body("")["spec"], "minAvailable": 2}})
    poll(lambda: api.get(pdbs(ns, "foo")).get("status", {}).get("currentHealthy") == 2, timeout=30,
         what="2 healthy")
    st = api.get(pdbs(ns, "foo"))["status"]
    assert (st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (2, 2, 0)
    patched = api.patch(pdbs(ns, "foo", "status"), {"status": {"conditions": [
        {"type": "StatusPatched", "status": "True", "reason": "E2E", "message": "",
         "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    assert "StatusPatched" in {c["type"] for c in patched["status"]["conditions"]}


def test_disruption_should_block_an_eviction_until_the_pdb_allows_it(api: Api, ns: str
                                                                     ) -> None:
    """[sig-apps] DisruptionController should block an eviction until the PDB is updated
    to allow it [Conformance]"""
    api.create(pdbs(ns), pdb_body("foo", minAvailable="100%"))
    api.create(core(ns, "replicationcontrollers"), {**rc_body("rs", 3), "spec": {
        **rc_body("rs", 3)["spec"], "selector": {"foo": "bar"},
        "template": {**rc_body("rs", 3)["spec"]["template"],
                     "metadata": {"labels": {"foo": "bar"}}}}})
    poll(lambda: api.get(pdbs(ns, "foo")).get("status", {}).get("currentHealthy") == 3, timeout=40,
         what="3 healthy")
    pod = pods_with(api, ns, "foo=bar")[0]["metadata"]["name"]
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                "metadata": {"name": pod, "namespace": ns}}
    with pytest.raises(ApiError) as exc:
        api.create(core(ns, "pods", pod, "eviction"), eviction)
    assert exc.value.status == 429
    assert exc.value.body["message"] == ("Cannot evict pod as it would violate the pod's "
                                         "disruption budget.")
    assert exc.value.body["details"]["causes"][0]["reason"] == "DisruptionBudget"
    cur = api.get(pdbs(ns, "foo"))
    cur["spec"]["minAvailable"] = 2
    api.update(pdbs(ns, "foo"), cur)
    poll(lambda: api.get(pdbs(ns, "foo")).get("status", {}).get("disruptionsAllowed") == 1,
         timeout=20, what="one disruption allowed")
    out = api.create(core(ns, "pods", pod, "eviction"), eviction)
    assert out["status"] == "Success"
    poll(lambda: pod not in {p["metadata"]["name"] for p in pods_with(api, ns, "foo=bar")
                             if not p["metadata"].get("deletionTimestamp")},
         what="the pod evicted")


def test_job_should_adopt_matching_orphans_and_release_non_matching_pods(api: Api, ns: str
                                                                         ) -> None:
    """[sig-apps] Job should adopt matching orphans and release non-matching pods
    [Conformance]"""
    api.create(jobs(ns), job_body("adopt-release", command="sleep 60", parallelism=2,
                                  completions=None))
    sel = "batch.kubernetes.io/job-name=adopt-release"
    poll(lambda: len([p for p in pods_with(api, ns, sel) if p["status"]["phase"] == "Running"])
         == 2, timeout=30, what="2 running pods")
    pod = pods_with(api, ns, sel)[0]
    name = pod["metadata"]["name"]
    api.patch(core(ns, "pods", name), {"metadata": {"ownerReferences": None}})

    def owned_by_job() -> bool:
        refs = api.get(core(ns, "pods", name))["metadata"].get("ownerReferences") or []
        return any(r["kind"] == "Job" and r.get("controller") for r in refs)

    poll(owned_by_job, timeout=20, what="the orphan re-adopted")
    labels = dict(api.get(core(ns, "pods", name))["metadata"]["labels"])
    api.patch(core(ns, "pods", name), {"metadata": {"labels": {
        k: None for k in labels if "controller-uid" in k}}})
    poll(lambda: not owned_by_job(), timeout=20, what="the pod released")


def test_disruption_should_create_a_pdb(api: Api, ns: str) -> None:
    """[sig-apps] DisruptionController should create a PodDisruptionBudget [Conformance]"""
    api.create(pdbs(ns), pdb_body("foo", minAvailable=1))
    poll(lambda: (api.get(pdbs(ns, "foo")).get("status") or {}).get(
        "observedGeneration") == 1, what="pdb processed")
    cur = api.get(pdbs(ns, "foo"))
    cur["spec"]["selector"] = {"matchLabels": {"foo": "bar", "x": "y"}}
    api.update(pdbs(ns, "foo"), cur)
    got = api.patch(pdbs(ns, "foo"), {"spec": {"minAvailable": 2}})
    assert got["spec"]["minAvailable"] == 2 and got["metadata"]["generation"] == 3
    poll(lambda: api.get(pdbs(ns, "foo")).get("status", {}).get("observedGeneration") == 3,
         what="pdb reprocessed")
    api.delete(pdbs(ns, "foo"))

    def gone() -> bool:
        try:
            api.get(pdbs(ns, "foo"))
        except ApiError as exc:
            return exc.status == 404
        return False

    poll(gone, what="pdb deleted")


def test_disruption_should_observe_pdb_status_updated(api: Api, ns: str) -> None:
    """[sig-apps] DisruptionController should observe PodDisruptionBudget status updated
    [Conformance]"""
    api.create(pdbs(ns), pdb_body("foo", minAvailable=1))
    body = rc_body("rs", 3)
    body["spec"]["selector"] = {"foo": "bar"}
    body["spec"]["template"]["metadata"]["labels"] = {"foo": "bar"}
    api.create(core(ns, "replicationcontrollers"), body)
    poll(lambda: api.get(pdbs(ns, "foo")).get("status", {}).get("disruptionsAllowed") == 2,
         timeout=40, what="2 disruptions allowed")
    st = api.get(pdbs(ns, "foo"))["status"]
    assert (st["currentHealthy"], st["desiredHealthy"], st["expectedPods"]) == (3, 1, 3)
    assert st["conditions"][0]["type"] == "DisruptionAllowed"
    assert st["conditions"][0]["status"] == "True"


def test_rc_should_serve_a_basic_image_on_each_replica(api: Api, ns: str) -> None:
    """[sig-apps] ReplicationController should serve a basic image on each replica with a
    public image [Conformance]"""
    name = unique("my-hostname-basic")
    body = rc_body(name, 1)
    body["spec"]["template"]["spec"]["containers"] = [{
        "name": name, "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
        "args": ["serve-hostname"], "ports": [{"containerPort": 9376}]}]
    api.create(core(ns, "replicationcontrollers"), body)
    poll(lambda: len([p for p in pods_with(api, ns, f"name={name}") if is_ready(p)]) == 1,
         timeout=30, what="the replica running")
    for p in pods_with(api, ns, f"name={name}"):
        pod = p["metadata"]["name"]

        def answers(pod: str = pod) -> bool:
            got = api.get(core(ns, "pods", f"{pod}:9376", "proxy/"))
            return bool(got.get("message", "").strip() == pod)

        poll(answers, timeout=20, what=f"{pod} answers with its name through the proxy")


def test_rc_should_test_the_lifecycle_of_a_replication_controller(api: Api, ns: str) -> None:
    """[sig-apps] ReplicationController should test the lifecycle of a
    ReplicationController [Conformance]"""
    name = "rc-test"
    body = rc_body(name, 1)
    body["metadata"]["labels"] = {"test-rc-static": "true"}
    api.create(core(ns, "replicationcontrollers"), body)
    path = core(ns, "replicationcontrollers", name)
    poll(lambda: api.get(path).get("status", {}).get("readyReplicas") == 1, timeout=30,
         what="rc available")
    api.patch(path, {"metadata": {"labels": {"test-rc": "patched"}}, "spec": {
        "replicas": 2, "template": {"metadata": {"labels": {"name": name}}}}}, kind="strategic")
    poll(lambda: api.get(path).get("status", {}).get("readyReplicas") == 2, timeout=30,
         what="rc patched to 2")
    st = api.patch(core(ns, "replicationcontrollers", name, "status"),
                   {"status": {"readyReplicas": 0, "availableReplicas": 0}})
    assert st["status"]["readyReplicas"] == 0
    scale = api.get(core(ns, "replicationcontrollers", name, "scale"))
    api.patch(core(ns, "replicationcontrollers", name, "scale"),
              {"spec": {"replicas": 3}, "metadata": {"resourceVersion": None}})
    assert scale["status"]["replicas"] >= 1
    poll(lambda: api.get(path).get("status", {}).get("readyReplicas") == 3, timeout=30,
         what="rc scaled to 3")
    found = api.list(core(None, "replicationcontrollers"), labelSelector="test-rc-static=true")
    assert [r["metadata"]["name"] for r in found] == [name]
    api.delete(core(ns, "replicationcontrollers"), labelSelector="test-rc-static=true")
    poll(lambda: not api.list(core(ns, "replicationcontrollers")), what="rc deleted")


def test_daemonset_should_run_and_stop_complex_daemon(api: Api, ns: str) -> None:
    """[sig-apps] Daemon set [Serial] should run and stop complex daemon [Conformance]"""
    node = node_names(api)[0]
    label = f"daemonset-color-{ns[-5:]}"
    api.create(daemonsets(ns), ds_body("daemon-set", nodeSelector={label: "blue"}))
    try:
        time.sleep(1)
        assert not pods_with(api, ns, "daemonset-name=daemon-set")  # no node is blue
        api.patch(core(None, "nodes", node), {"metadata": {"labels": {label: "blue"}}})
        poll(lambda: [p["spec"].get("nodeName") for p in pods_with(
            api, ns, "daemonset-name=daemon-set") if is_ready(p)] == [node], timeout=40,
            what="a daemon pod on the blue node")
        api.patch(core(None, "nodes", node), {"metadata": {"labels": {label: "green"}}})
        poll(lambda: not [p for p in pods_with(api, ns, "daemonset-name=daemon-set")
                          if not p["metadata"].get("deletionTimestamp")], timeout=40,
             what="the daemon pod unscheduled from the no longer blue node")
        api.patch(daemonsets(ns, "daemon-set"), {"spec": {
            "template": {"spec": {"nodeSelector": {label: "green"}}},
            "updateStrategy": {"type": "RollingUpdate"}}}, kind="strategic")
        poll(lambda: [p["spec"].get("nodeName") for p in pods_with(
            api, ns, "daemonset-name=daemon-set") if is_ready(p)] == [node], timeout=40,
            what="a daemon pod on the green node")
    finally:
        api.patch(core(None, "nodes", node), {"metadata": {"labels": {label: None}}})
