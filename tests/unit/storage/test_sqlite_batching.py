"""SqliteStore's worker: group commit, per-operation failures inside a batch, whole-batch
rollback on an sqlite error, read-your-writes inside a batch, event hand-off before the
writer resumes, the in-memory key map after a reopen, close, cancellation, idle checkpoints."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.storage import sqlite as sqlite_mod
from kubesvc.storage import sqlite_db
from kubesvc.storage.sqlite import SqliteStore
from kubesvc.storage.store import KeyValue, ListResult

from .conftest import Events


@asynccontextmanager
async def held(store: SqliteStore) -> AsyncIterator[None]:
    """Keep the worker busy while the body queues operations, so that everything queued in
    the body runs as one batch when the block ends."""
    gate, running = threading.Event(), threading.Event()

    def block() -> None:
        running.set()
        gate.wait(10)

    done = store._worker.submit(block, kind=sqlite_mod._ALONE)
    assert running.wait(10)
    try:
        yield
    finally:
        gate.set()
        await done


class CountingConn:
    """Delegates to a real connection, counting the COMMIT statements it executes."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.commits = 0

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.commits += sql == "COMMIT"
        return self.real.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def queued(*coros: Any) -> list[asyncio.Task[Any]]:
    """Start ``coros`` and let each run up to its first await (its operation is queued)."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    await asyncio.sleep(0)
    return tasks


async def test_one_batch_one_commit_and_failed_preconditions_fail_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await SqliteStore.open(str(tmp_path / "s.db"))
    a = await s.create("/b/a", b"a1")
    base = a.mod_revision
    live = Events(await s.watch("/b/", start_revision=0))
    conn = CountingConn(s._db.conn)
    monkeypatch.setattr(s._db, "conn", conn)
    async with held(s):
        tasks = await queued(
            s.create("/b/a", b"dup"),  # AlreadyExists
            s.create("/b/x", b"x1"),  # base + 1
            s.update("/b/a", b"stale", expected_mod_revision=base + 5),  # Conflict
            s.update("/b/a", b"a2", expected_mod_revision=base),  # base + 2
            s.delete("/b/missing"),  # NotFound
            s.get("/b/x"),  # sees the create queued before it
            s.list("/b/"),  # sees both writes
            s.watch("/b/", start_revision=base),  # backlog read inside the batch
            s.delete("/b/x"),  # base + 3
            s.get("/b/x"),  # None
        )
    r = await asyncio.gather(*tasks, return_exceptions=True)
    assert conn.commits == 1  # one COMMIT for the whole batch
    assert isinstance(r[0], errors.AlreadyExists)
    x1 = KeyValue("/b/x", b"x1", base + 1, base + 1)
    a2 = KeyValue("/b/a", b"a2", base, base + 2)
    assert r[1] == x1
    assert isinstance(r[2], errors.Conflict)
    assert r[3] == a2
    assert isinstance(r[4], errors.NotFound)
    assert r[5] == x1
    assert r[6] == ListResult([a2, x1], base + 2, False)
    assert r[8] == x1 and r[9] is None
    assert await s.revision() == base + 3  # failed operations took no revision

    got = await live.take(3)
    assert [(e.type, e.kv.mod_revision, e.prev_kv) for e in got] == [
        ("PUT", base + 1, None), ("PUT", base + 2, a), ("DELETE", base + 3, x1)]
    # The watch opened inside the batch gets each event once: backlog, then live.
    past = Events(r[7])
    assert [e.kv.mod_revision for e in await past.take(4)] == [base, base + 1, base + 2,
                                                               base + 3]
    b = await s.create("/b/b", b"b")
    assert (await past.next()).kv == b and (await live.next()).kv == b
    await s.close()


class FailingConn:
    """Delegates to a real connection, but inserting history rows fails while ``fail``."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real
        self.fail = True

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        if self.fail and sql.startswith("INSERT INTO history"):
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self.real.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def test_sqlite_error_fails_and_undoes_the_whole_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await SqliteStore.open(str(tmp_path / "s.db"))
    a = await s.create("/f/a", b"a1")
    ev = Events(await s.watch("/f/", start_revision=0))
    conn = FailingConn(s._db.conn)
    monkeypatch.setattr(s._db, "conn", conn)
    async with held(s):
        tasks = await queued(
            s.update("/f/a", b"a2", expected_mod_revision=a.mod_revision),
            s.create("/f/b", b"b1"),
            s.get("/f/b"),
            s.create("/f/a", b"dup"),
            s.delete("/f/a"),
        )
    r = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(x, errors.ServiceUnavailable) for x in r), r
    assert "injected" in str(r[0])
    # Nothing of the batch stands: not in the key map, the revision or a watch.
    conn.fail = False
    assert await s.revision() == a.mod_revision
    assert await s.get("/f/a") == a and await s.get("/f/b") is None
    a2 = await s.update("/f/a", b"a2", expected_mod_revision=a.mod_revision)
    assert a2.mod_revision == a.mod_revision + 1
    b = await s.create("/f/b", b"b1")
    got = await ev.take(2)
    assert [(e.kv, e.prev_kv) for e in got] == [(a2, a), (b, None)]
    assert (await s.list("/f/")).items == [a2, b]
    await s.close()


