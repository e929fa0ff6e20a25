"""One stand-in API server (see :mod:`harness`) per test module and event loop."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.streaming.harness import FakeApiServer


def _loops() -> list[str]:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return ["asyncio"]
    return ["asyncio", "uvloop"]


@pytest.fixture(scope="module", params=_loops())
def api(request: pytest.FixtureRequest) -> Iterator[FakeApiServer]:
    """The stand-in server on plain asyncio and on uvloop (the agent's loop where it is
    installed: its transports are not asyncio.Transport subclasses)."""
    server = FakeApiServer(loop=request.param).start()
    try:
        yield server
    finally:
        server.stop()
