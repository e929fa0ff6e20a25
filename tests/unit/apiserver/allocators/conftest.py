"""Fixtures for the allocator tests: a Store per backend and a started Registry on it."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubesvc.apiserver.registry import Registry
from kubesvc.storage.store import Store
from tests.unit.apiserver.registry.registry_helpers import open_backend

BACKENDS = ["memory"]
if importlib.util.find_spec("kubesvc.storage.sqlite") is not None:
    BACKENDS.append("sqlite")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    st = await open_backend(str(request.param), tmp_path)
    yield st
    await st.close()


@pytest.fixture
async def reg(store: Store) -> AsyncIterator[Registry]:
    r = Registry(store, compact_interval=0)
    await r.start()
    yield r
    await r.stop()
