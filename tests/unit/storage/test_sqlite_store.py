"""SqliteStore beyond the shared contract: restarts, kill -9 durability, file locking,
physical compaction."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kubesvc import errors
from kubesvc.storage.factory import open_store
from kubesvc.storage.sqlite import SqliteStore, prefix_end
from kubesvc.storage.store import StoreOpenError

from .conftest import Events


async def test_reopen_resumes_revision_data_and_compaction(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    a = await s.create("/r/a", b"1")
    await s.update("/r/a", b"2")
    b = await s.create("/r/b", b"x")
    gone = await s.delete("/r/b")
    await s.compact(b.mod_revision)
    rev = await s.revision()
    await s.close()

    reopened = await open_store(f"sqlite://{path}")
    assert isinstance(reopened, SqliteStore)
    s = reopened
    assert await s.revision() == rev
    assert [(kv.key, kv.value) for kv in (await s.list("/r/")).items] == [("/r/a", b"2")]
    with pytest.raises(errors.Gone):
        await s.list("/r/", revision=b.mod_revision - 1)
    w = await s.watch("/r/", start_revision=b.mod_revision)
    ev = Events(w)
    assert (await ev.next()).kv == b
    deleted = await ev.next()
    assert deleted.type == "DELETE" and deleted.prev_kv == gone
    c = await s.create("/r/c", b"new")
    assert c.mod_revision == rev + 1 and (await ev.next()).kv == c
    now_a = await s.get("/r/a")
    assert now_a is not None and now_a.create_revision == a.create_revision
    await s.close()


async def test_revision_resumes_after_everything_deleted_and_compacted(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    await s.create("/k", b"v")
    await s.delete("/k")
    rev = await s.revision()
    await s.compact(rev)
    await s.close()
    s = await SqliteStore.open(path)
    assert await s.revision() == rev
    assert (await s.create("/k", b"v")).mod_revision == rev + 1
    await s.close()


async def test_second_open_of_same_file_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    await s.create("/k", b"v")
    with pytest.raises(StoreOpenError, match="another kubesvc"):
        await SqliteStore.open(path)
    await s.close()
    s2 = await SqliteStore.open(path)  # the lock goes with the first store
    assert (await s2.get("/k")) is not None
    await s2.close()


async def test_closed_store_refuses_operations(tmp_path: Path) -> None:
    s = await SqliteStore.open(str(tmp_path / "s.db"))
    await s.close()
    with pytest.raises(errors.ServiceUnavailable):
        await s.get("/k")


async def test_compaction_deletes_superseded_history_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    s = await SqliteStore.open(path)
    for i in range(20):
        await s.create(f"/c/{i}", b"0")
    for round_ in range(1, 6):
        for i in range(20):
            await s.update(f"/c/{i}", str(round_).encode())
    for i in range(10):
        await s.delete(f"/c/{i}")
    await s.create("/c/late", b"x")
    await s.compact(await s.revision())
    await s.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        keys = db.execute("SELECT key, deleted FROM history ORDER BY rev").fetchall()
    # Only the live version of each remaining key survives (no tombstones, no old values).
    assert sorted(k for k, _ in keys) == sorted([f"/c/{i}" for i in range(10, 20)] + ["/c/late"])
    assert all(d == 0 for _, d in keys)


def test_prefix_end() -> None:
    assert prefix_end("/a/") == "/a0"
    assert prefix_end("") is None
    assert prefix_end("a\U0010ffff") == "b"
    assert prefix_end("\ud7ff") == "\ue000"


_WRITER = textwrap.dedent("""
    import asyncio, sys
    from kubesvc.storage.sqlite import SqliteStore

    async def main() -> None:
        store = await SqliteStore.open(sys.argv[1])
        for i in range(1_000_000):
            key = f"/kill/{i:07d}"
            await store.create(key, b"x" * 200)
            print(key, flush=True)

    asyncio.run(main())
""")


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = str(tmp_path / "kill.db")
    acked: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", _WRITER, path], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    ) as proc:
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                acked.append(line.strip())
                if len(acked) >= 300:
                    break
            os.kill(proc.pid, signal.SIGKILL)
            acked += [line.strip() for line in proc.stdout]  # printed before the kill
        finally:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 300

    s = await SqliteStore.open(path)  # recovers from the WAL the killed writer left
    stored = {kv.key for kv in (await s.list("/kill/")).items}
    assert set(acked) <= stored
    assert await s.revision() == len(stored)  # at most one unacknowledged extra write
    assert len(stored) - len(acked) <= 1
    await s.create("/after", b"restart")
    await s.close()
    with contextlib.closing(sqlite3.connect(path)) as db:  # and the file is a sound database
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_open_of_a_non_database_file_is_a_clear_open_error(tmp_path: Path) -> None:
    bad = tmp_path / "not.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreOpenError, match=r"cannot open the store .*not\.db: file is not"):
        await SqliteStore.open(str(bad))
    with pytest.raises(StoreOpenError, match="cannot open the store"):
        await SqliteStore.open(str(tmp_path / "no" / "such" / "dir.db"))


async def test_watcher_far_behind_is_cut_off_with_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubesvc.storage import watchhub

    monkeypatch.setattr(watchhub, "MAX_QUEUED", 5)
    s = await SqliteStore.open(str(tmp_path / "s.db"))
    slow = await s.watch("/", start_revision=0)
    keeping_up = Events(await s.watch("/", start_revision=0))
    for i in range(7):
        await s.create(f"/k{i}", b"v")
        assert (await keeping_up.next()).kv.key == f"/k{i}"
    with pytest.raises(errors.Gone, match="re-list"):
        await Events(slow).next()
    await s.close()
