"""Issue 21 against a running ``kubesvc up`` with the real ``kubectl`` and ``dig``: a
headless Service + StatefulSet comes up in order, per-pod DNS names resolve, scale-down
takes the highest ordinal, a partitioned rolling update stops at the partition, rollout
status/history/undo for StatefulSets and the Deployment undo fix, PVCs provisioned by
local-path keep their data across pod replacement, and ``apply --prune``.

The node agent does not mount volumes into pods yet, so the claim's data is written and
read through the provisioned directory on the host (the PV's ``hostPath``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Cluster

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
MANIFESTS = f"""
apiVersion: v1
kind: Service
metadata: {{name: nginx, labels: {{app: nginx}}}}
spec:
  clusterIP: None
  selector: {{app: nginx}}
  ports: [{{name: web, port: 8080}}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: web}}
spec:
  serviceName: nginx
  replicas: 3
  selector: {{matchLabels: {{app: nginx}}}}
  template:
    metadata: {{labels: {{app: nginx}}}}
    spec:
      containers:
      - name: web
        image: {AGNHOST}
        args: ["netexec", "--http-port=8080"]
        ports: [{{containerPort: 8080, name: web}}]
        volumeMounts: [{{name: www, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: www}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 1Gi}}}}
"""


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", "-", input=MANIFESTS)
    cluster.kubectl("rollout", "status", "statefulset/web", "--timeout=90s", timeout=100)
    return cluster


def pods(c: Cluster, selector: str = "app=nginx") -> dict[str, Any]:
    items = c.kubectl_json("get", "pods", "-l", selector)["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get(
        "deletionTimestamp")}


def test_pods_come_up_in_order_with_stable_identities(web: Cluster) -> None:
    got = pods(web)
    assert sorted(got) == ["web-0", "web-1", "web-2"]
    for i in range(3):
        p = got[f"web-{i}"]
        assert p["spec"]["hostname"] == f"web-{i}" and p["spec"]["subdomain"] == "nginx"
        assert p["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert p["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == str(i)
    events = web.kubectl_json("get", "events", "--field-selector",
                              "involvedObject.kind=StatefulSet,reason=SuccessfulCreate")
    creates = [e["message"] for e in sorted(
        events["items"], key=lambda e: int(e["metadata"]["resourceVersion"]))
        if e["message"].startswith("create Pod")]
    assert creates[:3] == [f"create Pod web-{i} in StatefulSet web successful"
                           for i in range(3)]
    # OrderedReady: each pod was Ready before the next one was created
    for i in (1, 2):
        prev_ready = next(c["lastTransitionTime"] for c in got[f"web-{i - 1}"]["status"][
            "conditions"] if c["type"] == "Ready")
        assert got[f"web-{i}"]["metadata"]["creationTimestamp"] >= prev_ready
    out = web.kubectl("get", "statefulset", "web").stdout.split("\n")
    assert out[0].split() == ["NAME", "READY", "AGE"] and out[1].split()[:2] == ["web", "3/3"]


def test_per_pod_dns_names_resolve(web: Cluster) -> None:
    ip0 = pods(web)["web-0"]["status"]["podIP"]
    web.wait_for(lambda: web.dig("+short", "web-0.nginx.default.svc.cluster.local").split()
                 == [ip0], what="web-0 A record")
    all_ips = sorted(p["status"]["podIP"] for p in pods(web).values())
    assert sorted(web.dig("+short", "nginx.default.svc.cluster.local").split()) == all_ips


def test_claims_are_bound_and_data_survives_pod_replacement(web: Cluster) -> None:
    claims = web.kubectl_json("get", "pvc")["items"]
    by_name = {c["metadata"]["name"]: c for c in claims}
    assert {"www-web-0", "www-web-1", "www-web-2"} <= set(by_name)
    c0 = by_name["www-web-0"]
    assert c0["status"]["phase"] == "Bound" and c0["spec"]["storageClassName"] == "local-path"
    pv = web.kubectl_json("get", "pv", c0["spec"]["volumeName"])
    assert pv["status"]["phase"] == "Bound"
    path = Path(pv["spec"]["hostPath"]["path"])
    assert path.is_dir() and web.data_dir in path.parents
    (path / "index.html").write_text("web-0 data\n")
    row = web.kubectl("get", "pvc", "www-web-0", "--no-headers").stdout.split()
    assert row[:6] == ["www-web-0", "Bound", pv["metadata"]["name"], "1Gi", "RWO",
                       "local-path"]
    old_uid = pods(web)["web-0"]["metadata"]["uid"]
    web.kubectl("delete", "pod", "web-0", "--wait=false")
    web.wait_for(lambda: (p := pods(web).get("web-0")) is not None
                 and p["metadata"]["uid"] != old_uid
                 and p["status"].get("phase") == "Running", timeout=60, what="web-0 back")
    again = web.kubectl_json("get", "pvc", "www-web-0")
    assert again["metadata"]["uid"] == c0["metadata"]["uid"]
    assert again["spec"]["volumeName"] == pv["metadata"]["name"]
    assert (path / "index.html").read_text() == "web-0 data\n"
    web.kubectl("describe", "pvc", "www-web-0")
    web.kubectl("describe", "pv", pv["metadata"]["name"])


def test_partitioned_rolling_update_and_rollout_commands(web: Cluster) -> None:
    web.kubectl("rollout", "status", "statefulset/web", "--timeout=60s", timeout=70)
    web.kubectl("patch", "statefulset", "web", "-p", json.dumps({"spec": {
        "updateStrategy": {"rollingUpdate": {"partition": 2}},
        "template": {"spec": {"containers": [{"name": "web", "image":
                                              "registry.k8s.io/e2e-test-images/agnhost:2.52"}]}}}}))
    out = web.kubectl("rollout", "status", "statefulset/web", "--timeout=90s",
                      timeout=100).stdout
    assert "partitioned roll out complete: 1 new pods have been updated" in out
    images = {n: p["spec"]["containers"][0]["image"].rsplit(":", 1)[1]
              for n, p in pods(web).items()}
    assert images == {"web-0": "2.53", "web-1": "2.53", "web-2": "2.52"}
    status = web.kubectl_json("get", "statefulset", "web")["status"]
    assert status["currentRevision"] != status["updateRevision"]
    assert status["updatedReplicas"] == 1 and status["currentReplicas"] == 2
    hist = web.kubectl("rollout", "history", "statefulset/web").stdout
    assert [ln.split()[0] for ln in hist.splitlines()[2:] if ln.strip()] == ["1", "2"]
    rev1 = web.kubectl("rollout", "history", "statefulset/web", "--revision=1").stdout
    assert "agnhost:2.53" in rev1
    web.kubectl("rollout", "undo", "statefulset/web")
    web.wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in pods(web).values()}
                 == {AGNHOST} and len(pods(web)) == 3, timeout=90, what="undone")
    revs = web.kubectl_json("get", "controllerrevisions")["items"]
    assert sorted(r["revision"] for r in revs) == [2, 3]  # revision 1 re-used as 3
    web.kubectl("describe", "statefulset", "web")


def test_scale_down_removes_the_highest_ordinal_first(web: Cluster) -> None:
    r = web.kubectl("rollout", "status", "statefulset/web", "--timeout=60s", timeout=70,
                    check=False)
    assert r.returncode == 0, (web.kubectl("get", "pods", "-o", "wide").stdout,
                               web.kubectl("get", "sts", "web", "-o", "json").stdout[-900:],
                               web.log_tail(40))
    web.kubectl("scale", "statefulset", "web", "--replicas=1")
    web.wait_for(lambda: sorted(pods(web)) == ["web-0"], timeout=60, what="scaled to 1")
    events = web.kubectl_json("get", "events", "--field-selector",
                              "involvedObject.kind=StatefulSet,reason=SuccessfulDelete")
    deletes = [e["message"] for e in sorted(
        events["items"], key=lambda e: int(e["metadata"]["resourceVersion"]))]
    order = [m.split()[2] for m in deletes]
    assert order.index("web-2") < order.index("web-1") if "web-1" in order else True
    assert order[-2:] == ["web-2", "web-1"]
    # the claims are retained (whenScaled: Retain)
    names = {c["metadata"]["name"] for c in web.kubectl_json("get", "pvc")["items"]}
    assert {"www-web-1", "www-web-2"} <= names


def rs_names(c: Cluster, app: str) -> list[str]:
    return sorted(r["metadata"]["name"] for r in
                  c.kubectl_json("get", "rs", "-l", f"app={app}")["items"])


def test_rollout_undo_deployment_reuses_the_replicaset(cluster: Cluster) -> None:
    c = cluster
    c.kubectl("create", "deployment", "undo", f"--image={AGNHOST}", "--", "/agnhost",
              "netexec")
    c.kubectl("rollout", "status", "deployment/undo", "--timeout=60s", timeout=70)
    c.kubectl("set", "image", "deployment/undo",
              "agnhost=registry.k8s.io/e2e-test-images/agnhost:2.52")
    c.kubectl("rollout", "status", "deployment/undo", "--timeout=60s", timeout=70)
    before = rs_names(c, "undo")
    assert len(before) == 2
    c.kubectl("rollout", "undo", "deployment/undo")
    c.kubectl("rollout", "status", "deployment/undo", "--timeout=60s", timeout=70)
    assert rs_names(c, "undo") == before  # no duplicate ReplicaSet
    hist = c.kubectl("rollout", "history", "deployment/undo").stdout
    assert [ln.split()[0] for ln in hist.splitlines()[2:] if ln.strip()] == ["2", "3"]
    rev3 = c.kubectl("rollout", "history", "deployment/undo", "--revision=3").stdout
    assert "agnhost:2.53" in rev3
    rev2 = c.kubectl("rollout", "history", "deployment/undo", "--revision=2").stdout
    assert "agnhost:2.52" in rev2


PRUNE_A = """
apiVersion: v1
kind: ConfigMap
metadata: {name: keep, labels: {app: prune}}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: drop, labels: {app: prune}}
data: {a: "2"}
"""

#: kubectl v1.32's default prune allowlist (staging/src/k8s.io/kubectl/pkg/util/prune).
DEFAULT_ALLOWLIST = (
    ("", "ConfigMap"), ("", "Endpoints"), ("", "Namespace"), ("", "PersistentVolumeClaim"),
    ("", "PersistentVolume"), ("", "Pod"), ("", "ReplicationController"), ("", "Secret"),
    ("", "Service"), ("batch", "Job"), ("batch", "CronJob"), ("networking.k8s.io", "Ingress"),
    ("apps", "DaemonSet"), ("apps", "Deployment"), ("apps", "ReplicaSet"),
    ("apps", "StatefulSet"),
)


def served_kinds(c: Cluster) -> set[tuple[str, str]]:
    out = c.kubectl("api-resources", "-o", "wide", "--no-headers").stdout
    kinds = set()
    for line in out.splitlines():
        cols = line.split()
        # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND VERBS [CATEGORIES]
        idx = next(i for i, v in enumerate(cols) if v in ("true", "false"))
        group = cols[idx - 1].rpartition("/")[0]
        kinds.add((group, cols[idx + 1]))
    return kinds


def _prune(c: Cluster, tmp: Path, *extra: str) -> None:
    d = tmp / "manifests"
    d.mkdir(exist_ok=True)
    (d / "a.yaml").write_text(PRUNE_A)
    c.kubectl("apply", "-f", str(d))
    assert c.kubectl("get", "cm", "drop", check=False).returncode == 0
    (d / "a.yaml").write_text(PRUNE_A.split("---")[0])
    out = c.kubectl("apply", "--prune", "-l", "app=prune", *extra, "-f", str(d)).stdout
    assert "configmap/drop pruned" in out
    assert c.kubectl("get", "cm", "drop", check=False).returncode != 0
    assert c.kubectl("get", "cm", "keep", check=False).returncode == 0


def test_apply_prune_with_an_allowlist(cluster: Cluster, tmp_path: Path) -> None:
    _prune(cluster, tmp_path, "--prune-allowlist=core/v1/ConfigMap",
           "--prune-allowlist=apps/v1/StatefulSet",
           "--prune-allowlist=core/v1/PersistentVolumeClaim",
           "--prune-allowlist=networking.k8s.io/v1/Ingress")


def test_apply_prune_with_the_default_allowlist(cluster: Cluster, tmp_path: Path) -> None:
    missing = [f"{g or 'core'}/{k}" for g, k in DEFAULT_ALLOWLIST
               if (g, k) not in served_kinds(cluster)]
    if missing:
        pytest.skip(f"kinds of kubectl's default prune allowlist not served: {missing}")
    _prune(cluster, tmp_path)
