"""The shared worker loop: success forgets, failures and retry requests re-queue with
back-off, expected errors do not log a traceback, and shutdown cancels a stuck sync."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubesvc import errors
from kubesvc.informers.worker import run_workers
from kubesvc.informers.workqueue import WorkQueue


async def _run_until(queue: WorkQueue, handler, done: asyncio.Event, **kw) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    task = asyncio.create_task(run_workers(queue, handler, stop, name="t", **kw))
    await asyncio.wait_for(done.wait(), 5)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_failure_is_logged_and_retried_then_forgotten(
        caplog: pytest.LogCaptureFixture) -> None:
    q = WorkQueue(base_delay=0.001)
    calls: list[str] = []
    done = asyncio.Event()

    async def handler(key: str) -> None:
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("boom")
        done.set()

    q.add("a")
    with caplog.at_level(logging.ERROR):
        await _run_until(q, handler, done)
    assert calls == ["a", "a", "a"]
    assert q.num_requeues("a") == 0  # forgotten after the success
    assert sum("sync of a failed" in r.getMessage() for r in caplog.records) == 2


async def test_true_asks_for_a_retry_and_expected_errors_stay_quiet(
        caplog: pytest.LogCaptureFixture) -> None:
    q = WorkQueue(base_delay=0.001)
    results: list[bool | None] = []
    done = asyncio.Event()

    async def handler(key: str) -> bool:
        if not results:
            results.append(True)
            raise errors.Conflict("stale")
        results.append(len(results) < 2)
        if len(results) == 3:
            done.set()
        return results[-1]

    q.add("k")
    with caplog.at_level(logging.ERROR):
        await _run_until(q, handler, done, expected=(errors.Conflict,), workers=2)
    assert len(results) == 3
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_stop_cancels_a_stuck_sync_after_the_grace_period() -> None:
    q = WorkQueue()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def handler(key: str) -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    q.add("x")
    await _run_until(q, handler, started, shutdown_timeout=0.05)
    assert cancelled.is_set()
    names = {t.get_name() for t in asyncio.all_tasks()}
    assert not any(n.startswith("t-worker-") for n in names)
