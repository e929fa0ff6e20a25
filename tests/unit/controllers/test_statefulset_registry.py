"""The StatefulSet controller, the PV binder with the local-path provisioner, and the
Deployment rollback fix, against the real in-process Registry (memory store): what they
write must pass the API server's defaulting, validation and status subresources."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.core import Registry
from kubesvc.client.options import DeleteOptions
from kubesvc.controllers import ControllerManager, ControllerOptions
from kubesvc.storage.memory import MemoryStore

STS = "statefulsets.apps"
NODE = "node-a"


async def poll(fn: Callable[[], Awaitable[Any]], what: str, timeout: float = 8.0) -> Any:
    end = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = await fn()
            if last:
                return last
        except Exception as exc:
            last = exc
        assert time.monotonic() < end, f"timed out: {what} (last: {last!r})"
        await asyncio.sleep(0.02)


class Kubelet:
    """Schedules pods to one node, makes them Running/Ready unless held back, and finishes
    graceful deletions, as the scheduler and node agent would."""

    def __init__(self, reg: Registry) -> None:
        self.reg = reg
        self.hold: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            for pod in (await self.reg.list("pods"))["items"]:
                md = pod["metadata"]
                if md.get("deletionTimestamp"):
                    with contextlib.suppress(Exception):
                        await self.reg.delete("pods", md["name"], namespace=md["namespace"],
                                              opts=DeleteOptions(grace_period_seconds=0))
                    continue
                if md["name"] in self.hold or (pod.get("status") or {}).get("podIP"):
                    continue
                if not (pod.get("spec") or {}).get("nodeName"):
                    with contextlib.suppress(Exception):
                        await self.reg.create("pods", {
                            "apiVersion": "v1", "kind": "Binding",
                            "metadata": {"name": md["name"]},
                            "target": {"kind": "Node", "name": NODE}},
                            namespace=md["namespace"], subresource="binding", name=md["name"])
                    continue
                n += 1
                st = {"phase": "Running", "podIP": f"10.244.0.{n}",
                      "conditions": [{"type": "Ready", "status": "True"}]}
                with contextlib.suppress(Exception):
                    await self.reg.patch("pods", md["name"], {"status": st},
                                         namespace=md["namespace"], subresource="status")
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cluster(storage_root: Path | None = None) -> AsyncIterator[tuple[Registry, Kubelet]]:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    mgr = ControllerManager(reg, options=ControllerOptions(
        controllers=frozenset({"statefulset", "persistentvolume-binder", "deployment",
                               "replicaset", "garbage-collector"}),
        storage_root=storage_root))
    kubelet = Kubelet(reg)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(mgr.run(stop)), asyncio.create_task(kubelet.run(stop))]
    try:
        await poll(lambda: asyncio.sleep(0, mgr.synced()), "synced")
        yield reg, kubelet
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await reg.stop()


def statefulset(replicas: int = 3, **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
        "spec": {"replicas": replicas, "serviceName": "nginx",
                 "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {
                     "containers": [{"name": "c", "image": "img:1"}]}}, **spec},
    }


async def pod_names(reg: Registry) -> list[str]:
    return sorted(p["metadata"]["name"] for p in (await reg.list("pods"))["items"])


async def sts_status(reg: Registry) -> dict[str, Any]:
    return dict((await reg.get(STS, "web", namespace="default")).get("status") or {})


async def test_ordered_creation_waits_for_readiness_then_scales_down_from_the_top() -> None:
    async with cluster() as (reg, kubelet):
        kubelet.hold.add("web-0")
        await reg.create(STS, statefulset(), namespace="default")
        await poll(lambda: _names_are(reg, ["web-0"]), "web-0 created")
        await asyncio.sleep(0.3)
        assert await pod_names(reg) == ["web-0"]  # web-1 waits for web-0 to be Ready
        kubelet.hold.clear()
        await poll(lambda: _ready(reg, 3), "3 ready")
        pods = {p["metadata"]["name"]: p for p in (await reg.list("pods"))["items"]}
        p1 = pods["web-1"]
        assert p1["spec"]["hostname"] == "web-1" and p1["spec"]["subdomain"] == "nginx"
        assert p1["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
        st = await sts_status(reg)
        assert st["currentRevision"] == st["updateRevision"] != ""
        revs = (await reg.list("controllerrevisions.apps", namespace="default"))["items"]
        assert [r["metadata"]["name"] for r in revs] == [st["updateRevision"]]
        await reg.patch(STS, "web", {"spec": {"replicas": 1}}, namespace="default")
        await poll(lambda: _names_are(reg, ["web-0"]), "scaled to 1")
        events = (await reg.list("events", namespace="default"))["items"]
        deletes = [e["message"] for e in sorted(events, key=lambda e: e["metadata"][
            "resourceVersion"]) if e["reason"] == "SuccessfulDelete"]
        assert deletes[:2] == ["delete Pod web-2 in StatefulSet web successful",
                               "delete Pod web-1 in StatefulSet web successful"]


async def _names_are(reg: Registry, want: list[str]) -> bool:
    return await pod_names(reg) == want


async def _ready(reg: Registry, n: int) -> bool:
    st = await sts_status(reg)
    return bool(st.get("readyReplicas") == n and st.get("replicas") == n)


async def test_partitioned_rolling_update_and_undo_by_revision() -> None:
    async with cluster() as (reg, _):
        await reg.create(STS, statefulset(podManagementPolicy="Parallel", updateStrategy={
            "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}), namespace="default")
        await poll(lambda: _ready(reg, 3), "3 ready")
        first = (await sts_status(reg))["updateRevision"]
        await reg.patch(STS, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "img:2"}]}}}}, namespace="default")

        async def partitioned() -> bool:
            st = await sts_status(reg)
            return bool(st.get("updatedReplicas") == 2 and st.get("readyReplicas") == 3)
        await poll(partitioned, "two pods updated")
        pods = {p["metadata"]["name"]: p for p in (await reg.list("pods"))["items"]}
        images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
        assert images == {"web-0": "img:1", "web-1": "img:2", "web-2": "img:2"}
        st = await sts_status(reg)
        assert st["currentRevision"] == first and st["updateRevision"] != first
        # kubectl rollout undo: the old revision's data, applied as a strategic merge patch
        old = await reg.get("controllerrevisions.apps", first, namespace="default")
        await reg.patch(STS, "web", old["data"], namespace="default", patch_type="strategic")
        await poll(lambda: _revision_is(reg, first), "back on the first revision")
        revs = {r["metadata"]["name"]: r["revision"] for r in (
            await reg.list("controllerrevisions.apps", namespace="default"))["items"]}
        assert len(revs) == 2 and revs[first] == 3  # re-used, renumbered, no third one


async def _revision_is(reg: Registry, rev: str) -> bool:
    st = await sts_status(reg)
    pods = (await reg.list("pods"))["items"]
    return bool(st.get("updateRevision") == rev and st.get("updatedReplicas") == 3
                and len(pods) == 3 and all(
                    p["metadata"]["labels"]["controller-revision-hash"] == rev for p in pods))


async def test_claims_are_provisioned_bound_kept_and_reclaimed(tmp_path: Path) -> None:
    async with cluster(storage_root=tmp_path) as (reg, _):
        await poll(lambda: reg.get("storageclasses.storage.k8s.io", "local-path"),
                   "default class")
        await reg.create(STS, statefulset(2, volumeClaimTemplates=[{
            "metadata": {"name": "www"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                  "resources": {"requests": {"storage": "1Gi"}}}}],
            persistentVolumeClaimRetentionPolicy={"whenDeleted": "Retain",
                                                  "whenScaled": "Delete"}),
            namespace="default")

        async def bound() -> list[Obj] | None:
            claims = (await reg.list("persistentvolumeclaims", namespace="default"))["items"]
            ok = len(claims) == 2 and all(c["status"].get("phase") == "Bound" for c in claims)
            return claims if ok else None
        claims = await poll(bound, "claims bound")
        c0 = next(c for c in claims if c["metadata"]["name"] == "www-web-0")
        assert c0["spec"]["storageClassName"] == "local-path"  # DefaultStorageClass
        assert c0["status"]["capacity"] == {"storage": "1Gi"}
        pv = await reg.get("persistentvolumes", c0["spec"]["volumeName"])
        path = Path(pv["spec"]["hostPath"]["path"])
        assert path.is_dir() and path.parent == tmp_path / NODE
        assert pv["spec"]["claimRef"]["name"] == "www-web-0"
        await poll(lambda: _pv_phase(reg, pv["metadata"]["name"], "Bound"), "pv Bound")
        (path / "data.txt").write_text("hello")
        # the pod goes; its claim, volume and data stay for the new web-0
        uid0 = (await reg.get("pods", "web-0", namespace="default"))["metadata"]["uid"]
        await reg.delete("pods", "web-0", namespace="default")
        await poll(lambda: _recreated(reg, "web-0", uid0), "web-0 recreated")
        again = await reg.get("persistentvolumeclaims", "www-web-0", namespace="default")
        assert again["metadata"]["uid"] == c0["metadata"]["uid"]
        assert again["spec"]["volumeName"] == pv["metadata"]["name"]
        assert (path / "data.txt").read_text() == "hello"
        # whenScaled: Delete — scaling to 1 deletes www-web-1, its volume and directory
        c1 = next(c for c in claims if c["metadata"]["name"] == "www-web-1")
        pv1 = await reg.get("persistentvolumes", c1["spec"]["volumeName"])
        dir1 = Path(pv1["spec"]["hostPath"]["path"])
        await reg.patch(STS, "web", {"spec": {"replicas": 1}}, namespace="default")
        await poll(lambda: _gone(reg, "persistentvolumes", pv1["metadata"]["name"]),
                   "pv of web-1 reclaimed")
        assert not dir1.exists() and path.is_dir()


async def _pv_phase(reg: Registry, name: str, phase: str) -> bool:
    return bool((await reg.get("persistentvolumes", name))["status"]["phase"] == phase)


async def _recreated(reg: Registry, name: str, old_uid: str) -> bool:
    pod = await reg.get("pods", name, namespace="default")
    return bool(pod["metadata"]["uid"] != old_uid and pod["status"].get("podIP"))


async def _gone(reg: Registry, res: str, name: str) -> bool:
    try:
        await reg.get(res, name)
    except Exception:
        return True
    return False


async def test_static_volume_binds_smallest_fit_and_retain_releases() -> None:
    async with cluster() as (reg, _):
        for name, size in (("big", "10Gi"), ("small", "2Gi")):
            await reg.create("persistentvolumes", {
                "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                         "storageClassName": "manual", "hostPath": {"path": f"/tmp/{name}"}}})
        await poll(lambda: _pv_phase(reg, "small", "Available"), "available")
        await reg.create("persistentvolumeclaims", {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                     "resources": {"requests": {"storage": "1Gi"}}}}, namespace="default")
        await poll(lambda: _pv_phase(reg, "small", "Bound"), "small bound")
        claim = await reg.get("persistentvolumeclaims", "c", namespace="default")
        assert claim["spec"]["volumeName"] == "small" and claim["status"]["phase"] == "Bound"
        assert (await reg.get("persistentvolumes", "big"))["status"]["phase"] == "Available"
        await reg.delete("persistentvolumeclaims", "c", namespace="default")
        await poll(lambda: _pv_phase(reg, "small", "Released"), "released")
        await asyncio.sleep(0.2)
        assert (await reg.get("persistentvolumes", "small"))["status"]["phase"] == "Released"


async def test_rollout_undo_reuses_the_replicaset() -> None:
    async with cluster() as (reg, _):
        dep: Obj = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
            "name": "d", "annotations": {"kubernetes.io/change-cause": "v1"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}}, "spec": {
                         "containers": [{"name": "c", "image": "img:1"}]}}}}
        await reg.create("deployments.apps", dep, namespace="default")
        await poll(lambda: _rs_count(reg, 1), "first rs")
        (rs1,) = (await reg.list("replicasets.apps", namespace="default"))["items"]
        assert rs1["metadata"]["annotations"]["kubernetes.io/change-cause"] == "v1"
        await reg.patch("deployments.apps", "d", {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "img:2"}]}}}}, namespace="default")
        await poll(lambda: _rs_count(reg, 2), "second rs")
        # what kubectl rollout undo sends: the old template with creationTimestamp: null
        tpl = copy.deepcopy(rs1["spec"]["template"])
        del tpl["metadata"]["labels"]["pod-template-hash"]
        tpl["metadata"]["creationTimestamp"] = None
        await reg.patch("deployments.apps", "d", [
            {"op": "replace", "path": "/spec/template", "value": tpl}],
            namespace="default", patch_type="json")

        async def reused() -> bool:
            rs = await reg.get("replicasets.apps", rs1["metadata"]["name"], namespace="default")
            ann = rs["metadata"]["annotations"]
            return bool(ann["deployment.kubernetes.io/revision"] == "3"
                        and ann.get("deployment.kubernetes.io/revision-history") == "1")
        await poll(reused, "first rs re-used as revision 3")
        await asyncio.sleep(0.3)
        assert await _rs_count(reg, 2)


async def _rs_count(reg: Registry, n: int) -> bool:
    return len((await reg.list("replicasets.apps", namespace="default"))["items"]) == n


async def test_a_claim_in_use_is_kept_until_its_pod_is_gone() -> None:
    async with cluster() as (reg, kubelet):
        kubelet.hold.add("user")
        await reg.create("persistentvolumeclaims", {
            "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                     "resources": {"requests": {"storage": "1Gi"}}}}, namespace="default")
        claim = await reg.get("persistentvolumeclaims", "c", namespace="default")
        assert claim["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
        await reg.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "user"}, "spec": {"containers": [{"name": "c", "image": "i"}], "volumes": [
                {"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]}},
            namespace="default")
        await reg.delete("persistentvolumeclaims", "c", namespace="default")
        await asyncio.sleep(0.3)
        kept = await reg.get("persistentvolumeclaims", "c", namespace="default")
        assert kept["metadata"].get("deletionTimestamp")  # Terminating while used
        await reg.delete("pods", "user", namespace="default",
                         opts=DeleteOptions(grace_period_seconds=0))
        await poll(lambda: _gone_ns(reg, "persistentvolumeclaims", "c"), "claim gone")


async def _gone_ns(reg: Registry, res: str, name: str) -> bool:
    try:
        await reg.get(res, name, namespace="default")
    except Exception:
        return True
    return False


async def test_orphans_are_adopted_and_non_matching_pods_released() -> None:
    async with cluster() as (reg, _):
        await reg.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": "web-0", "labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "c", "image": "img:1"}]}}, namespace="default")
        uid = (await reg.get("pods", "web-0", namespace="default"))["metadata"]["uid"]
        await reg.create(STS, statefulset(1), namespace="default")

        async def owner_kind() -> str:
            pod = await reg.get("pods", "web-0", namespace="default")
            refs = pod["metadata"].get("ownerReferences") or []
            return str(refs[0]["kind"]) if refs and pod["metadata"]["uid"] == uid else ""
        assert await poll(owner_kind, "adopted") == "StatefulSet"
        await reg.patch("pods", "web-0", {"metadata": {"labels": {"app": "other"}}},
                        namespace="default")

        async def released() -> bool:
            pod = await reg.get("pods", "web-0", namespace="default")
            return not pod["metadata"].get("ownerReferences")
        await poll(released, "released")
