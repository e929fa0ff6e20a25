"""The HAProxy data plane for real (skipped without haproxy): start, a bad configuration
refused while the old one keeps serving, and reloads under a request loop dropping nothing."""

from __future__ import annotations

import asyncio
import http.server
import random
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc.ingress.haproxy import (
    HAProxy,
    HAProxyError,
    find_haproxy,
    map_commands,
    runtime_commands,
    server_changes,
    split_servers,
)
from kubesvc.ingress.render import Inputs, Settings, render
from tests.unit.ingress.test_render import self_signed, tls_secret

BINARY = find_haproxy()
needs_haproxy = pytest.mark.skipif(BINARY is None,
                                   reason="needs haproxy (scripts/system-deps.sh)")


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionResetError:  # HAProxy closing an idle keep-alive connection
            pass


@pytest.fixture
def backend_port() -> Iterator[int]:
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield int(srv.server_address[1])
    srv.shutdown()
    srv.server_close()


def inputs(port: int, path: str = "/", ips: tuple[str, ...] = ("127.0.0.1",), *,
           tls: tuple[bytes, bytes] | None = None) -> Inputs:
    ins = Inputs(
        classes=[], services=[{"metadata": {"name": "web", "namespace": "default"},
                               "spec": {"ports": [{"name": "http", "port": 80}]}}],
        slices=[{"metadata": {"name": "web-1", "namespace": "default",
                              "labels": {"kubernetes.io/service-name": "web"}},
                 "ports": [{"name": "http", "port": port}],
                 "endpoints": [{"addresses": [ip]} for ip in ips]}],
        ingresses=[{"metadata": {"name": "i", "namespace": "default"},
                    "spec": {"ingressClassName": "kubesvc", "rules": [{"http": {"paths": [
                        {"path": path, "pathType": "Prefix", "backend": {"service": {
                            "name": "web", "port": {"number": 80}}}}]}}]}}])
    if tls is None:
        return ins
    ing = ins.ingresses[0]
    ing["spec"]["tls"] = [{"hosts": ["secure.test"], "secretName": "cert"}]
    return Inputs(classes=[], services=ins.services, slices=ins.slices, ingresses=[ing],
                  secrets=[tls_secret("cert", *tls)])


def route(name: str, host: str, path: str, svc: str, typ: str = "Prefix") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"ingressClassName": "kubesvc", "rules": [{"host": host, "http": {
                "paths": [{"path": path, "pathType": typ, "backend": {"service": {
                    "name": svc, "port": {"number": 80}}}}]}}]}}


def service(name: str, port: int) -> tuple[dict[str, Any], dict[str, Any]]:
    return ({"metadata": {"name": name, "namespace": "default"},
             "spec": {"ports": [{"name": "http", "port": 80}]}},
            {"metadata": {"name": f"{name}-1", "namespace": "default",
                          "labels": {"kubernetes.io/service-name": name}},
             "ports": [{"name": "http", "port": port}],
             "endpoints": [{"addresses": ["127.0.0.1"]}]})


def fetch(url: str | urllib.request.Request) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, ""


