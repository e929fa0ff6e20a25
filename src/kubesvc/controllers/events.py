"""EventRecorder: core/v1 Events for what users see in ``kubectl describe`` (IP allocated,
pool exhausted, scaled replica set, created pod, node not ready ...).

As client-go's recorder: ``event()`` never blocks the caller (events go to a bounded queue
written by ``run``); repeats of the same (object, type, reason, message) bump ``count`` and
``lastTimestamp`` on the existing Event instead of creating a new one. Controllers call
``event``; the manager runs ``run(stop)``; writes go through the Client (``events``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj, meta
from kubesvc.api.timefmt import rfc3339
from kubesvc.client.protocol import Client

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"


@dataclass(slots=True)
class _Pending:
    ref: dict[str, Any]
    type: str
    reason: str
    message: str
    at: str


class EventRecorder:
    def __init__(
        self,
        client: Client,
        *,
        component: str,
        host: str = "",
        max_pending: int = 1000,
        cache_size: int = 4096,
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue(maxsize=max_pending)
        # dedup key -> (event name, namespace, count)
        self._seen: OrderedDict[tuple[str, ...], tuple[str, str, int]] = OrderedDict()
        self._cache_size = cache_size
        self.dropped = 0

    def event(
        self,
        obj: Obj,
        type_: str,
        *,
        reason: str,
        message: str,
        kind: str = "",
        api_version: str = "",
    ) -> None:
        """Record an event about ``obj`` (non-blocking; dropped if the queue is full)."""
        md = meta(obj)
        ref = {
            "kind": kind or obj.get("kind", ""),
            "namespace": md.get("namespace", ""),
            "name": md.get("name", ""),
            "uid": md.get("uid", ""),
            "apiVersion": api_version or obj.get("apiVersion", "v1"),
            "resourceVersion": md.get("resourceVersion", ""),
        }
        if not ref["namespace"]:
            del ref["namespace"]
        try:
            self._queue.put_nowait(_Pending(ref, type_, reason, message, rfc3339()))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("event queue full; dropped %s %s: %s", reason, ref["name"], message)

    async def run(self, stop: asyncio.Event) -> None:
        stop_task = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(self._queue.get())
                done, _ = await asyncio.wait({get, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    return
                try:
                    await self.write(get.result())
                except Exception as exc:
                    log.warning("event %s: write failed: %s", get.result().reason, exc)
        finally:
            stop_task.cancel()

    async def write(self, ev: _Pending) -> None:
        ref = ev.ref
        ns = ref.get("namespace") or "default"
        key = (ref["kind"], ns, ref["name"], ref["uid"], ev.type, ev.reason, ev.message)
        seen = self._seen.get(key)
        if seen is not None:
            name, ens, count = seen
            try:
                await self.client.patch(
                    "events",
                    name,
                    {"count": count + 1, "lastTimestamp": ev.at},
                    namespace=ens,
                    patch_type="merge",
                )
                self._remember(key, (name, ens, count + 1))
                return
            except errors.NotFound:
                pass  # expired or deleted: start again
        name = f"{ref['name']}.{time.time_ns():x}"
        body: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {k: v for k, v in ref.items() if v},
            "reason": ev.reason,
            "message": ev.message,
            "type": ev.type,
            "count": 1,
            "firstTimestamp": ev.at,
            "lastTimestamp": ev.at,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "reportingComponent": self.component,
            "reportingInstance": self.host or self.component,
        }
        await self.client.create("events", body, namespace=ns)
        self._remember(key, (name, ns, 1))

    def _remember(self, key: tuple[str, ...], val: tuple[str, str, int]) -> None:
        self._seen[key] = val
        self._seen.move_to_end(key)
        while len(self._seen) > self._cache_size:
            self._seen.popitem(last=False)