async def test_events_are_dispatched_before_each_writer_resumes(tmp_path: Path) -> None:
    s = await SqliteStore.open(str(tmp_path / "s.db"))
    w = await s.watch("/w/", start_revision=0)
    seen: list[int] = []

    async def writer(n: int) -> None:
        kv = await s.create(f"/w/{n}", b"0")
        seen.append(s._hub.rev - kv.mod_revision)
        for i in range(3):
            kv = await s.update(kv.key, str(i).encode(), expected_mod_revision=kv.mod_revision)
            seen.append(s._hub.rev - kv.mod_revision)

    await asyncio.gather(*(writer(n) for n in range(16)))
    assert len(seen) == 64 and min(seen) >= 0
    revs = [e.kv.mod_revision for e in await Events(w).take(64)]
    assert revs == sorted(revs) and len(set(revs)) == 64
    await s.close()


async def test_reopen_rebuilds_the_key_map(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    a = await s.create("/m/a", b"a1")
    a2 = await s.update("/m/a", b"a2")
    b = await s.create("/m/b", b"b1")
    await s.delete("/m/b")
    await s.close()

    s = await SqliteStore.open(path)
    with pytest.raises(errors.AlreadyExists):
        await s.create("/m/a", b"again")
    with pytest.raises(errors.Conflict):
        await s.update("/m/a", b"x", expected_mod_revision=a.mod_revision)
    with pytest.raises(errors.NotFound):
        await s.update("/m/b", b"x")
    a3 = await s.update("/m/a", b"a3", expected_mod_revision=a2.mod_revision)
    assert a3.create_revision == a.create_revision
    assert await s.delete("/m/a") == a3
    b2 = await s.create("/m/b", b"b2")
    assert b2.create_revision == b2.mod_revision > b.mod_revision
    await s.close()


async def test_close_runs_queued_operations_first(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    tasks = await queued(*(s.create(f"/q/{i}", b"v") for i in range(20)))
    await s.close()
    assert [t.result().mod_revision for t in tasks] == list(range(1, 21))
    with pytest.raises(errors.ServiceUnavailable):
        await s.create("/q/late", b"v")
    with pytest.raises(errors.ServiceUnavailable):
        await s.compact(5)
    s = await SqliteStore.open(path)
    assert len((await s.list("/q/")).items) == 20
    await s.close()


async def test_cancelled_writer_does_not_stall_the_others(tmp_path: Path) -> None:
    s = await SqliteStore.open(str(tmp_path / "s.db"))
    async with held(s):
        tasks = await queued(*(s.create(f"/x/{i}", b"v") for i in range(5)))
        tasks[2].cancel()
    r = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(r[2], asyncio.CancelledError)
    assert [kv.mod_revision for kv in r if isinstance(kv, KeyValue)] == [1, 2, 4, 5]
    assert await s.get("/x/2") is not None  # queued writes happen even if nobody waits
    await s.close()


async def test_idle_worker_checkpoints_the_wal_into_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_db, "_CHECKPOINT_BYTES", 64 << 10)
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    before = os.path.getsize(path)
    for i in range(100):
        await s.create(f"/p/{i:03d}", b"v" * 4000)

    def grown() -> bool:
        return os.path.getsize(path) > before + 100 * 4000

    for _ in range(200):  # the checkpoint runs on the worker once its queue is empty
        if grown():
            break
        await asyncio.sleep(0.01)
    assert grown()  # without it, the rows would still sit in the WAL only
    assert len((await s.list("/p/")).items) == 100
    await s.close()
