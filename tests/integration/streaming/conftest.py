"""One stand-in API server (see :mod:`harness`) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.streaming.harness import FakeApiServer


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApiServer]:
    server = FakeApiServer().start()
    try:
        yield server
    finally:
        server.stop()
