"""TokenCleaner: deletes bootstrap token Secrets once their ``expiration`` has passed
(upstream ``pkg/controller/bootstrap/tokencleaner.go``).

Reads an informer of ``kube-system`` Secrets of type ``bootstrap.kubernetes.io/token``;
wakes on every change and at the earliest expiry it knows of, then deletes what has expired
(with the Secret's uid as a precondition, so a Secret re-created under the same name
meanwhile is left alone). The API server already refuses an expired token whether or not
its Secret is gone; this only keeps them from piling up. Created by the manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from kubesvc import errors
from kubesvc.api import bootstraptoken as bt
from kubesvc.api.objects import Obj
from kubesvc.client.options import DeleteOptions
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

FIELD_SELECTOR = f"type={bt.SECRET_TYPE}"
MAX_SLEEP = 60.0


class TokenCleaner:
    def __init__(self, client: Client, *, secrets: Informer,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.client = client
        self.secrets = secrets
        self._clock = clock
        self._wake = asyncio.Event()
        secrets.add_handler(on_add=self._changed, on_update=lambda _o, _n: self._wake.set())

    def _changed(self, _obj: Obj) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        await self.secrets.wait_synced()
        while not stop.is_set():
            self._wake.clear()
            try:
                delay = await self.clean()
            except Exception:  # log and retry: a background loop never dies silently
                log.exception("token cleaner")
                delay = 5.0
            waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(
                self._wake.wait())]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    async def clean(self) -> float:
        """Delete the expired token Secrets in the cache; returns seconds until the next
        one expires (at most :data:`MAX_SLEEP`)."""
        now = self._clock()
        delay = MAX_SLEEP
        for secret in self.secrets.indexer.list():
            if secret.get("type") != bt.SECRET_TYPE:
                continue
            exp = bt.expiration(secret)
            if exp is None:
                continue
            if exp > now:
                delay = min(delay, (exp - now).total_seconds())
                continue
            md = secret.get("metadata") or {}
            name, uid = str(md.get("name", "")), str(md.get("uid", ""))
            log.info("deleting expired bootstrap token secret %s/%s", bt.NAMESPACE, name)
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.delete("secrets", name, namespace=bt.NAMESPACE,
                                         opts=DeleteOptions(preconditions={"uid": uid}
                                                            if uid else None))
        return max(delay, 0.05)
