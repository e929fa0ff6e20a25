"""SQLite ``Store`` backend: the embedded default (``kubesvc up``, ``--store sqlite:///...``).

Opened by :func:`kubesvc.storage.store.open_store`; the API server's registry calls it through
the :class:`~kubesvc.storage.store.Store` protocol. It calls only :mod:`sqlite3` (standard
library) and the in-process watch fan-out in :mod:`kubesvc.storage.watchhub`.

Layout: ``history`` holds one row per revision (``rev`` is the rowid; tombstone rows mark
deletes, ``prev_rev`` points at the key's previous live version so a watch can carry
``prev_kv``); ``live`` maps each existing key to the revision of its current row. A list at
a past revision reads ``history``; a current list/get reads ``live``. Compaction deletes
history rows that no list or watch at or after the compaction revision can need, and records
the compaction revision in ``meta`` so older revisions raise ``Gone`` even after a restart.

Durability: WAL journal with ``synchronous=NORMAL``. A commit appends the transaction to the
WAL file with ``write(2)`` before it returns, so once a write is acknowledged its bytes are
in the kernel's page cache; killing the process (even with SIGKILL) cannot lose them, and the
next open replays the WAL. Only a power loss or kernel crash can drop the last transactions
(NORMAL fsyncs at checkpoints, not per commit); pass ``synchronous="FULL"`` to fsync every
commit when that matters more than write latency.

Concurrency: every sqlite call runs on one dedicated worker thread with one connection, so
the event loop never blocks and operations are serialised (check-then-write is atomic). After
each commit the worker hands the event to the loop with ``call_soon_threadsafe``; the loop runs
those hand-offs in commit order, before the writer's own await resumes, so watchers see every
acknowledged write, in revision order. The database is opened in EXCLUSIVE locking mode: a
second process cannot open the same file and fork the revision counter.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, ParamSpec, TypeVar

from kubesvc import errors
from kubesvc.storage.store import KeyValue, ListResult, WatchEvent
from kubesvc.storage.watchhub import HubWatch, WatchHub

_P = ParamSpec("_P")
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    rev INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS history_key_rev ON history(key, rev);
CREATE TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY, rev INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""

_COMPACT_CHUNK = 5000  # revisions deleted per transaction, so writes interleave with compaction


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no
    upper bound). Keys compare by code point, as SQLite's BINARY collation on UTF-8 does."""
    p = prefix.rstrip("\U0010ffff")
    if not p:
        return None
    nxt = ord(p[-1]) + 1
    if 0xD800 <= nxt <= 0xDFFF:  # skip surrogates: they cannot be stored as UTF-8
        nxt = 0xE000
    return p[:-1] + chr(nxt)


def _range_sql(column: str, prefix: str, start_after: str) -> tuple[str, list[object]]:
    clauses = [f"{column} >= ?"]
    args: list[object] = [prefix]
    end = prefix_end(prefix)
    if end is not None:
        clauses.append(f"{column} < ?")
        args.append(end)
    if start_after:
        clauses.append(f"{column} > ?")
        args.append(start_after)
    return " AND ".join(clauses), args


