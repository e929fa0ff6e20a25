"""LeaderElector against the FakeClient: acquire, renew, release, take-over after expiry,
optimistic concurrency, and losing the lease (callback told and cancelled)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.client.leaderelection import LEASES, LeaderElector
from tests.fakes.client import FakeClient

FAST = {"lease_duration": 0.6, "renew_deadline": 0.4, "retry_period": 0.05}


def elector(client: Any, identity: str, **kw: Any) -> LeaderElector:
    return LeaderElector(client, identity=identity, **{**FAST, **kw})


class Candidate:
    """Runs one elector as a task; records when it led and whether it was told it lost."""

    def __init__(self, el: LeaderElector) -> None:
        self.el = el
        self.stop = asyncio.Event()
        self.terms = 0
        self.leading = asyncio.Event()
        self.lost_seen = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def _lead(self, lost: asyncio.Event) -> None:
        self.terms += 1
        self.leading.set()
        try:
            await lost.wait()
            self.lost_seen.set()
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.leading.clear()

    def start(self) -> None:
        self.task = asyncio.create_task(self.el.run(self.stop, self._lead))

    async def halt(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 5)


async def wait_until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.01)


@pytest.fixture
async def client() -> AsyncIterator[FakeClient]:
    c = FakeClient()
    yield c


async def lease(client: FakeClient) -> dict[str, Any]:
    return await client.get(LEASES, "kubesvc-controller-manager", namespace="kube-system")


async def test_single_candidate_creates_lease_and_releases_on_stop(client: FakeClient) -> None:
    c = Candidate(elector(client, "a"))
    c.start()
    await asyncio.wait_for(c.leading.wait(), 5)
    assert c.el.is_leader
    spec = (await lease(client))["spec"]
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 1  # whole seconds, at least 1
    assert spec["leaseTransitions"] == 0
    assert spec["acquireTime"].endswith("Z") and spec["renewTime"].endswith("Z")
    first_renew = spec["renewTime"]
    # Renewals move renewTime and keep acquireTime/transitions.
    await asyncio.sleep(0.2)
    spec2 = (await lease(client))["spec"]
    assert spec2["renewTime"] > first_renew
    assert spec2["acquireTime"] == spec["acquireTime"]
    assert spec2["leaseTransitions"] == 0
    await c.halt()
    assert c.cancelled.is_set()
    assert not c.el.is_leader
    released = (await lease(client))["spec"]
    assert released["holderIdentity"] == ""
    assert released["leaseDurationSeconds"] == 1


async def test_only_one_leads_and_the_other_takes_over_after_release(
        client: FakeClient) -> None:
    a, b = Candidate(elector(client, "a")), Candidate(elector(client, "b"))
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    b.start()
    await asyncio.sleep(0.5)  # b campaigns through several retry periods meanwhile
    assert not b.leading.is_set() and b.terms == 0
    assert b.el.leader == "a"
    await a.halt()
    await asyncio.wait_for(b.leading.wait(), 5)
    spec = (await lease(client))["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    await b.halt()


async def test_expired_lease_of_a_dead_holder_is_taken_over(client: FakeClient) -> None:
    await client.create(LEASES, {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "kubesvc-controller-manager", "namespace": "kube-system"},
        "spec": {"holderIdentity": "dead", "leaseDurationSeconds": 1,
                 "renewTime": "2026-01-01T00:00:00.000000Z", "leaseTransitions": 4},
    }, namespace="kube-system")
    b = Candidate(elector(client, "b"))
    b.start()
    await asyncio.sleep(0.5)
    # Expiry is judged by local observation time, not by comparing renewTime with our clock.
    assert b.terms == 0
    await asyncio.wait_for(b.leading.wait(), 5)
    spec = (await lease(client))["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 5
    await b.halt()


async def test_leader_that_cannot_renew_is_told_and_cancelled(client: FakeClient) -> None:
    a = Candidate(elector(client, "a"))
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    orig_update = client.update

    async def failing(*args: Any, **kw: Any) -> Any:
        raise errors.ServiceUnavailable("etcd unreachable")

    client.update = failing  # type: ignore[method-assign]
    await asyncio.wait_for(a.cancelled.wait(), 5)
    assert a.lost_seen.is_set() or a.cancelled.is_set()
    assert not a.el.is_leader
    client.update = orig_update  # type: ignore[method-assign]
    # Once the store answers again it campaigns and leads a second term.
    await wait_until(lambda: a.terms == 2)
    await a.halt()


async def test_stolen_lease_deposes_the_leader(client: FakeClient) -> None:
    a = Candidate(elector(client, "a"))
    a.start()
    await asyncio.wait_for(a.leading.wait(), 5)
    cur = await lease(client)
    cur["spec"]["holderIdentity"] = "intruder"
    cur["spec"]["leaseDurationSeconds"] = 60
    await client.update(LEASES, cur, namespace="kube-system")
    await asyncio.wait_for(a.cancelled.wait(), 5)
    assert not a.el.is_leader
    assert a.el.leader == "intruder"
    await a.halt()
    assert (await lease(client))["spec"]["holderIdentity"] == "intruder"


async def test_conflicting_writes_elect_exactly_one(client: FakeClient) -> None:
    cands = [Candidate(elector(client, f"c{i}")) for i in range(4)]
    for c in cands:
        c.start()
    await wait_until(lambda: any(c.leading.is_set() for c in cands))
    await asyncio.sleep(0.3)
    assert sum(c.leading.is_set() for c in cands) == 1
    holder = (await lease(client))["spec"]["holderIdentity"]
    assert [c.el.identity for c in cands if c.leading.is_set()] == [holder]
    for c in cands:
        with contextlib.suppress(TimeoutError):
            await c.halt()


def test_rejects_inconsistent_timings() -> None:
    with pytest.raises(ValueError, match="lease_duration"):
        LeaderElector(FakeClient(), identity="x", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="renew_deadline"):
        LeaderElector(FakeClient(), identity="x", lease_duration=15, renew_deadline=2,
                      retry_period=2)
    with pytest.raises(ValueError, match="identity"):
        LeaderElector(FakeClient(), identity="")
