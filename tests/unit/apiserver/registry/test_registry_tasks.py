"""The registry's background tasks: named, logged when they fail, cancelled on stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubesvc.apiserver.registry import Registry


async def test_a_failed_task_is_logged_and_stop_cancels_the_rest(
        reg: Registry, caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("boom")

    forever = reg.spawn(asyncio.sleep(3600), name="test-forever")
    failed = reg.spawn(boom(), name="test-boom")
    with caplog.at_level(logging.ERROR):
        await asyncio.gather(failed, return_exceptions=True)
        await asyncio.sleep(0)
    assert any("test-boom failed" in r.getMessage() for r in caplog.records)
    await reg.stop()
    assert forever.cancelled()
