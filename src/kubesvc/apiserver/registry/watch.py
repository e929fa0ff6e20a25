"""Watch: store events translated into API watch events, filtered by selectors
(upstream ``etcd3/watcher.go`` + the cacher's ``cacheWatcher``).

- From ``resourceVersion`` N: every change after N. ``""``/``"0"``: synthetic ``ADDED``
  events for the current state first, then changes after it.
- A ``PUT`` of a new key is ``ADDED``, of an existing key ``MODIFIED``; a ``DELETE`` is
  ``DELETED`` carrying the last state with the delete's revision as resourceVersion.
- With selectors, an object that stops matching yields ``DELETED`` (its previous state, at
  the event's revision) and one that starts matching yields ``ADDED``.
- ``BOOKMARK`` events every ``Registry.bookmark_interval`` seconds when asked for, carrying
  the newest revision this watch has seen under its prefix (safe to resume from).
- A compacted start revision (or a watch overtaken by compaction) raises ``errors.Gone``
  with upstream's ``too old resource version: X (Y)``; the HTTP layer turns it into an
  ``ERROR`` event.

Every watcher of a change gets the same decoded object (:class:`DecodedCache`): one
``orjson.loads`` per change instead of one per watcher, and the in-process informers of
every component share one copy of each object in memory. Watch objects are read-only, as
client-go's informer caches are.

Selectors and the resourceVersion are checked when :func:`watch_objects` is called (so a
bad request fails before a stream starts); the store watch opens on the first iteration.

Called by :meth:`~.core.Registry.watch`; calls the ``Store`` and :mod:`.listing`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import OrderedDict
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import selectors
from kubesvc.api.objects import Obj
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.registry import listing
from kubesvc.apiserver.registry.codec import decode_at, intern_strings, parse_rv
from kubesvc.client.options import ListOptions, WatchOptions
from kubesvc.client.protocol import WatchEventDict
from kubesvc.storage.store import Watch, WatchEvent

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

_PAREN_NUM = re.compile(r"\((\d+)\)")


def _too_old(rv: int, exc: errors.Gone | None, current: int) -> errors.Gone:
    m = _PAREN_NUM.search(exc.message) if exc is not None else None
    oldest = m.group(1) if m else str(current)
    return errors.Gone(message=f"too old resource version: {rv} ({oldest})")


def watch_objects(
    reg: Registry,
    info: ResourceInfo,
    *,
    namespace: str | None,
    opts: WatchOptions = WatchOptions(),
) -> AsyncIterator[WatchEventDict]:
    lsel = selectors.parse_label_selector(opts.label_selector)
    fsel = selectors.parse_field_selector(opts.field_selector, info.key)
    rv = parse_rv(opts.resource_version)

    def matches(obj: Obj) -> bool:
        return lsel.matches((obj.get("metadata") or {}).get("labels")) and fsel.matches(obj)

    filtered = not lsel.empty or not fsel.empty
    return _stream(
        reg, info, namespace=namespace, rv=rv, matches=matches if filtered else None,
        label_selector=opts.label_selector, field_selector=opts.field_selector,
        allow_bookmarks=opts.allow_bookmarks, timeout_seconds=opts.timeout_seconds,
    )


class DecodedCache:
    """The most recent changes of one store, decoded: every watcher handed the same change
    gets the same object (one per registry: revisions are only unique within a store)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size  # enough for every watcher of a burst to catch up
        self._objs: OrderedDict[tuple[str, int, bool], Obj] = OrderedDict()

    def get(self, ev: WatchEvent, *, prev: bool) -> Obj:
        """The object of ``ev`` (its previous state when ``prev``) at the event's
        revision."""
        kv = ev.prev_kv if prev else ev.kv
        assert kv is not None
        rev = ev.kv.mod_revision
        key = (ev.kv.key, rev, prev)
        obj = self._objs.get(key)
        if obj is None:
            obj = decode_at(kv.value, rev)
            intern_strings(obj)  # informers keep it: share its repeated strings
            self._objs[key] = obj
            if len(self._objs) > self._size:
                self._objs.popitem(last=False)
        return obj


