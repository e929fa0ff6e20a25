"""The watch verb: ``?watch=true`` (and the legacy ``/watch/`` prefix) streamed as chunked
JSON lines, one ``{"type": ..., "object": ...}`` per event, as kube-apiserver writes them.

Honours ``timeoutSeconds`` (the stream ends cleanly), ``allowWatchBookmarks``, label and
field selectors and ``resourceVersion``; a version too old for the store ends the stream
with an ``ERROR`` event carrying a 410 Expired Status (client-go re-lists on it). With a
Table Accept header (``kubectl get -w``) every event's object is a one-row Table. Called by
:mod:`.app`; reads events from the Registry's ``watch``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from kubesvc import errors
from kubesvc.apiserver.http import params
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.negotiation import Negotiated, negotiate
from kubesvc.apiserver.http.paths import Target
from kubesvc.apiserver.http.render import include_object_param, table
from kubesvc.client.options import WatchOptions

log = logging.getLogger(__name__)

# Upstream's --min-request-timeout is 1800 s; a watch without timeoutSeconds lasts a random
# span in [min, 2*min) so that clients reconnect spread out.
MIN_REQUEST_TIMEOUT = 1800


class Watcher:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.active: set[asyncio.Task[Any]] = set()

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
            timeout = int(MIN_REQUEST_TIMEOUT * (1 + random.random()))
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
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/json"
        resp.enable_chunked_encoding()
        try:
            await resp.prepare(request)
            try:
                async with asyncio.timeout(timeout):
                    async for ev in events:
                        await resp.write(self._line(target, ev, neg, include))
            except TimeoutError:
                pass
            except errors.KubeError as exc:
                # e.g. 410 Expired for a too-old resourceVersion: one ERROR event, as
                # upstream's watch cache sends it; client-go re-lists.
                await resp.write(orjson.dumps({"type": "ERROR", "object": exc.status()}) + b"\n")
            except (ConnectionError, asyncio.CancelledError):
                raise
            except Exception:
                # Headers are out: the failure can only be reported in the stream.
                log.exception("watch of %s failed", target.info.key)
                err = errors.InternalError("an error on the server has prevented the watch "
                                           "from continuing")
                await resp.write(orjson.dumps({"type": "ERROR", "object": err.status()}) + b"\n")
            await resp.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            close = getattr(events, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
        return resp

    @staticmethod
    def _line(target: Target, ev: Any, neg: Negotiated, include: str) -> bytes:
        obj = ev["object"]
        if neg.kind == "table" and ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
            t = table(target.info, [obj], neg=neg, include_object=include,
                      list_meta={"resourceVersion": obj["metadata"].get("resourceVersion", "")})
            return orjson.dumps({"type": ev["type"], "object": t}) + b"\n"
        if neg.kind == "metadata" and ev["type"] in ("ADDED", "MODIFIED", "DELETED"):
            partial = {"kind": "PartialObjectMetadata",
                       "apiVersion": f"meta.k8s.io/{neg.version}",
                       "metadata": obj.get("metadata") or {}}
            return orjson.dumps({"type": ev["type"], "object": partial}) + b"\n"
        return orjson.dumps(ev) + b"\n"
