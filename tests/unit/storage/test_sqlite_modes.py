"""The sqlite store holds Secrets: a new database and its WAL are 0600 whatever the umask,
and an existing world-readable one is made 0600 when opened."""

from __future__ import annotations

import os
from pathlib import Path

from kubesvc.storage.sqlite import SqliteStore


def _mode(p: Path) -> int:
    return os.stat(p).st_mode & 0o777


async def test_new_store_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        db = tmp_path / "state.db"
        store = await SqliteStore.open(str(db))
        try:
            await store.create("/registry/core/secrets/default/s", b"{}")
            assert _mode(db) == 0o600
            wal = tmp_path / "state.db-wal"
            assert wal.exists() and _mode(wal) == 0o600
        finally:
            await store.close()
    finally:
        os.umask(old)


async def test_existing_store_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    store = await SqliteStore.open(str(db))
    await store.create("/k", b"v")
    await store.close()
    os.chmod(db, 0o644)
    store = await SqliteStore.open(str(db))
    try:
        assert _mode(db) == 0o600
        assert (await store.get("/k")) is not None
    finally:
        await store.close()