def translate(ev: WatchEvent, matches: object, decoded: DecodedCache) -> WatchEventDict | None:
    """One store event as an API watch event (None when the selectors hide it)."""
    match = matches if callable(matches) else None
    if ev.type == "DELETE":
        if ev.prev_kv is None:
            return None
        prev = decoded.get(ev, prev=True)
        if match is None or match(prev):
            return {"type": "DELETED", "object": prev}
        return None
    cur = decoded.get(ev, prev=False)
    if ev.prev_kv is None:
        if match is None or match(cur):
            return {"type": "ADDED", "object": cur}
        return None
    if match is None:
        return {"type": "MODIFIED", "object": cur}
    cur_ok = match(cur)
    prev = decoded.get(ev, prev=True)
    prev_ok = match(prev)
    if cur_ok and prev_ok:
        return {"type": "MODIFIED", "object": cur}
    if cur_ok:
        return {"type": "ADDED", "object": cur}
    if prev_ok:
        return {"type": "DELETED", "object": prev}
    return None


_MAX_REVISION = 2**63 - 1


async def _stream(
    reg: Registry,
    info: ResourceInfo,
    *,
    namespace: str | None,
    rv: int,
    matches: object,
    label_selector: str,
    field_selector: str,
    allow_bookmarks: bool,
    timeout_seconds: int,
) -> AsyncIterator[WatchEventDict]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds if timeout_seconds > 0 else None
    prefix = info.storage_prefix(namespace or None)
    if rv == 0:
        initial = await listing.list_objects(reg, info, namespace=namespace, opts=ListOptions(
            label_selector=label_selector, field_selector=field_selector,
        ))
        start = int(initial["metadata"]["resourceVersion"])
        for obj in initial["items"]:
            yield {"type": "ADDED", "object": obj}
    else:
        start = rv
    if start >= _MAX_REVISION:
        # No store reaches it (revisions are int64, as etcd's): answer as upstream answers
        # a resourceVersion beyond the current one instead of waiting forever.
        raise errors.Timeout(
            message=f"Too large resource version: {rv}, current: {await reg.store.revision()}",
            retry_after_seconds=1,
        )
    try:
        store_watch: Watch = await reg.store.watch(prefix, start_revision=start + 1)
    except errors.Gone as exc:
        raise _too_old(rv, exc, await reg.store.revision()) from None
    queue: asyncio.Queue[list[WatchEvent] | BaseException | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for batch in store_watch:
                queue.put_nowait(batch)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            queue.put_nowait(exc)
            return
        queue.put_nowait(None)

    pump_task = loop.create_task(pump(), name=f"watch-pump {prefix}")
    last_rev = start
    interval = reg.bookmark_interval
    next_bookmark = loop.time() + interval
    try:
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                return
            wake = deadline
            if allow_bookmarks:
                wake = next_bookmark if wake is None else min(wake, next_bookmark)
            try:
                if wake is None:
                    item = await queue.get()
                else:
                    item = await _get_within(queue, max(0.0, wake - now))
            except TimeoutError:
                if allow_bookmarks and loop.time() >= next_bookmark:
                    next_bookmark = loop.time() + interval
                    yield {"type": "BOOKMARK", "object": {
                        "kind": info.kind, "apiVersion": info.api_version,
                        "metadata": {"resourceVersion": str(last_rev)},
                    }}
                continue
            if item is None:
                return
            if isinstance(item, errors.Gone):
                raise _too_old(last_rev, item, await reg.store.revision())
            if isinstance(item, BaseException):
                raise item
            for ev in item:
                last_rev = max(last_rev, ev.kv.mod_revision)
                out = translate(ev, matches, reg.decoded)
                if out is not None:
                    yield out
    finally:
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump_task
        await store_watch.close()


async def _get_within(queue: asyncio.Queue[Any], timeout: float) -> Any:
    """``queue.get()`` with a timeout (TimeoutError), without ``asyncio.wait_for``: on
    Python 3.11 wait_for can swallow a cancellation that lands as the inner await
    completes, which left cancelled watches (and the informers on them) hanging."""
    getter = asyncio.ensure_future(queue.get())
    try:
        done, _ = await asyncio.wait({getter}, timeout=timeout)
    except BaseException:
        getter.cancel()
        raise
    if getter in done:
        return getter.result()
    getter.cancel()
    raise TimeoutError
