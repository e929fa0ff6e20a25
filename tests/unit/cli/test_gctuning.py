"""GC settings of the long-running processes: thresholds, and survivors frozen after a
full collection so later ones skip the informer caches."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from kubesvc.cli import gctuning


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        while gctuning._freeze_after_full_collection in gc.callbacks:
            gc.callbacks.remove(gctuning._freeze_after_full_collection)
        gc.unfreeze()


def test_tune_sets_thresholds_and_freezes_after_full_collections(restore_gc: None) -> None:
    gctuning.tune()
    gctuning.tune()  # idempotent: one hook
    assert gc.get_threshold() == (50_000, 20, 100)
    assert gc.callbacks.count(gctuning._freeze_after_full_collection) == 1
    gc.unfreeze()
    cache = [{"n": i} for i in range(1000)]
    gc.collect(1)
    assert gc.get_freeze_count() == 0  # young/middle collections freeze nothing
    gc.collect(2)
    assert gc.get_freeze_count() >= len(cache)
