"""A tiny stand-in API server for the streaming tests and the port-forward benchmark: it
serves just enough for ``kubectl port-forward`` and the official Python client (discovery,
``GET`` of one Running pod, the ``portforward`` subresource routed to
:func:`serve_portforward`), and the pod's "ports" are local servers:

- ``echo``: sends back what it reads, closes on EOF;
- ``source``: reads a decimal byte count and a newline, sends that many bytes, closes;
- ``sink``: reads until EOF, then answers the byte count and a newline;
- ``refused``: a port nothing listens on.

``pods/web/exec`` goes to :func:`serve_spdy_exec` with a local-subprocess session.

Runs its own event loop in a thread so blocking clients (kubectl, the Python client) can
be driven from the test.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
from collections.abc import Coroutine
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from kubesvc.apiserver.http.tls import ensure_tls
from kubesvc.runtime.streaming.dial import dial_pod
from kubesvc.runtime.streaming.portforward import serve_portforward
from kubesvc.runtime.streaming.spdyexec import serve_spdy_exec
from kubesvc.runtime.streaming.transport import close_streams
from tests.fakes.exec import SubprocessSession

KUBECTL = shutil.which("kubectl")
NS, POD, UID = "default", "web", "0b0c7c1e-1111-4a4a-9b9b-000000000001"
T = TypeVar("T")
CHUNK = bytes(range(256)) * 256  # 64 KiB


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


OPEN = {"echo": 0}  # echo connections open now (a dropped client must not leave any)


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    OPEN["echo"] += 1
    try:
        while data := await reader.read(1 << 16):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        OPEN["echo"] -= 1
        writer.close()


async def _source(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        left = int(await reader.readline())
        while left > 0:
            n = min(left, len(CHUNK))
            writer.write(CHUNK[:n])
            await writer.drain()
            left -= n
    except (ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def _sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    got = 0
    try:
        while data := await reader.read(1 << 20):
            got += len(data)
        writer.write(b"%d\n" % got)
        await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def pod_object() -> dict[str, Any]:
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": POD, "namespace": NS, "uid": UID, "resourceVersion": "1"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"phase": "Running", "podIP": "127.0.0.1"}}


async def _pod(_request: web.Request) -> web.Response:
    return web.json_response(pod_object())


async def _discovery(request: web.Request) -> web.Response:
    path = request.path.rstrip("/")
    if path == "/api":
        body: dict[str, Any] = {"kind": "APIVersions", "versions": ["v1"],
                                "serverAddressByClientCIDRs": [
                                    {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    elif path == "/apis":
        body = {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
    else:
        body = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
             "verbs": ["get", "list"], "shortNames": ["po"]},
            {"name": "pods/portforward", "singularName": "", "namespaced": True,
             "kind": "PodPortForwardOptions", "verbs": ["create", "get"]}]}
    return web.json_response(body)


class FakeApiServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``url`` and the three ports."""

    def __init__(self, *, loop: str = "asyncio", tls_dir: Path | None = None) -> None:
        self.tls_dir = tls_dir
        if loop == "uvloop":
            import uvloop

            self.loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        else:
            self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fake-apiserver",
                                       daemon=True)
        self.refused = free_port()
        self.echo = self.source = self.sink = self.port = 0
        self.requests: list[dict[str, str]] = []
        self.stream_creation_timeout = 30.0
        self.idle_timeout: float | None = 4 * 3600.0
        self.exec_session = SubprocessSession()
        self._servers: list[asyncio.Server] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_dir else 'http'}://127.0.0.1:{self.port}"

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> FakeApiServer:
        self.thread.start()
        self.run(self._start())
        return self

    async def _start(self) -> None:
        for handler, attr in ((_echo, "echo"), (_source, "source"), (_sink, "sink")):
            srv = await asyncio.start_server(handler, "127.0.0.1", 0)
            self._servers.append(srv)
            setattr(self, attr, srv.sockets[0].getsockname()[1])
        app = web.Application()
        app.on_shutdown.append(close_streams)
        app.router.add_get("/api", _discovery)
        app.router.add_get("/apis", _discovery)
        app.router.add_get("/api/v1", _discovery)
        app.router.add_get(f"/api/v1/namespaces/{NS}/pods/{POD}", _pod)
        app.router.add_route("*", "/api/v1/namespaces/{ns}/pods/{pod}/portforward",
                             self._portforward)
        app.router.add_route("*", "/api/v1/namespaces/{ns}/pods/{pod}/exec", self._exec)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        ctx = ensure_tls(self.tls_dir).server_context() if self.tls_dir else None
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _portforward(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"method": request.method,
                              "upgrade": request.headers.get("Upgrade", ""),
                              "protocols": request.headers.get("Sec-WebSocket-Protocol", "")
                              or request.headers.get("X-Stream-Protocol-Version", "")})
        connect = partial(dial_pod, sandbox=UID, pod_ip="127.0.0.1")
        return await serve_portforward(request, connect, pod=UID,
                                       stream_creation_timeout=self.stream_creation_timeout,
                                       idle_timeout=self.idle_timeout)

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"method": request.method,
                              "upgrade": request.headers.get("Upgrade", ""),
                              "protocols": request.headers.get("Sec-WebSocket-Protocol", "")
                              or request.headers.get("X-Stream-Protocol-Version", "")})
        return await serve_spdy_exec(request, self.exec_session,
                                     stream_creation_timeout=self.stream_creation_timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()
            for srv in self._servers:
                srv.close()
                await srv.wait_closed()
        try:
            self.run(_stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {
                "server": self.url, **({"insecure-skip-tls-verify": True} if self.tls_dir
                                       else {})}}],
            "users": [{"name": "fake", "user": {"token": "t"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                       "namespace": NS}}]}))
        return path


def main() -> None:
    """``python -m tests.integration.streaming.harness [--uvloop]``: serve until killed,
    after printing one JSON line with the URL and the ports (used by
    benchmarks/portforward.py, so the load generator runs in another process)."""
    import signal
    import sys

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})  # before threads
    server = FakeApiServer(loop="uvloop" if "--uvloop" in sys.argv else "asyncio").start()
    print(json.dumps({"url": server.url, "echo": server.echo, "source": server.source,
                      "sink": server.sink, "refused": server.refused}), flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    server.stop()


if __name__ == "__main__":
    main()
