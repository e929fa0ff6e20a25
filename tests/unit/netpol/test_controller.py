"""The node's NetworkPolicy controller on informers over the fake client and the fake nft
runner: a first sync writes the whole table, a label change only set elements, a failed
transaction is retried as a full rewrite, stop deletes the table. And host mode's
NetworkPolicyNotEnforced Event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from kubesvc.controllers.netpolunenforced import REASON, UnenforcedPolicies
from kubesvc.informers import Informer
from kubesvc.netpol.controller import POLICIES, NetpolController
from tests.fakes.client import FakeClient
from tests.fakes.nft import FakeNft

POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
       "spec": {"nodeName": "node-1", "containers": [{"name": "c"}]},
       "status": {"podIP": "10.244.1.5", "phase": "Running"}}
CLIENT = {"apiVersion": "v1", "kind": "Pod",
          "metadata": {"name": "client", "namespace": "default", "labels": {"app": "x"}},
          "spec": {"nodeName": "node-2", "containers": [{"name": "c"}]},
          "status": {"podIP": "10.244.2.7", "phase": "Running"}}
POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "allow-client", "namespace": "default"},
          "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                   "policyTypes": ["Ingress"],
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}]}}


async def _until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def _running(client: FakeClient, nft: FakeNft) -> AsyncIterator[NetpolController]:
    infs = [Informer(client, POLICIES), Informer(client, "pods"),
            Informer(client, "namespaces")]
    ctl = NetpolController(nft, node_name="node-1", policies=infs[0], pods=infs[1],
                           namespaces=infs[2])
    stop = asyncio.Event()
    tasks = [asyncio.create_task(i.run(stop)) for i in infs]
    tasks.append(asyncio.create_task(ctl.run(stop)))
    try:
        yield ctl
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_full_then_incremental_then_retry_then_cleanup() -> None:
    client, nft = FakeClient(), FakeNft()
    await client.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": "default"}})
    for obj in (POD, CLIENT):
        await client.create("pods", obj, namespace="default")
    await client.create(POLICIES, POLICY, namespace="default")
    async with _running(client, nft) as ctl:
        await _until(ctl.synced)
        assert "table ip kubesvc-netpol {" in nft.applied[0]
        assert "add element ip kubesvc-netpol ingress-isolated { 10.244.1.5 }" in nft.applied[0]
        assert "10.244.2.7" not in nft.applied[0]  # not a client yet
        n = len(nft.applied)
        await client.patch("pods", "client", {"metadata": {"labels": {"app": "client"}}},
                           namespace="default", patch_type="merge")
        await _until(lambda: len(nft.applied) > n)
        assert nft.applied[-1] == ("add element ip kubesvc-netpol ingress-any-pods "
                                   "{ 10.244.1.5 . 10.244.2.7 }\n")
        nft.fail_next = True
        n = len(nft.applied)
        await client.delete(POLICIES, "allow-client", namespace="default")
        await _until(lambda: len(nft.applied) > n)
        assert "delete table ip kubesvc-netpol" in nft.applied[-1]  # full after a failure
        assert "add element" not in nft.applied[-1]  # nothing isolates any more
    assert nft.applied[-1] == "add table ip kubesvc-netpol\ndelete table ip kubesvc-netpol\n"
    assert nft.closed


async def test_host_mode_records_a_warning_event_per_policy() -> None:
    client = FakeClient()
    await client.create(POLICIES, POLICY, namespace="default")
    inf = Informer(client, POLICIES)
    unenforced = UnenforcedPolicies(client, policies=inf)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(inf.run(stop)), asyncio.create_task(unenforced.run(stop))]
    try:
        async def events() -> list[dict[str, object]]:
            return list((await client.list("events", namespace="default"))["items"])
        for _ in range(300):
            if await events():
                break
            await asyncio.sleep(0.01)
        (ev,) = await events()
        assert ev["type"] == "Warning" and ev["reason"] == REASON
        ref = ev["involvedObject"]
        assert isinstance(ref, dict)
        assert (ref["kind"], ref["name"], ref["apiVersion"]) == (
            "NetworkPolicy", "allow-client", "networking.k8s.io/v1")
        assert "host network mode" in str(ev["message"])
    finally:
        stop.set()
        await asyncio.gather(*tasks)
