"""e2e (issue 21): Jobs, CronJobs, ReplicationControllers, DaemonSets and disruption budgets
with the real ``kubectl`` against ``kubesvc up`` (process runtime; pods are small shell
commands), sharing one cluster per module. A DaemonSet behind an
``externalTrafficPolicy: Local`` NodePort Service runs on a 3-node netns cluster (root and
``ip netns`` needed; skipped with the reason otherwise). The drain test runs last: it
cordons the node.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest

from kubesvc.cli.netns import Topology

from .conftest import KUBESVC, ROOT, Cluster, start_cluster


def apply(c: Cluster, manifest: str) -> None:
    c.kubectl("apply", "-f", "-", input=textwrap.dedent(manifest))


def job_status(c: Cluster, name: str) -> dict[str, Any]:
    st: dict[str, Any] = c.kubectl_json("get", "job", name).get("status") or {}
    return st


def test_job_completions_and_parallelism_then_wait(cluster: Cluster) -> None:
    apply(cluster, """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: three}
        spec:
          completions: 3
          parallelism: 2
          template:
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: busybox, command: ["sh", "-c", "sleep 0.2; exit 0"]}
        """)
    cluster.kubectl("wait", "--for=condition=complete", "job/three", "--timeout=40s",
                    timeout=50)
    st = job_status(cluster, "three")
    assert st["succeeded"] == 3 and st["active"] == 0, st
    out = cluster.kubectl("get", "job", "three").stdout.split("\n")
    assert out[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert out[1].split()[:3] == ["three", "Complete", "3/3"]
    pods = cluster.kubectl_json("get", "pods", "-l", "batch.kubernetes.io/job-name=three")
    assert len(pods["items"]) == 3
    assert {p["status"]["phase"] for p in pods["items"]} == {"Succeeded"}


def test_indexed_job_sees_its_index(cluster: Cluster) -> None:
    apply(cluster, """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: ix}
        spec:
          completions: 3
          parallelism: 3
          completionMode: Indexed
          template:
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: busybox, command: ["sh", "-c", "echo index=$JOB_COMPLETION_INDEX"]}
        """)
    cluster.kubectl("wait", "--for=condition=complete", "job/ix", "--timeout=40s", timeout=50)
    assert job_status(cluster, "ix")["completedIndexes"] == "0-2"
    pods = cluster.kubectl_json("get", "pods", "-l", "batch.kubernetes.io/job-name=ix")["items"]
    seen = set()
    for p in pods:
        idx = p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == idx
        assert p["spec"]["hostname"] == f"ix-{idx}"
        logs = cluster.kubectl("logs", p["metadata"]["name"]).stdout.strip()
        assert logs == f"index={idx}"
        seen.add(idx)
    assert seen == {"0", "1", "2"}


def test_failing_job_hits_backoff_limit(cluster: Cluster) -> None:
    apply(cluster, """
        apiVersion: batch/v1
        kind: Job
        metadata: {name: bad}
        spec:
          backoffLimit: 1
          template:
            spec:
              restartPolicy: Never
              containers:
              - {name: c, image: busybox, command: ["sh", "-c", "exit 3"]}
        """)
    # The replacement waits upstream's 10 s back-off.
    cluster.kubectl("wait", "--for=condition=failed", "job/bad", "--timeout=60s", timeout=70)
    st = job_status(cluster, "bad")
    assert st["failed"] == 2, st
    failed = next(c for c in st["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert failed["message"] == "Job has reached the specified backoff limit"
    assert cluster.kubectl("get", "job", "bad").stdout.split("\n")[1].split()[1] == "Failed"


def test_cronjob_create_job_from(cluster: Cluster) -> None:
    cluster.kubectl("create", "cronjob", "tick", "--image=busybox", "--schedule=0 0 1 1 *",
                    "--", "sh", "-c", "exit 0")
    row = cluster.kubectl("get", "cronjob", "tick").stdout.split("\n")
    assert row[0].split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                              "LAST", "SCHEDULE", "AGE"]
    cluster.kubectl("create", "job", "tick-now", "--from=cronjob/tick")
    cluster.kubectl("wait", "--for=condition=complete", "job/tick-now", "--timeout=40s",
                    timeout=50)
    job = cluster.kubectl_json("get", "job", "tick-now")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cluster.wait_for(lambda: (cluster.kubectl_json("get", "cronjob", "tick").get("status")
                              or {}).get("lastSuccessfulTime"), what="lastSuccessfulTime")
    bad = cluster.kubectl("create", "cronjob", "tz", "--image=busybox",
                          "--schedule=TZ=UTC 0 0 * * *", check=False)
    assert bad.returncode != 0
    assert "cannot use TZ or CRON_TZ in schedule, use timeZone field instead" in bad.stderr


def test_replication_controller_scale(cluster: Cluster) -> None:
    apply(cluster, """
        apiVersion: v1
        kind: ReplicationController
        metadata: {name: rc}
        spec:
          replicas: 1
          selector: {app: rc}
          template:
            metadata: {labels: {app: rc}}
            spec:
              containers: [{name: c, image: registry.k8s.io/pause:3.9}]
        """)
    cluster.kubectl("scale", "rc", "rc", "--replicas=3")
    cluster.wait_for(lambda: cluster.kubectl_json("get", "rc", "rc")["status"].get(
        "readyReplicas") == 3, what="rc ready 3", timeout=30)
    assert cluster.kubectl("get", "rc", "rc").stdout.split("\n")[1].split()[:4] == [
        "rc", "3", "3", "3"]
    cluster.kubectl("delete", "rc", "rc")


def test_daemonset_rollout_history_and_undo(cluster: Cluster) -> None:
    apply(cluster, """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: hist}
        spec:
          selector: {matchLabels: {app: hist}}
          template:
            metadata: {labels: {app: hist}}
            spec:
              containers: [{name: app, image: "registry.k8s.io/pause:3.9"}]
        """)
    cluster.kubectl("rollout", "status", "ds/hist", "--timeout=30s", timeout=40)
    cluster.kubectl("annotate", "ds/hist", "kubernetes.io/change-cause=to agnhost")
    cluster.kubectl("set", "image", "ds/hist",
                    "app=registry.k8s.io/e2e-test-images/agnhost:2.53")
    cluster.kubectl("rollout", "status", "ds/hist", "--timeout=30s", timeout=40)

    def history() -> list[list[str]]:
        out = cluster.kubectl("rollout", "history", "ds/hist").stdout.strip().split("\n")
        assert out[1].split() == ["REVISION", "CHANGE-CAUSE"], out
        return [ln.split(None, 1) for ln in out[2:] if ln.strip()]

    assert history() == [["1", "<none>"], ["2", "to agnhost"]]
    one = cluster.kubectl("rollout", "history", "ds/hist", "--revision=1").stdout
    assert "registry.k8s.io/pause:3.9" in one and "agnhost" not in one
    revs = {r["revision"]: r for r in cluster.kubectl_json(
        "get", "controllerrevisions", "-l", "app=hist")["items"]}
    first_hash = revs[1]["metadata"]["labels"]["controller-revision-hash"]
    assert revs[1]["metadata"]["name"] == f"hist-{first_hash}"
    assert "rolled back" in cluster.kubectl("rollout", "undo", "ds/hist").stdout
    cluster.kubectl("rollout", "status", "ds/hist", "--timeout=30s", timeout=40)
    # the undo returned to revision 1's template: that revision is re-numbered 3
    assert [r[0] for r in history()] == ["2", "3"]

    def pods_on(hash_: str) -> bool:
        pods = [p for p in cluster.kubectl_json("get", "pods", "-l", "app=hist")["items"]
                if not p["metadata"].get("deletionTimestamp")]
        return bool(pods) and all(
            p["metadata"]["labels"]["controller-revision-hash"] == hash_
            and p["spec"]["containers"][0]["image"] == "registry.k8s.io/pause:3.9"
            for p in pods)

    cluster.wait_for(lambda: pods_on(first_hash), what="pods back on the first revision")
    cluster.kubectl("rollout", "undo", "ds/hist", "--to-revision=2")
    cluster.kubectl("rollout", "status", "ds/hist", "--timeout=30s", timeout=40)
    assert [r[0] for r in history()] == ["3", "4"]
    cluster.kubectl("delete", "ds", "hist")


def test_drain_blocked_by_pdb_then_allowed(cluster: Cluster) -> None:
    cluster.kubectl("create", "deployment", "guarded", "--image=registry.k8s.io/pause:3.9",
                    "--replicas=2")
    cluster.kubectl("create", "pdb", "guarded", "--selector=app=guarded", "--min-available=2")
    cluster.kubectl("rollout", "status", "deployment/guarded", "--timeout=30s", timeout=40)
    cluster.wait_for(lambda: cluster.kubectl_json("get", "pdb", "guarded").get("status", {})
                     .get("currentHealthy") == 2, what="pdb sees 2 healthy")
    assert cluster.kubectl("get", "pdb", "guarded").stdout.split("\n")[1].split()[:4] == [
        "guarded", "2", "N/A", "0"]
    node = cluster.kubectl_json("get", "nodes")["items"][0]["metadata"]["name"]
    try:
        r = cluster.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                            "--timeout=8s", check=False, timeout=30)
        assert r.returncode != 0
        assert "Cannot evict pod as it would violate the pod's disruption budget." in r.stderr
        assert "SchedulingDisabled" in cluster.kubectl("get", "node", node).stdout
        taints = cluster.kubectl_json("get", "node", node)["spec"].get("taints") or []
        assert {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"} in [
            {k: t[k] for k in ("key", "effect")} for t in taints]
        pods = cluster.kubectl_json("get", "pods", "-l", "app=guarded")["items"]
        assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
        cluster.kubectl("patch", "pdb", "guarded", "--type=merge", "-p",
                        json.dumps({"spec": {"minAvailable": 0}}))
        cluster.wait_for(lambda: cluster.kubectl_json("get", "pdb", "guarded")["status"].get(
            "disruptionsAllowed") == 2, what="pdb allows 2")
        cluster.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
                        "--timeout=30s", timeout=40)
        left = cluster.kubectl_json("get", "pods", "-l", "app=guarded")["items"]
        assert all(p["status"]["phase"] == "Pending" for p in left)  # cordoned: not placed
        assert not {p["metadata"]["name"] for p in left} & {p["metadata"]["name"]
                                                            for p in pods}
    finally:
        cluster.kubectl("uncordon", node)
    cluster.kubectl("rollout", "status", "deployment/guarded", "--timeout=30s", timeout=40)
    assert not cluster.kubectl_json("get", "node", node)["spec"].get("unschedulable")


# -- DaemonSet on a 3-node netns cluster

def _netns_why_not() -> str:
    from .test_netns import WHY_NOT

    return WHY_NOT


@pytest.fixture(scope="module")
def netns_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    why = _netns_why_not()
    if why:
        pytest.skip(why)
    data = tmp_path_factory.mktemp("netns-ds") / "data"
    c = start_cluster(data, "--network", "netns", "--nodes", "3",
                      service_cidr="10.96.0.0/12", lb_pool="172.20.0.64/27")
    try:
        yield c
    finally:
        c.stop()


def _kexec(c: Cluster, node: str, *cmd: str) -> str:
    return subprocess.run([*KUBESVC, "exec", "--data-dir", str(c.data_dir), node, "--", *cmd],
                          capture_output=True, text=True, timeout=20, cwd=ROOT).stdout


def test_daemonset_behind_local_nodeport_on_every_node(netns_cluster: Cluster) -> None:
    c = netns_cluster
    apply(c, """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata: {name: agent}
        spec:
          selector: {matchLabels: {app: agent}}
          template:
            metadata: {labels: {app: agent}}
            spec:
              containers:
              - name: app
                image: registry.k8s.io/e2e-test-images/agnhost:2.53
                args: ["netexec", "--http-port=8080"]
                readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: agent}
        spec:
          type: LoadBalancer
          externalTrafficPolicy: Local
          selector: {app: agent}
          ports: [{port: 80, targetPort: 8080, nodePort: 30090}]
        """)
    c.kubectl("rollout", "status", "daemonset/agent", "--timeout=60s", timeout=70)
    st = c.kubectl_json("get", "ds", "agent")["status"]
    assert st["desiredNumberScheduled"] == 3 and st["numberReady"] == 3, st
    pods = c.kubectl_json("get", "pods", "-l", "app=agent")["items"]
    by_node = {p["spec"]["nodeName"]: p["metadata"]["name"] for p in pods}
    assert len(by_node) == 3  # one per node
    topo = Topology.load(c.data_dir / "netns.json")
    hc = int(c.kubectl_json("get", "svc", "agent")["spec"]["healthCheckNodePort"])

    def probe(ip: str) -> tuple[list[str], str, dict[str, Any]]:
        """From the client namespace, in one exec: the NodePort answered 3 times, then
        the healthCheckNodePort (status and body)."""
        script = (f"for i in 1 2 3; do curl -s -m 1 http://{ip}:30090/hostname; echo; done; "
                  f"curl -s -m 2 -w '\\n%{{http_code}}' http://{ip}:{hc}/")
        lines = _kexec(c, "client", "sh", "-c", script).split("\n")
        body = json.loads(lines[3]) if len(lines) > 4 and lines[3] else {}
        return lines[:3], lines[-1], body

    for n in topo.nodes:
        want = by_node[n.name]
        # the node's NodePort answers from its own daemon pod, every time, and its
        # healthCheckNodePort reports that one local endpoint
        _hosts, _code, body = c.wait_for(
            lambda n=n, want=want: (r := probe(n.ip))[0] == [want] * 3 and r[1] == "200" and r,
            what=f"{n.name} answers from its own daemon pod", timeout=30)
        assert body == {"service": {"namespace": "default", "name": "agent"},
                        "localEndpoints": 1, "serviceProxyHealthy": True}, body
    # a NoExecute taint the daemon pods do not tolerate: that node's pod leaves, and with
    # it the node's health check (503, 0 local endpoints) and its NodePort traffic
    gone = topo.nodes[-1]
    c.kubectl("taint", "node", gone.name, "kubesvc-test=away:NoExecute")
    try:
        hosts, _code, body = c.wait_for(lambda: (r := probe(gone.ip))[1] == "503" and r,
                                       timeout=30, what=f"{gone.name}'s health check fails")
        assert body["localEndpoints"] == 0 and hosts == [""] * 3, (hosts, body)
        assert probe(topo.nodes[0].ip)[1] == "200"
        assert c.kubectl_json("get", "ds", "agent")["status"]["desiredNumberScheduled"] == 2
    finally:
        c.kubectl("taint", "node", gone.name, "kubesvc-test-")
    c.wait_for(lambda: probe(gone.ip)[1] == "200", timeout=40,
               what=f"{gone.name} runs a daemon pod again")
