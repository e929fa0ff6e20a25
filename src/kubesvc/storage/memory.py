"""In-memory ``Store`` backend: the reference implementation of the protocol, used by tests
and by ``--store memory://``. Keeps full history since the last compaction so that lists at
a past revision and watches from a past revision behave as etcd's do."""

from __future__ import annotations

import bisect
from collections.abc import AsyncIterator

from kubesvc import errors
from kubesvc.storage.store import KeyValue, ListResult, WatchEvent
from kubesvc.storage.watchstream import WatchStream


class _MemoryWatch:
    def __init__(self, store: MemoryStore, prefix: str, start_revision: int = 0) -> None:
        self._store = store
        self.prefix = prefix
        self.start_revision = start_revision  # events older than this are not delivered
        self.stream = WatchStream()
        self.closed = False

    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]:
        return aiter(self.stream)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._store._watches.discard(self)
            self.stream.end()


class MemoryStore:
    def __init__(self) -> None:
        self._rev = 0
        self._compacted = 0
        self._live: dict[str, KeyValue] = {}
        self._keys: list[str] = []  # sorted live keys
        self._history: list[WatchEvent] = []  # since compaction, in revision order
        self._watches: set[_MemoryWatch] = set()

    # -- reads
    async def get(self, key: str) -> KeyValue | None:
        return self._live.get(key)

    async def revision(self) -> int:
        return self._rev

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        if revision and revision < self._compacted:
            raise errors.Gone(
                f"The resourceVersion for the provided list is too old: {revision}"
            )
        if revision > self._rev:
            raise errors.Timeout(
                f"Too large resource version: {revision}, current: {self._rev}",
                retry_after_seconds=1,
            )
        if revision and revision < self._rev:
            state = self._state_at(revision, prefix)
            keys = sorted(state)
            at = revision
        else:
            state = self._live
            lo = bisect.bisect_left(self._keys, prefix)
            keys = []
            for k in self._keys[lo:]:
                if not k.startswith(prefix):
                    break
                keys.append(k)
            at = self._rev
        if start_after:
            keys = keys[bisect.bisect_right(keys, start_after):]
        more = bool(limit) and len(keys) > limit
        if limit:
            keys = keys[:limit]
        return ListResult(items=[state[k] for k in keys], revision=at, more=more)

    def _state_at(self, revision: int, prefix: str) -> dict[str, KeyValue]:
        # Undo events newer than ``revision`` from the live state.
        state = {k: v for k, v in self._live.items() if k.startswith(prefix)}
        for ev in reversed(self._history):
            if ev.kv.mod_revision <= revision:
                break
            if not ev.kv.key.startswith(prefix):
                continue
            if ev.prev_kv is None:
                state.pop(ev.kv.key, None)
            else:
                state[ev.kv.key] = ev.prev_kv
        return state

    # -- writes
    def _commit(self, ev: WatchEvent) -> None:
        self._history.append(ev)
        for w in list(self._watches):
            if ev.kv.key.startswith(w.prefix) and ev.kv.mod_revision >= w.start_revision:
                w.stream.put(ev)

    async def create(self, key: str, value: bytes) -> KeyValue:
        if key in self._live:
            raise errors.AlreadyExists(f"key {key} already exists")
        self._rev += 1
        kv = KeyValue(key, value, self._rev, self._rev)
        self._live[key] = kv
        bisect.insort(self._keys, key)
        self._commit(WatchEvent("PUT", kv, None))
        return kv

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0) -> KeyValue:
        prev = self._live.get(key)
        if prev is None:
            raise errors.NotFound(f"key {key} not found")
        if expected_mod_revision and prev.mod_revision != expected_mod_revision:
            raise errors.Conflict(
                f"key {key} was modified (mod_revision {prev.mod_revision}, "
                f"expected {expected_mod_revision})"
            )
        self._rev += 1
        kv = KeyValue(key, value, prev.create_revision, self._rev)
        self._live[key] = kv
        self._commit(WatchEvent("PUT", kv, prev))
        return kv

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        prev = self._live.get(key)
        if prev is None:
            raise errors.NotFound(f"key {key} not found")
        if expected_mod_revision and prev.mod_revision != expected_mod_revision:
            raise errors.Conflict(
                f"key {key} was modified (mod_revision {prev.mod_revision}, "
                f"expected {expected_mod_revision})"
            )
        self._rev += 1
        del self._live[key]
        self._keys.pop(bisect.bisect_left(self._keys, key))
        gone = KeyValue(key, b"", prev.create_revision, self._rev)
        self._commit(WatchEvent("DELETE", gone, prev))
        return prev

    # -- watch / compaction
    async def watch(self, prefix: str, *, start_revision: int) -> _MemoryWatch:
        if start_revision and start_revision < self._compacted:
            raise errors.Gone(f"too old resource version: {start_revision} ({self._compacted})")
        w = _MemoryWatch(self, prefix, start_revision)
        if start_revision and start_revision <= self._rev:
            lo = bisect.bisect_left(
                [e.kv.mod_revision for e in self._history], start_revision
            )
            backlog = [e for e in self._history[lo:] if e.kv.key.startswith(prefix)]
            if backlog:
                w.stream.extend(backlog)
        self._watches.add(w)
        return w

    async def compact(self, revision: int) -> None:
        revision = min(revision, self._rev)
        if revision <= self._compacted:
            return
        self._compacted = revision
        keep = bisect.bisect_left([e.kv.mod_revision for e in self._history], revision)
        del self._history[:keep]

    async def close(self) -> None:
        for w in list(self._watches):
            await w.close()
