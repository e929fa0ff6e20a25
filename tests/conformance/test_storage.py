"""Ports of upstream's [Conformance] cases of ``test/e2e/common/storage`` (configmap_volume.go,
secrets_volume.go, downwardapi_volume.go, projected_*.go, empty_dir.go) that the node
agent's pod sandbox supports. Upstream's pods run ``agnhost mounttest``; these run ``sh``
with ``cat``/``stat`` (the same files, contents and modes), and read the pod's log.
Needs root (the mount-namespace sandbox); skipped elsewhere.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from tests.conformance.framework import Api, core, poll, unique

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="the pod sandbox's volumes need a root node agent")
MOUNT = "/etc/vol"


def _pod(name: str, script: str, volumes: list[dict[str, Any]], *,
         mounts: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox",
                                     "command": ["sh", "-c", script],
                                     "volumeMounts": mounts or [
                                         {"name": volumes[0]["name"], "mountPath": MOUNT}]}],
                     "volumes": volumes, **spec}}


def _logs(api: Api, ns: str, name: str) -> str:
    out = api.request("GET", core(ns, "pods", name, "log"))
    return str(out.get("message", "")) if isinstance(out, dict) else str(out)


def _run(api: Api, ns: str, pod: dict[str, Any]) -> str:
    """Create the pod, wait for it to succeed, return its log (``TestContainerOutput``)."""
    name = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)

    def done() -> bool:
        phase = (api.get(core(ns, "pods", name)).get("status") or {}).get("phase")
        assert phase != "Failed", f"pod failed: {_logs(api, ns, name)}"
        return phase == "Succeeded"

    poll(done, timeout=30, what=f"pod {name} to succeed")
    return _logs(api, ns, name)


def _cm(api: Api, ns: str, name: str, data: dict[str, str], **extra: Any) -> None:
    api.create(core(ns, "configmaps"), {"metadata": {"name": name}, "data": data, **extra})


def _secret(api: Api, ns: str, name: str, data: dict[str, str]) -> None:
    api.create(core(ns, "secrets"), {"metadata": {"name": name}, "data": {
        k: base64.b64encode(v.encode()).decode() for k, v in data.items()}})


def _cat_mode(path: str) -> str:
    return f"cat {path}; echo; stat -L -c %A {path}"


# -- ConfigMap ---------------------------------------------------------------------------

def test_configmap_should_be_consumable_from_pods_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable from pods in volume"""
    name = unique("configmap-test-volume")
    _cm(api, ns, name, {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"})
    out = _run(api, ns, _pod(unique("pod-configmaps"), _cat_mode(f"{MOUNT}/data-1"),
                             [{"name": "v", "configMap": {"name": name}}]))
    assert out.split() == ["value-1", "-rw-r--r--"]


def test_configmap_should_be_consumable_from_pods_in_volume_with_defaultmode_set(
        api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable from pods in volume with defaultMode
    set"""
    name = unique("configmap-test-volume")
    _cm(api, ns, name, {"data-1": "value-1"})
    out = _run(api, ns, _pod(unique("pod-configmaps"), _cat_mode(f"{MOUNT}/data-1"),
                             [{"name": "v", "configMap": {"name": name, "defaultMode": 0o400}}]))
    assert out.split() == ["value-1", "-r--------"]


def test_configmap_should_be_consumable_from_pods_in_volume_as_non_root(api: Api,
                                                                        ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable from pods in volume as non-root"""
    name = unique("configmap-test-volume")
    _cm(api, ns, name, {"data-1": "value-1"})
    out = _run(api, ns, _pod(unique("pod-configmaps"), "id -u; " + _cat_mode(f"{MOUNT}/data-1"),
                             [{"name": "v", "configMap": {"name": name}}],
                             securityContext={"runAsUser": 1000}))
    assert out.split() == ["1000", "value-1", "-rw-r--r--"]


def test_configmap_should_be_consumable_from_pods_in_volume_with_mappings(api: Api,
                                                                          ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable from pods in volume with mappings"""
    name = unique("configmap-test-volume-map")
    _cm(api, ns, name, {"data-1": "value-1", "data-2": "value-2"})
    vol = {"name": "v", "configMap": {"name": name, "items": [
        {"key": "data-2", "path": "path/to/data-2"}]}}
    out = _run(api, ns, _pod(unique("pod-configmaps"),
                             _cat_mode(f"{MOUNT}/path/to/data-2") + f"; ls {MOUNT}", [vol]))
    assert out.split() == ["value-2", "-rw-r--r--", "path"]


def test_configmap_should_be_consumable_from_pods_in_volume_with_mappings_and_item_mode_set(
        api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable from pods in volume with mappings and
    Item mode set"""
    name = unique("configmap-test-volume-map")
    _cm(api, ns, name, {"data-2": "value-2"})
    vol = {"name": "v", "configMap": {"name": name, "items": [
        {"key": "data-2", "path": "path/to/data-2", "mode": 0o400}]}}
    out = _run(api, ns, _pod(unique("pod-configmaps"), _cat_mode(f"{MOUNT}/path/to/data-2"),
                             [vol]))
    assert out.split() == ["value-2", "-r--------"]


def test_configmap_binary_data_should_be_reflected_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap binary data should be reflected in volume"""
    name = unique("configmap-test-upd")
    raw = bytes(range(1, 11))
    _cm(api, ns, name, {"data-1": "value-1"},
        binaryData={"dump.bin": base64.b64encode(raw).decode()})
    out = _run(api, ns, _pod(unique("pod-configmaps"),
                             f"cat {MOUNT}/data-1; echo; od -An -tx1 {MOUNT}/dump.bin",
                             [{"name": "v", "configMap": {"name": name}}]))
    assert out.split() == ["value-1", *(f"{b:02x}" for b in raw)]


def test_configmap_should_be_consumable_in_multiple_volumes_in_the_same_pod(api: Api,
                                                                            ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable in multiple volumes in the same pod"""
    name = unique("configmap-test-volume")
    _cm(api, ns, name, {"data-1": "value-1"})
    vols = [{"name": "v1", "configMap": {"name": name}},
            {"name": "v2", "configMap": {"name": name}}]
    mounts = [{"name": "v1", "mountPath": "/etc/vol-1"}, {"name": "v2", "mountPath": "/etc/vol-2"}]
    out = _run(api, ns, _pod(unique("pod-configmaps"),
                             "cat /etc/vol-1/data-1; echo; cat /etc/vol-2/data-1", vols,
                             mounts=mounts))
    assert out.split() == ["value-1", "value-1"]


def test_configmap_updates_should_be_reflected_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap updates should be reflected in volume"""
    name = unique("configmap-test-upd")
    _cm(api, ns, name, {"data-1": "value-1"})
    pod = _pod(unique("pod-configmaps"),
               f"while true; do cat {MOUNT}/data-1; echo; sleep 0.5; done",
               [{"name": "v", "configMap": {"name": name}}])
    pod["spec"]["restartPolicy"] = "Always"
    api.create(core(ns, "pods"), pod)
    pname = pod["metadata"]["name"]
    poll(lambda: "value-1" in _logs(api, ns, pname), timeout=30, what="value-1 in the log")
    api.patch(core(ns, "configmaps", name), {"data": {"data-1": "value-2"}})
    poll(lambda: "value-2" in _logs(api, ns, pname), timeout=60, what="value-2 in the log")


# -- Secrets -----------------------------------------------------------------------------

def test_secrets_should_be_consumable_from_pods_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] Secrets should be consumable from pods in volume"""
    name = unique("secret-test")
    _secret(api, ns, name, {"data-1": "value-1"})
    out = _run(api, ns, _pod(unique("pod-secrets"), _cat_mode(f"{MOUNT}/data-1"),
                             [{"name": "v", "secret": {"secretName": name}}]))
    assert out.split() == ["value-1", "-rw-r--r--"]


def test_secrets_should_be_consumable_from_pods_in_volume_with_defaultmode_set(
        api: Api, ns: str) -> None:
    """[sig-storage] Secrets should be consumable from pods in volume with defaultMode set"""
    name = unique("secret-test")
    _secret(api, ns, name, {"data-1": "value-1"})
    out = _run(api, ns, _pod(unique("pod-secrets"), _cat_mode(f"{MOUNT}/data-1"),
                             [{"name": "v", "secret": {"secretName": name,
                                                       "defaultMode": 0o400}}]))
    assert out.split() == ["value-1", "-r--------"]


def test_secrets_should_be_consumable_from_pods_in_volume_as_non_root_with_defaultmode_and_fsgroup_set(  # noqa: E501
        api: Api, ns: str) -> None:
    """[sig-storage] Secrets should be consumable from pods in volume as non-root with
    defaultMode and fsGroup set"""
    name = unique("secret-test")
    _secret(api, ns, name, {"data-1": "value-1"})
    out = _run(api, ns, _pod(unique("pod-secrets"), "id -u; " + _cat_mode(f"{MOUNT}/data-1")
                             + f"; stat -L -c %g {MOUNT}/data-1",
                             [{"name": "v", "secret": {"secretName": name,
                                                       "defaultMode": 0o440}}],
                             securityContext={"runAsUser": 1000, "fsGroup": 1001}))
    assert out.split() == ["1000", "value-1", "-r--r-----", "1001"]


def test_secrets_should_be_consumable_from_pods_in_volume_with_mappings(api: Api,
                                                                        ns: str) -> None:
    """[sig-storage] Secrets should be consumable from pods in volume with mappings"""
    name = unique("secret-test-map")
    _secret(api, ns, name, {"data-1": "value-1"})
    vol = {"name": "v", "secret": {"secretName": name, "items": [
        {"key": "data-1", "path": "new-path-data-1"}]}}
    out = _run(api, ns, _pod(unique("pod-secrets"), _cat_mode(f"{MOUNT}/new-path-data-1"),
                             [vol]))
    assert out.split() == ["value-1", "-rw-r--r--"]


def test_secrets_should_be_able_to_mount_in_a_volume_regardless_of_a_different_secret_existing_with_same_name_in_different_namespace(  # noqa: E501
        api: Api, ns: str) -> None:
    """[sig-storage] Secrets should be able to mount in a volume regardless of a different
    secret existing with same name in different namespace"""
    name = unique("secret-test")
    other = unique("secret-namespace")
    api.create(core(None, "namespaces"), {"metadata": {"name": other}})
    try:
        _secret(api, other, name, {"data-1": "other-value"})
        _secret(api, ns, name, {"data-1": "value-1"})
        out = _run(api, ns, _pod(unique("pod-secrets"), f"cat {MOUNT}/data-1",
                                 [{"name": "v", "secret": {"secretName": name}}]))
        assert out.split() == ["value-1"]
    finally:
        api.delete(core(None, "namespaces", other))


# -- Downward API volume -----------------------------------------------------------------

def _downward(items: list[dict[str, Any]], **src: Any) -> list[dict[str, Any]]:
    return [{"name": "podinfo", "downwardAPI": {"items": items, **src}}]


def test_downward_api_volume_should_provide_podname_only(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should provide podname only"""
    name = unique("downwardapi-volume")
    out = _run(api, ns, _pod(name, f"cat {MOUNT}/podname", _downward(
        [{"path": "podname", "fieldRef": {"fieldPath": "metadata.name"}}])))
    assert out.strip() == name


def test_downward_api_volume_should_set_defaultmode_on_files(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should set DefaultMode on files"""
    out = _run(api, ns, _pod(unique("downwardapi-volume"), f"stat -L -c %A {MOUNT}/podname",
                             _downward([{"path": "podname", "fieldRef": {
                                 "fieldPath": "metadata.name"}}], defaultMode=0o400)))
    assert out.strip() == "-r--------"


def test_downward_api_volume_should_set_mode_on_item_file(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should set mode on item file"""
    out = _run(api, ns, _pod(unique("downwardapi-volume"), f"stat -L -c %A {MOUNT}/podname",
                             _downward([{"path": "podname", "mode": 0o400, "fieldRef": {
                                 "fieldPath": "metadata.name"}}])))
    assert out.strip() == "-r--------"


def _resource_pod(resource: str, *, limits: bool = True) -> dict[str, Any]:
    pod = _pod(unique("downwardapi-volume"), f"cat {MOUNT}/value", _downward([
        {"path": "value", "resourceFieldRef": {"containerName": "c", "resource": resource,
                                               **({"divisor": "1Mi"} if "memory" in resource
                                                  else {"divisor": "1m"})}}]))
    if limits:
        pod["spec"]["containers"][0]["resources"] = {
            "requests": {"cpu": "250m", "memory": "32Mi"},
            "limits": {"cpu": "1250m", "memory": "64Mi"}}
    return pod


def test_downward_api_volume_should_provide_containers_cpu_limit(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should provide container's cpu limit"""
    assert _run(api, ns, _resource_pod("limits.cpu")).strip() == "1250"


def test_downward_api_volume_should_provide_containers_memory_limit(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should provide container's memory limit"""
    assert _run(api, ns, _resource_pod("limits.memory")).strip() == "64"


def test_downward_api_volume_should_provide_containers_cpu_request(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should provide container's cpu request"""
    assert _run(api, ns, _resource_pod("requests.cpu")).strip() == "250"


def test_downward_api_volume_should_provide_containers_memory_request(api: Api,
                                                                      ns: str) -> None:
    """[sig-storage] Downward API volume should provide container's memory request"""
    assert _run(api, ns, _resource_pod("requests.memory")).strip() == "32"


def test_downward_api_volume_should_provide_node_allocatable_cpu_as_default_cpu_limit_if_the_limit_is_not_set(  # noqa: E501
        api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should provide node allocatable (cpu) as default cpu
    limit if the limit is not set"""
    node = api.list(core(None, "nodes"))[0]
    alloc = str(node["status"]["allocatable"]["cpu"])
    want = int(alloc[:-1]) if alloc.endswith("m") else int(alloc) * 1000
    assert int(_run(api, ns, _resource_pod("limits.cpu", limits=False)).strip()) == want


def test_downward_api_volume_should_update_labels_on_modification(api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should update labels on modification"""
    pod = _pod(unique("labelsupdate"), f"while true; do cat {MOUNT}/labels; echo; sleep 0.5; "
               "done", _downward([{"path": "labels", "fieldRef": {
                   "fieldPath": "metadata.labels"}}]))
    pod["metadata"]["labels"] = {"key1": "value1"}
    pod["spec"]["restartPolicy"] = "Always"
    name = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)
    poll(lambda: 'key1="value1"' in _logs(api, ns, name), timeout=30, what="key1 in the log")
    api.patch(core(ns, "pods", name), {"metadata": {"labels": {"key3": "value3"}}})
    poll(lambda: 'key3="value3"' in _logs(api, ns, name), timeout=60, what="key3 in the log")


# -- Projected ---------------------------------------------------------------------------

def test_projected_combined_should_project_all_components_that_make_up_the_projection_api(
        api: Api, ns: str) -> None:
    """[sig-storage] Projected combined should project all components that make up the
    projection API"""
    name = unique("projected-configmap-test-volume")
    _cm(api, ns, name, {"configmap-data": "configmap-value-1"})
    _secret(api, ns, name, {"secret-data": "secret-value-1"})
    vol = {"name": "podinfo", "projected": {"sources": [
        {"downwardAPI": {"items": [{"path": "podname", "fieldRef": {
            "fieldPath": "metadata.name"}}]}},
        {"secret": {"name": name, "items": [{"key": "secret-data", "path": "secret-data"}]}},
        {"configMap": {"name": name, "items": [{"key": "configmap-data",
                                                "path": "configmap-data"}]}}]}}
    pname = unique("projected-volume")
    out = _run(api, ns, _pod(pname, f"cat {MOUNT}/podname; echo; cat {MOUNT}/secret-data; "
                             f"echo; cat {MOUNT}/configmap-data", [vol]))
    assert out.split() == [pname, "secret-value-1", "configmap-value-1"]


def test_projected_configmap_should_be_consumable_from_pods_in_volume(api: Api,
                                                                      ns: str) -> None:
    """[sig-storage] Projected configMap should be consumable from pods in volume"""
    name = unique("projected-configmap-test-volume")
    _cm(api, ns, name, {"data-1": "value-1"})
    vol = {"name": "v", "projected": {"sources": [{"configMap": {"name": name}}]}}
    out = _run(api, ns, _pod(unique("pod-projected-configmaps"),
                             _cat_mode(f"{MOUNT}/data-1"), [vol]))
    assert out.split() == ["value-1", "-rw-r--r--"]


def test_projected_secret_should_be_consumable_from_pods_in_volume_with_defaultmode_set(
        api: Api, ns: str) -> None:
    """[sig-storage] Projected secret should be consumable from pods in volume with
    defaultMode set"""
    name = unique("projected-secret-test")
    _secret(api, ns, name, {"data-1": "value-1"})
    vol = {"name": "v", "projected": {"defaultMode": 0o400,
                                      "sources": [{"secret": {"name": name}}]}}
    out = _run(api, ns, _pod(unique("pod-projected-secrets"), _cat_mode(f"{MOUNT}/data-1"),
                             [vol]))
    assert out.split() == ["value-1", "-r--------"]


# -- EmptyDir ----------------------------------------------------------------------------

def test_emptydir_volumes_volume_on_tmpfs_should_have_the_correct_mode(api: Api,
                                                                       ns: str) -> None:
    """[sig-storage] EmptyDir volumes volume on tmpfs should have the correct mode"""
    out = _run(api, ns, _pod(unique("pod"), f"stat -c %A {MOUNT}; "
                             f"awk '$2==\"{MOUNT}\"{{print $3}}' /proc/mounts",
                             [{"name": "v", "emptyDir": {"medium": "Memory"}}]))
    assert out.split() == ["drwxrwxrwx", "tmpfs"]


def test_emptydir_volumes_volume_on_default_medium_should_have_the_correct_mode(
        api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes volume on default medium should have the correct mode"""
    out = _run(api, ns, _pod(unique("pod"), f"stat -c %A {MOUNT}",
                             [{"name": "v", "emptyDir": {}}]))
    assert out.strip() == "drwxrwxrwx"


def test_emptydir_volumes_should_support_non_root_0644_tmpfs(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (non-root,0644,tmpfs)"""
    out = _run(api, ns, _pod(unique("pod"), f"echo mount-tester > {MOUNT}/test-file; "
                             f"chmod 0644 {MOUNT}/test-file; stat -c %A {MOUNT}/test-file; "
                             f"cat {MOUNT}/test-file; id -u",
                             [{"name": "v", "emptyDir": {"medium": "Memory"}}],
                             securityContext={"runAsUser": 1001}))
    assert out.split() == ["-rw-r--r--", "mount-tester", "1001"]


def test_emptydir_volumes_pod_should_support_shared_volumes_between_containers(
        api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes pod should support shared volumes between containers"""
    share = "/usr/share/volumeshare"
    pod = _pod(unique("pod-sharedvolume"), "echo Hello from the busy-box sub-container > "
               f"{share}/shareddata.txt; sleep 3600",
               [{"name": "shared-data", "emptyDir": {}}],
               mounts=[{"name": "shared-data", "mountPath": share}])
    pod["spec"]["restartPolicy"] = "Always"
    pod["spec"]["containers"].append({
        "name": "reader", "image": "busybox", "command": ["sh", "-c", (
            f"while [ ! -s {share}/shareddata.txt ]; do sleep 0.2; done; "
            f"cat {share}/shareddata.txt; sleep 3600")],
        "volumeMounts": [{"name": "shared-data", "mountPath": share}]})
    name = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)

    def reader_log() -> str:
        try:
            out = api.request("GET", core(ns, "pods", name, "log"),
                              query={"container": "reader"})
        except Exception:
            return ""
        return str(out.get("message", "")) if isinstance(out, dict) else str(out)

    poll(lambda: "Hello from the busy-box sub-container" in reader_log(), timeout=30,
         what="the reader container to see the writer's file")


def _emptydir_case(api: Api, ns: str, *, root: bool, mode: str, tmpfs: bool) -> None:
    """Upstream's ``doTest0644``/``0666``/``0777``: a new file made with ``mode`` in the
    volume by root or uid 1001, its permissions and content read back."""
    want = {"0644": "-rw-r--r--", "0666": "-rw-rw-rw-", "0777": "-rwxrwxrwx"}[mode]
    vol: dict[str, Any] = {"name": "v", "emptyDir": {"medium": "Memory"} if tmpfs else {}}
    script = (f"umask 0; echo mount-tester new file > {MOUNT}/new_file; chmod {mode} "
              f"{MOUNT}/new_file; stat -c %A {MOUNT}/new_file; cat {MOUNT}/new_file; id -u")
    extra = {} if root else {"securityContext": {"runAsUser": 1001}}
    out = _run(api, ns, _pod(unique("pod"), script, [vol], **extra))
    assert out.split() == [want, "mount-tester", "new", "file", "0" if root else "1001"]


def test_emptydir_volumes_should_support_root_0644_tmpfs(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (root,0644,tmpfs)"""
    _emptydir_case(api, ns, root=True, mode="0644", tmpfs=True)


def test_emptydir_volumes_should_support_root_0666_tmpfs(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (root,0666,tmpfs)"""
    _emptydir_case(api, ns, root=True, mode="0666", tmpfs=True)


def test_emptydir_volumes_should_support_root_0777_tmpfs(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (root,0777,tmpfs)"""
    _emptydir_case(api, ns, root=True, mode="0777", tmpfs=True)


def test_emptydir_volumes_should_support_non_root_0666_tmpfs(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (non-root,0666,tmpfs)"""
    _emptydir_case(api, ns, root=False, mode="0666", tmpfs=True)


def test_emptydir_volumes_should_support_non_root_0777_tmpfs(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (non-root,0777,tmpfs)"""
    _emptydir_case(api, ns, root=False, mode="0777", tmpfs=True)


def test_emptydir_volumes_should_support_root_0644_default(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (root,0644,default)"""
    _emptydir_case(api, ns, root=True, mode="0644", tmpfs=False)


def test_emptydir_volumes_should_support_root_0666_default(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (root,0666,default)"""
    _emptydir_case(api, ns, root=True, mode="0666", tmpfs=False)


def test_emptydir_volumes_should_support_root_0777_default(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (root,0777,default)"""
    _emptydir_case(api, ns, root=True, mode="0777", tmpfs=False)


def test_emptydir_volumes_should_support_non_root_0644_default(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (non-root,0644,default)"""
    _emptydir_case(api, ns, root=False, mode="0644", tmpfs=False)


def test_emptydir_volumes_should_support_non_root_0666_default(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (non-root,0666,default)"""
    _emptydir_case(api, ns, root=False, mode="0666", tmpfs=False)


def test_emptydir_volumes_should_support_non_root_0777_default(api: Api, ns: str) -> None:
    """[sig-storage] EmptyDir volumes should support (non-root,0777,default)"""
    _emptydir_case(api, ns, root=False, mode="0777", tmpfs=False)


def test_configmap_should_be_consumable_from_pods_in_volume_with_mappings_as_non_root(
        api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap should be consumable from pods in volume with mappings as
    non-root"""
    name = unique("configmap-test-volume-map")
    _cm(api, ns, name, {"data-2": "value-2"})
    vol = {"name": "v", "configMap": {"name": name, "items": [
        {"key": "data-2", "path": "path/to/data-2"}]}}
    out = _run(api, ns, _pod(unique("pod-configmaps"), "id -u; " +
                             _cat_mode(f"{MOUNT}/path/to/data-2"), [vol],
                             securityContext={"runAsUser": 1000}))
    assert out.split() == ["1000", "value-2", "-rw-r--r--"]


def test_secrets_should_be_consumable_from_pods_in_volume_with_mappings_and_item_mode_set(
        api: Api, ns: str) -> None:
    """[sig-storage] Secrets should be consumable from pods in volume with mappings and Item
    Mode set"""
    name = unique("secret-test-map")
    _secret(api, ns, name, {"data-1": "value-1"})
    vol = {"name": "v", "secret": {"secretName": name, "items": [
        {"key": "data-1", "path": "new-path-data-1", "mode": 0o400}]}}
    out = _run(api, ns, _pod(unique("pod-secrets"), _cat_mode(f"{MOUNT}/new-path-data-1"),
                             [vol]))
    assert out.split() == ["value-1", "-r--------"]


def test_secrets_should_be_consumable_in_multiple_volumes_in_a_pod(api: Api, ns: str) -> None:
    """[sig-storage] Secrets should be consumable in multiple volumes in a pod"""
    name = unique("secret-test")
    _secret(api, ns, name, {"data-1": "value-1"})
    vols = [{"name": "v1", "secret": {"secretName": name}},
            {"name": "v2", "secret": {"secretName": name}}]
    mounts = [{"name": "v1", "mountPath": "/etc/secret-volume-1"},
              {"name": "v2", "mountPath": "/etc/secret-volume-2"}]
    out = _run(api, ns, _pod(unique("pod-secrets"), "cat /etc/secret-volume-1/data-1; echo; "
                             "cat /etc/secret-volume-2/data-1", vols, mounts=mounts))
    assert out.split() == ["value-1", "value-1"]


def test_downward_api_volume_should_update_annotations_on_modification(api: Api,
                                                                       ns: str) -> None:
    """[sig-storage] Downward API volume should update annotations on modification"""
    pod = _pod(unique("annotationupdate"), f"while true; do cat {MOUNT}/annotations; echo; "
               "sleep 0.5; done", _downward([{"path": "annotations", "fieldRef": {
                   "fieldPath": "metadata.annotations"}}]))
    pod["metadata"]["annotations"] = {"builder": "bar"}
    pod["spec"]["restartPolicy"] = "Always"
    name = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)
    poll(lambda: 'builder="bar"' in _logs(api, ns, name), timeout=30, what="builder=bar")
    api.patch(core(ns, "pods", name), {"metadata": {"annotations": {"builder": "foo"}}})
    poll(lambda: 'builder="foo"' in _logs(api, ns, name), timeout=60, what="builder=foo")


def test_downward_api_volume_should_provide_node_allocatable_memory_as_default_memory_limit_if_the_limit_is_not_set(  # noqa: E501
        api: Api, ns: str) -> None:
    """[sig-storage] Downward API volume should provide node allocatable (memory) as default
    memory limit if the limit is not set"""
    out = int(_run(api, ns, _resource_pod("limits.memory", limits=False)).strip())
    assert out > 0  # MiB of the node's memory


def test_projected_downwardapi_should_provide_podname_only(api: Api, ns: str) -> None:
    """[sig-storage] Projected downwardAPI should provide podname only"""
    name = unique("downwardapi-volume")
    vol = {"name": "podinfo", "projected": {"sources": [{"downwardAPI": {"items": [
        {"path": "podname", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}}
    assert _run(api, ns, _pod(name, f"cat {MOUNT}/podname", [vol])).strip() == name


def test_projected_secret_should_be_consumable_from_pods_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] Projected secret should be consumable from pods in volume"""
    name = unique("projected-secret-test")
    _secret(api, ns, name, {"data-1": "value-1"})
    vol = {"name": "v", "projected": {"sources": [{"secret": {"name": name}}]}}
    out = _run(api, ns, _pod(unique("pod-projected-secrets"), _cat_mode(f"{MOUNT}/data-1"),
                             [vol]))
    assert out.split() == ["value-1", "-rw-r--r--"]


def test_projected_configmap_updates_should_be_reflected_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] Projected configMap updates should be reflected in volume"""
    name = unique("projected-configmap-test-upd")
    _cm(api, ns, name, {"data-1": "value-1"})
    pod = _pod(unique("pod-projected-configmaps"),
               f"while true; do cat {MOUNT}/data-1; echo; sleep 0.5; done",
               [{"name": "v", "projected": {"sources": [{"configMap": {"name": name}}]}}])
    pod["spec"]["restartPolicy"] = "Always"
    api.create(core(ns, "pods"), pod)
    pname = pod["metadata"]["name"]
    poll(lambda: "value-1" in _logs(api, ns, pname), timeout=30, what="value-1 in the log")
    api.patch(core(ns, "configmaps", name), {"data": {"data-1": "value-2"}})
    poll(lambda: "value-2" in _logs(api, ns, pname), timeout=60, what="value-2 in the log")


def _optional_updates(api: Api, ns: str, *, secret: bool) -> None:
    """Upstream's "optional updates should be reflected in volume": three optional volumes;
    one source deleted, one updated, one created after the pod started."""
    kind = "secret" if secret else "configmap"
    names = {k: unique(f"{kind}-test-{k}") for k in ("del", "upd", "create")}

    def make(name: str, data: dict[str, str]) -> None:
        (_secret if secret else _cm)(api, ns, name, data)

    make(names["del"], {"data-1": "value-1"})
    make(names["upd"], {"data-1": "value-1"})
    vols = [({"name": k, "secret": {"secretName": n, "optional": True}} if secret else
             {"name": k, "configMap": {"name": n, "optional": True}})
            for k, n in names.items()]
    mounts = [{"name": k, "mountPath": f"/etc/vols/{k}"} for k in names]
    loop = ("while true; do "
            "echo del=$(cat /etc/vols/del/data-1 2>/dev/null || echo missing) "
            "upd=$(cat /etc/vols/upd/data-3 2>/dev/null || echo missing) "
            "create=$(cat /etc/vols/create/data-1 2>/dev/null || echo missing); "
            "sleep 0.5; done")
    pod = _pod(unique(f"pod-{kind}s"), loop, vols, mounts=mounts)
    pod["spec"]["restartPolicy"] = "Always"
    pname = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)
    first = "del=value-1 upd=missing create=missing"
    poll(lambda: first in _logs(api, ns, pname), timeout=30, what=first)
    res = "secrets" if secret else "configmaps"
    api.delete(core(ns, res, names["del"]))
    data3 = base64.b64encode(b"value-3").decode() if secret else "value-3"
    api.patch(core(ns, res, names["upd"]), {"data": {"data-3": data3}})
    make(names["create"], {"data-1": "value-1"})
    want = "del=missing upd=value-3 create=value-1"
    poll(lambda: want in _logs(api, ns, pname), timeout=60, what=want)


def test_configmap_optional_updates_should_be_reflected_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] ConfigMap optional updates should be reflected in volume"""
    _optional_updates(api, ns, secret=False)


def test_secrets_optional_updates_should_be_reflected_in_volume(api: Api, ns: str) -> None:
    """[sig-storage] Secrets optional updates should be reflected in volume"""
    _optional_updates(api, ns, secret=True)


def test_projected_configmap_optional_updates_should_be_reflected_in_volume(
        api: Api, ns: str) -> None:
    """[sig-storage] Projected configMap optional updates should be reflected in volume"""
    names = {k: unique(f"cm-{k}") for k in ("del", "upd", "create")}
    _cm(api, ns, names["del"], {"data-1": "value-1"})
    _cm(api, ns, names["upd"], {"data-1": "value-1"})
    vols = [{"name": k, "projected": {"sources": [{"configMap": {"name": n,
                                                                 "optional": True}}]}}
            for k, n in names.items()]
    mounts = [{"name": k, "mountPath": f"/etc/vols/{k}"} for k in names]
    loop = ("while true; do "
            "echo del=$(cat /etc/vols/del/data-1 2>/dev/null || echo missing) "
            "upd=$(cat /etc/vols/upd/data-3 2>/dev/null || echo missing) "
            "create=$(cat /etc/vols/create/data-1 2>/dev/null || echo missing); "
            "sleep 0.5; done")
    pod = _pod(unique("pod-projected-configmaps"), loop, vols, mounts=mounts)
    pod["spec"]["restartPolicy"] = "Always"
    pname = pod["metadata"]["name"]
    api.create(core(ns, "pods"), pod)
    poll(lambda: "del=value-1 upd=missing create=missing" in _logs(api, ns, pname),
         timeout=30, what="the first contents")
    api.delete(core(ns, "configmaps", names["del"]))
    api.patch(core(ns, "configmaps", names["upd"]), {"data": {"data-3": "value-3"}})
    _cm(api, ns, names["create"], {"data-1": "value-1"})
    want = "del=missing upd=value-3 create=value-1"
    poll(lambda: want in _logs(api, ns, pname), timeout=60, what=want)
