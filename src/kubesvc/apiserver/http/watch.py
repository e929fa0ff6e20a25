"""The watch verb: ``?watch=true`` (and the legacy ``/watch/`` prefix) streamed as chunked
JSON lines, one ``{"type": ..., "object": ...}`` per event, as kube-apiserver writes them.

Honours ``timeoutSeconds`` (the stream ends cleanly), ``allowWatchBookmarks``, label and
field selectors and ``resourceVersion``; a version too old for the store ends the stream
with an ``ERROR`` event carrying a 410 Expired Status (client-go re-lists on it). With a
Table Accept header (``kubectl get -w``) every event's object is a one-row Table. Called by
:mod:`.app`; reads events from the Registry's ``watch``.

A WebSocket upgrade gets the same events as WebSocket messages, one per event (upstream's
watch over ``wsstream``: ``binary.k8s.io``, or ``base64.binary.k8s.io`` for text frames),
which is how a browser watches without holding one of its few HTTP/1.1 connections.

Load (upstream's cacher ``cacheWatcher``): a JSON event line is encoded once
(:class:`EncodedEvents`) and the same bytes go to every watcher of that change; each watch
keeps at most :attr:`Watcher.buffer_size` lines queued, and one whose queue stays full for
:attr:`Watcher.unresponsive_after` seconds is closed ("Forcing watcher close due to
unresponsiveness"): the client re-watches from the last resourceVersion it saw. A line is
written in :data:`WRITE_SLICE` pieces with a drain between them, so a client that reads
nothing holds at most about one slice of the shared line in its transport, not a copy.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from typing import Any

import orjson
from aiohttp import web

from kubesvc import errors
from kubesvc.apiserver.http import params
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.negotiation import Negotiated, negotiate
from kubesvc.apiserver.http.paths import Target
from kubesvc.apiserver.http.render import (
    convert_out,
    include_object_param,
    needs_conversion,
    table,
)
from kubesvc.client.options import WatchOptions

log = logging.getLogger(__name__)

# Upstream's --min-request-timeout is 1800 s; a watch without timeoutSeconds lasts a random
# span in [min, 2*min) so that clients reconnect spread out.
MIN_REQUEST_TIMEOUT = 1800
# Upstream's cacheWatcher channel holds 10 to 1000 events (by the resource's event rate);
# batches arrive here per store commit, so the larger bound.
WATCH_BUFFER = 1000
UNRESPONSIVE_AFTER = 5.0  # seconds a watcher's full buffer may stay full
WRITE_SLICE = 64 * 1024  # aiohttp drains once more than 64 KiB are written


class EncodedEvents:
    """JSON lines of recent watch events, keyed by the event type and the identity of its
    (shared, read-only) object: every watcher of one change writes the same bytes. Holds
    the object too, so that its id is not reused while the entry lives; bounded by count
    and total bytes."""

    def __init__(self, *, max_entries: int = 4096, max_bytes: int = 256 * 1024 * 1024) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lines: OrderedDict[tuple[str, int], tuple[object, bytes]] = OrderedDict()

    def line(self, ev: Any) -> bytes:
        kind = ev["type"]
        obj = ev["object"]
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            return orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE)
        key = (kind, id(obj))
        hit = self._lines.get(key)
        if hit is not None and hit[0] is obj:
            self._lines.move_to_end(key)
            return hit[1]
        data = orjson.dumps(ev, option=orjson.OPT_APPEND_NEWLINE)
        self._lines[key] = (obj, data)
        self._bytes += len(data)
        while len(self._lines) > self._max_entries or (
                self._bytes > self._max_bytes and len(self._lines) > 1):
            _, (_, old) = self._lines.popitem(last=False)
            self._bytes -= len(old)
        return data


class _Unresponsive(Exception):
    """The watcher's buffer stayed full for too long."""


