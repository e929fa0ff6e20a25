"""Shared pytest configuration: makes ``tests.fakes`` importable and collects garbage
after every test."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _collect_garbage_per_test() -> object:
    """Collect garbage after every test, so an unclosed socket or transport is reported
    (filterwarnings=error) by the test that leaked it, not by whichever test the garbage
    collector happens to run in later."""
    yield
    gc.collect()
