"""Issue 19's remaining pod-sandbox items against one real ``kubesvc up`` (host mode, as
root: each pod in its own mount namespace), in file order:

- the official Python client's ``load_incluster_config()`` from a pod, with the mounted
  ServiceAccount token (RBAC: a Role to list pods) and the mounted CA verifying the serving
  certificate, which covers the ``kubernetes`` ClusterIP and its DNS names;
- a ConfigMap update visible inside the running pod within 2 s (the agent's per-object
  watch, not its periodic sync);
- ``resources.limits.memory``: a pod over its limit is OOMKilled (exit code 137), the
  control plane still answers;
- a PersistentVolumeClaim's data, written by one pod, read by its replacement;
- last, ``kill -9`` of ``kubesvc up`` and a restart on the same data dir: no process of
  the old pods is left (one that left its container's session included), the Completed
  pod keeps its status and ``kubectl logs``, the running pod runs again.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc.runtime.cgroups import detect
from kubesvc.runtime.sandbox.manager import isolation
from tests.e2e.conftest import MISSING, Cluster, start_cluster

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the mount-namespace pod sandbox needs root"),
    pytest.mark.skipif(isolation()[0] != "mount",
                       reason=f"no mount namespaces here: {isolation()[1]}"),
]

# Run by the venv's python inside a pod: in-cluster config, then list the pods of its own
# namespace; and a TLS handshake by every name of the API server, verified by the mounted CA.
INCLUSTER = r"""
import os, socket, ssl
from kubernetes import client, config
config.load_incluster_config()
c = client.Configuration.get_default_copy()
print("env=%s:%s" % (os.environ["KUBERNETES_SERVICE_HOST"],
                     os.environ["KUBERNETES_SERVICE_PORT"]))
print("host=%s verify=%s ca=%s" % (c.host, c.verify_ssl, c.ssl_ca_cert))
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
ns = open(sa + "/namespace").read().strip()
pods = client.CoreV1Api().list_namespaced_pod(ns)
print("pods=" + ",".join(sorted(p.metadata.name for p in pods.items)))
try:
    client.CoreV1Api().list_namespaced_secret(ns)
    print("secrets=allowed")
except client.ApiException as e:
    print("secrets=%d" % e.status)
ctx = ssl.create_default_context(cafile=sa + "/ca.crt")
for name in ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local"):
    with socket.create_connection((os.environ["KUBERNETES_SERVICE_HOST"], 443), 5) as s:
        with ctx.wrap_socket(s, server_hostname=name):
            print("tls-ok=" + name)
print("DONE")
"""


class Holder:
    """The module's cluster; the restart test replaces it."""

    def __init__(self, c: Cluster) -> None:
        self.c = c


@pytest.fixture(scope="module")
def holder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    if MISSING:
        pytest.skip(MISSING)
    h = Holder(start_cluster(tmp_path_factory.mktemp("podrt") / "data"))
    try:
        yield h
    finally:
        h.c.stop()


def _apply(c: Cluster, *objs: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                    "items": list(objs)}))


def _pod(name: str, script: str, **spec: Any) -> dict[str, Any]:
    containers = [{"name": "main", "image": "busybox", "command": ["sh", "-c", script],
                   **spec.pop("container", {})}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": containers, **spec}}


def _logs_until(c: Cluster, pod: str, marker: str, timeout: float = 30) -> str:
    return str(c.wait_for(lambda: (lambda o: o if marker in o else "")(
        c.kubectl("logs", pod, check=False).stdout), timeout=timeout,
        what=f"{marker} in the logs of {pod}"))


def _fields(out: str) -> dict[str, list[str]]:
    got: dict[str, list[str]] = {}
    for line in out.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            got.setdefault(k, []).append(v)
    return got


def test_python_client_in_cluster_config_from_a_pod(holder: Holder) -> None:
    c = holder.c
    c.kubectl("create", "serviceaccount", "lister")
    c.kubectl("create", "role", "pod-lister", "--verb=list", "--resource=pods")
    c.kubectl("create", "rolebinding", "pod-lister", "--role=pod-lister",
              "--serviceaccount=default:lister")
    c.kubectl("create", "configmap", "incluster", f"--from-literal=main.py={INCLUSTER}")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "incluster"}, "spec": {
        "serviceAccountName": "lister", "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "python",
                        "command": [sys.executable, "/scripts/main.py"],
                        "volumeMounts": [{"name": "s", "mountPath": "/scripts"}]}],
        "volumes": [{"name": "s", "configMap": {"name": "incluster"}}]}}
    _apply(c, pod)
    out = _logs_until(c, "incluster", "DONE")
    got = _fields(out)
    svc = c.kubectl_json("get", "service", "kubernetes")
    cluster_ip = svc["spec"]["clusterIP"]
    assert got["env"] == [f"{cluster_ip}:443"]
    assert got["host"] == [f"https://{cluster_ip}:443 verify=True "
                           "ca=/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"]
    assert got["pods"] == ["incluster"]
    assert got["secrets"] == ["403"]  # the Role grants pods only
    assert got["tls-ok"] == ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
                             "kubernetes.default.svc.cluster.local"]


