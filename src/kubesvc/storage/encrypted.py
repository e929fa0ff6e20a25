"""``EncryptedStore``: a Store wrapper that encrypts the values of the resources an
:class:`~.encryption.EncryptionConfig` names, for every backend (memory, sqlite, etcd).

It sits between the Registry and the backend, as upstream's value transformers sit in its
etcd3 storage: keys, revisions and preconditions pass through unchanged; values are sealed
on create/update and opened on get/list/delete and in watch events. The resource of a key
comes from its path (``/registry/<group|core>/<resource>/...``). A value no provider can
open answers an ``InternalError`` naming the key. Built by :func:`.factory.open_store` when
``kubesvc up``/``server`` get ``--encryption-provider-config``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from kubesvc import errors
from kubesvc.storage.encryption import DecryptError, EncryptionConfig, ResourceRule
from kubesvc.storage.store import KeyValue, ListResult, Store, Watch, WatchEvent


class EncryptedStore:
    def __init__(self, inner: Store, config: EncryptionConfig) -> None:
        self.inner = inner
        self.config = config
        self._rules: dict[str, ResourceRule | None] = {}

    def __getattr__(self, name: str) -> Any:
        # Backend extras (``healthy``, ``path``) stay reachable through the wrapper.
        return getattr(self.inner, name)

    def _rule(self, key: str) -> ResourceRule | None:
        parts = key.split("/", 4)
        if len(parts) < 4 or parts[1] != "registry":
            return None
        gr = f"{parts[2]}/{parts[3]}"
        if gr not in self._rules:
            group = "" if parts[2] == "core" else parts[2]
            self._rules[gr] = self.config.rule_for(group, parts[3])
        return self._rules[gr]

    def _seal(self, key: str, value: bytes) -> bytes:
        rule = self._rule(key)
        return value if rule is None else rule.to_storage(key.encode(), value)

    def _open(self, kv: KeyValue) -> KeyValue:
        if not kv.value:
            return kv
        rule = self._rule(kv.key)
        if rule is None:
            return kv
        try:
            value = rule.from_storage(kv.key.encode(), kv.value)
        except DecryptError as exc:
            raise errors.InternalError(f"unable to transform key {kv.key!r}: {exc}") from exc
        return KeyValue(kv.key, value, kv.create_revision, kv.mod_revision)

    async def get(self, key: str) -> KeyValue | None:
        kv = await self.inner.get(key)
        return None if kv is None else self._open(kv)

    async def list(self, prefix: str, *, revision: int = 0, limit: int = 0,
                   start_after: str = "") -> ListResult:
        res = await self.inner.list(prefix, revision=revision, limit=limit,
                                    start_after=start_after)
        return ListResult([self._open(kv) for kv in res.items], res.revision, res.more)

    async def create(self, key: str, value: bytes) -> KeyValue:
        kv = await self.inner.create(key, self._seal(key, value))
        return KeyValue(kv.key, value, kv.create_revision, kv.mod_revision)

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0
                     ) -> KeyValue:
        kv = await self.inner.update(key, self._seal(key, value),
                                     expected_mod_revision=expected_mod_revision)
        return KeyValue(kv.key, value, kv.create_revision, kv.mod_revision)

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        return self._open(await self.inner.delete(
            key, expected_mod_revision=expected_mod_revision))

    async def revision(self) -> int:
        return await self.inner.revision()

    async def watch(self, prefix: str, *, start_revision: int) -> Watch:
        return _OpenedWatch(self, await self.inner.watch(prefix, start_revision=start_revision))

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()


class _OpenedWatch:
    def __init__(self, store: EncryptedStore, inner: Watch) -> None:
        self._store = store
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[list[WatchEvent]]:
        opened = self._store._open
        async for batch in self._inner:
            yield [WatchEvent(ev.type, opened(ev.kv),
                              None if ev.prev_kv is None else opened(ev.prev_kv))
                   for ev in batch]

    async def close(self) -> None:
        await self._inner.close()
