"""``ApiServer``: the HTTPS API server around a Registry.

On :meth:`ApiServer.start` it creates (or reuses) the CA, serving certificate, admin
token and ServiceAccount signing key under ``data_dir`` (:mod:`.tls`, :mod:`.auth`,
:mod:`.satoken`), builds the aiohttp application
(:mod:`.app`, with the audit log of :mod:`.audit` when asked) and listens on
``host:port`` (port 0 picks a free port; :attr:`url` tells which). ``kubesvc up``/``kubesvc
server`` construct it with the Registry, a readiness callback (``/readyz``) and, later, the
node agent's :class:`LogSource` (``pods/log``).

Connections cannot hold the server forever: a TLS handshake must finish within
``tls_handshake_timeout`` and an idle keep-alive connection (including one that never sends
a request) is closed after ``keepalive_timeout`` (upstream's serving IdleTimeout, 90 s);
requests are bounded by :class:`.limits.Limits`. A request line longer than
``MAX_REQUEST_LINE`` (upstream's 1 MiB header budget) answers 414 and a header field longer
than ``MAX_HEADER_FIELD`` 431, each as a Status (aiohttp itself would answer a plain-text 400).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from kubesvc import errors
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.apiserver.http.app import ApiApp, status_response
from kubesvc.apiserver.http.audit import AuditLog, load_policy
from kubesvc.apiserver.http.auth import BootstrapTokenAuthenticator, TokenFile
from kubesvc.apiserver.http.authz import Authz
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.limits import Limits
from kubesvc.apiserver.http.logs import LogSource
from kubesvc.apiserver.http.nodeauthz import NodeAuthorizer
from kubesvc.apiserver.http.proxy import Dialer, direct_dial
from kubesvc.apiserver.http.rbacpolicy import PolicyCache, ensure_bootstrap_policy
from kubesvc.apiserver.http.satoken import (
    DEFAULT_ISSUER,
    ServiceAccountAuthenticator,
    SigningKey,
)
from kubesvc.apiserver.http.streamrelay import KubeletClient, client_context
from kubesvc.apiserver.http.tls import (
    TlsFiles,
    ensure_admin_cert,
    ensure_kubelet_client,
    ensure_tls,
)
from kubesvc.apiserver.http.tokens import JWKS_PATH, TokenIssuer
from kubesvc.apiserver.http.x509auth import X509Authenticator
from kubesvc.apiserver.registry.core import Registry
from kubesvc.metrics.exposition import MetricsSource

__all__ = ["ApiServer", "Limits", "LogSource"]

KEEPALIVE_TIMEOUT = 90.0
TLS_HANDSHAKE_TIMEOUT = 10.0  # Go's http.Transport default; asyncio's would be 60 s
MAX_REQUEST_LINE = 1 << 20  # Go's http.DefaultMaxHeaderBytes, which kube-apiserver keeps
MAX_HEADER_FIELD = 64 << 10  # one header line; aiohttp keeps at most 128 of them


class _Handler(RequestHandler):
    """aiohttp's connection handler, with an over-long request line or header answered as a
    Kubernetes Status (414 / 431) instead of aiohttp's plain-text 400."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, LineTooLong) or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        err: errors.KubeError
        if len(exc.args) > 1 and exc.args[1] == MAX_REQUEST_LINE:
            err = errors.RequestURITooLong(
                f"the request line is longer than {MAX_REQUEST_LINE} bytes")
        else:
            err = errors.RequestHeaderFieldsTooLarge(
                f"a request header field is longer than {MAX_HEADER_FIELD} bytes")
        resp = status_response(err)
        resp.force_close()  # the parser cannot find the next request on this connection
        return resp


def _handler_factory(server: web.Server) -> Callable[[], RequestHandler]:
    """Connections of ``server`` served by :class:`_Handler` (``web.Server.__call__`` builds a
    plain RequestHandler with the same arguments)."""
    kwargs = dict(server._kwargs)
    return lambda: _Handler(server, loop=server._loop, **kwargs)


class _TCPSite(web.TCPSite):
    """aiohttp's TCPSite with a TLS handshake timeout (it does not pass one on)."""

    __slots__ = ("_handshake_timeout",)

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 ssl_context: ssl.SSLContext, handshake_timeout: float, backlog: int) -> None:
        super().__init__(runner, host, port, ssl_context=ssl_context,
                         reuse_address=True, backlog=backlog)
        self._handshake_timeout = handshake_timeout

    async def start(self) -> None:
        self._runner._reg_site(self)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            _handler_factory(server), self._host, self._port, ssl=self._ssl_context,
            backlog=self._backlog, reuse_address=self._reuse_address,
            ssl_handshake_timeout=self._handshake_timeout,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


def _host_for_url(host: str) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]"
    except ValueError:
        pass
    return host


