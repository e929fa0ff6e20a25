"""StatefulSet, ControllerRevision, PVC, PV, StorageClass and Ingress at the API layer:
defaulting, validation messages and Table cells as upstream v1.32 prints them; the
local-path and binder helpers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.objects import Obj
from kubesvc.api.storage import claim_host_path
from kubesvc.api.tables import to_table
from kubesvc.api.validation import validate_create, validate_update
from kubesvc.apiserver.registry.volumes import default_class
from kubesvc.controllers.storage import binder, localpath


def sts(**spec: Any) -> Obj:
    obj: Obj = {"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1"},
                "spec": {"serviceName": "nginx", "selector": {"matchLabels": {"app": "x"}},
                         "template": {"metadata": {"labels": {"app": "x"}}, "spec": {
                             "containers": [{"name": "c", "image": "i"}]}}, **spec}}
    apply_defaults("statefulsets.apps", obj)
    return obj


def messages(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


def test_statefulset_defaults() -> None:
    s = sts(volumeClaimTemplates=[{"metadata": {"name": "www"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}])
    spec = s["spec"]
    assert spec["podManagementPolicy"] == "OrderedReady" and spec["replicas"] == 1
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                            "whenScaled": "Retain"}
    assert spec["revisionHistoryLimit"] == 10
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert validate_create("statefulsets.apps", s) == []


def test_statefulset_validation_messages() -> None:
    bad = sts(podManagementPolicy="Sometimes", updateStrategy={"type": "OnDelete",
                                                               "rollingUpdate": {}})
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "y"}
    got = messages(validate_create("statefulsets.apps", bad))
    assert "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' " \
        "or 'Parallel'" in got
    assert any(m.startswith("spec.updateStrategy.rollingUpdate: Invalid value") and
               m.endswith("only allowed for updateStrategy 'RollingUpdate'") for m in got)
    assert any(m.startswith("spec.template.metadata.labels: Invalid value") for m in got)
    neg = sts(updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": -1}})
    assert messages(validate_create("statefulsets.apps", neg)) == [
        "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than "
        "or equal to 0"]


def test_statefulset_update_allows_only_upstream_fields() -> None:
    old = sts()
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 5
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "j"
    new["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 2
    assert validate_update("statefulsets.apps", new, old) == []
    new["spec"]["serviceName"] = "other"
    assert messages(validate_update("statefulsets.apps", new, old)) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
        "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"]


def pvc(**spec: Any) -> Obj:
    obj: Obj = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": "c", "namespace": "default", "resourceVersion": "1"},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}, **spec}}
    apply_defaults("persistentvolumeclaims", obj)
    return obj


def test_claim_validation_and_immutability() -> None:
    assert validate_create("persistentvolumeclaims", pvc()) == []
    none = pvc(accessModes=[], resources={})
    assert messages(validate_create("persistentvolumeclaims", none)) == [
        "spec.accessModes: Required value: at least 1 access mode is required",
        "spec.resources[storage]: Required value"]
    old = pvc()
    bound = copy.deepcopy(old)
    bound["spec"]["volumeName"] = "pv1"
    bound["spec"]["storageClassName"] = "local-path"  # retroactive default
    assert validate_update("persistentvolumeclaims", bound, old) == []
    moved = copy.deepcopy(bound)
    moved["spec"]["volumeName"] = "pv2"
    assert messages(validate_update("persistentvolumeclaims", moved, bound))[0].startswith(
        "spec: Forbidden: spec is immutable after creation")


def test_volume_and_class_validation() -> None:
    pv: Obj = {"metadata": {"name": "v"}, "spec": {"capacity": {"storage": "1Gi"},
                                                  "accessModes": ["ReadWriteOnce"]}}
    assert messages(validate_create("persistentvolumes", pv)) == [
        "spec: Required value: must specify a volume type"]
    pv["spec"]["local"] = {"path": "/x"}
    assert messages(validate_create("persistentvolumes", pv)) == [
        "spec.nodeAffinity: Required value: Local volume requires node affinity"]
    sc = localpath.default_storage_class()
    sc["metadata"]["resourceVersion"] = "1"
    assert validate_create("storageclasses.storage.k8s.io", sc) == []
    changed = {**sc, "reclaimPolicy": "Retain"}
    assert messages(validate_update("storageclasses.storage.k8s.io", changed, sc)) == [
        "reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden."]


def cells(resource: str, obj: Obj) -> list[Any]:
    row: list[Any] = to_table(resource, [obj], now=0)["rows"][0]["cells"]
    return row


def test_tables_as_kubectl_prints_them() -> None:
    s = sts(replicas=3)
    s["status"] = {"replicas": 3, "readyReplicas": 2}
    assert cells("statefulsets.apps", s)[:2] == ["web", "2/3"]
    claim = pvc(volumeName="pvc-1", storageClassName="local-path")
    claim["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"},
                       "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}
    assert cells("persistentvolumeclaims", claim) == [
        "c", "Bound", "pvc-1", "1Gi", "RWO,RWX", "local-path", "<unset>", "<unknown>",
        "Filesystem"]
    pv = {"metadata": {"name": "pvc-1"}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Delete", "storageClassName": "local-path",
        "claimRef": {"namespace": "default", "name": "c"}, "volumeMode": "Filesystem"},
        "status": {"phase": "Bound"}}
    assert cells("persistentvolumes", pv) == [
        "pvc-1", "1Gi", "RWO", "Delete", "Bound", "default/c", "local-path", "<unset>", "",
        "<unknown>", "Filesystem"]
    sc = localpath.default_storage_class()
    assert cells("storageclasses.storage.k8s.io", sc)[:5] == [
        "local-path (default)", "kubesvc.io/local-path", "Delete", "WaitForFirstConsumer",
        False]
    cr = {"metadata": {"name": "web-abc", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]},
        "revision": 2}
    assert cells("controllerrevisions.apps", cr)[:3] == ["web-abc", "statefulset.apps/web", 2]


def test_default_class_picks_the_newest_annotated() -> None:
    def sc(name: str, ts: str, default: bool) -> Obj:
        ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
        return {"metadata": {"name": name, "creationTimestamp": ts, "annotations": ann}}
    assert default_class([sc("a", "2026-01-01T00:00:00Z", False)]) is None
    assert default_class([sc("a", "2026-01-01T00:00:00Z", True),
                          sc("b", "2026-01-02T00:00:00Z", True),
                          sc("c", "2026-01-03T00:00:00Z", False)]) == "b"


def test_binder_matching_and_quantities() -> None:
    assert binder.quantity_bytes("1Gi") == 2**30 and binder.quantity_bytes("500M") == 5e8
    claim = pvc(storageClassName="manual")
    claim["metadata"]["uid"] = "u"

    def vol(name: str, size: str, **spec: Any) -> Obj:
        return {"metadata": {"name": name}, "status": {"phase": "Available"}, "spec": {
            "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
            "storageClassName": "manual", "hostPath": {"path": "/x"}, **spec}}
    vols = [vol("big", "5Gi"), vol("small", "1Gi"), vol("tiny", "512Mi"),
            vol("rox", "1Gi", accessModes=["ReadOnlyMany"]), vol("other", "1Gi",
                                                                 storageClassName="x")]
    assert binder.pick_volume(vols, claim)["metadata"]["name"] == "small"  # type: ignore[index]
    taken = vol("pre", "9Gi", claimRef={"namespace": "default", "name": "c"})
    assert binder.pick_volume([*vols, taken], claim)["metadata"]["name"] == "pre"  # type: ignore[index]
    other = vol("theirs", "1Gi", claimRef={"namespace": "default", "name": "d"})
    assert binder.pick_volume([other], claim) is None


def test_local_path_layout(tmp_path: Path) -> None:
    claim = pvc()
    claim["metadata"]["uid"] = "abc"
    d = localpath.volume_dir(tmp_path, "node-1", claim)
    assert d == tmp_path / "node-1" / "pvc-abc_default_c"
    pv = localpath.new_volume(claim, localpath.default_storage_class(), node="node-1", path=d)
    assert pv["metadata"]["name"] == "pvc-abc"
    assert localpath.host_path_for(pv) == d and localpath.node_of(pv) == "node-1"
    bound = {**claim, "spec": {**claim["spec"], "volumeName": "pvc-abc"},
             "status": {"phase": "Bound"}}
    assert claim_host_path(bound, pv) == d
    assert claim_host_path(claim, pv) is None and claim_host_path(bound, None) is None
    assert validate_create("persistentvolumes", pv) == []
    localpath.make_dir(d)
    assert d.is_dir()
    outside = tmp_path.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    assert localpath.remove_dir(tmp_path, outside) is False and outside.is_dir()
    assert localpath.remove_dir(tmp_path, d) is True and not d.exists()