def test_configmap_update_visible_in_the_pod_within_two_seconds(holder: Holder) -> None:
    c = holder.c
    c.kubectl("create", "configmap", "live", "--from-literal=k=v1")
    _apply(c, _pod("watcher", "cat /c/k; echo; while ! grep -q v2 /c/k; do sleep 0.05; done; "
                   "echo seen=$(date +%s.%N); ls -a /c | tr '\\n' ' '; echo; sleep 3600",
                   container={"volumeMounts": [{"name": "c", "mountPath": "/c"}]},
                   volumes=[{"name": "c", "configMap": {"name": "live"}}]))
    _logs_until(c, "watcher", "v1")
    time.sleep(0.5)  # the agent's watch of the ConfigMap is up (a 0.5 s tick at most)
    patched = time.time()
    c.kubectl("patch", "configmap", "live", "-p", '{"data":{"k":"v2"}}')
    out = _logs_until(c, "watcher", "seen=", timeout=10)
    seen = float(_fields(out)["seen"][0])
    assert seen - patched < 2.0, f"the update took {seen - patched:.2f} s"
    assert "..data" in out  # the kubelet's atomic layout
    c.kubectl("delete", "pod", "watcher", "--grace-period=0", "--force", "--wait=false")


def test_memory_limit_oom_killed(holder: Holder, tmp_path: Path) -> None:
    c = holder.c
    cg = detect(tmp_path)
    if cg.problem:
        pytest.skip(f"memory limits cannot be enforced here: {cg.problem}")
    hog = f"{sys.executable} -c 'x = bytearray(512 << 20); print(len(x))'"
    _apply(c, _pod("hog", hog, restartPolicy="Never", container={
        "resources": {"limits": {"memory": "48Mi"}}}),
        _pod("modest", "echo fits; sleep 3600", container={
            "resources": {"limits": {"memory": "48Mi"}}}))

    def terminated() -> Any:
        st = c.kubectl_json("get", "pod", "hog").get("status") or {}
        cs = (st.get("containerStatuses") or [{}])[0]
        return (cs.get("state") or {}).get("terminated")

    t = c.wait_for(terminated, timeout=30, what="the hog to be killed")
    assert (t["reason"], t["exitCode"]) == ("OOMKilled", 137)
    assert c.kubectl_json("get", "pod", "hog")["status"]["phase"] == "Failed"
    # The node and the control plane are untouched; a pod within its limit runs on.
    assert c.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    _logs_until(c, "modest", "fits")
    assert c.kubectl_json("get", "pod", "modest")["status"]["phase"] == "Running"
    c.kubectl("delete", "pod", "modest", "hog", "--grace-period=0", "--force", "--wait=false")


def test_pvc_data_survives_pod_replacement(holder: Holder) -> None:
    c = holder.c
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "keep"},
             "spec": {"accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": "10Mi"}}}}
    mount = {"volumeMounts": [{"name": "d", "mountPath": "/data"}]}
    vols = [{"name": "d", "persistentVolumeClaim": {"claimName": "keep"}}]
    _apply(c, claim, _pod("writer", "echo written-by-$(hostname) > /data/f; echo WROTE; "
                          "sleep 3600", container=mount, volumes=vols))
    _logs_until(c, "writer", "WROTE")
    c.kubectl("delete", "pod", "writer", "--grace-period=0", "--force")
    _apply(c, _pod("writer", "echo read=$(cat /data/f); sleep 3600", container=mount,
                   volumes=vols))
    out = _logs_until(c, "writer", "read=")
    assert _fields(out)["read"] == ["written-by-writer"]
    c.kubectl("delete", "pod", "writer", "--grace-period=0", "--force", "--wait=false")


def _processes_with(marker: str) -> list[int]:
    """Pids of ``sleep <marker>...`` processes."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{d}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if cmd.startswith(f"sleep {marker}"):
            out.append(int(d))
    return out


def test_kill_9_then_restart_leaves_no_orphans_and_keeps_completed_pods(
        holder: Holder) -> None:
    c = holder.c
    marker = f"{os.getpid()}77"  # an argv no other process has: sleep <marker>
    _apply(c, _pod("done", "echo finished-ok", restartPolicy="Never"),
           # A child that leaves the container's session (setsid): found through its cgroup.
           _pod("runner", f"setsid sleep {marker}1 & sleep {marker}2"))
    c.wait_for(lambda: c.kubectl_json("get", "pod", "done")["status"].get("phase")
               == "Succeeded", timeout=30, what="the done pod to complete")
    c.wait_for(lambda: len(_processes_with(marker)) == 2, timeout=30,
               what="the runner pod's two processes")
    before = c.kubectl_json("get", "pod", "runner")
    old = set(_processes_with(marker))
    os.kill(c.proc.pid, signal.SIGKILL)
    c.proc.wait()
    time.sleep(0.5)
    # The container's main process died with its agent; the one that left the session
    # did not (no one knows of it but its cgroup) ...
    assert old & set(_processes_with(marker))
    c2 = start_cluster(c.data_dir, api_port=c.api_port, dns_port=c.dns_port,
                       service_cidr=c.service_cidr, lb_pool=c.lb_pool)
    holder.c = c2
    # ... until the next agent ends it; the runner pod runs again (new processes).
    c2.wait_for(lambda: not old & set(_processes_with(marker)), timeout=15,
                what="the old pod processes to be ended")
    c2.wait_for(lambda: len(_processes_with(marker)) == 2, timeout=30,
                what="the runner pod to run again")
    pod = c2.kubectl_json("get", "pod", "runner")
    assert pod["metadata"]["uid"] == before["metadata"]["uid"]
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["containerStatuses"][0]["restartCount"] >= 1
    # The Completed pod keeps its status and logs.
    done = c2.kubectl_json("get", "pod", "done")["status"]
    assert done["phase"] == "Succeeded"
    t = done["containerStatuses"][0]["state"]["terminated"]
    assert (t["reason"], t["exitCode"]) == ("Completed", 0)
    assert c2.kubectl("logs", "done").stdout == "finished-ok\n"
    c2.kubectl("delete", "pod", "runner", "--grace-period=0", "--force")
    c2.wait_for(lambda: not _processes_with(marker), timeout=10,
                what="the runner's processes to end with its deletion")
