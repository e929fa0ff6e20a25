"""SqliteStore under storage faults: a store that cannot be opened (damaged file, a path
that cannot be written) is one clear ``OSError`` naming the path and the fix; a write that
the disk refuses is a 503 Status with the same kind of message, and the store reports
itself unhealthy (``/readyz``'s ``etcd`` check) until a write commits again."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubesvc import errors
from kubesvc.storage.factory import open_store
from kubesvc.storage.sqlite import _ALONE, SqliteStore
from kubesvc.storage.store import StoreOpenError


async def test_damaged_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreOpenError) as info:
        await open_store(f"sqlite://{path}")
    msg = str(info.value)
    assert isinstance(info.value, OSError)
    assert str(path) in msg and "not a database" in msg and "move it away" in msg


async def test_unwritable_path_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "state.db"  # its "directory" is a file
    with pytest.raises(StoreOpenError) as info:
        await open_store(f"sqlite://{path}")
    assert str(path) in str(info.value) and "writable" in str(info.value)


async def _limit_pages(s: SqliteStore, extra: int | None) -> None:
    def limit() -> None:
        conn = s._db.conn
        if extra is None:
            conn.execute("PRAGMA max_page_count=1073741823")
        else:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={pages + extra}")

    await s._worker.submit(limit, kind=_ALONE)


async def test_full_disk_answers_503_and_unhealthy_until_writes_work(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    s = await SqliteStore.open(path)
    try:
        await s.create("/r/before", b"ok")
        assert s.healthy()
        await _limit_pages(s, 2)  # as a disk with two pages left
        with pytest.raises(errors.ServiceUnavailable) as info:
            for i in range(100):
                await s.create(f"/r/{i}", b"x" * 8192)
        assert path in str(info.value) and "full" in str(info.value)
        assert not s.healthy()
        # Reads still work; the failed batch left nothing behind.
        kv = await s.get("/r/before")
        assert kv is not None and kv.value == b"ok"
        await _limit_pages(s, None)  # space freed
        await s.create("/r/after", b"ok")
        assert s.healthy()
        assert (await s.get("/r/after")) is not None
    finally:
        await s.close()
