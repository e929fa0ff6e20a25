"""The scheduler places a pod whose claim is bound to a local volume on the volume's node
(upstream VolumeBinding's node-affinity check), and says so when that node cannot take it."""

from __future__ import annotations

import asyncio

from kubesvc.runtime.scheduler import Scheduler
from tests.fakes.client import FakeClient
from tests.unit.runtime.helpers import pod, wait_for


def node(name: str, *, ready: bool = True) -> dict[str, object]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {}, "status": {"conditions": [
                {"type": "Ready", "status": "True" if ready else "False"}]}}


async def test_pod_goes_to_its_volume_node() -> None:
    client = FakeClient()
    for n in ("n1", "n2", "n3"):
        await client.create("nodes", node(n, ready=n != "n3"))
    await client.create("persistentvolumes", {"metadata": {"name": "pv1"}, "spec": {
        "hostPath": {"path": "/x"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                   "values": ["n2"]}]}]}}}})
    await client.create("persistentvolumeclaims", {"metadata": {
        "name": "c", "namespace": "default"}, "spec": {"volumeName": "pv1"}})
    await client.create("persistentvolumes", {"metadata": {"name": "pv3"}, "spec": {
        "hostPath": {"path": "/y"}, "nodeAffinity": {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                   "values": ["n3"]}]}]}}}})
    await client.create("persistentvolumeclaims", {"metadata": {
        "name": "d", "namespace": "default"}, "spec": {"volumeName": "pv3"}})
    sched = Scheduler(client)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        for i in range(3):
            await client.create("pods", pod(f"p-{i}", node="", volumes=[
                {"name": "v", "persistentVolumeClaim": {"claimName": "c"}}]))
        await client.create("pods", pod("stuck", node="", volumes=[
            {"name": "v", "persistentVolumeClaim": {"claimName": "d"}}]))

        def nodes() -> list[str]:
            return [str(client.objects["pods"][("default", f"p-{i}")]["spec"].get(
                "nodeName") or "") for i in range(3)]
        await wait_for(lambda: all(nodes()), 5, "bound")
        assert nodes() == ["n2", "n2", "n2"]

        def message() -> str:
            st = client.objects["pods"][("default", "stuck")].get("status") or {}
            return str(((st.get("conditions") or [{}])[0]).get("message") or "")
        msg = await wait_for(message, 5, "FailedScheduling")
        assert msg.startswith("0/3 nodes are available: 1 node(s) had untolerated taint "
                              "{node.kubernetes.io/not-ready: }, 2 node(s) had volume node "
                              "affinity conflict.")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
