"""The controllers against the real in-process Registry (memory store) instead of the
FakeClient: catches drift between what the controllers write and what the API server
accepts (defaulting, validation, status subresources, generation, finalizers)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj
from kubesvc.apiserver.registry.core import Registry
from kubesvc.client.options import DeleteOptions, ListOptions
from kubesvc.controllers import ControllerManager, ControllerOptions
from kubesvc.storage.memory import MemoryStore

SLICES = "endpointslices.discovery.k8s.io"
DEPLOY = "deployments.apps"
SERVICE_NAME = LABEL_SERVICE_NAME
WEB_SLICES = ListOptions(label_selector=f"{SERVICE_NAME}=web")


async def poll(fn: Callable[[], Awaitable[Any]], what: str, timeout: float = 8.0) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            if await fn():
                return
        except Exception:
            pass
        assert time.monotonic() < end, f"timed out: {what}"
        await asyncio.sleep(0.02)


async def kubelet(reg: Registry, stop: asyncio.Event) -> None:
    """Give pods an IP and Ready, finish graceful deletions (as the node agent would)."""
    n = 0
    while not stop.is_set():
        for p in (await reg.list("pods"))["items"]:
            md = p["metadata"]
            if md.get("deletionTimestamp"):
                with contextlib.suppress(Exception):
                    await reg.delete("pods", md["name"], namespace=md["namespace"],
                                     opts=DeleteOptions(grace_period_seconds=0))
            elif not (p.get("status") or {}).get("podIP"):
                n += 1
                st = {**(p.get("status") or {}), "phase": "Running", "podIP": f"10.244.0.{n}",
                      "podIPs": [{"ip": f"10.244.0.{n}"}],
                      "conditions": [{"type": "Ready", "status": "True"}]}
                await reg.patch("pods", md["name"], {"status": st}, namespace=md["namespace"],
                                subresource="status")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def cluster(**opts: Any) -> AsyncIterator[Registry]:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    mgr = ControllerManager(reg, options=ControllerOptions(**opts))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(mgr.run(stop)), asyncio.create_task(kubelet(reg, stop))]
    try:
        await poll(lambda: asyncio.sleep(0, mgr.synced()), "synced")
        yield reg
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await reg.stop()


async def endpoints(reg: Registry, name: str) -> list[str]:
    e = await reg.get("endpoints", name, namespace="default")
    return sorted(f"{a['ip']}:{p['port']}" for s in e.get("subsets") or []
                  for a in s.get("addresses") or [] for p in s.get("ports") or [])


async def test_deployment_service_lb_and_cascade_on_registry() -> None:
    async with cluster(lb_pools=("127.0.100.0/30",)) as reg:
        await reg.create("services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "type": "LoadBalancer",
                     "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}})
        await reg.create(DEPLOY, {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                         "containers": [{"name": "c", "image": "registry.k8s.io/pause",
                                         "ports": [{"name": "http", "containerPort": 8080}]}]}}}})

        async def n_endpoints(n: int) -> bool:
            return len(await endpoints(reg, "web")) == n

        async def slice_endpoints(n: int) -> bool:
            # The Endpoints and EndpointSlice controllers run independently: wait for both.
            items = (await reg.list(SLICES, namespace="default", opts=WEB_SLICES))["items"]
            return len(items) == 1 and len(items[0].get("endpoints") or []) == n

        await poll(lambda: n_endpoints(3), "3 endpoints")
        await poll(lambda: slice_endpoints(3), "3 slice endpoints")
        assert all(e.endswith(":8080") for e in await endpoints(reg, "web"))
        [s] = (await reg.list(SLICES, namespace="default", opts=WEB_SLICES))["items"]
        assert len(s["endpoints"]) == 3 and s["ports"][0]["port"] == 8080

        async def available(n: int) -> bool:
            d = await reg.get(DEPLOY, "web", namespace="default")
            st = d.get("status") or {}
            return bool(st.get("availableReplicas") == n and st.get("updatedReplicas") == n
                        and st.get("replicas") == n
                        and st.get("observedGeneration", 0) >= d["metadata"]["generation"])

        await poll(lambda: available(3), "deployment available")
        await reg.patch(DEPLOY, "web", {"spec": {"replicas": 5}}, namespace="default")
        await poll(lambda: n_endpoints(5), "5 endpoints")
        await reg.patch(DEPLOY, "web", {"spec": {"replicas": 1}}, namespace="default")
        await poll(lambda: n_endpoints(1), "1 endpoint")
        await reg.patch(DEPLOY, "web", {"spec": {"replicas": 2, "template": {
            "metadata": {"labels": {"app": "web", "v": "2"}}}}}, namespace="default")
        await poll(lambda: available(2), "rolled out", 15)
        rss = (await reg.list("replicasets.apps", namespace="default"))["items"]
        assert sorted(r["spec"]["replicas"] for r in rss) == [0, 2]

        async def lb_ip() -> Any:
            svc = await reg.get("services", "web", namespace="default")
            return (svc.get("status") or {}).get("loadBalancer", {}).get("ingress")

        await poll(lb_ip, "LoadBalancer IP")
        assert (await lb_ip())[0]["ip"] == "127.0.100.1"
        reasons = {e["reason"] for e in (await reg.list("events", namespace="default"))["items"]}
        assert {"IPAllocated", "ScalingReplicaSet", "SuccessfulCreate"} <= reasons
        # the API server's own kubernetes Endpoints is not mirrored
        own = ListOptions(label_selector=f"{SERVICE_NAME}=kubernetes")
        ks = (await reg.list(SLICES, namespace="default", opts=own))["items"]
        assert len(ks) == 1

        await reg.delete(DEPLOY, "web", namespace="default",
                         opts=DeleteOptions(propagation_policy="Foreground"))

        async def all_gone() -> bool:
            for r in ("pods", "replicasets.apps", DEPLOY):
                if (await reg.list(r, namespace="default"))["items"]:
                    return False
            return True

        await poll(all_gone, "foreground cascade", 10)
        await poll(lambda: n_endpoints(0), "no endpoints")
        await reg.delete("services", "web", namespace="default")

        async def slices_gone() -> bool:
            return not (await reg.list(SLICES, namespace="default", opts=WEB_SLICES))["items"]

        await poll(slices_gone, "slices collected")


async def test_node_lease_expiry_on_registry() -> None:
    async with cluster(node_grace_period=0.5,
                       controllers=frozenset({"node-lifecycle", "endpointslice"})) as reg:
        await reg.create("nodes", {"apiVersion": "v1", "kind": "Node",
                                   "metadata": {"name": "n1"}})
        await reg.patch("nodes", "n1", {"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "message": "kubelet is posting ready status",
             "lastHeartbeatTime": "2026-01-01T00:00:00Z"}]}}, subresource="status")
        await reg.create("pods", {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": "p", "namespace": "default",
                                               "labels": {"app": "x"}},
                                  "spec": {"nodeName": "n1", "containers": [
                                      {"name": "c", "image": "registry.k8s.io/pause"}]}})
        await reg.create("services", {"apiVersion": "v1", "kind": "Service",
                                      "metadata": {"name": "x", "namespace": "default"},
                                      "spec": {"selector": {"app": "x"},
                                               "ports": [{"port": 80}]}})

        async def ready(obj: Obj) -> str:
            return str(next(c["status"] for c in obj["status"]["conditions"]
                            if c["type"] == "Ready"))

        async def node_unknown() -> bool:
            return await ready(await reg.get("nodes", "n1")) == "Unknown"

        await poll(node_unknown, "node Unknown")

        async def pod_not_ready() -> bool:
            return await ready(await reg.get("pods", "p", namespace="default")) == "False"

        await poll(pod_not_ready, "pod NotReady")
        await reg.create("leases.coordination.k8s.io", {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": "n1", "renewTime": "2026-11-23T00:00:00.000000Z"}})

        async def node_ready() -> bool:
            return await ready(await reg.get("nodes", "n1")) == "True"

        await poll(node_ready, "node back")

        async def pod_ready() -> bool:
            return await ready(await reg.get("pods", "p", namespace="default")) == "True"

        await poll(pod_ready, "pod Ready again")
