"""The node agent's streaming server, as the kubelet's ``:10250``: HTTPS with client
certificates, serving

- ``GET|POST /exec/{namespace}/{pod}/{container}?command=..&stdin=&stdout=&stderr=&tty=``
- ``GET|POST /attach/{namespace}/{pod}/{container}?stdin=&stdout=&stderr=&tty=``
- ``GET|POST /portforward/{namespace}/{pod}`` (:mod:`.portforward`: WebSocket and SPDY)
- ``GET /containerLogs/{namespace}/{pod}/{container}?follow=&tailLines=&previous=&...``
- ``GET /healthz``

Authentication: the TLS client certificate must chain to ``client_ca`` (the cluster CA)
and name one of :data:`ALLOWED_USERS` (the API server's ``kube-apiserver-kubelet-client``);
anything else gets 401/403 before a route runs. The serving certificate is self-signed
(made once under ``cert_dir``), as a kubelet's without a serving CA; the API server does not
verify it (upstream's default without ``--kubelet-certificate-authority``). The bound port
is what the agent publishes as ``status.daemonEndpoints.kubeletEndpoint.Port`` of its Node.

exec/attach speak the WebSocket channel protocols (:mod:`.wsexec`), and SPDY/3.1 for an
``Upgrade: SPDY/3.1`` request (:mod:`.spdysession` over :mod:`.spdyexec`).
What runs where comes from a :class:`Node` (the :class:`~kubesvc.runtime.agent.NodeAgent`).
Started by ``kubesvc up`` (host mode) and ``kubesvc agent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions
from kubesvc.runtime.streaming import portforward, spdysession, wsexec
from kubesvc.runtime.streaming.attach import AttachSession
from kubesvc.runtime.streaming.dial import PodDialer
from kubesvc.runtime.streaming.exec import ContainerTarget, ExecSession, StreamSession
from kubesvc.runtime.streaming.transport import close_streams
from kubesvc.runtime.types import LogSource

log = logging.getLogger(__name__)

DEFAULT_PORT = 10250
# The API server's identity towards kubelets (kubeadm's certificate name).
APISERVER_CLIENT_CN = "kube-apiserver-kubelet-client"
ALLOWED_USERS = frozenset({APISERVER_CLIENT_CN})
_CHUNK = 64 * 1024
MAX_REQUEST_LINE = 1 << 20

Connect = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


class Node(Protocol):
    """What the streaming server needs from the node agent."""

    def container_target(self, namespace: str, pod: str, container: str) -> ContainerTarget:
        """The running container; raises errors.NotFound when there is none."""
        ...

    def pod_connector(self, namespace: str, pod: str) -> Connect:
        """How to open a TCP connection to a port of the pod (its own network namespace);
        raises errors.NotFound."""
        ...

    @property
    def log_source(self) -> LogSource: ...


def _flag(q: Any, *names: str) -> bool:
    return any((q.get(n) or "").lower() in ("1", "true") for n in names)


def _plain(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text)


def peer_user(request: web.Request) -> str | None:
    """The CN of the verified client certificate (None without one)."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return None
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None


