"""EventRecorder: core/v1 Events about pods, as the kubelet and scheduler record them
(``Scheduled``, ``Pulled``, ``Created``, ``Started``, ``Killing``, ``Unhealthy``, ``BackOff``,
``Failed``/``ErrImageNeverPull``), so ``kubectl describe pod`` explains what happened.

``emit`` never blocks: events go on a bounded queue drained by :meth:`EventRecorder.run`
(one task); a repeat of the same event for the same object bumps ``count`` and
``lastTimestamp`` instead of creating a new one, as client-go's correlator does. Events are
best effort: failures are logged and dropped. Used by the node agent and the scheduler.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import rfc3339_epoch
from kubesvc.client.protocol import Client

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, client: Client, *, component: str, host: str = "",
                 max_pending: int = 1000) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._queue: asyncio.Queue[tuple[Obj, str, str, str, str]] = asyncio.Queue(max_pending)
        self._seen: dict[tuple[str, str, str, str], tuple[str, int]] = {}
        self.enabled = True

    def emit(self, obj: Obj, type_: str, reason: str, message: str, *,
             field_path: str = "") -> None:
        if not self.enabled:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait((obj, type_, reason, message, field_path))

    async def run(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(self._queue.get())
                await asyncio.wait({get, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    await asyncio.gather(get, return_exceptions=True)
                    return
                try:
                    await self._write(*get.result())
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.debug("event not recorded: %s", exc)
        finally:
            stop_wait.cancel()

    async def _write(self, obj: Obj, type_: str, reason: str, message: str,
                     field_path: str) -> None:
        md = obj.get("metadata") or {}
        ns = str(md.get("namespace") or "default")
        key = (str(md.get("uid")), reason, message, field_path)
        now = rfc3339_epoch()
        seen = self._seen.get(key)
        if seen is not None:
            name, count = seen
            try:
                await self.client.patch("events", name, {
                    "count": count + 1, "lastTimestamp": now}, namespace=ns)
                self._seen[key] = (name, count + 1)
                return
            except errors.NotFound:
                pass
        name = f"{md.get('name')}.{secrets.token_hex(8)}"
        involved: Obj = {"apiVersion": str(obj.get("apiVersion") or "v1"),
                         "kind": str(obj.get("kind") or "Pod"), "name": md.get("name"),
                         "namespace": ns, "uid": md.get("uid"),
                         "resourceVersion": md.get("resourceVersion")}
        if field_path:
            involved["fieldPath"] = field_path
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": involved,
            "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component, **({"host": self.host}
                                                        if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        await self.client.create("events", event, namespace=ns)
        if len(self._seen) > 10000:
            self._seen.clear()
        self._seen[key] = (name, 1)
