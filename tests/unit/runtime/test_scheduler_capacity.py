"""A node's pod capacity (``--max-pods``, Node ``status.allocatable.pods``) is a hard limit:
pods beyond it stay Pending with upstream's FailedScheduling message, however many a
ReplicaSet asks for."""

from __future__ import annotations

import asyncio
from typing import Any

from kubesvc.runtime.scheduler import Scheduler
from tests.fakes.client import FakeClient
from tests.unit.runtime.helpers import pod, wait_for


async def test_pods_beyond_max_pods_stay_pending_with_too_many_pods() -> None:
    client = FakeClient()
    await client.create("nodes", {
        "metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}}, "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "allocatable": {"pods": "3"}}})
    sched = Scheduler(client)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))

    def get(i: int) -> dict[str, Any]:
        return client.objects["pods"][("default", f"p-{i}")]

    def message(i: int) -> str:
        c = ((get(i).get("status") or {}).get("conditions") or [{}])[0]
        return str(c.get("message", "")) if c.get("reason") == "Unschedulable" else ""

    try:
        for i in range(5):
            await client.create("pods", pod(f"p-{i}", node=""))
        await wait_for(lambda: sum(bool(get(i)["spec"].get("nodeName")) for i in range(5))
                       == 3, 5, "three bound")
        pending = [i for i in range(5) if not get(i)["spec"].get("nodeName")]
        assert len(pending) == 2
        msg = await wait_for(lambda: message(pending[0]), 5, "FailedScheduling")
        assert msg == ("0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are "
                       "available: 1 Preemption is not helpful for scheduling.")
        await asyncio.sleep(0.1)
        assert sum(bool(get(i)["spec"].get("nodeName")) for i in range(5)) == 3
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
