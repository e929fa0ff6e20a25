"""A persisted allocation bitmap: upstream's ``allocator.AllocationBitmap`` with a static band
and a store-backed snapshot (``pkg/registry/core/service/allocator``), in one class.

Values are offsets ``0 .. size-1``. Offsets below ``static_band`` form the *static* band:
dynamic allocation ("give me any") first picks a random free offset above the band and only
falls back into the band when everything above it is taken, so explicitly requested values
(the ``kubernetes`` Service's first address, kube-dns's tenth) are rarely already gone.

The bitmap lives in memory for speed; the store holds the truth, split into blocks of
``BLOCK_BITS`` values, one ``RangeAllocation`` object per block under ``<key>/<block>``
(``data`` is the block's bytes, base64; bit ``i`` is byte ``i//8``, bit ``i%8``, LSB first;
a missing block is empty). Blocks keep every write small (a /12 service range is 128 KiB of
bitmap, but a Service create rewrites 256 bytes of it), which matters because the store keeps
each version until compaction. Every change is a compare-and-swap write of the blocks it
touches, serialised by a lock; a CAS failure (another API server wrote) re-reads that block
and retries, so two servers sharing one store never hand out the same value.

Callers: :mod:`.cluster_ip` and :mod:`.node_port`. Calls: the ``Store``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from kubesvc import errors
from kubesvc.storage.store import Store

log = logging.getLogger(__name__)

_NOT_FULL = re.compile(rb"[^\xff]")
_MAX_ATTEMPTS = 16
BLOCK_BYTES = 256  # one store key per 2048 values: small writes, no compression
BLOCK_BITS = BLOCK_BYTES * 8


class Bitmap:
    """A fixed-size set of small integers backed by a packed ``bytearray``."""

    __slots__ = ("bits", "size", "used")

    def __init__(self, size: int) -> None:
        self.size = size
        self.bits = bytearray((size + 7) // 8)
        self.used = 0

    def has(self, i: int) -> bool:
        return bool(self.bits[i >> 3] >> (i & 7) & 1)

    def set(self, i: int) -> bool:
        """Mark ``i``; False when it was already set."""
        b, m = i >> 3, 1 << (i & 7)
        if self.bits[b] & m:
            return False
        self.bits[b] |= m
        self.used += 1
        return True

    def clear(self, i: int) -> bool:
        """Unmark ``i``; False when it was not set."""
        b, m = i >> 3, 1 << (i & 7)
        if not self.bits[b] & m:
            return False
        self.bits[b] &= ~m & 0xFF
        self.used -= 1
        return True

    def first_free(self, lo: int, hi: int) -> int | None:
        """The lowest unset value in ``[lo, hi)``; whole full bytes are skipped in C."""
        i = lo
        while i < hi:
            if i & 7 == 0 and hi - i >= 8:
                m = _NOT_FULL.search(self.bits, i >> 3, hi >> 3)
                if m is None:
                    i = hi & ~7
                    continue
                b = m.start()
                byte = self.bits[b]
                for k in range(8):
                    if not byte >> k & 1:
                        return (b << 3) + k
            if not self.has(i):
                return i
            i += 1
        return None

    def __iter__(self) -> Iterator[int]:
        for b, byte in enumerate(self.bits):
            if byte:
                for k in range(8):
                    if byte >> k & 1:
                        yield (b << 3) + k


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of :meth:`RangeAllocator.commit`. On failure nothing changed; ``failed`` is the
    requested value that was already allocated (reason ``allocated``) or None (``full``)."""

    ok: bool
    values: list[int] = field(default_factory=list)  # the take_next picks, in order
    failed: int | None = None
    reason: str = ""


