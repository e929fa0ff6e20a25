"""Upstream ``test/e2e/apps/statefulset.go`` (Kubernetes v1.32): the [Conformance] cases of
``[sig-apps] StatefulSet Basic StatefulSet functionality`` that kubesvc supports, written
anew against it: rolling updates and roll backs, canary and phased rolling updates with a
partition, the scale subresource, list/patch/delete-collection, and the status endpoints.
The cases that make pods unhealthy with ``kubectl exec`` (predictable-order scaling, burst
scaling) move the index.html a Python http.server serves away, as upstream does httpd's;
"recreate evicted" relies on the node agent rejecting a pod whose host port is taken.
Run by pytest; uses :mod:`.framework` (the agnhost image stands in for httpd elsewhere).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.framework import AGNHOST, Api, ApiError, core, poll
from tests.e2e.conftest import Cluster

NEW_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.52"


def apps(ns: str | None, resource: str = "statefulsets", name: str = "",
         sub: str = "") -> str:
    base = "/apis/apps/v1" + (f"/namespaces/{ns}" if ns else "") + f"/{resource}"
    return base + (f"/{name}" if name else "") + (f"/{sub}" if sub else "")


def new_statefulset(name: str, replicas: int, labels: dict[str, str],
                    **spec: Any) -> dict[str, Any]:
    """``e2estatefulset.NewStatefulSet`` with a headless governing Service name."""
    return {"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": name, "labels": dict(labels)},
            "spec": {"replicas": replicas, "serviceName": "test",
                     "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)}, "spec": {
                         "containers": [{"name": "webserver", "image": AGNHOST,
                                         "args": ["netexec", "--http-port=8080"]}]}},
                     **spec}}


@pytest.fixture
def sts_ns(api: Api, ns: str) -> Iterator[str]:
    """The case namespace with its headless Service; StatefulSets go before the pods."""
    api.create(core(ns, "services"), {"apiVersion": "v1", "kind": "Service",
                                      "metadata": {"name": "test"},
                                      "spec": {"clusterIP": "None", "selector": {"baz": "blah"},
                                               "ports": [{"port": 80}]}})
    yield ns
    for s in api.list(apps(ns)):
        try:
            api.delete(apps(ns, name=s["metadata"]["name"]))
        except ApiError:
            pass


def pods_of(api: Api, ns: str, labels: dict[str, str]) -> dict[str, dict[str, Any]]:
    sel = ",".join(f"{k}={v}" for k, v in labels.items())
    return {p["metadata"]["name"]: p for p in api.list(core(ns, "pods"), labelSelector=sel)
            if not p["metadata"].get("deletionTimestamp")}


def running_and_ready(api: Api, ns: str, name: str, n: int,
                      labels: dict[str, str], timeout: float = 90) -> dict[str, Any]:
    """``WaitForRunningAndReady`` plus the status catching up."""
    def ok() -> dict[str, Any] | None:
        s = api.get(apps(ns, name=name))
        st = s.get("status") or {}
        pods = pods_of(api, ns, labels)
        ready = [p for p in pods.values() if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (p.get("status") or {}).get("conditions") or [])]
        good = (len(pods) == n and len(ready) == n and st.get("readyReplicas") == n
                and st.get("observedGeneration", 0) >= s["metadata"]["generation"])
        return s if good else None
    return poll(ok, timeout=timeout, what=f"{n} pods of {name} running and ready")


def revision(p: dict[str, Any]) -> str:
    return str(p["metadata"]["labels"].get("controller-revision-hash"))


def wait_rolled(api: Api, ns: str, name: str, labels: dict[str, str],
                n: int) -> dict[str, Any]:
    """``WaitForRollingUpdate``: currentRevision == updateRevision and every pod on it."""
    def done() -> dict[str, Any] | None:
        s = api.get(apps(ns, name=name))
        st = s.get("status") or {}
        pods = pods_of(api, ns, labels)
        ok = (st.get("observedGeneration", 0) >= s["metadata"]["generation"]
              and st.get("currentRevision") and st.get("currentRevision") == st.get(
            "updateRevision") and len(pods) == n and st.get("readyReplicas") == n
            and all(revision(p) == st["updateRevision"] for p in pods.values()))
        return s if ok else None
    return poll(done, timeout=120, what="rolling update to finish")


def test_should_perform_rolling_updates_and_roll_backs_of_template_modifications(
        api: Api, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should
    perform rolling updates and roll backs of template modifications [Conformance]"""
    ns, labels = sts_ns, {"foo": "bar", "baz": "blah"}
    api.create(apps(ns), new_statefulset("ss2", 3, labels))
    ss = running_and_ready(api, ns, "ss2", 3, labels)
    current = ss["status"]["currentRevision"]
    assert ss["status"]["updateRevision"] == current
    for p in pods_of(api, ns, labels).values():
        assert revision(p) == current
    api.patch(apps(ns, name="ss2"), {"spec": {"template": {"spec": {"containers": [
        {"name": "webserver", "image": NEW_IMAGE}]}}}}, kind="strategic")
    ss = wait_rolled(api, ns, "ss2", labels, 3)
    updated = ss["status"]["updateRevision"]
    assert updated != current
    for p in pods_of(api, ns, labels).values():
        assert p["spec"]["containers"][0]["image"] == NEW_IMAGE
    # roll back to the previous template: the old revision comes back as current
    api.patch(apps(ns, name="ss2"), {"spec": {"template": {"spec": {"containers": [
        {"name": "webserver", "image": AGNHOST}]}}}}, kind="strategic")
    ss = wait_rolled(api, ns, "ss2", labels, 3)
    assert ss["status"]["currentRevision"] == current
    for p in pods_of(api, ns, labels).values():
        assert p["spec"]["containers"][0]["image"] == AGNHOST and revision(p) == current