@needs_haproxy
async def test_start_refuse_bad_and_reload_without_drops(tmp_path: Path,
                                                         backend_port: int) -> None:
    assert BINARY is not None
    addr = f"127.{random.randint(2, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
    port = random.randint(20000, 29999)
    settings = Settings(address=addr, config_dir=str(tmp_path / "ing"), http_port=port)
    hp = HAProxy(tmp_path / "ing", binary=BINARY)
    try:
        out = render(inputs(backend_port), settings)
        await hp.apply(out.config, out.files)
        url = f"http://{addr}:{port}"
        assert await asyncio.to_thread(fetch, url + "/x") == (200, "hello /x")

        with pytest.raises(HAProxyError, match="rejected"):
            await hp.apply(out.config + "backend\n  bogus directive\n", out.files)
        assert await asyncio.to_thread(fetch, url + "/x") == (200, "hello /x")

        failures: list[str] = []
        done = threading.Event()
        count = 0

        def load() -> None:
            nonlocal count
            while not done.is_set():
                try:
                    code, _ = fetch(url + "/a/b")
                    if code not in (200, 404):
                        failures.append(str(code))
                except OSError as exc:
                    failures.append(repr(exc))
                count += 1

        threads = [threading.Thread(target=load) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            cert = self_signed("secure.test")
            for i in range(1, 9):  # alternate two structurally different configurations
                out = render(inputs(backend_port, "/a" if i % 2 else "/",
                                    tls=None if i % 2 else cert), settings)
                await hp.apply(out.config, out.files)
                await asyncio.sleep(0.1)
        finally:
            done.set()
            for t in threads:
                await asyncio.to_thread(t.join)
        assert (hp.reloads, hp.runtime_updates) == (7, 1)  # i=1 is only a path: runtime
        assert count > 20 and failures == []
        out = render(inputs(backend_port, "/other"), settings)
        await hp.apply(out.config, out.files)
        assert (await asyncio.to_thread(fetch, url + "/x"))[0] == 404
    finally:
        await hp.close()


def test_split_servers_and_runtime_commands() -> None:
    cfg = ("backend a\n  balance roundrobin\n  server s1 127.0.0.1:80\n"
           "  server s2 0.0.0.0:1 disabled\nbackend b\n  server s1 [::1]:81\n")
    skeleton, servers = split_servers(cfg)
    assert "127.0.0.1" not in skeleton and "  server s2" in skeleton
    assert servers == {("a", "s1"): ("127.0.0.1:80", False), ("a", "s2"): ("0.0.0.0:1", True),
                       ("b", "s1"): ("[::1]:81", False)}
    new = {**servers, ("a", "s1"): ("0.0.0.0:1", True), ("a", "s2"): ("127.0.0.2:80", False),
           ("b", "s1"): ("[::2]:81", False)}
    assert runtime_commands(servers, new) == [
        "set server a/s1 state maint",
        "set server a/s2 addr 127.0.0.2 port 80", "set server a/s2 state ready",
        "set server b/s1 addr ::2 port 81", "set server b/s1 state ready"]


def test_server_changes_and_map_commands() -> None:
    cfg = ("frontend f\n# a\nbackend a\n  server s1 127.0.0.1:80\n"
           "  server s2 0.0.0.0:1 disabled\n")
    new = cfg.replace("# a", "# b").replace("0.0.0.0:1 disabled", "127.0.0.2:80")
    assert server_changes(cfg, new) == ({("a", "s2"): ("0.0.0.0:1", True)},
                                        {("a", "s2"): ("127.0.0.2:80", False)})
    assert server_changes(cfg, cfg.replace("frontend f", "frontend g")) is None
    assert server_changes(cfg, cfg + "backend b\n") is None
    old = b"# m\nh.com/a/ be_1\nh.com/ be_0\ng.com/ be_2\n"
    got = map_commands("P", old, b"# m\nh.com/a/ be_1\nh.com/ be_3\nk.com/ be_4\n",
                       ordered=True)
    assert got is not None and sorted(got) == [
        "add map P k.com/ be_4", "del map P g.com/", "set map P h.com/ be_3"]
    # a longer prefix under a kept one would be shadowed by it if appended: replace whole
    longer = b"# m\nh.com/a/b/ be_5\nh.com/a/ be_1\nh.com/ be_0\ng.com/ be_2\n"
    assert map_commands("P", old, longer, ordered=True) is None
    assert map_commands("P", old, longer) == ["add map P h.com/a/b/ be_5"]  # unordered: fine


@needs_haproxy
async def test_endpoint_changes_go_through_the_runtime_api(tmp_path: Path,
                                                           backend_port: int) -> None:
    assert BINARY is not None
    addr = f"127.{random.randint(2, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
    port = random.randint(20000, 29999)
    settings = Settings(address=addr, config_dir=str(tmp_path / "ing"), http_port=port)
    hp = HAProxy(tmp_path / "ing", binary=BINARY)
    url = f"http://{addr}:{port}/x"
    try:
        out = render(inputs(backend_port, ips=()), settings)
        await hp.apply(out.config, out.files)
        assert (await asyncio.to_thread(fetch, url))[0] == 503  # no endpoints yet
        out = render(inputs(backend_port), settings)
        await hp.apply(out.config, out.files)
        assert await asyncio.to_thread(fetch, url) == (200, "hello /x")
        # a second endpoint (nothing listens there: redispatched), then gone again
        out = render(inputs(backend_port, ips=("127.0.0.1", "127.0.0.2")), settings)
        await hp.apply(out.config, out.files)
        assert "127.0.0.2" in hp.config_path.read_text()
        out = render(inputs(backend_port, ips=("127.0.0.1",)), settings)
        await hp.apply(out.config, out.files)
        codes = [(await asyncio.to_thread(fetch, url))[0] for _ in range(6)]
        assert codes == [200] * 6
        assert (hp.reloads, hp.runtime_updates) == (0, 3)
        # crossing the slot count (4) is structural: a reload
        many = tuple(f"127.0.0.{i}" for i in range(1, 6))
        out = render(inputs(backend_port, ips=many), settings)
        await hp.apply(out.config, out.files)
        assert (hp.reloads, hp.runtime_updates) == (1, 3)
    finally:
        await hp.close()


@needs_haproxy
async def test_new_hosts_paths_and_services_need_no_reload(tmp_path: Path,
                                                         backend_port: int) -> None:
    """Routes are map entries and Services pooled backends: a new Ingress on a new host, a
    longer Prefix added later (it must win: the Prefix map is replaced in order), an Exact
    path and a Service removed are all runtime API updates, served at once."""
    assert BINARY is not None
    addr = f"127.{random.randint(2, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
    port = random.randint(20000, 29999)
    settings = Settings(address=addr, config_dir=str(tmp_path / "ing"), http_port=port)
    hp = HAProxy(tmp_path / "ing", binary=BINARY)

    def get(host: str, p: str) -> tuple[int, str]:
        req = urllib.request.Request(f"http://{addr}:{port}{p}", headers={"Host": host})
        return fetch(req)

    web, web_slice = service("web", backend_port)
    other, other_slice = service("other", 1)  # nothing listens on port 1: a 503
    ings = [route("a", "a.test", "/", "web")]
    state: dict[str, Any] = {"layout": None}

    async def apply(services: list[Any], slices: list[Any]) -> None:
        out = render(Inputs(ingresses=ings, services=services, slices=slices), settings,
                     state["layout"])
        await hp.apply(out.config, out.files)
        state["layout"] = out.layout

    try:
        await apply([web], [web_slice])
        assert await asyncio.to_thread(get, "a.test", "/x") == (200, "hello /x")
        assert (await asyncio.to_thread(get, "b.test", "/x"))[0] == 404
        ings.append(route("b", "b.test", "/", "web"))
        await apply([web], [web_slice])
        assert await asyncio.to_thread(get, "b.test", "/x") == (200, "hello /x")
        ings.append(route("c", "a.test", "/deep/er", "other"))  # a new Service, longer prefix
        ings.append(route("d", "a.test", "/deep", "other", "Exact"))
        await apply([web, other], [web_slice, other_slice])
        assert (await asyncio.to_thread(get, "a.test", "/deep/er/x"))[0] == 503
        assert (await asyncio.to_thread(get, "a.test", "/deep"))[0] == 503
        assert (await asyncio.to_thread(get, "a.test", "/deep/x"))[0] == 200
        assert (await asyncio.to_thread(get, "a.test", "/deep/erx"))[0] == 200
        del ings[2:]
        await apply([web], [web_slice])
        assert (await asyncio.to_thread(get, "a.test", "/deep/er/x"))[0] == 200
        assert (hp.reloads, hp.runtime_updates) == (0, 3)
    finally:
        await hp.close()


@needs_haproxy
async def test_a_master_left_by_a_killed_run_is_stopped(tmp_path: Path,
                                                         backend_port: int) -> None:
    assert BINARY is not None
    addr = f"127.{random.randint(2, 250)}.{random.randint(0, 250)}.{random.randint(2, 250)}"
    settings = Settings(address=addr, config_dir=str(tmp_path / "ing"),
                        http_port=random.randint(20000, 29999))
    out = render(inputs(backend_port), settings)
    first = HAProxy(tmp_path / "ing", binary=BINARY)
    await first.apply(out.config, out.files)  # then "forgotten", as by a SIGKILLed parent
    second = HAProxy(tmp_path / "ing", binary=BINARY)
    try:
        await second.apply(out.config, out.files)  # would fail to bind if the first lived
        assert first._proc is not None
        assert await asyncio.wait_for(first._proc.wait(), 5) is not None
    finally:
        await second.close()
        await first.close()
