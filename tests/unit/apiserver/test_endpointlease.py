"""The lease endpoint reconciler: every live replica in the kubernetes and kube-dns
endpoints (one subset and slice per port), an expired replica dropped, a stopping replica
removing itself."""

from __future__ import annotations

from typing import Any

from kubesvc.apiserver.endpointlease import EndpointLeaseReconciler
from kubesvc.client.options import ListOptions
from tests.fakes.client import FakeClient

SLICES = "endpointslices.discovery.k8s.io"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def replica(client: FakeClient, clock: Clock, n: int, *, port: int = 6443
            ) -> EndpointLeaseReconciler:
    return EndpointLeaseReconciler(client, identity=f"s{n}", api=(f"127.0.0.{n}", port),
                                   dns=(f"127.0.0.{n}", 10053), lease_duration=15,
                                   clock=clock)


async def api_endpoints(client: FakeClient) -> set[tuple[str, int]]:
    eps = await client.get("endpoints", "kubernetes", namespace="default")
    return {(a["ip"], p["port"]) for s in eps["subsets"] for a in s["addresses"]
            for p in s["ports"]}


async def slices(client: FakeClient, service: str, ns: str) -> dict[str, Any]:
    sel = ListOptions(label_selector=f"kubernetes.io/service-name={service}")
    got = await client.list(SLICES, namespace=ns, opts=sel)
    return {s["metadata"]["name"]: s for s in got["items"]}


async def test_live_replicas_listed_and_expired_dropped() -> None:
    client, clock = FakeClient(), Clock()
    a, b = replica(client, clock, 1), replica(client, clock, 2)
    for r in (a, b):
        await r.renew()
    await a.reconcile()
    assert await api_endpoints(client) == {("127.0.0.1", 6443), ("127.0.0.2", 6443)}
    sl = await slices(client, "kubernetes", "default")
    assert list(sl) == ["kubernetes"]
    assert [e["addresses"] for e in sl["kubernetes"]["endpoints"]] == [["127.0.0.1"],
                                                                        ["127.0.0.2"]]
    dns = await client.get("endpoints", "kube-dns", namespace="kube-system")
    assert {p["protocol"] for p in dns["subsets"][0]["ports"]} == {"UDP", "TCP"}
    assert len(dns["subsets"][0]["addresses"]) == 2
    # b stops renewing; after its duration a's next round drops it.
    clock.now += 16
    await a.renew()
    await a.reconcile()
    assert await api_endpoints(client) == {("127.0.0.1", 6443)}


async def test_distinct_ports_get_their_own_subset_and_slice_and_removal() -> None:
    client, clock = FakeClient(), Clock()
    a, b = replica(client, clock, 1, port=6443), replica(client, clock, 2, port=7443)
    for r in (a, b):
        await r.renew()
    await b.reconcile()
    eps = await client.get("endpoints", "kubernetes", namespace="default")
    assert [(s["addresses"][0]["ip"], s["ports"][0]["port"]) for s in eps["subsets"]] == [
        ("127.0.0.1", 6443), ("127.0.0.2", 7443)]
    assert set(await slices(client, "kubernetes", "default")) == {"kubernetes",
                                                                  "kubernetes-7443"}
    await b.remove()
    assert await api_endpoints(client) == {("127.0.0.1", 6443)}
    assert set(await slices(client, "kubernetes", "default")) == {"kubernetes"}
