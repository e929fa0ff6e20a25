"""LbAnnouncer: three nodes' announcers over one FakeClient elect exactly one holder per
LoadBalancer Service, record it in a Lease, move the IP when the holder goes NotReady, and
with externalTrafficPolicy Local only consider nodes with a ready local endpoint."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubesvc.api.objects import Obj
from kubesvc.informers import Informer
from kubesvc.proxy.announce import LEASES, LbAnnouncer, holder
from tests.fakes.client import FakeClient

NODES = ("node-1", "node-2", "node-3")


class FakeAddresses:
    def __init__(self) -> None:
        self.ips: set[str] = set()

    async def held(self) -> set[str]:
        return set(self.ips)

    async def add(self, ip: str) -> None:
        self.ips.add(ip)

    async def remove(self, ip: str) -> None:
        self.ips.discard(ip)


def node(name: str, *, ready: bool = True) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready",
                                       "status": "True" if ready else "Unknown"}]}}


def lb_service(name: str, ip: str, *, local: bool = False) -> Obj:
    spec: Obj = {"type": "LoadBalancer", "ports": [{"port": 80}]}
    if local:
        spec["externalTrafficPolicy"] = "Local"
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": spec, "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


def eps(service: str, nodes: dict[str, bool]) -> Obj:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{service}-x", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [f"10.244.{i}.2"], "nodeName": n,
                           "conditions": {"ready": r}}
                          for i, (n, r) in enumerate(nodes.items())]}


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[FakeClient, dict[str, FakeAddresses]]]:
    client = FakeClient()
    for n in NODES:
        await client.create("nodes", node(n))
    stop = asyncio.Event()
    addrs = {n: FakeAddresses() for n in NODES}
    tasks = []
    for n in NODES:
        infs = [Informer(client, "services"),
                Informer(client, "endpointslices.discovery.k8s.io"), Informer(client, "nodes")]
        ann = LbAnnouncer(client, node_name=n, services=infs[0], slices=infs[1],
                          nodes=infs[2], addresses=addrs[n])
        tasks += [asyncio.ensure_future(i.run(stop)) for i in infs]
        tasks.append(asyncio.ensure_future(ann.run(stop)))
    try:
        yield client, addrs
    finally:
        stop.set()
        client.close_watches()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)


async def until(pred: Any, timeout: float = 3.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < end, "condition not reached"
        await asyncio.sleep(0.01)


def holders(addrs: dict[str, FakeAddresses], ip: str) -> list[str]:
    return [n for n, a in addrs.items() if ip in a.ips]


def test_holder_is_deterministic_and_spreads() -> None:
    assert holder("default/a", set(NODES)) == holder("default/a", set(reversed(NODES)))
    assert holder("default/a", set()) == ""
    chosen = {holder(f"default/svc-{i}", set(NODES)) for i in range(30)}
    assert chosen == set(NODES)


async def test_one_holder_recorded_and_moved_when_it_goes_not_ready(
        cluster: tuple[FakeClient, dict[str, FakeAddresses]]) -> None:
    client, addrs = cluster
    await client.create("services", lb_service("web", "172.20.0.65"))
    await until(lambda: len(holders(addrs, "172.20.0.65")) == 1)
    first = holders(addrs, "172.20.0.65")[0]
    assert first == holder("default/web", set(NODES))
    lease = await client.get(LEASES, "kubesvc-l2announce-default-web", namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == first
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-web"

    cur = await client.get("nodes", first)
    await client.update("nodes", {**cur, "status": node(first, ready=False)["status"]})
    await until(lambda: holders(addrs, "172.20.0.65") not in ([], [first]))
    await until(lambda: len(holders(addrs, "172.20.0.65")) == 1)
    second = holders(addrs, "172.20.0.65")[0]
    assert second != first
    lease = await client.get(LEASES, "kubesvc-l2announce-default-web", namespace="kube-system")
    assert lease["spec"]["holderIdentity"] == second
    assert lease["spec"]["leaseTransitions"] == 1

    await client.delete("services", "web", namespace="default")
    await until(lambda: holders(addrs, "172.20.0.65") == [])


async def test_local_policy_announces_only_from_nodes_with_ready_endpoints(
        cluster: tuple[FakeClient, dict[str, FakeAddresses]]) -> None:
    client, addrs = cluster
    await client.create("services", lb_service("loc", "172.20.0.66", local=True))
    await asyncio.sleep(0.1)
    assert holders(addrs, "172.20.0.66") == []  # no endpoints: nobody announces
    await client.create("endpointslices.discovery.k8s.io",
                        eps("loc", {"node-2": True, "node-3": False}))
    await until(lambda: holders(addrs, "172.20.0.66") == ["node-2"])