class _Db:
    """The worker-thread side: owns the connection. Every method runs on the worker."""

    def __init__(self, path: str, *, synchronous: str, notify: Callable[[WatchEvent], None]):
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=0.25)
        except sqlite3.Error as exc:
            raise errors.InternalError(f"cannot open sqlite store {path}: {exc}") from exc
        self.conn = conn
        self.notify = notify
        try:
            # EXCLUSIVE before WAL: no shared-memory index, and no second process.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise errors.InternalError(f"sqlite store {path}: cannot enable WAL ({mode})")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            conn.executescript(_SCHEMA)
            # Take the write lock now so a second opener fails here, not mid-operation.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('compacted', 0)")
            conn.execute("COMMIT")
            self.compacted: int = conn.execute(
                "SELECT value FROM meta WHERE name = 'compacted'"
            ).fetchone()[0]
            top = conn.execute("SELECT max(rev) FROM history").fetchone()[0] or 0
            self.rev: int = max(top, self.compacted)
        except sqlite3.Error as exc:
            conn.close()
            hint = " (is another kubesvc using it?)" if "locked" in str(exc) else ""
            raise errors.InternalError(f"cannot open sqlite store {path}: {exc}{hint}") from exc
        except BaseException:
            conn.close()
            raise

    def close(self) -> None:
        self.conn.close()

    # -- reads
    def _live_row(self, key: str) -> KeyValue | None:
        row = self.conn.execute(
            "SELECT h.value, h.create_rev, h.rev FROM live l JOIN history h ON h.rev = l.rev"
            " WHERE l.key = ?",
            (key,),
        ).fetchone()
        return None if row is None else KeyValue(key, row[0], row[1], row[2])

    def get(self, key: str) -> KeyValue | None:
        return self._live_row(key)

    def list_range(
        self, prefix: str, revision: int, limit: int, start_after: str
    ) -> ListResult:
        if revision and revision < self.compacted:
            raise errors.Gone(f"The resourceVersion for the provided list is too old: {revision}")
        if revision > self.rev:
            raise errors.Timeout(
                f"Too large resource version: {revision}, current: {self.rev}",
                retry_after_seconds=1,
            )
        n = limit + 1 if limit else -1
        if not revision or revision == self.rev:
            where, args = _range_sql("l.key", prefix, start_after)
            rows = self.conn.execute(
                "SELECT l.key, h.value, h.create_rev, h.rev FROM live l"
                f" JOIN history h ON h.rev = l.rev WHERE {where} ORDER BY l.key LIMIT ?",
                [*args, n],
            ).fetchall()
            at = self.rev
        else:
            where, args = _range_sql("key", prefix, start_after)
            # SQLite guarantees bare columns come from the row holding max(rev).
            rows = self.conn.execute(
                "SELECT key, value, create_rev, rev FROM ("
                " SELECT key, max(rev) AS rev, value, create_rev, deleted FROM history"
                f" WHERE {where} AND rev <= ? GROUP BY key"
                ") WHERE deleted = 0 ORDER BY key LIMIT ?",
                [*args, revision, n],
            ).fetchall()
            at = revision
        more = bool(limit) and len(rows) > limit
        if more:
            rows = rows[:limit]
        return ListResult([KeyValue(r[0], r[1], r[2], r[3]) for r in rows], at, more)

    def backlog(self, prefix: str, start: int) -> tuple[list[WatchEvent], int]:
        """Events under ``prefix`` with revision >= ``start``, and the revision read at."""
        if start < self.compacted:
            raise errors.Gone(f"too old resource version: {start} ({self.compacted})")
        where, args = _range_sql("h.key", prefix, "")
        rows = self.conn.execute(
            "SELECT h.rev, h.key, h.value, h.create_rev, h.deleted, p.value, p.create_rev,"
            " p.rev FROM history h LEFT JOIN history p ON p.rev = h.prev_rev AND h.prev_rev > 0"
            f" WHERE h.rev >= ? AND {where} ORDER BY h.rev",
            [start, *args],
        ).fetchall()
        events: list[WatchEvent] = []
        for rev, key, value, create_rev, deleted, pvalue, pcreate, prev in rows:
            prev_kv = None if prev is None else KeyValue(key, pvalue, pcreate, prev)
            if deleted:
                events.append(WatchEvent("DELETE", KeyValue(key, b"", create_rev, rev), prev_kv))
            else:
                events.append(WatchEvent("PUT", KeyValue(key, value, create_rev, rev), prev_kv))
        return events, self.rev

    # -- writes
    def _write(self, key: str, kv: KeyValue, prev: KeyValue | None, *, deleted: bool) -> None:
        rev = kv.mod_revision
        conn = self.conn
        try:
            conn.execute("BEGIN")
            try:
                conn.execute(
                    "INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)",
                    (rev, key, kv.value, kv.create_revision,
                     prev.mod_revision if prev else 0, int(deleted)),
                )
                if deleted:
                    conn.execute("DELETE FROM live WHERE key = ?", (key,))
                else:
                    conn.execute("INSERT OR REPLACE INTO live VALUES (?, ?)", (key, rev))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise errors.InternalError(f"sqlite store write of {key} failed: {exc}") from exc
        self.rev = rev
        self.notify(WatchEvent("DELETE" if deleted else "PUT", kv, prev))

    def _checked(self, key: str, expected: int) -> KeyValue:
        prev = self._live_row(key)
        if prev is None:
            raise errors.NotFound(f"key {key} not found")
        if expected and prev.mod_revision != expected:
            raise errors.Conflict(
                f"key {key} was modified (mod_revision {prev.mod_revision}, "
                f"expected {expected})"
            )
        return prev

    def create(self, key: str, value: bytes) -> KeyValue:
        if self.conn.execute("SELECT 1 FROM live WHERE key = ?", (key,)).fetchone():
            raise errors.AlreadyExists(f"key {key} already exists")
        rev = self.rev + 1
        kv = KeyValue(key, value, rev, rev)
        self._write(key, kv, None, deleted=False)
        return kv

    def update(self, key: str, value: bytes, expected: int) -> KeyValue:
        prev = self._checked(key, expected)
        kv = KeyValue(key, value, prev.create_revision, self.rev + 1)
        self._write(key, kv, prev, deleted=False)
        return kv

    def delete(self, key: str, expected: int) -> KeyValue:
        prev = self._checked(key, expected)
        self._write(key, KeyValue(key, b"", prev.create_revision, self.rev + 1), prev,
                    deleted=True)
        return prev

    # -- compaction
    def compact_mark(self, revision: int) -> tuple[int, int] | None:
        """Record the new compaction point; returns the revision range to sweep, or None
        when there is nothing to do."""
        revision = min(revision, self.rev)
        if revision <= self.compacted:
            return None
        self.conn.execute("UPDATE meta SET value = ? WHERE name = 'compacted'", (revision,))
        self.compacted = revision
        low = self.conn.execute("SELECT min(rev) FROM history").fetchone()[0]
        return int(low or revision), revision

    def compact_sweep(self, lo: int, hi: int, upto: int) -> None:
        """Delete history rows in ``[lo, hi)`` that no revision >= ``upto`` needs: tombstones
        older than ``upto`` and rows superseded by a newer row of the same key older than
        ``upto`` (the latest row below ``upto`` stays: it is the key's value at ``upto`` and
        the ``prev_kv`` of its next event)."""
        self.conn.execute("BEGIN")
        try:
            self.conn.execute(
                "DELETE FROM history WHERE rev >= ? AND rev < ? AND (deleted = 1 OR EXISTS ("
                " SELECT 1 FROM history n WHERE n.key = history.key AND n.rev > history.rev"
                " AND n.rev < ?))",
                (lo, hi, upto),
            )
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise


