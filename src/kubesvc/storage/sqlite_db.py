"""The worker-thread side of the SQLite store: the connection, the schema and every query.

Only :mod:`kubesvc.storage.sqlite` uses this module: its single worker thread owns one
:class:`SqliteDb` and calls it for every operation, so nothing here is thread-safe or
needs to be. It calls :mod:`sqlite3` (standard library) and nothing else outside this package.

Layout: ``history`` holds one row per revision (``rev`` is the rowid; tombstone rows mark
deletes, ``prev_rev`` points at the key's previous live version so a watch can carry
``prev_kv``); ``live`` maps each existing key to the revision of its current row; ``meta``
records the compaction revision so older revisions raise ``Gone`` even after a restart.

Group commit: writes are *staged*. Preconditions (AlreadyExists, NotFound, Conflict) are
checked in Python against :attr:`SqliteDb.live`, an in-memory map of every live key to its
``(create_revision, mod_revision)`` (rebuilt from ``live`` at open; a few hundred bytes per
key, no values), so a write needs no query. Staged rows reach SQLite with ``executemany``
when a read needs them (:meth:`SqliteDb.flush`, inside the open transaction) or at
:meth:`SqliteDb.commit`, which ends the batch with one ``COMMIT``. :meth:`SqliteDb.rollback`
undoes the whole batch, in SQLite and in memory. A key's current value (a get, a watch
event's ``prev_kv``, a delete's result) is one primary-key read of its ``history`` row by
the revision the map holds, or comes from the batch's staged rows. (A byte-bounded cache of
recent values was measured and did not pay for its memory: that read is already cheap.)
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from typing import Literal

from kubesvc import errors
from kubesvc.storage.store import KeyValue, ListResult, WatchEvent

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

_AUTOCHECKPOINT_PAGES = 16384  # SQLite's own checkpoint, when the worker is never idle
_CHECKPOINT_BYTES = 4 << 20  # estimated WAL growth that makes an idle checkpoint due
_COMMIT_WAL_BYTES = 8192  # estimated WAL bytes of one commit beyond its rows' data
_ROW_WAL_BYTES = 300  # ... and of one row beyond its key and value (index and live pages)

_HistoryRow = tuple[int, str, bytes, int, int, int]  # rev, key, value, create, prev, deleted


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


class SqliteDb:
    """One open database file. Every method runs on the store's worker thread."""

    def __init__(self, path: str, *, synchronous: Literal["NORMAL", "FULL"]) -> None:
        try:
            _private_files(path)
            conn = sqlite3.connect(path, isolation_level=None, timeout=0.25)
        except sqlite3.Error as exc:
            raise errors.InternalError(f"cannot open sqlite store {path}: {exc}") from exc
        self.conn = conn
        try:
            # EXCLUSIVE before WAL: no shared-memory index, and no second process.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise errors.InternalError(f"sqlite store {path}: cannot enable WAL ({mode})")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            # The worker checkpoints when idle (see checkpoint_if_due); SQLite's own
            # checkpoint inside COMMIT is only the backstop for a store that is never idle.
            conn.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
            conn.executescript(_SCHEMA)
            # Take the write lock now so a second opener fails here, not mid-operation.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('compacted', 0)")
            conn.execute("COMMIT")
            self.compacted: int = conn.execute(
                "SELECT value FROM meta WHERE name = 'compacted'"
            ).fetchone()[0]
            top = conn.execute("SELECT max(rev) FROM history").fetchone()[0] or 0
            # Every live key -> (create_revision, mod_revision): preconditions need no query.
            self.live: dict[str, tuple[int, int]] = {
                key: (create, rev) for key, create, rev in conn.execute(
                    "SELECT l.key, h.create_rev, l.rev FROM live l JOIN history h"
                    " ON h.rev = l.rev")
            }
        except sqlite3.Error as exc:
            conn.close()
            hint = " (is another kubesvc using it?)" if "locked" in str(exc) else ""
            raise errors.InternalError(f"cannot open sqlite store {path}: {exc}{hint}") from exc
        except BaseException:
            conn.close()
            raise
        # ``rev`` counts staged writes too; ``committed`` is the last revision made durable
        # (read from the event loop's thread by SqliteStore.revision()).
        self.rev: int = max(top, self.compacted)
        self.committed: int = self.rev
        # The open batch: rows not yet handed to SQLite (and their values by revision), the
        # net change of each key's ``live`` row (0: delete), the undo log of ``live``, and
        # the events to publish once the batch commits.
        self._rows: list[_HistoryRow] = []
        self._staged: dict[int, bytes] = {}
        self._live_ops: dict[str, int] = {}
        self._undo: list[tuple[str, tuple[int, int] | None]] = []
        self._events: list[WatchEvent] = []
        self._wal_bytes = 0  # estimated WAL growth since the last checkpoint

    def close(self) -> None:
        self.conn.close()

    def _current(self, key: str) -> KeyValue | None:
        """The key's live version (staged writes included)."""
        entry = self.live.get(key)
        if entry is None:
            return None
        return KeyValue(key, self._value_at(key, entry[1]), entry[0], entry[1])

    def _value_at(self, key: str, rev: int) -> bytes:
        value = self._staged.get(rev)
        if value is not None:
            return value
        row = self.conn.execute("SELECT value FROM history WHERE rev = ?", (rev,)).fetchone()
        if row is None:
            raise errors.InternalError(f"sqlite store: revision {rev} of {key} is missing")
        return bytes(row[0])

    # -- reads
    def get(self, key: str) -> KeyValue | None:
        return self._current(key)

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
        self.flush()
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
        self.flush()
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

    # -- writes (staged; see commit)
    def create(self, key: str, value: bytes) -> KeyValue:
        if key in self.live:
            raise errors.AlreadyExists(f"key {key} already exists")
        rev = self.rev + 1
        kv = KeyValue(key, value, rev, rev)
        self._stage(kv, None, deleted=False)
        return kv

    def update(self, key: str, value: bytes, expected: int) -> KeyValue:
        prev = self._checked(key, expected)
        kv = KeyValue(key, value, prev.create_revision, self.rev + 1)
        self._stage(kv, prev, deleted=False)
        return kv

    def delete(self, key: str, expected: int) -> KeyValue:
        prev = self._checked(key, expected)
        self._stage(KeyValue(key, b"", prev.create_revision, self.rev + 1), prev, deleted=True)
        return prev

    def _checked(self, key: str, expected: int) -> KeyValue:
        entry = self.live.get(key)
        if entry is None:
            raise errors.NotFound(f"key {key} not found")
        if expected and entry[1] != expected:
            raise errors.Conflict(
                f"key {key} was modified (mod_revision {entry[1]}, expected {expected})"
            )
        prev = self._current(key)
        assert prev is not None
        return prev

    def _stage(self, kv: KeyValue, prev: KeyValue | None, *, deleted: bool) -> None:
        """Apply one checked write to the in-memory state and queue its rows. Raises nothing
        a caller could catch halfway (the batch's rollback undoes it all)."""
        key, rev = kv.key, kv.mod_revision
        self._undo.append((key, self.live.get(key)))
        self._rows.append((rev, key, kv.value, kv.create_revision,
                           prev.mod_revision if prev is not None else 0, int(deleted)))
        if deleted:
            del self.live[key]
            self._live_ops[key] = 0
            self._events.append(WatchEvent("DELETE", kv, prev))
        else:
            self.live[key] = (kv.create_revision, rev)
            self._live_ops[key] = rev
            self._staged[rev] = kv.value
            self._events.append(WatchEvent("PUT", kv, prev))
        self.rev = rev

    def flush(self) -> None:
        """Hand the staged rows to SQLite inside the batch's transaction (begun here)."""
        if not self._rows:
            return
        conn = self.conn
        if not conn.in_transaction:
            conn.execute("BEGIN")
        conn.executemany("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)", self._rows)
        self._wal_bytes += sum(len(r[1]) * 3 + len(r[2]) + _ROW_WAL_BYTES for r in self._rows)
        puts = [(k, r) for k, r in self._live_ops.items() if r]
        gone = [(k,) for k, r in self._live_ops.items() if not r]
        if puts:
            conn.executemany("INSERT OR REPLACE INTO live VALUES (?, ?)", puts)
        if gone:
            conn.executemany("DELETE FROM live WHERE key = ?", gone)
        self._rows = []
        self._staged.clear()
        self._live_ops.clear()

    def commit(self) -> list[WatchEvent]:
        """Make the batch durable with one COMMIT; returns its events in revision order.
        On an sqlite error the caller must :meth:`rollback`."""
        self.flush()
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
            self._wal_bytes += _COMMIT_WAL_BYTES
        self.committed = self.rev
        self._undo.clear()
        events, self._events = self._events, []
        return events

    def rollback(self) -> None:
        """Forget the whole batch: its rows, its ``live`` changes and its events."""
        self._rows = []
        self._staged.clear()
        self._live_ops.clear()
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # a failed COMMIT may have rolled back already
        for key, entry in reversed(self._undo):
            if entry is None:
                self.live.pop(key, None)
            else:
                self.live[key] = entry
        self._undo.clear()
        self._events = []
        self.rev = self.committed

    def checkpoint_if_due(self) -> None:
        """Copy the WAL back into the database file when it has grown enough. The worker
        calls this when its queue is empty, after acknowledging the last batch, so the
        checkpoint's fsyncs overlap the event loop's work instead of delaying a COMMIT."""
        if self._wal_bytes < _CHECKPOINT_BYTES:
            return
        self._wal_bytes = 0
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    # -- compaction (run outside batches)
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
        the ``prev_kv`` of its next event; live rows are never deleted)."""
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


def _private_files(path: str) -> None:
    """The database holds Secrets: create it 0600, and make an existing one (and its WAL,
    SHM and journal) 0600. SQLite creates the WAL and SHM files with the database's own
    mode, so they stay private once it is."""
    if path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError:
        return  # sqlite3.connect reports why the file cannot be opened, in its words
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            if os.stat(path + suffix).st_mode & 0o077:
                os.chmod(path + suffix, 0o600)
