"""HttpClient against our own small HTTPS server (tests/unit/client/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from kubesvc import errors
from kubesvc.client.http import HttpClient
from kubesvc.client.kubeconfig import KubeConfig
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import Client

from .conftest import TOKEN, FakeApi, Tls


@pytest.fixture
async def client(kubeconfig: Path) -> AsyncIterator[HttpClient]:
    c = HttpClient.from_kubeconfig(kubeconfig)
    yield c
    await c.close()


def svc(name: str, **spec: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": dict(spec)}


async def test_is_a_client(client: HttpClient) -> None:
    assert isinstance(client, Client)


async def test_crud_round_trip_with_token_and_ca(client: HttpClient, api: FakeApi) -> None:
    created = await client.create("services", svc("a", type="ClusterIP"))
    assert created["metadata"]["name"] == "a"
    rec = api.requests[-1]
    assert (rec.method, rec.path) == ("POST", "/api/v1/namespaces/default/services")
    assert rec.content_type == "application/json" and rec.body["spec"] == {"type": "ClusterIP"}

    got = await client.get("services", "a")
    assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    got["spec"]["type"] = "NodePort"
    updated = await client.update("services", got)
    assert updated["spec"]["type"] == "NodePort"
    assert api.requests[-1].method == "PUT"
    assert api.requests[-1].path == "/api/v1/namespaces/default/services/a"

    with pytest.raises(errors.Conflict) as conflict:
        await client.update("services", got)  # stale resourceVersion
    assert conflict.value.name == "a" and "has been modified" in conflict.value.message

    status = await client.update("services", {**updated, "status": {"x": 1}},
                                 subresource="status")
    assert status["status"] == {"x": 1}
    assert api.requests[-1].path == "/api/v1/namespaces/default/services/a/status"

    deleted = await client.delete("services", "a", opts=DeleteOptions(
        propagation_policy="Foreground", grace_period_seconds=0, preconditions={"uid": "u1"}))
    assert deleted["metadata"]["name"] == "a"
    rec = api.requests[-1]
    assert rec.method == "DELETE" and rec.body == {
        "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground",
        "gracePeriodSeconds": 0, "preconditions": {"uid": "u1"},
    }
    with pytest.raises(errors.NotFound) as nf:
        await client.get("services", "a")
    assert nf.value.name == "a" and nf.value.code == 404


async def test_group_resources_namespaces_and_dry_run(client: HttpClient, api: FakeApi) -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "web", "namespace": "prod"}}
    await client.create("deployments.apps", dep, opts=WriteOptions(dry_run=True))
    rec = api.requests[-1]
    assert rec.path == "/apis/apps/v1/namespaces/prod/deployments"
    assert rec.query == {"dryRun": "All"}
    await client.create("deployments.apps", dep, namespace="other")
    assert api.requests[-1].path == "/apis/apps/v1/namespaces/other/deployments"
    await client.create("nodes", {"apiVersion": "v1", "kind": "Node",
                                  "metadata": {"name": "n1", "namespace": "ignored"}})
    assert api.requests[-1].path == "/api/v1/nodes"
    with pytest.raises(errors.NotFound, match="doesn't have a resource type"):
        await client.get("widgets", "x")


async def test_list_params_and_all_namespaces(client: HttpClient, api: FakeApi) -> None:
    for n in ("a", "b", "c"):
        await client.create("services", svc(n))
    out = await client.list("services", namespace="default", opts=ListOptions(
        label_selector="app=web", field_selector="metadata.name=a", resource_version="0",
        limit=2, continue_token="tok"))
    assert [i["metadata"]["name"] for i in out["items"]] == ["a", "b"]
    assert out["metadata"]["continue"] == "next-page"
    assert api.requests[-1].query == {
        "labelSelector": "app=web", "fieldSelector": "metadata.name=a",
        "resourceVersion": "0", "limit": "2", "continue": "tok",
    }
    await client.list("services")
    assert api.requests[-1].path == "/api/v1/services" and api.requests[-1].query == {}


async def test_patch_content_types_and_errors(client: HttpClient, api: FakeApi) -> None:
    await client.create("services", svc("a"))
    out = await client.patch("services", "a", {"metadata": {"labels": {"x": "1"}}})
    assert out["metadata"]["labels"] == {"x": "1"}
    assert api.requests[-1].content_type == "application/merge-patch+json"
    await client.patch("services", "a", {"spec": {}}, patch_type="strategic")
    assert api.requests[-1].content_type == "application/strategic-merge-patch+json"
    await client.patch("services", "a", {"apiVersion": "v1", "kind": "Service"},
                       patch_type="apply", opts=WriteOptions(dry_run=True))
    rec = api.requests[-1]
    assert rec.content_type == "application/apply-patch+yaml"
    assert rec.query == {"fieldManager": "kubesvc", "dryRun": "All"}
    with pytest.raises(errors.Invalid) as inv:
        await client.patch("services", "a", [{"op": "remove", "path": "/spec"}],
                           patch_type="json")
    assert api.requests[-1].content_type == "application/json-patch+json"
    assert api.requests[-1].body == [{"op": "remove", "path": "/spec"}]
    assert inv.value.causes[0].field == "spec" and inv.value.code == 422


async def test_already_exists_and_unauthorized(api: FakeApi, kubeconfig: Path,
                                               tls: Tls) -> None:
    async with HttpClient.from_kubeconfig(kubeconfig) as c:
        await c.create("services", svc("a"))
        with pytest.raises(errors.AlreadyExists):
            await c.create("services", svc("a"))
    cfg = KubeConfig(server=api.url, ca_data=tls.ca_pem, token="wrong")
    async with HttpClient.from_config(cfg) as bad:
        with pytest.raises(errors.Unauthorized):
            await bad.get("services", "a")


async def test_watch_parses_chunked_json_lines(client: HttpClient, api: FakeApi) -> None:
    seen = [ev async for ev in client.watch("services", namespace="default",
                                            opts=WatchOptions(resource_version="10",
                                                              timeout_seconds=30))]
    assert [e["type"] for e in seen] == ["ADDED", "MODIFIED", "BOOKMARK"]
    assert seen[1]["object"]["metadata"]["annotations"]["big"] == "x" * 200_000
    assert seen[2]["object"]["metadata"]["resourceVersion"] == "13"
    assert api.requests[-1].query == {
        "watch": "true", "resourceVersion": "10", "allowWatchBookmarks": "true",
        "timeoutSeconds": "30",
    }


async def test_watch_error_event_410_raises_gone(client: HttpClient) -> None:
    with pytest.raises(errors.Gone, match="too old resource version"):
        async for _ in client.watch("services", opts=WatchOptions(resource_version="1")):
            pass


async def test_untrusted_server_and_unreachable_server(api: FakeApi, tmp_path: Path) -> None:
    # The system trust store does not know our throwaway CA.
    async with HttpClient.from_config(KubeConfig(server=api.url, token="t")) as c:
        with pytest.raises(errors.ServiceUnavailable, match="certificate"):
            await c.get("services", "a")
    async with HttpClient.from_config(
        KubeConfig(server=api.url, token="s3cret-token", insecure_skip_tls_verify=True)
    ) as c:
        with pytest.raises(errors.NotFound):
            await c.get("services", "a")
    async with HttpClient("https://127.0.0.1:1", token="t") as c:
        with pytest.raises(errors.ServiceUnavailable):
            await c.get("services", "a")
        with pytest.raises(errors.ServiceUnavailable):
            async for _ in c.watch("services"):
                pass


async def test_unix_socket_server(tmp_path: Path) -> None:
    """``unix:///path`` speaks plain HTTP over a unix socket (in-cluster components)."""
    fake = FakeApi()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = str(tmp_path / "api.sock")
    await web.UnixSite(runner, sock).start()
    try:
        async with HttpClient(f"unix://{sock}", token=TOKEN) as c:
            await c.create("services", svc("a"))
            assert (await c.get("services", "a"))["metadata"]["name"] == "a"
            events = [e["type"] async for e in c.watch("services")]
            assert events == ["ADDED", "MODIFIED", "BOOKMARK"]
    finally:
        await runner.cleanup()
    assert fake.requests[0].path == "/api/v1/namespaces/default/services"