class Watcher:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.active: set[asyncio.Task[Any]] = set()
        self.encoded = EncodedEvents()
        self.buffer_size = WATCH_BUFFER
        self.unresponsive_after = UNRESPONSIVE_AFTER
        self.min_request_timeout = MIN_REQUEST_TIMEOUT  # --min-request-timeout

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        """Register the current request task as a long-running stream until it ends."""
        task = asyncio.current_task()
        if task is not None:
            self.active.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.active.discard(task)

    async def close_all(self) -> None:
        """End every open stream (server shutdown)."""
        tasks = list(self.active)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    async def watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        with self.track():
            return await self._watch(request, target)

    async def _watch(self, request: web.Request, target: Target) -> web.StreamResponse:
        neg = negotiate(request.headers.get("Accept", ""))
        q = request.rel_url.query
        include = include_object_param(q.get("includeObject"))
        timeout = params.int_param(q, "timeoutSeconds")
        if timeout <= 0:
            timeout = int(self.min_request_timeout * (1 + random.random()))
        if target.name:
            # GET .../services/foo?watch=true (and /watch/.../foo) watch one object.
            fsel = q.get("fieldSelector", "")
            name_sel = f"metadata.name={target.name}"
            fsel = f"{fsel},{name_sel}" if fsel else name_sel
        else:
            fsel = q.get("fieldSelector", "")
        events = self.backend.watch(target.info.key, namespace=target.namespace, opts=WatchOptions(
            label_selector=q.get("labelSelector", ""),
            field_selector=fsel,
            resource_version=q.get("resourceVersion", ""),
            allow_bookmarks=params.truthy(q.get("allowWatchBookmarks")),
            timeout_seconds=timeout,
        ))
        resp: web.StreamResponse
        if is_websocket(request):
            # As upstream: one event per message, JSON (base64 of it for base64.binary)
            resp = web.WebSocketResponse(protocols=WS_PROTOCOLS, heartbeat=None)
        else:
            resp = web.StreamResponse(status=200)
            resp.content_type = "application/json"
            resp.enable_chunked_encoding()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(max(1, self.buffer_size))
        try:
            await resp.prepare(request)
            reader = asyncio.create_task(self._read(events, queue, target, neg, include),
                                         name=f"watch-read {target.info.key}")
            writer = asyncio.create_task(
                _write_ws(resp, queue) if isinstance(resp, web.WebSocketResponse)
                else _write(resp, queue), name=f"watch-write {target.info.key}")
            try:
                await asyncio.wait({reader, writer}, timeout=timeout,
                                   return_when=asyncio.FIRST_EXCEPTION)
                if not writer.done():
                    if reader.done() and isinstance(reader.exception(), _Unresponsive):
                        log.warning("Forcing %s watcher close due to unresponsiveness: "
                                    "%d events queued", target.info.key, queue.qsize())
                        _abort(request)
                        return resp
                    if not reader.done():  # timeoutSeconds: end the stream cleanly
                        reader.cancel()
                        with contextlib.suppress(BaseException):
                            await reader
                        try:
                            queue.put_nowait(None)
                        except asyncio.QueueFull:
                            _abort(request)
                            return resp
                    await asyncio.wait({writer}, timeout=self.unresponsive_after)
                    if not writer.done():
                        _abort(request)
                        return resp
                exc = writer.exception()
                if exc is not None:
                    raise exc
                if isinstance(resp, web.WebSocketResponse):
                    await resp.close()
                else:
                    await resp.write_eof()
            finally:
                for t in (reader, writer):
                    t.cancel()
                for t in (reader, writer):
                    with contextlib.suppress(BaseException):
                        await t
        except ConnectionError:
            pass  # the client went away
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        return resp

    async def _read(self, events: AsyncIterator[Any], queue: asyncio.Queue[bytes | None],
                    target: Target, neg: Negotiated, include: str) -> None:
        """Encode events into ``queue``; raises :class:`_Unresponsive` when it stays full."""

        async def put(item: bytes | None) -> None:
            if queue.full():
                try:
                    async with asyncio.timeout(self.unresponsive_after):
                        await queue.put(item)
                except TimeoutError:
                    raise _Unresponsive from None
            else:
                queue.put_nowait(item)

        try:
            async for ev in events:
                await put(self._line(target, ev, neg, include))
        except errors.KubeError as exc:
            # e.g. 410 Expired for a too-old resourceVersion: one ERROR event, as
            # upstream's watch cache sends it; client-go re-lists.
            await put(orjson.dumps({"type": "ERROR", "object": exc.status()}) + b"\n")
        except (_Unresponsive, asyncio.CancelledError):
            raise
        except Exception:
            # Headers are out: the failure can only be reported in the stream.
            log.exception("watch of %s failed", target.info.key)
            err = errors.InternalError("an error on the server has prevented the watch "
                                       "from continuing")
            await put(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")
        await put(None)

    def _line(self, target: Target, ev: Any, neg: Negotiated, include: str) -> bytes:
        obj = ev["object"]
        if needs_conversion(target.info):
            converted = convert_out(target.info, obj, shared=True)
            if converted is not obj:
                obj = converted
                ev = {**ev, "object": obj}
                if neg.kind not in ("table", "metadata"):
                    return orjson.dumps(ev) + b"\n"
        if neg.kind == "table" and ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
            t = table(target.info, [obj], neg=neg, include_object=include,
                      list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            return orjson.dumps({"type": ev["type"], "object": t}) + b"\n"
        if neg.kind == "metadata" and ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
            partial = {"kind": "PartialObjectMetadata",
                       "apiVersion": f"meta.k8s.io/{neg.version}",
                       "metadata": obj.get("metadata") or {}}
            return orjson.dumps({"type": ev["type"], "object": partial}) + b"\n"
        return self.encoded.line(ev)


async def _write(resp: web.StreamResponse, queue: asyncio.Queue[bytes | None]) -> None:
    """Write queued lines until the ``None`` that ends the stream. Small lines already
    queued go out joined in one chunk (one TLS record and one syscall for a burst); a
    line bigger than :data:`WRITE_SLICE` goes alone, in slices of the shared bytes."""
    carry: list[bytes | None] = []  # a line taken from the queue but not yet written
    while True:
        line = carry.pop() if carry else await queue.get()
        if line is None:
            return
        if len(line) > WRITE_SLICE:
            view = memoryview(line)
            for i in range(0, len(line), WRITE_SLICE):
                await resp.write(view[i:i + WRITE_SLICE])
            continue
        batch = [line]
        size = len(line)
        while not queue.empty():
            nxt = queue.get_nowait()
            if nxt is None or size + len(nxt) > WRITE_SLICE:
                carry.append(nxt)
                break
            batch.append(nxt)
            size += len(nxt)
        await resp.write(line if len(batch) == 1 else b"".join(batch))


# The WebSocket subprotocols a watch answers in (upstream's wsstream names); the bearer
# token protocol (base64url.bearer.authorization.k8s.io.<token>) is read by :mod:`.app`.
WS_PROTOCOLS = ("binary.k8s.io", "base64.binary.k8s.io")


def is_websocket(request: web.Request) -> bool:
    return (request.headers.get("Upgrade", "").lower() == "websocket"
            and "upgrade" in request.headers.get("Connection", "").lower())


async def _write_ws(ws: web.StreamResponse, queue: asyncio.Queue[bytes | None]) -> None:
    """Each queued line as one message; ends at the ``None`` or when the client closes.
    The client's frames are read alongside (so its pings and its close are answered)."""
    assert isinstance(ws, web.WebSocketResponse)
    encode64 = ws.ws_protocol == "base64.binary.k8s.io"

    async def drain_client() -> None:
        async for _msg in ws:
            pass

    client = asyncio.create_task(drain_client(), name="watch-ws-client")
    try:
        while True:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, client}, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
                raise ConnectionResetError("the watch's WebSocket client closed")
            line = getter.result()
            if line is None:
                return
            body = line.rstrip(b"\n")
            if encode64:
                await ws.send_str(base64.b64encode(body).decode())
            else:
                await ws.send_bytes(body)
    finally:
        client.cancel()
        with contextlib.suppress(BaseException):
            await client


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()
