"""TokenCleaner against the in-process Registry: an expired bootstrap token Secret is
deleted (at its expiry, without any other change), a live or never-expiring one is kept,
and other Secrets are not looked at."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime, timedelta

from kubesvc import errors
from kubesvc.api import bootstraptoken as bt
from kubesvc.apiserver.registry.core import Registry
from kubesvc.controllers.manager import TOKEN_INFORMER, ControllerManager, ControllerOptions
from kubesvc.storage.memory import MemoryStore


async def _exists(reg: Registry, name: str) -> bool:
    try:
        await reg.get("secrets", name, namespace="kube-system")
    except errors.NotFound:
        return False
    return True


async def test_expired_token_secrets_are_deleted() -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    stop = asyncio.Event()
    now = datetime.now(UTC)
    cm = ControllerManager(reg, options=ControllerOptions(controllers=frozenset(
        {"tokencleaner"})))
    assert set(cm.informers) == {TOKEN_INFORMER}
    for tok, exp in (("aaaaaa.0123456789abcdef", now - timedelta(minutes=1)),
                     ("bbbbbb.0123456789abcdef", now + timedelta(seconds=1)),
                     ("cccccc.0123456789abcdef", now + timedelta(hours=1)),
                     ("dddddd.0123456789abcdef", None)):
        await reg.create("secrets", bt.token_secret(tok, expires=exp), namespace="kube-system")
    opaque = bt.token_secret("eeeeee.0123456789abcdef", expires=now - timedelta(hours=1))
    opaque["type"] = "Opaque"
    await reg.create("secrets", opaque, namespace="kube-system")
    task = asyncio.create_task(cm.run(stop))
    try:
        end = time.monotonic() + 8
        while await _exists(reg, "bootstrap-token-aaaaaa") or await _exists(
                reg, "bootstrap-token-bbbbbb"):
            assert time.monotonic() < end, "expired token secrets were not deleted"
            await asyncio.sleep(0.05)
        for kept in ("cccccc", "dddddd", "eeeeee"):
            assert await _exists(reg, f"bootstrap-token-{kept}")
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await reg.stop()
