"""SQLite ``Store`` backend: the embedded default (``kubesvc up``, ``--store sqlite:///...``).

Opened by :func:`kubesvc.storage.factory.open_store`; the API server's registry calls it through
the :class:`~kubesvc.storage.store.Store` protocol. This module is the event-loop side: it
queues operations to one dedicated worker thread, which owns the connection through
:class:`kubesvc.storage.sqlite_db.SqliteDb` (schema, queries, in-memory key map), and hands
committed events to the in-process watch fan-out in :mod:`kubesvc.storage.watchhub`.

Durability: WAL journal with ``synchronous=NORMAL``. A commit appends the transaction to the
WAL file with ``write(2)`` before it returns, and a write is acknowledged only after the
COMMIT that contains it, so its bytes are in the kernel's page cache; killing the process
(even with SIGKILL) cannot lose them, and the next open replays the WAL. Only a power loss or
kernel crash can drop the last transactions (NORMAL fsyncs at checkpoints, not per commit);
pass ``synchronous="FULL"`` to fsync every commit when that matters more than write latency.

Concurrency: every sqlite call runs on the worker thread, so the event loop never blocks and
operations are serialised in the order they were queued (check-then-write is atomic, and a
read queued after a write sees it). The worker drains everything queued, runs it as one
batch in one transaction (group commit: a failed precondition fails only its own operation;
an sqlite error rolls back the batch and fails all of it), commits once, then makes a single
``call_soon_threadsafe`` hand-off that first dispatches the batch's watch events in revision
order and then resolves its futures. So watchers see every acknowledged write, in commit
order, before the writer's own await resumes. Compaction steps and close run alone, between
batches; when the queue runs empty the worker checkpoints the WAL into the database file
(after the hand-off, so the checkpoint's fsyncs overlap the loop's work instead of delaying
the batch just committed). The database is opened in EXCLUSIVE locking mode: a second process
cannot open the same file and fork the revision counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from kubesvc import errors
from kubesvc.storage.sqlite_db import SqliteDb, prefix_end
from kubesvc.storage.store import KeyValue, ListResult, StoreOpenError, WatchEvent, open_hint
from kubesvc.storage.watchhub import HubWatch, WatchHub

__all__ = ["SqliteStore", "prefix_end"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_COMPACT_CHUNK = 5000  # revisions deleted per transaction, so writes interleave with compaction
_MAX_BATCH = 1024  # operations per group commit (bounds one transaction and one hand-off)

# Kinds of queued operation: batched with its neighbours, run alone, or the final close.
_BATCHED, _ALONE, _CLOSE = 0, 1, 2

_Op = tuple[Callable[..., Any] | None, tuple[Any, ...], "asyncio.Future[Any]", int]
_Result = tuple["asyncio.Future[Any]", BaseException | None, Any]


def _failure(exc: BaseException, path: str = "") -> errors.KubeError:
    if isinstance(exc, errors.KubeError):
        return exc
    if isinstance(exc, sqlite3.OperationalError):  # full disk, read-only file system, I/O
        return errors.ServiceUnavailable(
            f"storage error: cannot write the store {path}: {exc}; {open_hint(str(exc))}")
    return errors.InternalError(f"sqlite store: {exc}")


class _Worker:
    """The worker thread and its queue. ``submit`` runs on the event loop; everything else
    on the worker, except ``_complete``, which the worker schedules on the loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, hub: WatchHub) -> None:
        self._loop = loop
        self._hub = hub
        self._queue: queue.SimpleQueue[_Op] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.path = ""
        # False from a batch that sqlite failed to commit until one commits again: the
        # store's /readyz check ("etcd", as kube-apiserver names it).
        self.healthy = True

    def start(self, opener: Callable[[], SqliteDb]) -> asyncio.Future[SqliteDb]:
        """Start the thread; it opens the database with ``opener`` (the future's result)."""
        fut: asyncio.Future[SqliteDb] = self._loop.create_future()
        self._thread = threading.Thread(
            target=self._main, args=(opener, fut), name="sqlite-store", daemon=True)
        self._thread.start()
        return fut

    def submit(
        self, fn: Callable[..., _T] | None, *args: Any, kind: int = _BATCHED
    ) -> asyncio.Future[_T]:
        fut: asyncio.Future[_T] = self._loop.create_future()
        self._queue.put((fn, args, fut, kind))
        return fut

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- worker thread
    def _main(self, opener: Callable[[], SqliteDb], opened: asyncio.Future[SqliteDb]) -> None:
        try:
            db = opener()
        except BaseException as exc:  # handed to the opener's await
            self._post([], [(opened, exc, None)])
            return
        self._post([], [(opened, None, db)])
        q = self._queue
        while True:
            ops = [q.get()]
            while len(ops) < _MAX_BATCH:
                try:
                    ops.append(q.get_nowait())
                except queue.Empty:
                    break
            batch: list[_Op] = []
            for i, op in enumerate(ops):
                if op[3] == _BATCHED:
                    batch.append(op)
                    continue
                if batch:
                    self._run_batch(db, batch)
                    batch = []
                if op[3] == _CLOSE:
                    self._run_alone(db, db.close, (), op[2])
                    self._post([], [(o[2], errors.ServiceUnavailable("sqlite store is closed"),
                                     None) for o in ops[i + 1:]])
                    return
                assert op[0] is not None
                self._run_alone(db, op[0], op[1], op[2])
            if batch:
                self._run_batch(db, batch)
            if q.empty():
                try:
                    db.checkpoint_if_due()
                except sqlite3.Error as exc:  # retried when due again; COMMITs still work
                    log.warning("sqlite store checkpoint failed: %s", exc)

    def _run_batch(self, db: SqliteDb, batch: list[_Op]) -> None:
        results: list[_Result] = []
        try:
            for fn, args, fut, _ in batch:
                assert fn is not None
                try:
                    results.append((fut, None, fn(*args)))
                except errors.KubeError as exc:  # this operation's own failure
                    results.append((fut, exc, None))
            events = db.commit()
            if not self.healthy:
                log.info("sqlite store %s: writes work again", self.path)
            self.healthy = True
        except Exception as exc:  # sqlite3.Error (or a bug): nothing of the batch stands
            db.rollback()
            if not isinstance(exc, sqlite3.Error):
                log.exception("sqlite store batch failed")
            elif self.healthy:
                log.error("sqlite store %s: a write failed: %s", self.path, exc)
                self.healthy = False
            failure = _failure(exc, self.path)
            results = [(op[2], failure, None) for op in batch]
            events = []
        self._post(events, results)

    def _run_alone(
        self, db: SqliteDb, fn: Callable[..., Any], args: tuple[Any, ...],
        fut: asyncio.Future[Any],
    ) -> None:
        try:
            result: _Result = (fut, None, fn(*args))
        except Exception as exc:
            result = (fut, _failure(exc), None)
        self._post([], [result])

    def _post(self, events: list[WatchEvent], results: list[_Result]) -> None:
        try:
            self._loop.call_soon_threadsafe(self._complete, events, results)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    # -- event loop
    def _complete(self, events: list[WatchEvent], results: list[_Result]) -> None:
        """Dispatch the committed events, then wake their writers (so watchers always see a
        write before its writer resumes)."""
        try:
            dispatch = self._hub.dispatch
            for ev in events:
                dispatch(ev)
        finally:
            for fut, exc, value in results:
                if fut.done():  # cancelled by its caller
                    continue
                if exc is None:
                    fut.set_result(value)
                else:
                    fut.set_exception(exc)


