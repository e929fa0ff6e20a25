"""WatchStream: batches of what is queued, the queued events before the end or the error,
nothing after it, and clear() dropping what is queued."""

from __future__ import annotations

import asyncio

import pytest

from kubesvc import errors
from kubesvc.storage import watchstream
from kubesvc.storage.store import KeyValue, WatchEvent
from kubesvc.storage.watchstream import WatchStream


def _ev(rev: int) -> WatchEvent:
    return WatchEvent("PUT", KeyValue(f"/k{rev}", b"", rev, rev), None)


async def test_batches_then_end_after_the_queued_events(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watchstream, "MAX_BATCH", 2)
    s = WatchStream()
    s.extend([_ev(1), _ev(2), _ev(3)])
    s.end()
    s.put(_ev(4))  # after the end: dropped
    got = [[e.kv.mod_revision for e in b] async for b in s]
    assert got == [[1, 2], [3]]


async def test_fail_raises_after_the_queued_events_and_wakes_a_waiting_reader() -> None:
    s = WatchStream()
    it = aiter(s)
    reader = asyncio.create_task(anext(it))
    await asyncio.sleep(0)
    s.put(_ev(1))
    assert [e.kv.mod_revision for e in await reader] == [1]
    s.put(_ev(2))
    s.fail(errors.Gone("too old"))
    assert [e.kv.mod_revision for e in await anext(it)] == [2]
    with pytest.raises(errors.Gone):
        await anext(it)


async def test_clear_then_end_delivers_nothing() -> None:
    s = WatchStream()
    s.put(_ev(1))
    s.clear()
    s.end()
    assert [b async for b in s] == []