class ApiServer:
    """HTTPS + bearer-token API server. Not restartable: make a new one after stop()."""

    def __init__(
        self,
        registry: Backend,
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 6443,
        extra_sans: Iterable[str] = (),
        readiness: Callable[[], Mapping[str, bool]] | None = None,
        log_source: LogSource | None = None,
        unix_socket: Path | None = None,
        dial: Dialer = direct_dial,
        limits: Limits | None = None,
        min_request_timeout: int = 1800,
        keepalive_timeout: float = KEEPALIVE_TIMEOUT,
        tls_handshake_timeout: float = TLS_HANDSHAKE_TIMEOUT,
        audit_log_path: Path | None = None,
        audit_policy_file: Path | None = None,
        service_account_issuer: str = DEFAULT_ISSUER,
        anonymous_auth: bool = True,
        client_ca_file: Path | None = None,
        unix_socket_tls: bool = False,
        authorization_mode: str = "Node,RBAC",
    ) -> None:
        """``client_ca_file``: the CA client certificates must chain to (upstream's
        ``--client-ca-file``); the cluster CA when None. ``unix_socket_tls``: the unix
        socket speaks TLS too (relayed to netns node agents, who authenticate with client
        certificates), instead of plain HTTP."""
        self.unix_socket_tls = unix_socket_tls
        self.client_ca_file = client_ca_file
        if authorization_mode not in ("Node,RBAC", "AlwaysAllow"):
            raise ValueError(f"authorization mode {authorization_mode!r}: Node,RBAC or "
                             "AlwaysAllow")
        # AlwaysAllow (upstream's --authorization-mode=AlwaysAllow): benchmarks compare it
        self.authorization_mode = authorization_mode
        self.registry = registry
        self.service_account_issuer = service_account_issuer  # --service-account-issuer
        self.anonymous_auth = anonymous_auth  # --anonymous-auth
        self.limits = limits if limits is not None else Limits()
        self.min_request_timeout = min_request_timeout
        self.keepalive_timeout = keepalive_timeout
        self.tls_handshake_timeout = tls_handshake_timeout
        self.audit_log_path = audit_log_path
        self.audit_policy_file = audit_policy_file
        self._audit: AuditLog | None = None
        # Optional listener on a unix socket (same auth; plain HTTP unless unix_socket_tls):
        # in netns mode the node agents reach the server through it, as sockets cross
        # namespaces.
        self.unix_socket = unix_socket
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.extra_sans = tuple(extra_sans)
        self.readiness = readiness
        self.log_source = log_source
        self.dial = dial  # how the services/pods proxy reaches pod addresses
        self._runner: web.AppRunner | None = None
        self._api: ApiApp | None = None
        self._ca_pem = b""
        self._tokens: TokenFile | None = None
        self._rbac_stop = asyncio.Event()
        self._rbac_task: asyncio.Task[None] | None = None
        self.policy: PolicyCache | None = None
        self.tls: TlsFiles | None = None
        self.node_authorizer: NodeAuthorizer | None = None
        self._node_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """``https://host:port`` (a wildcard host is advertised as the loopback address)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        return f"https://{_host_for_url(host)}:{self.port}"

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate (PEM) that signed the serving certificate."""
        if not self._ca_pem:
            raise RuntimeError("ApiServer.start() has not run")
        return self._ca_pem

    @property
    def tokens(self) -> TokenFile:
        """The static token file (``issue()`` adds tokens for agents and components)."""
        if self._tokens is None:
            raise RuntimeError("ApiServer.start() has not run")
        return self._tokens

    def admin_cert(self) -> tuple[bytes, bytes]:
        """``(cert PEM, key PEM)`` of ``kubernetes-admin`` in ``system:masters`` (the
        client certificate kubeadm puts in admin.conf), issued by the cluster CA."""
        if self.tls is None:
            raise RuntimeError("ApiServer.start() has not run")
        return ensure_admin_cert(self.tls)

    def authorize(self, attrs: Attributes) -> bool:
        """One SubjectAccessReview against this server's authorizer (for in-process
        controllers, which cannot POST reviews)."""
        if self._api is None or self._api.authz is None:
            raise RuntimeError("ApiServer.start() has not run")
        return self._api.authz.decide(attrs).allowed

    @property
    def authz(self) -> Authz:
        """The authorizer every request (and every in-process identity) is judged by."""
        if self._api is None or self._api.authz is None:
            raise RuntimeError("ApiServer.start() has not run")
        return self._api.authz

    @property
    def token(self) -> str:
        """The admin bearer token (user ``kubernetes-admin``, group ``system:masters``)."""
        return self.tokens.admin_token

    async def start(self) -> None:
        """Create/reuse TLS material and tokens under ``data_dir`` and start listening."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        sans = [self.host, *self.extra_sans] if self.host not in ("0.0.0.0", "::") else [
            *self.extra_sans, socket.gethostname()]
        # As kube-apiserver: the `kubernetes` Service's ClusterIP (the first address of the
        # service range) is a name of the server, so in-cluster clients verify it.
        if isinstance(self.registry, Registry):
            sans.append(self.registry.ips.nth(1))
        tls = await asyncio.to_thread(ensure_tls, self.data_dir, extra_sans=sans)
        self._ca_pem = tls.ca_pem
        kcert, kkey = await asyncio.to_thread(ensure_kubelet_client, self.data_dir)
        self._tokens = TokenFile.load_or_create(self.data_dir / "tokens.csv")
        sa_key = await asyncio.to_thread(SigningKey.load_or_create,
                                         self.data_dir / "pki" / "sa.key")
        sa_tokens = TokenIssuer(sa_key, ServiceAccountAuthenticator(
            [sa_key], get=self._get_object, issuers=[self.service_account_issuer]))
        if isinstance(self.registry, Registry):  # in-process callers' TokenRequests
            self.registry.token_requests = functools.partial(sa_tokens.token_request,
                                                             backend=self.registry)
        if self.audit_log_path is not None:
            rules = load_policy(self.audit_policy_file) if self.audit_policy_file else None
            self._audit = AuditLog(self.audit_log_path, rules)
        ssl_ctx = tls.server_context(client_ca_file=self.client_ca_file)
        self.tls = tls
        # RBAC: the bootstrap policy first, then serve only once the caches hold it (as
        # upstream waits for its RBAC informers), so no request is judged on empty ones.
        await ensure_bootstrap_policy(self.registry)
        self.policy = PolicyCache(self.registry)
        self._rbac_task = asyncio.get_running_loop().create_task(
            self.policy.run(self._rbac_stop), name="apiserver-rbac")
        self.node_authorizer = NodeAuthorizer(self.registry)
        self._node_task = asyncio.get_running_loop().create_task(
            self.node_authorizer.run(self._rbac_stop), name="apiserver-node-authorizer")
        await asyncio.wait_for(self.policy.wait_synced(), timeout=30)
        await asyncio.wait_for(self.node_authorizer.wait_synced(), timeout=30)
        self._api = ApiApp(
            self.registry, tokens=self._tokens,
            server_address=self.url.removeprefix("https://"),
            readiness=self.readiness, log_source=self.log_source, dial=self.dial,
            limits=self.limits,
            bootstrap=BootstrapTokenAuthenticator(self._get_secret), audit=self._audit,
            authz=(Authz(self.policy, self.registry, node=self.node_authorizer)
                   if self.authorization_mode != "AlwaysAllow" else None),
            service_accounts=sa_tokens, anonymous=self.anonymous_auth, x509=X509Authenticator(),
            kubelet=KubeletClient(self.dial, client_context(str(kcert), str(kkey))),
        )
        self._api.watcher.min_request_timeout = self.min_request_timeout
        # handler_cancellation: a watch ends when its client disconnects; writes are
        # shielded in the handlers so that they complete regardless.
        runner = web.AppRunner(
            self._api.make_app(), access_log=None, handler_cancellation=True,
            shutdown_timeout=1.0, keepalive_timeout=self.keepalive_timeout,
            max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_HEADER_FIELD,
        )
        await runner.setup()
        site = _TCPSite(runner, self.host, self.port, ssl_context=ssl_ctx,
                        handshake_timeout=self.tls_handshake_timeout, backlog=1024)
        await site.start()
        if self.unix_socket is not None:
            self.unix_socket.unlink(missing_ok=True)
            await web.UnixSite(runner, str(self.unix_socket),
                               ssl_context=ssl_ctx if self.unix_socket_tls else None).start()
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        self._api.set_server_address(self.url.removeprefix("https://"))
        sa_tokens.jwks_uri = self.url + JWKS_PATH  # upstream: the external address

    def add_metrics_source(self, name: str, source: MetricsSource) -> None:
        """A component whose metrics ``/ui/metrics`` gathers (after :meth:`start`)."""
        assert self._api is not None, "start the API server first"
        self._api.ui_metrics.add(name, source)

    async def _get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.registry.get("secrets", name, namespace=namespace)

    async def _get_object(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        return await self.registry.get(resource, name, namespace=namespace or None)

    async def stop(self) -> None:
        """End open watches and log streams, then close the listener."""
        if self._api is not None:
            await self._api.watcher.close_all()
            if self._api.kubelet is not None:
                self._api.kubelet.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._rbac_stop.set()
        if self._rbac_task is not None:
            await self._rbac_task
            self._rbac_task = None
        if self._node_task is not None:
            await self._node_task
            self._node_task = None
        if self.unix_socket is not None:
            self.unix_socket.unlink(missing_ok=True)
        if self._audit is not None:
            self._audit.close()
            self._audit = None