class RangeAllocator:
    """One persisted bitmap (see module docstring)."""

    def __init__(
        self,
        store: Store,
        key: str,
        *,
        range_spec: str,
        size: int,
        static_band: int,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self.key = key
        self.prefix = key.rstrip("/") + "/"
        self.range_spec = range_spec
        self.size = size
        self.static_band = min(static_band, size)
        self._rng = rng or random.Random()
        self._bm = Bitmap(size)
        self._revs: dict[int, int] = {}  # block -> mod_revision of its stored key
        self._loaded = False
        self._lock = asyncio.Lock()

    # -- reads (in-memory view; the store is re-read on CAS failure)
    def has(self, value: int) -> bool:
        return 0 <= value < self.size and self._bm.has(value)

    @property
    def used(self) -> int:
        return self._bm.used

    @property
    def free(self) -> int:
        return self.size - self._bm.used

    def allocated(self) -> list[int]:
        return list(self._bm)

    # -- persistence, one key per block of BLOCK_BITS values
    def block_key(self, block: int) -> str:
        return f"{self.prefix}{block:05d}"

    def _block_bytes(self, block: int) -> bytes:
        return bytes(self._bm.bits[block * BLOCK_BYTES:(block + 1) * BLOCK_BYTES])

    def _encode_block(self, block: int) -> bytes:
        return orjson.dumps({
            "apiVersion": "v1",
            "kind": "RangeAllocation",
            "metadata": {"name": self.block_key(block).rsplit("/", 2)[-2] + f"-{block}"},
            "range": self.range_spec,
            "blockSize": BLOCK_BITS,
            "block": block,
            "data": base64.b64encode(self._block_bytes(block)).decode(),
        })

    def _set_block(self, block: int, raw: bytes) -> None:
        lo = block * BLOCK_BYTES
        hi = min(lo + BLOCK_BYTES, len(self._bm.bits))
        data = bytearray(raw[: hi - lo].ljust(hi - lo, b"\0"))
        if hi == len(self._bm.bits) and self.size & 7 and data:
            data[-1] &= (1 << (self.size & 7)) - 1  # never trust bits past the end
        old = self._bm.bits[lo:hi]
        self._bm.used += sum(int(x).bit_count() for x in data) - sum(
            int(x).bit_count() for x in old)
        self._bm.bits[lo:hi] = data

    def _apply_stored(self, block: int, value: bytes) -> None:
        try:
            doc = orjson.loads(value)
            if doc.get("range") != self.range_spec or doc.get("blockSize") != BLOCK_BITS:
                log.warning("%s holds range %r, configured %r: ignored (repair rebuilds it)",
                            self.block_key(block), doc.get("range"), self.range_spec)
                raw = b""
            else:
                raw = base64.b64decode(str(doc.get("data") or ""))
        except (ValueError, binascii.Error) as exc:
            log.warning("%s is unreadable (%s): ignored", self.block_key(block), exc)
            raw = b""
        self._set_block(block, raw)

    def _block_of(self, key: str) -> int | None:
        tail = key[len(self.prefix):]
        if not tail.isdigit():
            return None
        block = int(tail)
        return block if block * BLOCK_BITS < self.size else None

    async def _reload_all(self) -> None:
        self._bm = Bitmap(self.size)
        self._revs = {}
        start_after = ""
        while True:
            page = await self._store.list(self.prefix, limit=512, start_after=start_after)
            for kv in page.items:
                block = self._block_of(kv.key)
                if block is not None:
                    self._apply_stored(block, kv.value)
                    self._revs[block] = kv.mod_revision
            if not page.more or not page.items:
                break
            start_after = page.items[-1].key
        self._loaded = True

    async def _reload_block(self, block: int) -> None:
        kv = await self._store.get(self.block_key(block))
        if kv is None:
            self._set_block(block, b"")
            self._revs.pop(block, None)
        else:
            self._apply_stored(block, kv.value)
            self._revs[block] = kv.mod_revision

    async def _write_block(self, block: int) -> None:
        """CAS-write one block from memory; Conflict when someone else changed it."""
        key, data = self.block_key(block), self._encode_block(block)
        rev = self._revs.get(block)
        try:
            if rev is None:
                kv = await self._store.create(key, data)
            else:
                kv = await self._store.update(key, data, expected_mod_revision=rev)
        except (errors.AlreadyExists, errors.NotFound) as exc:
            raise errors.Conflict(message=f"{key} changed") from exc
        self._revs[block] = kv.mod_revision

    async def load(self) -> None:
        """Read the persisted bitmap (missing blocks are empty)."""
        async with self._lock:
            await self._reload_all()

    async def reset(self, values: Iterable[int]) -> None:
        """Make the persisted bitmap exactly ``values`` (repair)."""
        want = Bitmap(self.size)
        for v in values:
            if 0 <= v < self.size:
                want.set(v)
        async with self._lock:
            await self._reload_all()
            blocks = (self.size + BLOCK_BITS - 1) // BLOCK_BITS
            for block in range(blocks):
                wanted = bytes(want.bits[block * BLOCK_BYTES:(block + 1) * BLOCK_BYTES])
                for _ in range(_MAX_ATTEMPTS):
                    if self._block_bytes(block) == wanted:
                        break
                    self._set_block(block, wanted)
                    try:
                        await self._write_block(block)
                        break
                    except errors.Conflict:
                        await self._reload_block(block)
                else:
                    raise errors.InternalError(
                        message=f"could not repair {self.block_key(block)}: too many conflicts")

    # -- the one write path
    def _pick(self) -> int | None:
        bm, lo, size = self._bm, self.static_band, self.size
        if lo < size:
            start = self._rng.randrange(lo, size)
            v = bm.first_free(start, size)
            if v is None:
                v = bm.first_free(lo, start)
            if v is not None:
                return v
        return bm.first_free(0, lo)

    def _undo(self, set_here: list[int], cleared: list[int]) -> None:
        for v in set_here:
            self._bm.clear(v)
        for v in cleared:
            self._bm.set(v)

    async def commit(
        self,
        *,
        take: Sequence[int] = (),
        take_next: int = 0,
        release: Sequence[int] = (),
        dry_run: bool = False,
    ) -> Outcome:
        """Atomically reserve the values in ``take`` (all-or-nothing: the first one already
        allocated fails the whole call), ``take_next`` more free values, and free ``release``
        (values not allocated are ignored), as one CAS write. With ``dry_run`` nothing is
        written and the in-memory bitmap is left as it was."""
        async with self._lock:
            if not self._loaded:
                await self._reload_all()
            refreshed = False
            for _ in range(_MAX_ATTEMPTS):
                set_here: list[int] = []
                cleared: list[int] = []
                failure: Outcome | None = None
                for v in take:
                    if not 0 <= v < self.size or not self._bm.set(v):
                        failure = Outcome(False, failed=v, reason="allocated")
                        break
                    set_here.append(v)
                picks: list[int] = []
                if failure is None:
                    for _n in range(take_next):
                        p = self._pick()
                        if p is None:
                            failure = Outcome(False, reason="full")
                            break
                        self._bm.set(p)
                        set_here.append(p)
                        picks.append(p)
                if failure is not None:
                    self._undo(set_here, cleared)
                    if refreshed or dry_run:
                        return failure
                    # Our view may be stale (another API server released values): re-read
                    # before saying no.
                    refreshed = True
                    if failure.failed is not None:
                        await self._reload_block(failure.failed // BLOCK_BITS)
                    else:
                        await self._reload_all()
                    continue
                cleared = [v for v in release if 0 <= v < self.size and self._bm.clear(v)]
                if dry_run or not (set_here or cleared):
                    if dry_run:
                        self._undo(set_here, cleared)
                    return Outcome(True, picks)
                blocks = sorted({v // BLOCK_BITS for v in (*set_here, *cleared)})
                written: list[int] = []
                try:
                    for block in blocks:
                        await self._write_block(block)
                        written.append(block)
                except errors.Conflict:
                    # Another writer changed a block: put back what we wrote, re-read that
                    # block, and try again against its state.
                    self._undo(set_here, cleared)
                    for block in written:
                        try:
                            await self._write_block(block)
                        except errors.Conflict:
                            await self._reload_block(block)
                    await self._reload_block(blocks[len(written)])
                    continue
                except BaseException:
                    self._undo(set_here, cleared)
                    self._loaded = False  # the store is the truth: re-read it next time
                    raise
                return Outcome(True, picks)
            raise errors.ServiceUnavailable(
                f"could not update {self.key}: too many concurrent changes, try again",
                retry_after_seconds=1,
            )
