"""The Informer: list a resource, then watch it from that resourceVersion, keeping an
:class:`Indexer` current and calling handlers for every add, update and delete.

As client-go's reflector: a watch that ends is resumed from the last seen
resourceVersion; ``Gone`` (410, compacted) triggers a fresh list whose differences with the
cache are delivered as events; other errors are logged and retried with back-off, so the
loop never dies silently. Handlers are plain callables run inline on the event loop — keep
them cheap (enqueue a key) and never mutate the objects they receive.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import NamespacedName, Obj, ResourceVersion
from kubesvc.client.options import ListOptions, WatchOptions
from kubesvc.client.protocol import Client
from kubesvc.informers.indexer import Indexer, object_key

log = logging.getLogger(__name__)

AddFunc = Callable[[Obj], None]
UpdateFunc = Callable[[Obj, Obj], None]
DeleteFunc = Callable[[Obj], None]


@dataclass(slots=True)
class _Handler:
    on_add: AddFunc | None
    on_update: UpdateFunc | None
    on_delete: DeleteFunc | None


class Informer:
    def __init__(
        self,
        client: Client,
        resource: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        watch_timeout: int = 300,
    ) -> None:
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.indexer = Indexer()
        self._handlers: list[_Handler] = []
        self._synced = asyncio.Event()
        self._watch_timeout = watch_timeout
        self.resource_version = ResourceVersion("")

    # -- public
    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    def add_handler(
        self,
        *,
        on_add: AddFunc | None = None,
        on_update: UpdateFunc | None = None,
        on_delete: DeleteFunc | None = None,
    ) -> None:
        """Register callbacks; items already cached are replayed to ``on_add``."""
        h = _Handler(on_add, on_update, on_delete)
        self._handlers.append(h)
        if on_add is not None:
            for obj in self.indexer.list():
                self._call(on_add, obj)

    async def run(self, stop: asyncio.Event) -> None:
        """List and watch until ``stop`` is set (or this task is cancelled: the inner
        list-and-watch task is cancelled and awaited with it, never left behind)."""
        stop_task = asyncio.ensure_future(stop.wait())
        work: asyncio.Future[None] | None = None
        try:
            while not stop.is_set():
                work = asyncio.create_task(self._list_and_watch(),
                                           name=f"informer-{self.resource}")
                done, _ = await asyncio.wait(
                    {work, stop_task}, return_when=asyncio.FIRST_COMPLETED
                )
                if work not in done:
                    return
                work = None
                # _list_and_watch only returns after errors it already logged.
                await _sleep_or_stop(stop, self._backoff)
                self._backoff = min(self._backoff * 2, 5.0)
        finally:
            stop_task.cancel()
            # Cancel until it is done: a single cancel can be swallowed on Python 3.11
            # (asyncio.wait_for in code below us), which would leave the watch behind.
            while work is not None and not work.done():
                work.cancel()
                await asyncio.wait({work}, timeout=0.5)

    # -- internals
    _backoff: float = 0.1

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("informer %s: handler failed", self.resource)

    def _emit_add(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._call(h.on_add, obj)

    def _emit_update(self, old: Obj, new: Obj) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._call(h.on_update, old, new)

    def _emit_delete(self, obj: Obj) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._call(h.on_delete, obj)

    async def _relist(self) -> None:
        items: list[Obj] = []
        token = ""
        rv = ResourceVersion("")
        while True:
            lst = await self.client.list(self.resource, namespace=self.namespace, opts=ListOptions(
                label_selector=self.label_selector, field_selector=self.field_selector,
                limit=5000, continue_token=token,
            ))
            items.extend(lst.get("items") or [])
            meta = lst.get("metadata") or {}
            rv = rv or ResourceVersion(str(meta.get("resourceVersion") or ""))
            token = str(meta.get("continue") or "")
            if not token:
                break
        seen: set[NamespacedName] = set()
        for obj in items:
            key = object_key(obj)
            seen.add(key)
            old = self.indexer.upsert(obj)
            if old is None:
                self._emit_add(obj)
            elif _rv(old) != _rv(obj):
                self._emit_update(old, obj)
        for key in [k for k in self.indexer.keys() if k not in seen]:
            gone = self.indexer.remove(key)
            if gone is not None:
                self._emit_delete(gone)
        self.resource_version = rv
        self._synced.set()

    async def _list_and_watch(self) -> None:
        try:
            await self._relist()
        except Exception as exc:
            log.warning("informer %s: list failed: %s", self.resource, exc)
            return
        while True:
            try:
                await self._watch_once()
                self._backoff = 0.1
            except errors.Gone:
                log.info("informer %s: resourceVersion %s expired; re-listing",
                         self.resource, self.resource_version)
                try:
                    await self._relist()
                except Exception as exc:
                    log.warning("informer %s: re-list failed: %s", self.resource, exc)
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("informer %s: watch failed: %s", self.resource, exc)
                return

    async def _watch_once(self) -> None:
        stream = self.client.watch(self.resource, namespace=self.namespace, opts=WatchOptions(
            label_selector=self.label_selector, field_selector=self.field_selector,
            resource_version=self.resource_version, allow_bookmarks=True,
            timeout_seconds=self._watch_timeout,
        ))
        async for ev in stream:
            typ = ev["type"]
            obj = ev["object"]
            if typ == "ERROR":
                status = obj
                if int(status.get("code") or 0) == 410:
                    raise errors.Gone(str(status.get("message") or "expired"))
                raise errors.from_status(status)
            rv = _rv(obj)
            if typ == "BOOKMARK":
                if rv:
                    self.resource_version = rv
                continue
            key = object_key(obj)
            if typ == "DELETED":
                self.indexer.remove(key)
                self._emit_delete(obj)
            else:
                old = self.indexer.upsert(obj)
                if old is None:
                    self._emit_add(obj)
                else:
                    self._emit_update(old, obj)
            if rv:
                self.resource_version = rv


def _rv(obj: Obj) -> ResourceVersion:
    return ResourceVersion(str((obj.get("metadata") or {}).get("resourceVersion") or ""))


async def _sleep_or_stop(stop: asyncio.Event, delay: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay)
    except TimeoutError:
        pass
