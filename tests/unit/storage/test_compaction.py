"""auto_compact_loop / compaction_target, and the FakeStore hook."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from kubesvc import errors
from kubesvc.storage.compaction import auto_compact_loop, compaction_target
from kubesvc.storage.memory import MemoryStore
from tests.fakes.store import FakeStore


def test_compaction_target_keeps_revisions_and_time() -> None:
    samples: deque[tuple[float, int]] = deque([(0.0, 100), (60.0, 500), (120.0, 900)])
    # Only the revision count limits: keep the last 10.
    assert compaction_target(1000, samples, 130.0, keep_revisions=10, keep_seconds=0) == 990
    # Time limits more: compact no further than the newest sample at least 100 s old.
    assert compaction_target(1000, samples, 130.0, keep_revisions=10, keep_seconds=100) == 100
    assert compaction_target(1000, samples, 170.0, keep_revisions=10, keep_seconds=100) == 500
    # Nothing old enough yet, or too few revisions: compact nothing.
    assert compaction_target(1000, samples, 50.0, keep_revisions=10, keep_seconds=100) == 0
    assert compaction_target(5, samples, 500.0, keep_revisions=10, keep_seconds=0) == 0


async def test_auto_compact_loop_compacts_old_history_and_stops() -> None:
    store = MemoryStore()
    for i in range(30):
        await store.create(f"/k/{i}", b"v")
    stop = asyncio.Event()
    task = asyncio.create_task(
        auto_compact_loop(store, stop, keep_revisions=10, keep_seconds=0, interval=0.01)
    )
    async with asyncio.timeout(5):
        while True:  # wait until revision 19 is gone and 20 is still there
            try:
                await store.list("/k/", revision=19)
            except errors.Gone:
                break
            await asyncio.sleep(0.01)
    assert len((await store.list("/k/", revision=20)).items) == 20
    stop.set()
    async with asyncio.timeout(5):
        await task


async def test_auto_compact_loop_survives_store_errors() -> None:
    class Flaky(MemoryStore):
        calls = 0

        async def compact(self, revision: int) -> None:
            self.calls += 1
            if self.calls == 1:
                raise errors.ServiceUnavailable("etcd down")
            await super().compact(revision)

    store = Flaky()
    for i in range(5):
        await store.create(f"/k/{i}", b"v")
    stop = asyncio.Event()
    task = asyncio.create_task(
        auto_compact_loop(store, stop, keep_revisions=1, keep_seconds=0, interval=0.01)
    )
    async with asyncio.timeout(5):
        while store.calls < 2:
            await asyncio.sleep(0.01)
    stop.set()
    await task
    with pytest.raises(errors.Gone):
        await store.list("/k/", revision=3)


async def test_fake_store_fails_next_write_once() -> None:
    store = FakeStore()
    store.fail_next_write(errors.ServiceUnavailable("injected"))
    with pytest.raises(errors.ServiceUnavailable):
        await store.create("/a", b"1")
    assert await store.get("/a") is None
    kv = await store.create("/a", b"1")
    assert (await store.get("/a")) == kv and store.writes == 1
