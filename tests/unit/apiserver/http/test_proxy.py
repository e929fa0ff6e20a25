"""The API server proxy: parsing its paths and names, where upstream's ResourceLocation
sends a request, and the forwarding itself against a real local HTTP server."""

from __future__ import annotations

import random
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubesvc import errors
from kubesvc.apiserver.http.app import ApiApp
from kubesvc.apiserver.http.paths import parse
from kubesvc.apiserver.http.proxy import pod_location, service_location, split_scheme_name_port


@pytest.mark.parametrize(("path", "name", "rest"), [
    ("/api/v1/namespaces/d/services/web/proxy", "web", ""),
    ("/api/v1/namespaces/d/services/web:80/proxy/", "web:80", "/"),
    ("/api/v1/namespaces/d/services/http:web:http/proxy/a/b/", "http:web:http", "/a/b/"),
    ("/api/v1/namespaces/d/pods/p/proxy/x//y", "p", "/x//y"),
])
def test_proxy_paths_keep_the_rest_as_sent(path: str, name: str, rest: str) -> None:
    t = parse(path)
    assert t is not None and t.subresource == "proxy" and t.namespace == "d"
    assert t.name == name and t.proxy_path == rest


def test_only_services_and_pods_proxy() -> None:
    assert parse("/api/v1/namespaces/d/configmaps/c/proxy/") is None
    assert parse("/api/v1/namespaces/d/services/web/status/x") is None


@pytest.mark.parametrize(("ident", "want"), [
    ("web", ("", "web", "")), ("web:80", ("", "web", "80")),
    ("https:web:443", ("https", "web", "443")), ("http:web:", ("http", "web", "")),
    ("ftp:web:21", None), (":80", None), ("a:b:c:d", None),
])
def test_split_scheme_name_port(ident: str, want: tuple[str, str, str] | None) -> None:
    assert split_scheme_name_port(ident) == want


SVC: dict[str, Any] = {"metadata": {"name": "web"}, "spec": {"ports": [
    {"name": "http", "port": 80}, {"name": "admin", "port": 81}]}}
EPS: dict[str, Any] = {"subsets": [
    {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
     "ports": [{"name": "http", "port": 8080}, {"name": "admin", "port": 9090}]},
    {"notReadyAddresses": [{"ip": "10.0.0.9"}], "ports": [{"name": "http", "port": 8080}]},
]}


def test_service_location_maps_a_port_number_to_its_name_and_picks_ready_addresses() -> None:
    rng = random.Random(1)
    got = {service_location(SVC, EPS, "web:81", "81", rng=rng) for _ in range(40)}
    assert got == {("10.0.0.1", 9090), ("10.0.0.2", 9090)}
    assert service_location(SVC, EPS, "web:http", "http", rng=rng)[1] == 8080


@pytest.mark.parametrize(("eps", "port", "message"), [
    (EPS, "82", 'no service port 82 found for service "web"'),
    ({}, "80", 'no endpoints available for service "web"'),
    (EPS, "", 'no endpoints available for service "web"'),  # no unnamed port
    ({"subsets": [EPS["subsets"][1]]}, "80", 'no endpoints available for service "web:80"'),
])
def test_service_location_errors(eps: dict[str, Any], port: str, message: str) -> None:
    with pytest.raises(errors.ServiceUnavailable) as exc:
        service_location(SVC, eps, f"web:{port}" if port != "" else "web", port,
                         rng=random.Random())
    assert exc.value.message == message and exc.value.code == 503


def test_pod_location() -> None:
    pod: dict[str, Any] = {"metadata": {"name": "p"}, "status": {"podIP": "10.0.0.5"},
                           "spec": {"containers": [{"name": "a"}, {
                               "name": "b", "ports": [{"containerPort": 8080}]}]}}
    assert pod_location(pod, "") == ("10.0.0.5", 8080)
    assert pod_location(pod, "9000") == ("10.0.0.5", 9000)
    assert pod_location({**pod, "spec": {"containers": [{"name": "a"}]}}, "") == (
        "10.0.0.5", 80)
    with pytest.raises(errors.BadRequest, match="address not allowed"):
        pod_location({**pod, "status": {}}, "")


class _Backend:
    """Just the reads the proxy makes."""

    def __init__(self, objs: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objs = objs

    async def get(self, resource: str, name: str, *, namespace: str | None = None,
                  subresource: str = "") -> dict[str, Any]:
        try:
            return self.objs[(resource, name)]
        except KeyError:
            raise errors.NotFound(f'{resource} "{name}" not found') from None


async def test_requests_are_forwarded_and_answers_streamed_back() -> None:
    seen: list[tuple[str, str, str, bytes, str | None]] = []

    async def target(req: web.Request) -> web.Response:
        seen.append((req.method, req.path_qs, req.headers.get("X-Test", ""),
                     await req.read(), req.headers.get("Authorization")))
        return web.Response(text=f"{req.method} {req.path_qs}", status=201,
                            headers={"X-Answer": "yes"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", target)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    backend = _Backend({
        ("services", "web"): {"metadata": {"name": "web"},
                              "spec": {"ports": [{"port": 80}]}},
        ("endpoints", "web"): {"subsets": [{"addresses": [{"ip": "127.0.0.1"}],
                                            "ports": [{"port": port}]}]},
    })
    api = ApiApp(backend, tokens=None, server_address="127.0.0.1:1")  # type: ignore[arg-type]
    try:
        async with TestClient(TestServer(api.make_app())) as client:
            base = "/api/v1/namespaces/default/services/web:80/proxy"
            r = await client.post(base + "/a/b/?x=1", data=b"body",
                                  headers={"X-Test": "t", "Authorization": "Bearer s"})
            assert r.status == 201 and await r.text() == "POST /a/b/?x=1"
            assert r.headers["X-Answer"] == "yes"
            assert seen == [("POST", "/a/b/?x=1", "t", b"body", None)]
            r = await client.get(base, allow_redirects=False)
            assert r.status == 301 and r.headers["Location"] == base + "/"
            backend.objs[("endpoints", "web")]["subsets"][0]["ports"][0]["port"] = 9
            r = await client.get(base + "/")
            assert r.status == 503
            body = await r.json()
            assert body["reason"] == "ServiceUnavailable"
            assert body["message"].startswith("error trying to reach service: dial tcp "
                                              "127.0.0.1:9: connect:")
    finally:
        await runner.cleanup()
