"""ControllerManager end to end on the FakeClient: a Deployment behind a Service — pods,
Endpoints and EndpointSlices follow scaling; LoadBalancer IPs; deleting cascades."""

from __future__ import annotations

import asyncio

import pytest

from kubesvc.controllers import ControllerManager, ControllerOptions
from kubesvc.informers import Informer
from tests.fakes.client import FakeClient
from tests.unit.controllers.helpers import Obj, service, wait_for
from tests.unit.controllers.test_workloads import deployment

SLICES = "endpointslices.discovery.k8s.io"


def objs(client: FakeClient, res: str) -> list[Obj]:
    return list(client.objects.get(res, {}).values())


async def kubelet(client: FakeClient, stop: asyncio.Event) -> None:
    """Marks new pods Running/Ready with an IP, like the simulated runtime."""
    n = 0
    while not stop.is_set():
        for p in objs(client, "pods"):
            if not (p.get("status") or {}).get("podIP"):
                n += 1
                await client.patch("pods", p["metadata"]["name"], {"status": {
                    "phase": "Running", "podIP": f"10.244.0.{n}",
                    "conditions": [{"type": "Ready", "status": "True"}]}},
                    subresource="status")
        await asyncio.sleep(0.01)


def endpoint_ips(client: FakeClient) -> list[str]:
    ep = client.objects.get("endpoints", {}).get(("default", "web"))
    return sorted(a["ip"] for s in (ep or {}).get("subsets") or [] for a in s.get(
        "addresses") or [])


def slice_ips(client: FakeClient) -> list[str]:
    return sorted(e["addresses"][0] for s in objs(client, SLICES)
                  if s["metadata"]["labels"]["kubernetes.io/service-name"] == "web"
                  for e in s["endpoints"] if e["conditions"]["ready"])


async def test_manager_runs_everything() -> None:
    client = FakeClient()
    shared = {"services": Informer(client, "services")}
    mgr = ControllerManager(client, informers=shared, options=ControllerOptions(
        lb_pools=("127.0.100.0/24",), node_grace_period=30))
    # (no root-ca-cert-publisher: it was given no CA)
    assert set(mgr.controllers) == {
        "endpointslice", "endpoints", "endpointslice-mirroring", "replicaset", "deployment",
        "lb-ipam", "node-lifecycle", "garbage-collector", "tokencleaner", "serviceaccount",
        "csrcleaner", "statefulset", "persistentvolume-binder",
        # issue 21
        "job", "cronjob", "ttl-after-finished", "daemonset", "replicationcontroller",
        "disruption", "node-unschedulable-taint",
        "resourcequota"}
        # (the CSR approver and signer need an authorizer and a CA)
    assert mgr.informers["services"] is shared["services"]
    stop = asyncio.Event()
    task = asyncio.create_task(mgr.run(stop))
    kl = asyncio.create_task(kubelet(client, stop))
    try:
        await wait_for(mgr.synced)
        await client.create("services", service("web", selector={"app": "web"},
                                                type="LoadBalancer"))
        await client.create("deployments.apps", deployment("web", 3))
        await wait_for(lambda: len(endpoint_ips(client)) == 3, what="3 endpoints")
        assert endpoint_ips(client) == slice_ips(client)
        await client.patch("deployments.apps", "web", {"spec": {"replicas": 5}})
        await wait_for(lambda: len(endpoint_ips(client)) == 5, what="5 endpoints")
        await client.patch("deployments.apps", "web", {"spec": {"replicas": 1}})
        await wait_for(lambda: len(endpoint_ips(client)) == 1 and len(slice_ips(client)) == 1,
                       what="1 endpoint")
        assert endpoint_ips(client) == slice_ips(client)
        svc = client.objects["services"][("default", "web")]
        await wait_for(lambda: client.objects["services"][("default", "web")].get(
            "status", {}).get("loadBalancer", {}).get("ingress"))
        svc = client.objects["services"][("default", "web")]
        assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == "127.0.100.1"
        await client.delete("deployments.apps", "web")
        await wait_for(lambda: objs(client, "pods") == [] and endpoint_ips(client) == [],
                       what="cascade to pods and endpoints")
        await client.delete("services", "web")
        await wait_for(lambda: objs(client, SLICES) == [], what="slices collected")
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(task, kl), 5)


def test_unknown_controller_name_rejected() -> None:
    with pytest.raises(ValueError, match="bogus"):
        ControllerManager(FakeClient(), options=ControllerOptions(
            controllers=frozenset({"bogus"})))
