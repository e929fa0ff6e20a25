"""IngressController over a FakeClient and a RecordingPlane: ensures the default class,
renders on changes, writes status.loadBalancer, Events for bad Secrets and for a missing
data plane (status then stays empty)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kubesvc.informers import Informer
from kubesvc.ingress.controller import CLASSES, INGRESSES, IngressController
from kubesvc.ingress.render import Settings
from tests.fakes.client import FakeClient
from tests.fakes.ingress import RecordingPlane

SETTINGS = Settings(address="127.0.0.80", config_dir="/tmp/ingress-test")
RESOURCES = (INGRESSES, CLASSES, "services", "endpointslices.discovery.k8s.io", "secrets")


def ing(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"},
            "spec": {"rules": [{"host": "foo.com", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {
                    "name": "web", "port": {"number": 80}}}}]}}], **spec}}


async def until(pred: Callable[[], Any], timeout: float = 3) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        assert asyncio.get_running_loop().time() < end, "timed out"
        await asyncio.sleep(0.01)


@pytest.fixture
async def env() -> AsyncIterator[tuple[FakeClient, dict[str, Informer], asyncio.Event]]:
    client = FakeClient()
    informers = {r: Informer(client, r) for r in RESOURCES}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(i.run(stop)) for i in informers.values()]
    yield client, informers, stop
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)


async def events(client: FakeClient) -> list[dict[str, Any]]:
    return list((await client.list("events", namespace="default"))["items"])


async def test_serves_and_writes_status(env: Any) -> None:
    client, informers, stop = env
    plane = RecordingPlane()
    c = IngressController(client, settings=SETTINGS, plane=plane, informers=informers,
                          min_interval=0.001)
    task = asyncio.create_task(c.run(stop))
    await until(c.synced)
    cls = await client.get(CLASSES, "kubesvc")
    assert cls["spec"]["controller"] == "kubesvc.io/ingress-haproxy"
    assert cls["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == \
        "true"
    assert "default_backend be_default_404" in plane.applied[-1][0]

    await client.create(INGRESSES, ing("a", ingressClassName="kubesvc",
                                       tls=[{"hosts": ["foo.com"], "secretName": "nope"}]),
                        namespace="default")
    await until(lambda: any(b"foo.com" in files["maps/hosts.map"]
                            for _, files in plane.applied))

    async def status() -> Any:
        return (await client.get(INGRESSES, "a", namespace="default")).get("status")

    for _ in range(300):
        if await status():
            break
        await asyncio.sleep(0.01)
    assert (await status()) == {"loadBalancer": {"ingress": [{"ip": "127.0.0.80"}]}}
    evs = await events(client)
    assert [(e["reason"], e["involvedObject"]["name"]) for e in evs] == [
        ("InvalidTLSSecret", "a")]
    assert "secret default/nope: not found" in evs[0]["message"]

    # not ours: no status
    await client.create(INGRESSES, ing("b", ingressClassName="other"), namespace="default")
    n = len(plane.applied)
    await client.create("services", {"metadata": {"name": "web", "namespace": "default"},
                                     "spec": {"ports": [{"port": 80}]}}, namespace="default")
    await until(lambda: len(plane.applied) > n)
    assert not (await client.get(INGRESSES, "b", namespace="default")).get("status")
    assert len(await events(client)) == 1  # the same problem is reported once

    # leaving our class: the address is taken back
    a = await client.get(INGRESSES, "a", namespace="default")
    a["spec"]["ingressClassName"] = "other"
    await client.update(INGRESSES, a, namespace="default")
    for _ in range(300):
        st = (await client.get(INGRESSES, "a", namespace="default")).get("status") or {}
        if not st.get("loadBalancer", {}).get("ingress"):
            break
        await asyncio.sleep(0.01)
    assert not st.get("loadBalancer", {}).get("ingress")
    stop.set()
    await task
    assert plane.closed


async def test_without_haproxy_an_event_and_no_status(env: Any) -> None:
    client, informers, stop = env
    c = IngressController(client, settings=SETTINGS, plane=None, informers=informers,
                          missing="haproxy is not installed", min_interval=0.001)
    task = asyncio.create_task(c.run(stop))
    await client.create(INGRESSES, ing("a", ingressClassName="kubesvc"), namespace="default")
    for _ in range(300):
        if await events(client):
            break
        await asyncio.sleep(0.01)
    evs = await events(client)
    assert [(e["reason"], e["type"]) for e in evs] == [("NoDataPlane", "Warning")]
    assert "haproxy is not installed" in evs[0]["message"]
    assert not (await client.get(INGRESSES, "a", namespace="default")).get("status")
    stop.set()
    await task


async def test_refused_configuration_is_an_event_and_retried(env: Any) -> None:
    client, informers, stop = env
    plane = RecordingPlane()
    plane.refuse = "haproxy rejected the configuration: boom"
    c = IngressController(client, settings=SETTINGS, plane=plane, informers=informers,
                          min_interval=0.001)
    task = asyncio.create_task(c.run(stop))
    await client.create(INGRESSES, ing("a", ingressClassName="kubesvc"), namespace="default")
    for _ in range(300):
        if await events(client):
            break
        await asyncio.sleep(0.01)
    assert [e["reason"] for e in await events(client)] == ["ConfigRejected"]
    plane.refuse = ""
    await until(lambda: plane.applied, timeout=5)  # retried with back-off
    stop.set()
    await task
