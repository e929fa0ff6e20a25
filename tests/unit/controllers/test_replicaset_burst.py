"""ReplicaSet creation pacing (upstream ``slowStartBatch`` + ``burstReplicas``): batches
of 1, 2, 4, ... that stop at the first error, at most 500 pods a sync, and expectations that
hold the next sync back until the informer has seen the creations."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.controllers.replicaset import BURST, ReplicaSetController, slow_start
from tests.fakes.client import FakeClient
from tests.unit.controllers.helpers import Harness, Obj, wait_for

RS = "replicasets.apps"


def replicaset(name: str, replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default", "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


async def test_slow_start_doubles_and_stops_at_first_failing_batch() -> None:
    calls = 0
    batches: list[int] = []
    inflight = 0

    async def create() -> str:
        nonlocal calls, inflight
        calls += 1
        n = calls
        inflight += 1
        if not batches or inflight == 1:
            batches.append(0)
        batches[-1] += 1
        await asyncio.sleep(0)
        inflight -= 1
        if n > 10:
            raise errors.Forbidden("exceeded quota")
        return f"p{n}"

    done, failure = await slow_start(100, create)
    # 1 + 2 + 4 succeed (7), then the batch of 8 has calls 8..15: 8, 9, 10 succeed.
    assert batches == [1, 2, 4, 8]
    assert calls == 15 and len(done) == 10
    assert isinstance(failure, errors.Forbidden)

    done, failure = await slow_start(5, lambda: asyncio.sleep(0, "x"))
    assert done == ["x"] * 5 and failure is None  # batches 1, 2, 2


class FailingPods(FakeClient):
    """Pod creation fails once ``allow`` pods exist (as a full store or quota would)."""

    def __init__(self, allow: int) -> None:
        super().__init__()
        self.allow = allow
        self.attempts = 0

    async def create(self, resource: str, obj: Obj, **kw: Any) -> Obj:
        if resource == "pods":
            self.attempts += 1
            if len(self.objects.get("pods", {})) >= self.allow:
                raise errors.ServiceUnavailable("storage is not writable")
        return await super().create(resource, obj, **kw)


async def test_a_failing_create_costs_one_batch_not_the_burst() -> None:
    h = Harness(FailingPods(allow=3))
    client: FailingPods = h.client  # type: ignore[assignment]
    rs = ReplicaSetController(client, replicasets=h.informer(RS), pods=h.informer("pods"))
    await client.create(RS, replicaset("web", 50))
    async with h.running(rs):
        await wait_for(lambda: client.attempts >= 7, what="first failing batch")
        await asyncio.sleep(0.05)
        # 1 + 2 succeed, the batch of 4 fails: 7 attempts, not 50; then rate-limited retries
        # (5 ms, 10 ms, ...) each cost a single attempt.
        assert len(client.objects["pods"]) == 3
        assert client.attempts < 7 + 10


async def test_huge_replicas_create_at_most_burst_per_sync() -> None:
    h = Harness()
    rs = ReplicaSetController(h.client, replicasets=h.informer(RS), pods=h.informer("pods"))
    await h.client.create(RS, replicaset("big", 1_000_000_000))
    async with h.running():
        await rs.sync("default/big")
        assert len(h.items("pods")) == BURST
        # The informer has not caught up with its own creations yet: a sync now (a stale
        # cache) must not create again.
        rs.expectations._by_key["default/big"].adds = 1
        await rs.sync("default/big")
        assert len(h.items("pods")) == BURST
        rs.expectations.lower_adds("default/big")
        await wait_for(lambda: len(h.informer("pods").indexer.list()) == BURST, 5)
        await rs.sync("default/big")
        assert len(h.items("pods")) == 2 * BURST


@pytest.mark.parametrize("count", [0, 1])
async def test_slow_start_small_counts(count: int) -> None:
    done, failure = await slow_start(count, lambda: asyncio.sleep(0, "p"))
    assert len(done) == count and failure is None