def ensure_serving_cert(cert_dir: Path, host: str) -> tuple[Path, Path]:
    """A self-signed serving certificate for ``host`` (kept under ``cert_dir``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    cert_path, key_path = cert_dir / "kubelet.crt", cert_dir / "kubelet.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    cert_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{host}@kubesvc")])
    now = dt.datetime.now(dt.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName("localhost")]
    with contextlib.suppress(ValueError):
        sans.append(x509.IPAddress(ipaddress.ip_address(host)))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(key, hashes.SHA256()))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def serving_context(cert_dir: Path, host: str, client_ca: Path) -> ssl.SSLContext:
    cert, key = ensure_serving_cert(cert_dir, host)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(client_ca))
    return ctx


async def serve_spdy_session(request: web.Request, session: StreamSession) -> web.StreamResponse:
    """An exec or attach session over SPDY/3.1 (:mod:`.spdysession`)."""
    return await spdysession.serve_session(request, session)


class StreamingServer:
    """The agent's HTTPS streaming endpoint. ``client_ca`` None: TLS without client
    certificates is refused — every request gets 401 (nothing is served unauthenticated)."""

    def __init__(self, node: Node, *, host: str, port: int = DEFAULT_PORT, cert_dir: Path,
                 client_ca: Path | None, allowed_users: frozenset[str] = ALLOWED_USERS) -> None:
        self.node = node
        self.host = host
        self.port = port
        self.cert_dir = cert_dir
        self.client_ca = client_ca
        self.allowed_users = allowed_users
        self._runner: web.AppRunner | None = None
        self._sessions: set[asyncio.Task[Any]] = set()

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        # live port-forwards and SPDY sessions end at shutdown instead of holding it
        app.on_shutdown.append(close_streams)
        r = app.router
        for verb in ("exec", "attach"):
            r.add_route("GET", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", self._stream)
            r.add_route("POST", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", self._stream)
        r.add_route("GET", "/portforward/{namespace}/{pod}", self._portforward)
        r.add_route("POST", "/portforward/{namespace}/{pod}", self._portforward)
        r.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        r.add_get("/healthz", _healthz)
        return app

    async def start(self) -> int:
        """Listen; returns the bound port."""
        ctx: ssl.SSLContext | None = None
        if self.client_ca is not None:
            ctx = await asyncio.to_thread(serving_context, self.cert_dir, self.host,
                                          self.client_ca)
        else:
            log.warning("streaming server on %s: no client CA, every request is refused",
                        self.host)
            ctx = await asyncio.to_thread(self._no_client_ca_context)
        # The request line carries the whole command (a 20 000-character argument is an
        # upstream e2e case): Go's 1 MiB header limit, as the kubelet and API server have.
        runner = web.AppRunner(self.make_app(), access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5, max_line_size=MAX_REQUEST_LINE,
                               max_field_size=64 << 10)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=ctx)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        return self.port

    def _no_client_ca_context(self) -> ssl.SSLContext:
        cert, key = ensure_serving_cert(self.cert_dir, self.host)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        return ctx

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _auth(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        user = peer_user(request) if self.client_ca is not None else None
        if user is None:
            return _plain(401, "Unauthorized")
        if user not in self.allowed_users:
            return _plain(403, f"Forbidden (user={user}, verb={request.method.lower()}, "
                               f"path={request.path})")
        return await handler(request)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        verb = request.path.split("/", 2)[1]
        q = request.rel_url.query
        stdin, stdout = _flag(q, "stdin", "input"), _flag(q, "stdout", "output")
        stderr, tty = _flag(q, "stderr", "error"), _flag(q, "tty")
        if not (stdin or stdout or stderr):
            return _plain(400, "you must specify at least 1 of stdin, stdout, stderr")
        try:
            target = self.node.container_target(m["namespace"], m["pod"], m["container"])
        except errors.KubeError as exc:
            return _plain(exc.code, exc.message)
        command = q.getall("command", [])
        if verb == "exec" and not command:
            return _plain(400, "you must specify at least one command for the container")
        if verb == "attach":
            point = target.attach
            if point is None:
                return _plain(400, f"container {m['container']} cannot be attached to: its "
                                   "stdio is not held by this agent (a container adopted "
                                   "after an agent restart)")

            async def start() -> StreamSession:
                assert point is not None
                return AttachSession(point, stdin=stdin, tty=tty)
        else:
            async def start() -> StreamSession:
                return await ExecSession.start(target, command, stdin=stdin, stdout=stdout,
                                               stderr=stderr, tty=tty)

        upgrade = request.headers.get("Upgrade", "").lower()
        if upgrade.startswith("spdy/"):
            return await serve_spdy_session(request, await start())
        if upgrade != "websocket":
            return _plain(400, "Upgrade request required")
        return await wsexec.serve_session(request, start, command=command, stdin=stdin,
                                          stdout=stdout, stderr=stderr)

    async def _portforward(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        try:
            connect = self.node.pod_connector(m["namespace"], m["pod"])
        except errors.KubeError as exc:
            return _plain(exc.code, exc.message)
        # containerd names the pod by its sandbox ID (here the pod UID) and no uid.
        sandbox = connect.sandbox if isinstance(connect, PodDialer) else m["pod"]
        return await portforward.serve_portforward(request, connect, pod=sandbox)

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        return await serve_log_stream(request, self.node.log_source)


async def serve_log_stream(request: web.Request, source: LogSource, *,
                           name: str = "") -> web.StreamResponse:
    """``GET .../{namespace}/{pod}/{container}?<LogOptions query>`` from ``source``, chunked
    text (the kubelet's ``/containerLogs``); a Status for bad options or a missing pod.
    ``name``: the pod name upstream's option errors carry (the agent's log socket too)."""
    m = request.match_info
    try:
        opts = LogOptions.from_query(request.rel_url.query, name=name)
        chunks = aiter(source.stream(
            m["namespace"], m["pod"], container=m["container"], follow=opts.follow,
            tail_lines=opts.tail_lines, previous=opts.previous, options=opts))
        first = b""
        with contextlib.suppress(StopAsyncIteration):
            first = await anext(chunks)
    except errors.KubeError as exc:
        return web.json_response(exc.status(), status=exc.code)
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/plain"
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        if first:
            await resp.write(first)
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionError:
        pass
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
    return resp


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")
