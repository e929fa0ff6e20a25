"""Informer, Indexer and WorkQueue against the FakeClient."""

from __future__ import annotations

import asyncio
from typing import Any

from kubesvc.informers import Informer, WorkQueue, object_key
from tests.fakes.client import FakeClient


def svc(name: str, ns: str = "default", **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {}}


async def wait_for(pred: Any, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.005)


async def test_informer_lists_then_watches_and_calls_handlers() -> None:
    client = FakeClient()
    await client.create("services", svc("a", app="x"))
    inf = Informer(client, "services")
    seen: list[tuple[str, str]] = []
    inf.add_handler(
        on_add=lambda o: seen.append(("add", object_key(o))),
        on_update=lambda old, new: seen.append(("update", object_key(new))),
        on_delete=lambda o: seen.append(("delete", object_key(o))),
    )
    inf.indexer.add_index("app", lambda o: [o["metadata"].get("labels", {}).get("app", "")])
    stop = asyncio.Event()
    task = asyncio.create_task(inf.run(stop))
    await asyncio.wait_for(inf.wait_synced(), 2)
    assert seen == [("add", "default/a")]
    await client.create("services", svc("b", app="x"))
    await client.patch("services", "a", {"metadata": {"labels": {"app": "y"}}})
    await client.delete("services", "b")
    await wait_for(lambda: len(seen) == 4)
    assert seen[1:] == [("add", "default/b"), ("update", "default/a"), ("delete", "default/b")]
    assert [object_key(o) for o in inf.indexer.by_index("app", "y")] == ["default/a"]
    assert inf.indexer.by_index("app", "x") == []
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_informer_resumes_after_watch_ends() -> None:
    client = FakeClient()
    inf = Informer(client, "services")
    stop = asyncio.Event()
    task = asyncio.create_task(inf.run(stop))
    await inf.wait_synced()
    await client.create("services", svc("a"))
    await wait_for(lambda: inf.indexer.get("default/a") is not None)
    client.close_watches()
    await asyncio.sleep(0.3)  # the informer backs off then re-lists
    await client.create("services", svc("b"))
    await wait_for(lambda: inf.indexer.get("default/b") is not None)
    stop.set()
    await asyncio.wait_for(task, 2)


async def test_workqueue_dedupes_and_requeues_while_processing() -> None:
    q = WorkQueue("t")
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    k = await q.get()
    assert k == "a"
    q.add("a")  # re-added while processing: held until done()
    assert await q.get() == "b"
    q.done("b")
    q.done("a")
    assert await asyncio.wait_for(q.get(), 1) == "a"


async def test_workqueue_rate_limit_backs_off_and_forget_resets() -> None:
    q = WorkQueue("t", base_delay=0.01)
    q.add_rate_limited("k")
    q.add_rate_limited("k")
    assert q.num_requeues("k") == 2
    assert await asyncio.wait_for(q.get(), 1) == "k"
    q.forget("k")
    assert q.num_requeues("k") == 0
    q.shutdown()


async def test_cancelling_run_cancels_the_inner_watch() -> None:
    client = FakeClient()
    inf = Informer(client, "services")
    task = asyncio.create_task(inf.run(asyncio.Event()))
    await inf.wait_synced()
    await wait_for(lambda: len(client._watchers) == 1)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.sleep(0)
    assert client._watchers == []  # the watch stream was closed, not orphaned
