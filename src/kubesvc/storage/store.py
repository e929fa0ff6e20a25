"""The ``Store`` protocol: revisioned keys shaped like etcd v3.

Every write bumps one global revision. A key's ``create_revision`` and ``mod_revision`` are
the revisions that created and last changed it (the API's ``resourceVersion`` is the
``mod_revision``). Updates and deletes may be guarded by the expected ``mod_revision``
(compare-and-swap). Watches start from a revision and deliver every later event in order,
with the previous value; a revision older than the compaction point raises ``Gone``.

Errors come from :mod:`kubesvc.errors`: ``AlreadyExists`` (create of an existing key),
``NotFound`` (update/delete of a missing key), ``Conflict`` (mod_revision mismatch),
``Gone`` (revision compacted).

Backends: :mod:`.memory` (tests), :mod:`.sqlite` (embedded default), :mod:`.etcd`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One change. For ``DELETE`` ``kv.value`` is empty and ``kv.mod_revision`` is the
    revision of the delete; ``prev_kv`` holds the last value (always set for DELETE)."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev_kv: KeyValue | None


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the store revision the list was read at
    more: bool  # True when ``limit`` cut the result short


@runtime_checkable
class Watch(Protocol):
    """An open watch: iterate for batches of events (each batch one revision or more, in
    order); ``close()`` ends the iteration. A compaction that overtakes a slow watcher ends
    the iteration with ``Gone``."""

    def __aiter__(self) -> AsyncIterator[list[WatchEvent]]: ...

    async def close(self) -> None: ...


@runtime_checkable
class Store(Protocol):
    async def get(self, key: str) -> KeyValue | None: ...

    async def list(
        self,
        prefix: str,
        *,
        revision: int = 0,
        limit: int = 0,
        start_after: str = "",
    ) -> ListResult:
        """Keys under ``prefix`` in key order, at ``revision`` (0: now). ``start_after``
        continues a paged list (exclusive). Raises Gone when revision is compacted."""
        ...

    async def create(self, key: str, value: bytes) -> KeyValue: ...

    async def update(self, key: str, value: bytes, *, expected_mod_revision: int = 0) -> KeyValue:
        """Replace an existing key. ``expected_mod_revision`` 0 means unconditional."""
        ...

    async def delete(self, key: str, *, expected_mod_revision: int = 0) -> KeyValue:
        """Delete; returns the previous KeyValue."""
        ...

    async def revision(self) -> int:
        """The current store revision."""
        ...

    async def watch(self, prefix: str, *, start_revision: int) -> Watch:
        """Events under ``prefix`` with revision >= ``start_revision``."""
        ...

    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision``; older watches/lists get Gone."""
        ...

    async def close(self) -> None: ...


class StoreOpenError(OSError):
    """The store cannot be opened; the message names the path and the fix. An ``OSError`` so
    that ``kubesvc up``/``server`` report it in one line and exit non-zero."""


def open_hint(reason: str) -> str:
    """What to do about a store that cannot be opened or written, from sqlite's reason."""
    r = reason.lower()
    if "not a database" in r or "malformed" in r or "corrupt" in r:
        return "the file is damaged: restore it from a backup, or move it away to start empty"
    if "full" in r:
        return "the disk is full: free space on its file system"
    if "locked" in r:
        return "another kubesvc is using it: stop that one or use another --data-dir"
    return "make the data dir writable, or point --data-dir/--store at a writable place"