class SqliteStore:
    """The embedded :class:`~kubesvc.storage.store.Store`. Open with ``await
    SqliteStore.open(path)``; reopening the same file resumes its revision counter. Use it
    from the event loop that opened it (watch events are handed to that loop)."""

    def __init__(self, db: _Db, executor: ThreadPoolExecutor, hub: WatchHub) -> None:
        self._db = db
        self._executor = executor
        self._hub = hub
        self._closed = False

    @classmethod
    async def open(
        cls, path: str, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> SqliteStore:
        loop = asyncio.get_running_loop()
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        hub = WatchHub()

        def notify(ev: WatchEvent) -> None:
            loop.call_soon_threadsafe(hub.dispatch, ev)

        try:
            db = await loop.run_in_executor(
                executor, lambda: _Db(path, synchronous=synchronous, notify=notify)
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        hub.rev = db.rev
        return cls(db, executor, hub)

    async def _run(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        if self._closed:
            raise errors.ServiceUnavailable("sqlite store is closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(*args, **kwargs))
        except sqlite3.Error as exc:
            raise errors.InternalError(f"sqlite store: {exc}") from exc

    # -- reads
    async def get(self, key: str) -> KeyValue | None:
        return await self._run(self._db.get, key)

    async def revision(self) -> int:
        # An int the worker replaces atomically after each commit: no thread hop needed.
        return self._db.rev

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        return await self._run(self._db.list_range, prefix, revision, limit, start_after)

    # -- writes
    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._run(self._db.create, key, value)

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0) -> KeyValue:
        return await self._run(self._db.update, key, value, expected_mod_revision)

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        return await self._run(self._db.delete, key, expected_mod_revision)

    # -- watch / compaction
    async def watch(self, prefix: str, *, start_revision: int) -> HubWatch:
        w = self._hub.add(prefix, start_revision)
        if not start_revision:
            return w
        try:
            backlog, upto = await self._run(self._db.backlog, prefix, start_revision)
        except BaseException:
            await w.close()
            raise
        w.start(backlog, upto)
        return w

    async def compact(self, revision: int) -> None:
        sweep = await self._run(self._db.compact_mark, revision)
        if sweep is None:
            return
        lo, upto = sweep
        for start in range(lo, upto, _COMPACT_CHUNK):
            await self._run(self._db.compact_sweep, start, min(start + _COMPACT_CHUNK, upto),
                            upto)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._hub.close()
        # Queued operations run first (the executor is FIFO), then the connection closes.
        await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)