class SqliteStore:
    """The embedded :class:`~kubesvc.storage.store.Store`. Open with ``await
    SqliteStore.open(path)``; reopening the same file resumes its revision counter. Use it
    from the event loop that opened it (results and watch events are handed to that loop)."""

    def __init__(self, db: SqliteDb, worker: _Worker, hub: WatchHub) -> None:
        self._db = db
        self._worker = worker
        self._hub = hub
        self._closed = False

    @classmethod
    async def open(
        cls, path: str, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> SqliteStore:
        """Open (or create) the database at ``path``."""
        hub = WatchHub()
        worker = _Worker(asyncio.get_running_loop(), hub)
        worker.path = path
        opened = worker.start(lambda: SqliteDb(path, synchronous=synchronous))
        try:
            db = await opened
        except asyncio.CancelledError:
            worker.submit(None, kind=_CLOSE)  # the thread closes what it opens, then ends
            raise
        except (errors.KubeError, sqlite3.Error, OSError) as exc:
            reason = str(exc).removeprefix(f"cannot open sqlite store {path}: ")
            with contextlib.suppress(OSError):
                if os.statvfs(os.path.dirname(path) or ".").f_flag & os.ST_RDONLY:
                    reason += " (read-only file system)"
            raise StoreOpenError(f"cannot open the store {path}: {reason}; "
                                 f"{open_hint(reason)}") from exc
        hub.rev = db.rev
        return cls(db, worker, hub)

    def healthy(self) -> bool:
        """False while writes fail (full disk, read-only file system, I/O errors)."""
        return self._worker.healthy

    def _call(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        if self._closed:
            raise errors.ServiceUnavailable("sqlite store is closed")
        return self._worker.submit(fn, *args)

    # -- reads
    async def get(self, key: str) -> KeyValue | None:
        return await self._call(self._db.get, key)

    async def revision(self) -> int:
        # An int the worker replaces atomically after each commit: no thread hop needed.
        return self._db.committed

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        return await self._call(self._db.list_range, prefix, revision, limit, start_after)

    # -- writes
    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._call(self._db.create, key, value)

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0) -> KeyValue:
        return await self._call(self._db.update, key, value, expected_mod_revision)

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        return await self._call(self._db.delete, key, expected_mod_revision)

    # -- watch / compaction
    async def watch(self, prefix: str, *, start_revision: int) -> HubWatch:
        w = self._hub.add(prefix, start_revision)
        if not start_revision:
            return w
        try:
            backlog, upto = await self._call(self._db.backlog, prefix, start_revision)
        except BaseException:
            await w.close()
            raise
        w.start(backlog, upto)
        return w

    async def compact(self, revision: int) -> None:
        if self._closed:
            raise errors.ServiceUnavailable("sqlite store is closed")
        sweep = await self._worker.submit(self._db.compact_mark, revision, kind=_ALONE)
        if sweep is None:
            return
        lo, upto = sweep
        for start in range(lo, upto, _COMPACT_CHUNK):
            if self._closed:
                return
            await self._worker.submit(self._db.compact_sweep, start,
                                      min(start + _COMPACT_CHUNK, upto), upto, kind=_ALONE)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._hub.close()
        # Queued operations run first (the queue is FIFO), then the connection closes.
        await self._worker.submit(None, kind=_CLOSE)
        self._worker.join()