def test_should_perform_canary_updates_and_phased_rolling_updates_of_template_modifications(
        api: Api, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should
    perform canary updates and phased rolling updates of template modifications
    [Conformance]"""
    ns, labels = sts_ns, {"foo": "bar", "baz": "blah"}
    api.create(apps(ns), new_statefulset("ss2", 3, labels, updateStrategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 3}}))
    ss = running_and_ready(api, ns, "ss2", 3, labels)
    current = ss["status"]["currentRevision"]
    # a partition above the replicas: the template changes, no pod does
    api.patch(apps(ns, name="ss2"), {"spec": {"template": {"spec": {"containers": [
        {"name": "webserver", "image": NEW_IMAGE}]}}}}, kind="strategic")
    poll(lambda: api.get(apps(ns, name="ss2"))["status"]["updateRevision"] != current,
         what="a new update revision")
    updated = api.get(apps(ns, name="ss2"))["status"]["updateRevision"]
    for p in pods_of(api, ns, labels).values():
        assert p["spec"]["containers"][0]["image"] == AGNHOST and revision(p) == current
    # canary: partition 2 updates ss2-2 only
    api.patch(apps(ns, name="ss2"), {"spec": {"updateStrategy": {"rollingUpdate": {
        "partition": 2}}}})

    def canary() -> bool:
        pods = pods_of(api, ns, labels)
        return len(pods) == 3 and revision(pods["ss2-2"]) == updated and all(
            revision(pods[f"ss2-{i}"]) == current for i in (0, 1))
    poll(canary, timeout=90, what="ss2-2 on the update revision, the others not")
    running_and_ready(api, ns, "ss2", 3, labels)
    # a deleted pod below the partition comes back at the current revision
    api.delete(core(ns, "pods", "ss2-0"))
    poll(lambda: (p := pods_of(api, ns, labels).get("ss2-0")) is not None
         and revision(p) == current, timeout=60, what="ss2-0 restored at current")
    # phased: lower the partition one ordinal at a time
    for part in (1, 0):
        api.patch(apps(ns, name="ss2"), {"spec": {"updateStrategy": {"rollingUpdate": {
            "partition": part}}}})

        def phased(part: int = part) -> bool:
            pods = pods_of(api, ns, labels)
            return len(pods) == 3 and all(
                revision(pods[f"ss2-{i}"]) == (updated if i >= part else current)
                for i in range(3))
        poll(phased, timeout=90, what=f"partition {part} rolled")
        running_and_ready(api, ns, "ss2", 3, labels)


def test_should_have_a_working_scale_subresource(api: Api, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should have
    a working scale subresource [Conformance]"""
    ns, labels = sts_ns, {"foo": "bar", "baz": "blah"}
    api.create(apps(ns), new_statefulset("ss", 1, labels))
    running_and_ready(api, ns, "ss", 1, labels)
    scale = api.get(apps(ns, name="ss", sub="scale"))
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
    assert scale["status"]["selector"] == "baz=blah,foo=bar"
    scale["spec"]["replicas"] = 2
    updated = api.update(apps(ns, name="ss", sub="scale"), scale)
    assert updated["spec"]["replicas"] == 2
    assert api.get(apps(ns, name="ss"))["spec"]["replicas"] == 2
    api.patch(apps(ns, name="ss", sub="scale"), {"spec": {"replicas": 4}})
    assert api.get(apps(ns, name="ss"))["spec"]["replicas"] == 4
    running_and_ready(api, ns, "ss", 4, labels)


def test_should_list_patch_and_delete_a_collection_of_statefulsets(
        api: Api, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should list,
    patch and delete a collection of StatefulSets [Conformance]"""
    ns = sts_ns
    labels = {"test-ss": "patched"}
    api.create(apps(ns), new_statefulset("test-ss", 1, {"e2e": "testing", **labels}))
    running_and_ready(api, ns, "test-ss", 1, {"e2e": "testing"})
    listed = api.list(apps(None), labelSelector="e2e=testing")
    assert [s["metadata"]["name"] for s in listed if s["metadata"]["namespace"] == ns] == [
        "test-ss"]
    api.patch(apps(ns, name="test-ss"), {"metadata": {"labels": {"test-ss": "patched"}},
                                         "spec": {"replicas": 2, "template": {"spec": {
                                             "terminationGracePeriodSeconds": 1}}}},
              kind="strategic")
    got = api.get(apps(ns, name="test-ss"))
    assert got["metadata"]["labels"]["test-ss"] == "patched"
    assert got["spec"]["replicas"] == 2
    api.delete(apps(ns), labelSelector="test-ss=patched")
    poll(lambda: not api.list(apps(ns), labelSelector="test-ss=patched"),
         what="collection deleted")


def test_should_validate_statefulset_status_endpoints(api: Api, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] should
    validate Statefulset Status endpoints [Conformance]"""
    ns, labels = sts_ns, {"e2e": "testing"}
    api.create(apps(ns), new_statefulset("test-ss", 1, labels))
    running_and_ready(api, ns, "test-ss", 1, labels)
    status = api.get(apps(ns, name="test-ss", sub="status"))
    assert status["status"]["replicas"] == 1
    body = copy.deepcopy(status)
    body["status"]["conditions"] = [{"type": "StatusUpdate", "status": "True",
                                     "reason": "E2E", "message": "Set from e2e test"}]
    updated = api.update(apps(ns, name="test-ss", sub="status"), body)
    assert {"type": "StatusUpdate", "status": "True", "reason": "E2E",
            "message": "Set from e2e test"}.items() <= updated["status"]["conditions"][0].items()
    api.patch(apps(ns, name="test-ss", sub="status"), {"status": {"conditions": [
        {"type": "StatusPatched", "status": "True"}]}}, kind="strategic")
    got = api.get(apps(ns, name="test-ss", sub="status"))
    types = [c["type"] for c in got["status"].get("conditions") or []]
    assert "StatusPatched" in types


# -- the unhealthy-pod cases: upstream's httpd with an HTTP readiness probe on /index.html,
# made unhealthy by moving index.html away with kubectl exec (here a Python http.server
# serving the pod's own /tmp/htdocs stands in for httpd's htdocs)

HTDOCS = "/tmp/htdocs"


def webserver_set(name: str, replicas: int, labels: dict[str, str],
                  **spec: Any) -> dict[str, Any]:
    """``NewStatefulSet`` + ``setHTTPProbe``: readiness is ``GET /index.html``, every 1 s."""
    ss = new_statefulset(name, replicas, labels, **spec)
    ss["spec"]["template"]["spec"]["containers"] = [{
        "name": "webserver", "image": "busybox",
        "command": ["sh", "-c", f"mkdir -p {HTDOCS} && echo ok > {HTDOCS}/index.html && exec "
                    f"python3 -m http.server 8080 --bind $POD_IP --directory {HTDOCS}"],
        "readinessProbe": {"httpGet": {"path": "/index.html", "port": 8080},
                           "periodSeconds": 1, "successThreshold": 1,
                           "failureThreshold": 1}}]
    return ss


def _exec_all(cluster: Cluster, api: Api, ns: str, labels: dict[str, str],
              script: str) -> None:
    for name in sorted(pods_of(api, ns, labels)):
        cluster.kubectl("-n", ns, "exec", name, "--", "sh", "-c", script, check=False)


def break_probe(cluster: Cluster, api: Api, ns: str, labels: dict[str, str]) -> None:
    _exec_all(cluster, api, ns, labels, f"mv -v {HTDOCS}/index.html /tmp/ || true")


def restore_probe(cluster: Cluster, api: Api, ns: str, labels: dict[str, str]) -> None:
    _exec_all(cluster, api, ns, labels, f"mv -v /tmp/index.html {HTDOCS}/ || true")


def _ready(p: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in (p.get("status") or {}).get("conditions") or [])


def running_and_not_ready(api: Api, ns: str, n: int, labels: dict[str, str]) -> None:
    poll(lambda: (ps := pods_of(api, ns, labels)) and len(ps) == n and all(
        (p.get("status") or {}).get("phase") == "Running" and not _ready(p)
        for p in ps.values()), timeout=30, what=f"{n} pods running and not ready")


def status_ready_replicas(api: Api, ns: str, name: str, n: int) -> None:
    poll(lambda: int((api.get(apps(ns, name=name)).get("status") or {}).get(
        "readyReplicas") or 0) == n, timeout=30, what=f"readyReplicas {n}")


def confirm_pod_count(api: Api, ns: str, n: int, labels: dict[str, str],
                      seconds: float) -> None:
    """``confirmStatefulPodCount`` (hard): exactly ``n`` pods all along."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        got = len(pods_of(api, ns, labels))
        assert got == n, f"{got} pods, want {n} for {seconds:.0f}s"
        time.sleep(0.5)


class PodEvents:
    """The pods' watch events from ``resource_version`` on, collected in a thread."""

    def __init__(self, api: Api, ns: str, labels: dict[str, str], resource_version: str):
        self.events: list[tuple[str, str]] = []
        sel = ",".join(f"{k}={v}" for k, v in labels.items())

        def run() -> None:
            with contextlib.suppress(Exception):
                for ev in api.watch(core(ns, "pods"), resource_version=resource_version,
                                    label_selector=sel, timeout=90):
                    self.events.append((ev["type"], ev["object"]["metadata"]["name"]))

        threading.Thread(target=run, daemon=True).start()

    def in_order(self, typ: str, names: list[str]) -> bool:
        """Upstream's ``watchtools.Until``: the ``typ`` events name ``names`` in order."""
        want = list(names)
        for t, n in list(self.events):
            if t == typ and want and n == want[0]:
                want.pop(0)
        return not want


def pod_list_version(api: Api, ns: str, labels: dict[str, str]) -> str:
    sel = ",".join(f"{k}={v}" for k, v in labels.items())
    return str(api.get(core(ns, "pods"), labelSelector=sel)["metadata"]["resourceVersion"])


def scale(api: Api, ns: str, name: str, n: int) -> None:
    api.patch(apps(ns, name=name), {"spec": {"replicas": n}})


def test_scaling_should_happen_in_predictable_order_and_halt_if_any_stateful_pod_is_unhealthy(
        api: Api, cluster: Cluster, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] Scaling
    should happen in predictable order and halt if any stateful pod is unhealthy [Slow]
    [Conformance]"""
    ns, labels = sts_ns, {"foo": "bar", "baz": "blah"}
    events = PodEvents(api, ns, labels, pod_list_version(api, ns, labels))
    api.create(apps(ns), webserver_set("ss", 1, labels))
    running_and_ready(api, ns, "ss", 1, labels)
    # scale up halts with an unhealthy pod
    break_probe(cluster, api, ns, labels)
    running_and_not_ready(api, ns, 1, labels)
    status_ready_replicas(api, ns, "ss", 0)
    scale(api, ns, "ss", 3)
    confirm_pod_count(api, ns, 1, labels, 10)
    restore_probe(cluster, api, ns, labels)
    running_and_ready(api, ns, "ss", 3, labels)
    poll(lambda: events.in_order("ADDED", ["ss-0", "ss-1", "ss-2"]), timeout=10,
         what="scaled up in order")
    # scale down halts with an unhealthy pod
    events = PodEvents(api, ns, labels, pod_list_version(api, ns, labels))
    break_probe(cluster, api, ns, labels)
    status_ready_replicas(api, ns, "ss", 0)
    running_and_not_ready(api, ns, 3, labels)
    scale(api, ns, "ss", 0)
    confirm_pod_count(api, ns, 3, labels, 10)
    restore_probe(cluster, api, ns, labels)
    poll(lambda: not pods_of(api, ns, labels) and int((api.get(apps(ns, name="ss"))
                                                       .get("status") or {}).get("replicas")
                                                      or 0) == 0,
         timeout=60, what="scaled down to 0")
    poll(lambda: events.in_order("DELETED", ["ss-2", "ss-1", "ss-0"]), timeout=30,
         what="scaled down in reverse order")


def test_burst_scaling_should_run_to_completion_even_with_unhealthy_pods(
        api: Api, cluster: Cluster, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] Burst
    scaling should run to completion even with unhealthy pods [Slow] [Conformance]"""
    ns, labels = sts_ns, {"foo": "bar", "baz": "blah"}
    api.create(apps(ns), webserver_set("ss", 1, labels, podManagementPolicy="Parallel"))
    running_and_ready(api, ns, "ss", 1, labels)
    break_probe(cluster, api, ns, labels)
    running_and_not_ready(api, ns, 1, labels)
    status_ready_replicas(api, ns, "ss", 0)
    scale(api, ns, "ss", 3)
    # upstream's soft confirmStatefulPodCount: the set goes to 3 pods despite ss-0
    poll(lambda: len(pods_of(api, ns, labels)) == 3, timeout=10,
         what="3 pods with an unhealthy one")
    restore_probe(cluster, api, ns, labels)
    running_and_ready(api, ns, "ss", 3, labels)
    break_probe(cluster, api, ns, labels)
    status_ready_replicas(api, ns, "ss", 0)
    running_and_not_ready(api, ns, 3, labels)
    scale(api, ns, "ss", 0)
    poll(lambda: not pods_of(api, ns, labels), timeout=60,
         what="scaled down to 0 despite unhealthy pods")
    poll(lambda: int((api.get(apps(ns, name="ss")).get("status") or {}).get("replicas")
                     or 0) == 0, timeout=20, what="status.replicas 0")


def test_should_recreate_evicted_statefulset(api: Api, sts_ns: str) -> None:
    """[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] Should
    recreate evicted statefulset [Conformance]"""
    ns, labels = sts_ns, {"foo": "bar", "baz": "blah"}
    node = next(n["metadata"]["name"] for n in api.list(core(None, "nodes"))
                if not (n.get("spec") or {}).get("unschedulable"))
    conflict = {"hostPort": 21017, "containerPort": 21017, "name": "conflict"}
    api.create(core(ns, "pods"), {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": "test-pod"},
                                  "spec": {"nodeName": node, "containers": [{
                                      "name": "webserver", "image": AGNHOST,
                                      "args": ["pause"], "ports": [conflict]}]}})
    poll(lambda: api.get(core(ns, "pods", "test-pod"))["status"].get("phase") == "Running",
         timeout=30, what="test-pod running")
    ss = new_statefulset("ss", 1, labels)
    tspec = ss["spec"]["template"]["spec"]
    tspec["containers"][0]["ports"] = [conflict]
    tspec["nodeName"] = node
    rv = str(api.get(core(ns, "pods"))["metadata"]["resourceVersion"])
    seen: dict[str, Any] = {"uid": "", "deleted": False, "reason": ""}

    def watch() -> None:
        with contextlib.suppress(Exception):
            for ev in api.watch(core(ns, "pods"), resource_version=rv, timeout=60):
                pod = ev["object"]
                if pod["metadata"]["name"] != "ss-0":
                    continue
                if ev["type"] == "DELETED":
                    if seen["uid"]:
                        seen["deleted"] = True
                        return
                    continue
                seen["uid"] = pod["metadata"]["uid"]
                seen["reason"] = (pod.get("status") or {}).get("reason") or seen["reason"]

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    api.create(apps(ns), ss)
    poll(lambda: seen["deleted"], timeout=30,
         what="ss-0 made and deleted at least once (rejected by the node)")
    assert seen["reason"] == "NodePorts", seen
    first_uid = seen["uid"]
    api.delete(core(ns, "pods", "test-pod"), gracePeriodSeconds=0)

    def recreated() -> bool:
        pod = api.get(core(ns, "pods", "ss-0"))
        return pod["status"].get("phase") == "Running" and pod["metadata"]["uid"] != first_uid

    poll(recreated, timeout=60, interval=1, what="ss-0 recreated and running")
