"""The ``Store`` fake: :class:`~kubesvc.storage.memory.MemoryStore` (the reference backend,
checked by the same contract suite as sqlite and etcd in tests/unit/storage) plus a hook to
make the next write fail, for testing how callers (the API server's registry) handle storage
errors."""

from __future__ import annotations

from kubesvc import errors
from kubesvc.storage.memory import MemoryStore
from kubesvc.storage.store import KeyValue

__all__ = ["FakeStore", "MemoryStore"]


class FakeStore(MemoryStore):
    """A MemoryStore; ``fail_next_write(exc)`` makes the next create/update/delete raise."""

    def __init__(self) -> None:
        super().__init__()
        self._fail: list[errors.KubeError] = []
        self.writes = 0  # successful writes, for assertions

    def fail_next_write(self, exc: errors.KubeError) -> None:
        self._fail.append(exc)

    def _maybe_fail(self) -> None:
        if self._fail:
            raise self._fail.pop(0)

    async def create(self, key: str, value: bytes) -> KeyValue:
        self._maybe_fail()
        kv = await super().create(key, value)
        self.writes += 1
        return kv

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0) -> KeyValue:
        self._maybe_fail()
        kv = await super().update(key, value, expected_mod_revision=expected_mod_revision)
        self.writes += 1
        return kv

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        self._maybe_fail()
        kv = await super().delete(key, expected_mod_revision=expected_mod_revision)
        self.writes += 1
        return kv
