"""The node agent and the scheduler on informers shared with the rest of the process (as
``kubesvc up`` runs them), against the real in-process Registry (memory store): the shared
``pods`` informer lists every pod, so the agent must keep to the pods bound to its node —
start them, tear them down when deleted, and never touch another node's pods; and neither
component runs a shared informer itself (the test does, once)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.core import Registry
from kubesvc.informers import Informer
from kubesvc.runtime.agent import NodeAgent
from kubesvc.runtime.node import node_object
from kubesvc.runtime.scheduler import Scheduler
from kubesvc.runtime.simulated import SimulatedRunner
from kubesvc.storage.memory import MemoryStore
from tests.unit.runtime.helpers import pod, running, wait_for

NODE = "node-1"
OTHER = "node-2"


class CountingInformer(Informer):
    """An Informer that counts its runs: a shared one must be run once, by its owner."""

    runs = 0

    async def run(self, stop: asyncio.Event) -> None:
        self.runs += 1
        await super().run(stop)


class Shared:
    """A started Registry and the shared informers the test runs itself."""

    def __init__(self, reg: Registry, informers: dict[str, CountingInformer]) -> None:
        self.reg = reg
        self.informers = informers

    @property
    def pods(self) -> CountingInformer:
        return self.informers["pods"]

    def cached(self, name: str) -> Obj | None:
        """The pod as the shared informer last saw it in the registry."""
        return self.pods.indexer.get(f"default/{name}")


@pytest.fixture
async def shared() -> AsyncIterator[Shared]:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    infs = {r: CountingInformer(reg, r) for r in ("pods", "services", "nodes")}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(inf.run(stop), name=f"shared-{r}") for r, inf in infs.items()]
    try:
        await wait_for(lambda: all(inf.has_synced for inf in infs.values()), 5, "shared synced")
        yield Shared(reg, infs)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        await reg.stop()


def _agent(s: Shared, tmp: Path) -> NodeAgent:
    return NodeAgent(s.reg, node_name=NODE, data_dir=tmp, runner=SimulatedRunner(),
                     pod_cidr="127.91.0.0/16", backoff_base=0.2, lease_renew_interval=0.05,
                     pods=s.pods, services=s.informers["services"])


def _started(p: Obj | None) -> bool:
    """Running and Ready with a pod IP: what the agent writes for a started pod."""
    st = (p or {}).get("status") or {}
    conds = {c["type"]: c["status"] for c in st.get("conditions") or []}
    return bool(st.get("phase") == "Running" and conds.get("Ready") == "True"
                and st.get("podIP"))


def _cached_started(s: Shared, name: str) -> bool:
    return _started(s.cached(name))


def _untouched(p: Obj, before: Obj) -> None:
    """``p`` carries no write since ``before``: this agent wrote no status to it."""
    assert p["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"], p
    assert p.get("status") == before.get("status"), p.get("status")


def _spy_queue(agent: NodeAgent, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key the agent puts on its work queue (informer events, recovery)."""
    seen: list[str] = []
    add = agent.queue.add

    def spy(key: str) -> None:
        seen.append(key)
        add(key)

    monkeypatch.setattr(agent.queue, "add", spy)
    return seen


