"""Load limits: max in-flight (429 with Retry-After, long-running requests exempt,
system:masters exempt), the request timeout (504), and connections that send nothing
(TLS handshake and idle keep-alive timeouts)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from kubesvc.apiserver.http.app import ApiApp
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.limits import Limits
from kubesvc.apiserver.http.server import ApiServer
from kubesvc.apiserver.registry import Registry
from kubesvc.storage.memory import MemoryStore

CM = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def reg() -> AsyncIterator[Registry]:
    r = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await r.start()
    yield r
    await r.stop()


class _Gate:
    """A GET handler hook that holds every request until released."""

    def __init__(self) -> None:
        self.entered = 0
        self.release = asyncio.Event()

    async def get(self, request: web.Request, target: Any) -> web.Response:
        self.entered += 1
        await self.release.wait()
        return web.json_response({"kind": "ConfigMap"})


async def _until(cond: Any) -> None:
    for _ in range(500):
        if cond():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_over_the_inflight_limit_is_429_with_retry_after(reg: Registry) -> None:
    app = ApiApp(reg, tokens=None, server_address="127.0.0.1:1",
                 limits=Limits(max_requests_inflight=1, max_mutating_requests_inflight=1))
    gate = _Gate()
    app.crud.get = gate.get  # type: ignore[method-assign]
    async with TestClient(TestServer(app.make_app())) as client:
        held = asyncio.create_task(client.get(f"{CM}/a"))
        await _until(lambda: gate.entered == 1)
        resp = await client.get(f"{CM}/b")
        assert resp.status == 429 and resp.headers["Retry-After"] == "1"
        body = await resp.json()
        assert body["reason"] == "TooManyRequests" and body["code"] == 429
        assert body["message"] == "Too many requests, please try again later."
        # mutating requests have their own limit, and watches are not counted
        created = await client.post(CM, json={"metadata": {"name": "c"}})
        assert created.status == 201
        watch = await client.get(CM, params={"watch": "true", "timeoutSeconds": "1"})
        assert watch.status == 200
        watch.close()
        gate.release.set()
        assert (await held).status == 200
        again = await client.get(f"{CM}/c")
        assert again.status == 200
    assert app.limits.inflight == 0 and app.limits.mutating_inflight == 0


async def test_system_masters_are_served_over_the_limit() -> None:
    limits = Limits(max_requests_inflight=1)
    limits.inflight = 1  # the limit is reached
    request: Any = type("R", (), {"method": "GET"})()

    async def ok() -> web.StreamResponse:
        return web.Response(status=200)

    admin = User("admin", "", ("system:masters", "system:authenticated"))
    other = User("bob", "", ("system:authenticated",))
    assert (await limits.serve(request, admin, ok, long_running=False)).status == 200
    assert (await limits.serve(request, other, ok, long_running=False)).status == 429
    assert (await limits.serve(request, other, ok, long_running=True)).status == 200


async def test_a_request_over_the_request_timeout_is_504(reg: Registry) -> None:
    app = ApiApp(reg, tokens=None, server_address="127.0.0.1:1",
                 limits=Limits(request_timeout=0.2))
    gate = _Gate()
    app.crud.get = gate.get  # type: ignore[method-assign]
    async with TestClient(TestServer(app.make_app())) as client:
        resp = await client.get(f"{CM}/a")
        assert resp.status == 504
        body = await resp.json()
        assert body["reason"] == "Timeout" and body["code"] == 504
        assert body["message"] == ("Timeout: request did not complete within requested "
                                   "timeout - context deadline exceeded")
    assert app.limits.inflight == 0


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


async def test_connections_that_send_nothing_are_closed(reg: Registry, tmp_path: Path) -> None:
    api = ApiServer(reg, data_dir=tmp_path, port=0, tls_handshake_timeout=0.3,
                    keepalive_timeout=0.5)
    await api.start()
    try:
        # connected, no TLS ClientHello: the handshake timeout ends it
        raw = socket.create_connection(("127.0.0.1", api.port))
        closed = await asyncio.to_thread(_closed_by_server, raw, 5.0)
        raw.close()
        assert closed
        # handshake done, no request: the idle keep-alive timeout ends it
        ctx = ssl.create_default_context(cadata=api.ca_pem.decode())
        tls = await asyncio.to_thread(
            lambda: ctx.wrap_socket(socket.create_connection(("127.0.0.1", api.port)),
                                    server_hostname="127.0.0.1"))
        closed = await asyncio.to_thread(_closed_by_server, tls, 5.0)
        tls.close()
        assert closed
    finally:
        await api.stop()
