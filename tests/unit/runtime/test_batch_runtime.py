"""Issue 21 in the runtime: the scheduler places pods by required node affinity (how
DaemonSet pods name their node) and lets pods that tolerate the unschedulable taint onto a
cordoned node; the simulated runner completes the containers of a Job's pods."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubesvc.runtime.scheduler import Scheduler
from kubesvc.runtime.simulated import SimulatedRunner
from kubesvc.runtime.types import ContainerInfo, ContainerLaunch
from tests.fakes.client import FakeClient
from tests.unit.runtime.helpers import pod, wait_for
from tests.unit.runtime.test_simulated_and_scheduler import _node


def _affine(name: str, node: str, *, tolerate_cordon: bool = False) -> dict[str, object]:
    p = pod(name, node="")
    p["spec"]["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
    if tolerate_cordon:
        p["spec"]["tolerations"] = [{"key": "node.kubernetes.io/unschedulable",
                                     "operator": "Exists", "effect": "NoSchedule"}]
    return p


async def test_scheduler_honours_node_affinity_and_cordon_tolerations() -> None:
    client = FakeClient()
    for n in ("a", "b"):
        await client.create("nodes", _node(n))
    await client.create("nodes", _node("cordoned", unschedulable=True))
    sched = Scheduler(client)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    try:
        await client.create("pods", _affine("to-b", "b"))
        await client.create("pods", _affine("daemon", "cordoned", tolerate_cordon=True))
        await client.create("pods", _affine("plain", "cordoned"))
        objs = client.objects["pods"]
        await wait_for(lambda: objs[("default", "to-b")]["spec"].get("nodeName") == "b", 5,
                       "bound by affinity")
        await wait_for(lambda: objs[("default", "daemon")]["spec"].get("nodeName")
                       == "cordoned", 5, "tolerating pod on the cordoned node")

        def unschedulable() -> str:
            st = objs[("default", "plain")].get("status") or {}
            c = (st.get("conditions") or [{}])[0]
            return str(c.get("message", "")) if c.get("reason") == "Unschedulable" else ""

        msg = await wait_for(unschedulable, 5, "plain pod refused")
        assert "1 node(s) were unschedulable" in msg
        assert "2 node(s) didn't match Pod's node affinity/selector" in msg
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_simulated_runner_completes_job_containers(tmp_path: Path) -> None:
    runner = SimulatedRunner()
    exits: list[ContainerInfo] = []

    def launch(completes: bool) -> ContainerLaunch:
        return ContainerLaunch(namespace="ns", pod="p", pod_uid="u", container="c", attempt=0,
                               argv=[], env={}, completes=completes)

    forever = await runner.start(launch(False), on_exit=exits.append)
    done = await runner.start(launch(True), on_exit=exits.append)
    await asyncio.sleep(0.05)
    assert [i.id for i in exits] == [done.id]
    assert exits[0].exit_code == 0 and exits[0].finished_at is not None
    assert runner.status(forever.id) is not None
    assert runner.status(forever.id).finished_at is None  # type: ignore[union-attr]
