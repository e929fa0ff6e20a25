"""The Proxier between informers and a data plane, with the RecordingBackend: the first
sync waits for both caches and is full, later ones carry just the changed Services, a
failed sync is followed by a full resync, and objects labelled for another proxy are not
served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from kubesvc.informers import Informer
from kubesvc.proxy.proxier import Proxier
from tests.fakes.client import FakeClient
from tests.fakes.proxy import RecordingBackend, Sync
from tests.unit.proxy.test_userspace import SLICES, eps, svc


@dataclass
class Env:
    client: FakeClient
    backend: RecordingBackend
    proxier: Proxier


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    client = FakeClient()
    await client.create("services", svc("web", "10.96.0.10", 80, 8080))
    await client.create(SLICES, eps("web", 8080, ["10.0.0.1", "10.0.0.2"]))
    services, slices = Informer(client, "services"), Informer(client, SLICES)
    backend = RecordingBackend()
    proxier = Proxier(backend, services=services, slices=slices, min_sync_interval=0.001)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(services.run(stop), name="test-services"),
             asyncio.create_task(slices.run(stop), name="test-slices"),
             asyncio.create_task(proxier.run(stop), name="test-proxier")]
    try:
        yield Env(client, backend, proxier)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


def _ips(s: Sync, name: str) -> list[str]:
    return [e.ip for spn, eps_ in s.endpoints.items() if spn.name == name for e in eps_]


async def test_first_sync_is_full_and_has_the_listed_state(env: Env) -> None:
    first = await env.backend.wait_for(lambda s: True)
    assert first.full
    assert first.changed == {"default/web"}
    assert [spn.port for spn in first.services] == ["p"]
    assert sorted(e.ip for v in first.endpoints.values() for e in v) == ["10.0.0.1", "10.0.0.2"]
    assert env.proxier.synced()


async def test_a_change_syncs_only_that_service(env: Env) -> None:
    await env.backend.wait_for(lambda s: s.full)
    await env.client.create("services", svc("api", "10.96.0.11", 81, 9090))
    await env.client.create(SLICES, eps("api", 9090, ["10.0.1.1"]))
    s = await env.backend.wait_for(
        lambda s: not s.full and any(k.name == "api" for k in s.endpoints)
        and bool(_ips(s, "api")))
    assert s.changed == {"default/api"}
    assert _ips(s, "api") == ["10.0.1.1"]
    assert _ips(s, "web") == ["10.0.0.1", "10.0.0.2"]  # the full state, unchanged


async def test_a_failed_sync_is_followed_by_a_full_resync(env: Env) -> None:
    await env.backend.wait_for(lambda s: s.full)
    n = len(env.backend.syncs)
    env.backend.fail_next = 1
    await env.client.delete(SLICES, "web-x")
    s = await env.backend.wait_for(lambda s: env.backend.syncs.index(s) >= n)
    assert s.full
    assert _ips(s, "web") == []
    assert env.proxier.metrics.syncs_failed == 1


async def test_a_service_for_another_proxy_is_not_served(env: Env) -> None:
    await env.backend.wait_for(lambda s: s.full)
    other = svc("other", "10.96.0.12", 82, 8082)
    other["metadata"]["labels"] = {"service.kubernetes.io/service-proxy-name": "foo"}
    await env.client.create("services", other)
    await env.client.create("services", svc("plain", "10.96.0.13", 83, 8083))
    s = await env.backend.wait_for(lambda s: any(k.name == "plain" for k in s.services))
    assert not any(k.name == "other" for k in s.services)
