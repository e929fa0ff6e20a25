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

import pytest

from kubesvc.ingress.haproxy import HAProxy, HAProxyError, find_haproxy
from kubesvc.ingress.render import Inputs, Settings, render

BINARY = find_haproxy()
pytestmark = pytest.mark.skipif(BINARY is None, reason="needs haproxy (scripts/system-deps.sh)")


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


def inputs(port: int, path: str = "/") -> Inputs:
    return Inputs(
        classes=[], services=[{"metadata": {"name": "web", "namespace": "default"},
                               "spec": {"ports": [{"name": "http", "port": 80}]}}],
        slices=[{"metadata": {"name": "web-1", "namespace": "default",
                              "labels": {"kubernetes.io/service-name": "web"}},
                 "ports": [{"name": "http", "port": port}],
                 "endpoints": [{"addresses": ["127.0.0.1"]}]}],
        ingresses=[{"metadata": {"name": "i", "namespace": "default"},
                    "spec": {"ingressClassName": "kubesvc", "rules": [{"http": {"paths": [
                        {"path": path, "pathType": "Prefix", "backend": {"service": {
                            "name": "web", "port": {"number": 80}}}}]}}]}}])


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, ""


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
            for i in range(1, 9):  # alternate two structurally different configurations
                out = render(inputs(backend_port, "/a" if i % 2 else "/"), settings)
                await hp.apply(out.config, out.files)
                await asyncio.sleep(0.1)
        finally:
            done.set()
            for t in threads:
                await asyncio.to_thread(t.join)
        assert hp.reloads == 8
        assert count > 20 and failures == []
        out = render(inputs(backend_port, "/other"), settings)
        await hp.apply(out.config, out.files)
        assert (await asyncio.to_thread(fetch, url + "/x"))[0] == 404
    finally:
        await hp.close()
