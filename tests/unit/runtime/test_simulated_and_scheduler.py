"""The simulated runner brings many pods Ready with IPs and no processes; the scheduler binds
unscheduled pods to Ready nodes, spreading replicas, and explains when nothing fits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from kubesvc.runtime.scheduler import Scheduler
from kubesvc.runtime.simulated import SimulatedRunner
from tests.fakes.client import FakeClient
from tests.unit.runtime.helpers import GracefulClient, make_agent, pod, running, wait_for


def _ready_pods(client: FakeClient) -> list[dict[str, Any]]:
    out = []
    for p in client.objects.get("pods", {}).values():
        conds = {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}
        if conds.get("Ready") == "True":
            out.append(p)
    return out


async def test_simulated_runner_brings_200_pods_ready(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, runner=SimulatedRunner(), pod_cidr="127.90.0.0/16")
    async with running(agent):
        for i in range(200):
            await client.create("pods", pod(f"sim-{i}", image="nginx:1.27",
                                            terminationGracePeriodSeconds=0))
        await wait_for(lambda: len(_ready_pods(client)) == 200, 20, "200 ready")
        ips = {p["status"]["podIP"] for p in _ready_pods(client)}
        assert len(ips) == 200
        assert all(p["status"]["phase"] == "Running" for p in _ready_pods(client))
        # One status write per pod, not a stream of them.
        writes = [a for a in client.actions if a[0] == "update/status"]
        assert len(writes) == 200
        node = await client.get("nodes", "node-1")
        assert node["status"]["allocatable"]["pods"] == "10000"
        await client.delete("pods", "sim-0")
        await wait_for(lambda: ("default", "sim-0") not in client.objects["pods"])


def _node(name: str, ready: bool = True, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": spec,
            "status": {"conditions": [{"type": "Ready", "status": str(ready)}],
                       "allocatable": {"pods": "110"}}}


def _owned(name: str, owner: str) -> dict[str, Any]:
    p = pod(name, node="")
    p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                         "name": owner, "uid": f"uid-{owner}",
                                         "controller": True}]
    return p


async def test_scheduler_spreads_replicas_over_ready_nodes() -> None:
    client = FakeClient()
    await client.create("nodes", _node("a"))
    await client.create("nodes", _node("b"))
    await client.create("nodes", _node("down", ready=False))
    await client.create("nodes", _node("cordoned", unschedulable=True))
    # Node "a" already has two unrelated pods.
    await client.create("pods", pod("other-1", node="a"))
    await client.create("pods", pod("other-2", node="a"))
    sched = Scheduler(client)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        for i in range(4):
            await client.create("pods", _owned(f"web-{i}", "web"))
        await wait_for(lambda: all(
            client.objects["pods"][("default", f"web-{i}")]["spec"].get("nodeName")
            for i in range(4)), 5, "all bound")
        nodes = [client.objects["pods"][("default", f"web-{i}")]["spec"]["nodeName"]
                 for i in range(4)]
        assert sorted(nodes) == ["a", "a", "b", "b"]
        conds = client.objects["pods"][("default", "web-0")]["status"]["conditions"]
        assert conds[0]["type"] == "PodScheduled" and conds[0]["status"] == "True"
        # A pod whose selector matches nothing stays Pending, with upstream's message.
        p = pod("picky", node="")
        p["spec"]["nodeSelector"] = {"disk": "ssd"}
        await client.create("pods", p)

        def unsched() -> str:
            st = client.objects["pods"][("default", "picky")].get("status") or {}
            c = (st.get("conditions") or [{}])[0]
            return str(c.get("message", "")) if c.get("reason") == "Unschedulable" else ""

        msg = await wait_for(unsched, 5, "unschedulable")
        assert msg.startswith("0/4 nodes are available: ")
        assert "2 node(s) didn't match Pod's node affinity/selector" in msg
        assert "1 node(s) were unschedulable" in msg
        assert not client.objects["pods"][("default", "picky")]["spec"].get("nodeName")
        # Pods for another scheduler are left alone.
        q = pod("custom", node="", schedulerName="my-scheduler")
        await client.create("pods", q)
        await asyncio.sleep(0.1)
        assert not client.objects["pods"][("default", "custom")]["spec"].get("nodeName")
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_scheduler_binds_to_agent_node_end_to_end(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, runner=SimulatedRunner())
    sched = Scheduler(client)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        async with running(agent):
            await client.create("pods", pod("late", node="", image="nginx"))
            await wait_for(lambda: len(_ready_pods(client)) == 1, 5, "bound and ready")
            p = client.objects["pods"][("default", "late")]
            assert p["spec"]["nodeName"] == "node-1"
            assert {c["type"] for c in p["status"]["conditions"]} >= {"PodScheduled", "Ready"}
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