async def test_agent_on_shared_informer_starts_own_pods_and_ignores_others(
        shared: Shared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = shared.reg
    # Present before the agent starts (its recovery pass) and created after (its handler);
    # the early pod of the other node already runs there, with an IP from this agent's range.
    early_mine = await reg.create("pods", pod("early-mine", node=NODE, image="nginx"))
    await reg.create("pods", pod("early-theirs", node=OTHER, image="nginx"))
    early_theirs = await reg.patch("pods", "early-theirs", {"status": {
        "phase": "Running", "podIP": "127.91.0.2", "podIPs": [{"ip": "127.91.0.2"}],
        "conditions": [{"type": "Ready", "status": "True"}]}}, namespace="default",
        subresource="status")
    await wait_for(lambda: shared.cached("early-mine") and (
        shared.cached("early-theirs") or {}).get("status", {}).get("podIP"), 5, "cached")
    agent = _agent(shared, tmp_path)
    assert agent._own_informers == []
    enqueued = _spy_queue(agent, monkeypatch)
    async with running(agent):
        late_mine = await reg.create("pods", pod("late-mine", node=NODE, image="nginx"))
        late_theirs = await reg.create("pods", pod("late-theirs", node=OTHER, image="nginx"))
        for name, created in (("early-mine", early_mine), ("late-mine", late_mine)):
            await wait_for(functools.partial(_cached_started, shared, name), 5,
                           f"{name} started")
            got = await reg.get("pods", name, namespace="default")
            assert _started(got), got
            assert got["metadata"]["uid"] == created["metadata"]["uid"]
            st = agent.pod_state("default", name)
            assert st is not None and st.uid == got["metadata"]["uid"]
        await asyncio.sleep(0.3)  # time for a wrongful sync of the other node's pods
        for created in (early_theirs, late_theirs):
            name = created["metadata"]["name"]
            _untouched(await reg.get("pods", name, namespace="default"), created)
            assert agent.pod_state("default", name) is None
        # The agent's view is its node's pods (another node's never even reach its work
        # queue); the shared cache still holds every pod.
        assert set(enqueued) == {"default/early-mine", "default/late-mine"}, enqueued
        assert set(agent.syncer.by_key) == {"default/early-mine", "default/late-mine"}
        assert len(shared.pods.indexer.list()) == 4
    # Neither run nor stopped by the agent: each shared informer ran once (by the fixture).
    assert [inf.runs for inf in shared.informers.values()] == [1, 1, 1]


async def test_agent_on_shared_informer_tears_down_deleted_pod(
        shared: Shared, tmp_path: Path) -> None:
    reg = shared.reg
    agent = _agent(shared, tmp_path)
    async with running(agent):
        await reg.create("pods", pod("mine", node=NODE, image="nginx"))
        theirs = await reg.create("pods", pod("theirs", node=OTHER, image="nginx"))
        await wait_for(lambda: _started(shared.cached("mine")), 5, "mine started")
        assert agent.pod_state("default", "mine") is not None
        # A graceful delete of a bound pod only marks it; the agent stops its containers
        # and finishes the deletion (grace 0), then forgets the pod.
        marked = await reg.delete("pods", "mine", namespace="default")
        assert marked["metadata"].get("deletionTimestamp")
        await wait_for(lambda: agent.pod_state("default", "mine") is None, 5, "torn down")
        await wait_for(lambda: shared.cached("mine") is None, 5, "mine deleted")
        with pytest.raises(errors.NotFound):
            await reg.get("pods", "mine", namespace="default")
        # Another node's pod being deleted is that node's business: left marked, not
        # finished by this agent.
        marked = await reg.delete("pods", "theirs", namespace="default")
        assert marked["metadata"].get("deletionTimestamp")
        await wait_for(lambda: (shared.cached("theirs") or {}).get("metadata", {})
                       .get("deletionTimestamp"), 5, "theirs marked")
        await asyncio.sleep(0.3)
        left = await reg.get("pods", "theirs", namespace="default")
        assert left["metadata"]["uid"] == theirs["metadata"]["uid"]
        assert left["metadata"]["resourceVersion"] == marked["metadata"]["resourceVersion"]
        assert agent.pod_state("default", "theirs") is None
        assert agent.syncer.by_key == {}


async def test_scheduler_on_shared_informers_binds_without_running_them(
        shared: Shared) -> None:
    reg = shared.reg
    await reg.create("nodes", node_object("node-a", node_ip="127.0.0.1", pod_cidr="",
                                          max_pods=110))
    sched = Scheduler(reg, pods=shared.pods, nodes=shared.informers["nodes"])
    assert sched._own_informers == []
    assert sched.pods is shared.pods and sched.nodes is shared.informers["nodes"]
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        await reg.create("pods", pod("free", node="", image="nginx"))
        await wait_for(lambda: (shared.cached("free") or {}).get("spec", {}).get("nodeName"),
                       5, "free bound")
        got = await reg.get("pods", "free", namespace="default")
        assert got["spec"]["nodeName"] == "node-a"
        conds = {c["type"]: c["status"] for c in got["status"].get("conditions") or []}
        assert conds.get("PodScheduled") == "True"
        assert sched.synced()
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert [inf.runs for inf in shared.informers.values()] == [1, 1, 1]


async def test_scheduler_and_agent_share_one_pods_informer(
        shared: Shared, tmp_path: Path) -> None:
    """As ``kubesvc up``: both on the same informers; the pod is bound to the agent's node
    (registered by the agent) and started there."""
    reg = shared.reg
    agent = _agent(shared, tmp_path)
    sched = Scheduler(reg, pods=shared.pods, nodes=shared.informers["nodes"])
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        async with running(agent):
            await reg.create("pods", pod("late", node="", image="nginx"))
            await wait_for(lambda: _started(shared.cached("late")), 5, "bound and started")
            got = await reg.get("pods", "late", namespace="default")
            assert got["spec"]["nodeName"] == NODE
            assert agent.pod_state("default", "late") is not None
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert [inf.runs for inf in shared.informers.values()] == [1, 1, 1]
