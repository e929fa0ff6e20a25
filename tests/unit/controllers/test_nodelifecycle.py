"""Node lifecycle: lease expiry marks the node Unknown and its pods not ready (so their
endpoints go not ready); renewed heartbeats flip both back."""

from __future__ import annotations

import asyncio

from kubesvc.controllers.endpointslice import EndpointSliceController
from kubesvc.controllers.nodelifecycle import NodeLifecycleController
from kubesvc.controllers.servicepods import ServicePodIndex
from tests.unit.controllers.helpers import Harness, Obj, pod, service, wait_for

SLICES = "endpointslices.discovery.k8s.io"
LEASES = "leases.coordination.k8s.io"


def lease(node: str, renew: str) -> Obj:
    return {"metadata": {"name": node, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": renew}}


def node(h: Harness, name: str) -> Obj:
    return h.client.objects["nodes"][("", name)]


def ready_status(obj: Obj) -> str:
    return str(next(c["status"] for c in obj["status"]["conditions"] if c["type"] == "Ready"))


def ep_ready(h: Harness, pod_name: str) -> bool:
    for s in h.client.objects.get(SLICES, {}).values():
        for e in s["endpoints"]:
            if e["targetRef"]["name"] == pod_name:
                return bool(e["conditions"]["ready"])
    raise KeyError(pod_name)


async def test_lease_expiry_flips_pods_and_recovery_restores() -> None:
    h = Harness()
    await h.client.create("nodes", {"metadata": {"name": "n1"}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady",
         "lastHeartbeatTime": "2026-01-01T00:00:00Z"}]}})
    await h.client.create("nodes", {"metadata": {"name": "n2"}, "status": {"conditions": [
        {"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})
    await h.client.create(LEASES, lease("n1", "2026-01-01T00:00:00.000000Z"))
    await h.client.create(LEASES, lease("n2", "2026-01-01T00:00:00.000000Z"))
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("pods", pod("a", ip="10.0.0.1", node="n1"))
    await h.client.create("pods", pod("b", ip="10.0.0.2", node="n2"))
    idx = ServicePodIndex(h.informer("services"), h.informer("pods"))
    es = EndpointSliceController(h.client, idx, slices=h.informer(SLICES))
    nl = NodeLifecycleController(h.client, nodes=h.informer("nodes"),
                                 leases=h.informer(LEASES, namespace="kube-node-lease"),
                                 pods=h.informer("pods"), grace_period=0.3)
    stop_beats = asyncio.Event()

    async def heartbeat_n2() -> None:
        i = 0
        while not stop_beats.is_set():
            i += 1
            await h.client.patch(LEASES, "n2", {"spec": {"renewTime": f"t{i}"}},
                                 namespace="kube-node-lease")
            await asyncio.sleep(0.05)

    async with h.running(es, nl):
        beats = asyncio.create_task(heartbeat_n2())
        try:
            await wait_for(lambda: ep_ready(h, "a") and ep_ready(h, "b"))
            await wait_for(lambda: ready_status(node(h, "n1")) == "Unknown", what="n1 down")
            c = next(c for c in node(h, "n1")["status"]["conditions"] if c["type"] == "Ready")
            assert (c["reason"], c["message"]) == ("NodeStatusUnknown",
                                                   "Kubelet stopped posting node status.")
            assert {t["effect"] for t in node(h, "n1")["spec"]["taints"]} == {
                "NoSchedule", "NoExecute"}
            await wait_for(lambda: not ep_ready(h, "a"), what="endpoint a not ready")
            assert ready_status(node(h, "n2")) == "True" and ep_ready(h, "b")
            # recovery
            await h.client.patch(LEASES, "n1", {"spec": {"renewTime": "later"}},
                                 namespace="kube-node-lease")
            await wait_for(lambda: ready_status(node(h, "n1")) == "True", what="n1 back")
            await wait_for(lambda: ep_ready(h, "a"), what="endpoint a ready again")
            assert not node(h, "n1")["spec"].get("taints")
            assert ready_status(node(h, "n2")) == "True"
        finally:
            stop_beats.set()
            await beats
