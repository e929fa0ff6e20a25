"""Issue 19's pod sandbox against a real ``kubesvc up`` with ``kubectl`` (as root: each pod
in its own mount namespace): every volume type's content read inside the pod (its log),
a configMap update reaching the running pod, the cluster's data dir invisible from the pod,
runAsUser honoured, emptyDir ``medium: Memory`` a tmpfs, the kubelet-written /etc files, a
hostPath type error as upstream's FailedMount event."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubesvc.runtime.sandbox.manager import isolation
from tests.e2e.conftest import Cluster

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the mount-namespace pod sandbox needs root"),
    pytest.mark.skipif(isolation()[0] != "mount",
                       reason=f"no mount namespaces here: {isolation()[1]}"),
]


def _manifest(data_dir: Path, host_dir: Path) -> str:
    script = "; ".join([
        "echo uid=$(id -u) groups=$(id -G | tr ' ' ,)",
        "echo cm=$(cat /cm/greeting)", "echo item=$(cat /cm-items/sub/renamed)",
        "echo secret=$(cat /secret/password)",
        "echo name=$(cat /downward/name) ns=$(cat /downward/namespace)",
        "echo labels=$(cat /downward/labels)", "echo memlimit=$(cat /downward/memlimit)",
        "echo proj=$(cat /projected/greeting),$(cat /projected/password),"
        "$(cat /projected/podname)",
        "echo host=$(cat /host/marker)",
        "echo memfs=$(awk '$2==\"/scratch\"{print $3}' /proc/mounts)",
        "echo work=$(pwd)", "echo search=$(grep ^search /etc/resolv.conf | tr ' ' ,)",
        "echo hostname=$(cat /etc/hostname)",
        f"cat {data_dir}/tokens.csv >/dev/null 2>&1 && echo TOKENS-READ || echo tokens=hidden",
        "echo root=$(ls / | tr '\\n' ,)",
        "echo DONE",
        "while ! grep -q updated /cm/greeting; do sleep 0.2; done",
        "echo cm-now=$(cat /cm/greeting)", "sleep 3600"])
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "sandboxed", "labels": {"app": "sandboxed"}},
        "spec": {
            "securityContext": {"runAsUser": 1500, "fsGroup": 1600},
            "containers": [{
                "name": "main", "image": "busybox", "command": ["sh", "-c", script],
                "workingDir": "/srv/app",
                "resources": {"limits": {"memory": "64Mi"}},
                "volumeMounts": [
                    {"name": "cm", "mountPath": "/cm"},
                    {"name": "cm-items", "mountPath": "/cm-items"},
                    {"name": "secret", "mountPath": "/secret"},
                    {"name": "downward", "mountPath": "/downward"},
                    {"name": "projected", "mountPath": "/projected"},
                    {"name": "host", "mountPath": "/host", "readOnly": True},
                    {"name": "scratch", "mountPath": "/scratch"}]}],
            "volumes": [
                {"name": "cm", "configMap": {"name": "app-config"}},
                {"name": "cm-items", "configMap": {"name": "app-config", "items": [
                    {"key": "greeting", "path": "sub/renamed"}]}},
                {"name": "secret", "secret": {"secretName": "app-secret"}},
                {"name": "downward", "downwardAPI": {"items": [
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                    {"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "memlimit", "resourceFieldRef": {
                        "containerName": "main", "resource": "limits.memory",
                        "divisor": "1Mi"}}]}},
                {"name": "projected", "projected": {"sources": [
                    {"configMap": {"name": "app-config"}},
                    {"secret": {"name": "app-secret"}},
                    {"downwardAPI": {"items": [
                        {"path": "podname", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
                {"name": "host", "hostPath": {"path": str(host_dir), "type": "Directory"}},
                {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}]}}
    return json.dumps(pod)


def _logs(c: Cluster, pod: str) -> dict[str, str]:
    r = c.kubectl("logs", pod, check=False)
    out = {}
    for line in r.stdout.splitlines():
        for part in line.split(" "):
            k, sep, v = part.partition("=")
            if sep:
                out[k] = v
        if line == "DONE":
            out["DONE"] = "1"
    return out


def test_pod_sandbox_volumes_identity_isolation_and_updates(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    c = cluster
    host_dir = tmp_path / "hostdir"
    host_dir.mkdir()
    (host_dir / "marker").write_text("from-the-host\n")
    c.kubectl("create", "configmap", "app-config", "--from-literal=greeting=hello")
    c.kubectl("create", "secret", "generic", "app-secret", "--from-literal=password=s3cr3t")
    c.kubectl("apply", "-f", "-", input=_manifest(c.data_dir.resolve(), host_dir))
    got = c.wait_for(lambda: (lambda d: d if "DONE" in d else None)(_logs(c, "sandboxed")),
                     timeout=30, what="the sandboxed pod's report")
    assert got["uid"] == "1500" and "1600" in got["groups"].split(",")
    assert got["cm"] == "hello" and got["item"] == "hello" and got["secret"] == "s3cr3t"
    assert got["name"] == "sandboxed" and got["ns"] == "default"
    assert got["labels"] == 'app="sandboxed"'
    assert got["memlimit"] == "64"
    assert got["proj"] == "hello,s3cr3t,sandboxed"
    assert got["host"] == "from-the-host"
    assert got["memfs"] == "tmpfs"
    assert got["work"] == "/srv/app"
    # Cluster DNS's search path (the kubelet's ClusterFirst resolv.conf).
    assert got["search"] == "search,default.svc.cluster.local,svc.cluster.local,cluster.local"
    assert got["hostname"] == "sandboxed"
    assert got["tokens"] == "hidden"
    root = set(got["root"].strip(",").split(","))
    assert {"usr", "etc", "proc", "cm", "secret"} <= root
    assert not root & {"tokens.csv", "state.db", "pki"}
    # A configMap update reaches the running pod (the agent's volume sync, ..data swap).
    c.kubectl("patch", "configmap", "app-config", "-p", '{"data":{"greeting":"updated"}}')
    got = c.wait_for(lambda: (lambda d: d if "cm-now" in d else None)(_logs(c, "sandboxed")),
                     timeout=30, what="the configMap update inside the pod")
    assert got["cm-now"] == "updated"
    c.kubectl("delete", "pod", "sandboxed", "--grace-period=1", "--wait=false")


def test_host_path_type_error_is_a_failed_mount_event(cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    missing = tmp_path / "no-such-dir"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "badhost"},
           "spec": {"containers": [{"name": "main", "image": "busybox",
                                    "command": ["sleep", "3600"],
                                    "volumeMounts": [{"name": "h", "mountPath": "/h"}]}],
                    "volumes": [{"name": "h", "hostPath": {"path": str(missing),
                                                           "type": "Directory"}}]}}
    c.kubectl("apply", "-f", "-", input=json.dumps(pod))
    want = (f'MountVolume.SetUp failed for volume "h" : hostPath type check failed: '
            f"{missing} is not a directory")

    def seen() -> bool:
        evs = c.kubectl_json("get", "events", "--field-selector",
                             "involvedObject.name=badhost")["items"]
        return any(e.get("reason") == "FailedMount" and e.get("message") == want for e in evs)

    c.wait_for(seen, timeout=20, what="the FailedMount event")
    st = c.kubectl_json("get", "pod", "badhost")["status"]
    waiting = st["containerStatuses"][0]["state"]["waiting"]
    assert waiting["reason"] == "ContainerCreating"
    c.kubectl("delete", "pod", "badhost", "--grace-period=0", "--force", "--wait=false")
