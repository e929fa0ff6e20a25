"""The aiohttp application: one catch-all route that authenticates, routes by path and
method, and turns every error into a ``metav1.Status``.

Routing is done here by hand (a path split, no regex table) to keep per-request overhead
low: non-resource paths (``/version``, health, discovery, OpenAPI) first, then resource
paths parsed by :mod:`.paths` and dispatched to :class:`.crud.Crud`, :class:`.watch.Watcher`,
:func:`.logs.serve_log`, :func:`.proxy.serve_proxy`, :func:`.streamrelay.serve_connect`
(exec, attach, portforward to the pod's node agent), the ServiceAccount token endpoints of
:mod:`.tokens` (TokenRequest, TokenReview, OIDC discovery) or, for the other create-only
reviews, :func:`.reviews.serve`. Authentication is upstream's chain: the token file, then
bootstrap tokens, then ServiceAccount JWTs; a request without a bearer token is
``system:anonymous`` (unless anonymous auth is off: 401) and RBAC decides for it as for
anyone. Every request then passes :class:`.limits.Limits` (max in-flight, request
timeout); with an :class:`.audit.AuditLog` each mutating request is written to it once
answered, and every request is counted in :class:`.metrics.ApiMetrics` (served at
``/metrics``). Built by :class:`.server.ApiServer`.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from kubesvc import errors
from kubesvc.api import resources
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.apiserver.http import csradmission, discovery, health, openapi, paths, reviews, ui
from kubesvc.apiserver.http.audit import AuditLog
from kubesvc.apiserver.http.auth import (
    ANONYMOUS,
    BootstrapTokenAuthenticator,
    TokenFile,
    User,
    bearer_token,
)
from kubesvc.apiserver.http.authz import Authz
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.crud import Crud
from kubesvc.apiserver.http.limits import Limits
from kubesvc.apiserver.http.logs import LogSource, serve_log
from kubesvc.apiserver.http.metrics import ApiMetrics
from kubesvc.apiserver.http.negotiation import MAX_BODY_BYTES, encode
from kubesvc.apiserver.http.params import truthy
from kubesvc.apiserver.http.proxy import Dialer, direct_dial, serve_proxy
from kubesvc.apiserver.http.streamrelay import (
    CONNECT_SUBRESOURCES,
    KubeletClient,
    KubeletLogs,
    serve_connect,
)
from kubesvc.apiserver.http.tokens import OIDC_PATHS, TokenIssuer
from kubesvc.apiserver.http.watch import Watcher
from kubesvc.apiserver.http.x509auth import CSR_KEY, X509Authenticator, csr_requester
from kubesvc.metrics.exposition import metrics_response, registry_source

log = logging.getLogger(__name__)

_NOT_FOUND = "the server could not find the requested resource"
_METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource"
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# upstream's long-running check: watches and these subresources
_LONG_RUNNING_SUBRESOURCES = frozenset({"log", "proxy", "exec", "attach", "portforward"})


def status_response(err: errors.KubeError) -> web.Response:
    return web.Response(body=encode(err.status()), status=err.code,
                        content_type="application/json")


@dataclass(slots=True)
class _Static:
    """Discovery documents encoded once (they depend only on the resource table)."""

    api: bytes
    apis: bytes
    agg_core: dict[str, bytes]
    agg_groups: dict[str, bytes]
    groups: dict[str, bytes]
    resource_lists: dict[tuple[str, str], bytes]
    root_paths: bytes


def _build_static(server_address: str) -> _Static:
    from kubesvc.api.resources import groups

    group_docs: dict[str, bytes] = {}
    lists: dict[tuple[str, str], bytes] = {}
    root = ["/.well-known/openid-configuration", "/api", "/api/v1", "/apis", "/healthz",
            "/livez", "/openapi/v2", "/openapi/v3", "/openid/v1/jwks", "/readyz", "/version"]
    for g, versions in groups().items():
        if g:
            doc = discovery.api_group(g)
            assert doc is not None
            group_docs[g] = encode(doc)
            root.append(f"/apis/{g}")
        for v in versions:
            rl = discovery.api_resource_list(g, v)
            assert rl is not None
            lists[(g, v)] = encode(rl)
            if g:
                root.append(f"/apis/{g}/{v}")
    return _Static(
        api=encode(discovery.api_versions(server_address)),
        apis=encode(discovery.api_group_list()),
        agg_core={v: encode(discovery.aggregated(core=True, version=v)) for v in ("v2", "v2beta1")},
        agg_groups={
            v: encode(discovery.aggregated(core=False, version=v)) for v in ("v2", "v2beta1")
        },
        groups=group_docs,
        resource_lists=lists,
        root_paths=encode({"paths": sorted(root)}),
    )


class ApiApp:
    """Request dispatch over one Backend (the Registry)."""

    def __init__(
        self,
        backend: Backend,
        *,
        tokens: TokenFile | None,
        server_address: str,
        readiness: Callable[[], Mapping[str, bool]] | None = None,
        log_source: LogSource | None = None,
        dial: Dialer = direct_dial,
        limits: Limits | None = None,
        bootstrap: BootstrapTokenAuthenticator | None = None,
        audit: AuditLog | None = None,
        authz: Authz | None = None,
        service_accounts: TokenIssuer | None = None,
        anonymous: bool = True,
        x509: X509Authenticator | None = None,
        kubelet: KubeletClient | None = None,
    ) -> None:
        self.backend = backend
        # ServiceAccount tokens (None: no TokenRequest/TokenReview/OIDC, no SA JWTs)
        self.service_accounts = service_accounts
        self.anonymous = anonymous  # --anonymous-auth
        # Client certificates, tried before the bearer tokens (upstream's union order).
        self.x509 = x509
        # How pods/exec, attach, portforward (and logs without a log_source) reach the
        # pod's node agent.
        self.kubelet = kubelet
        self.limits = limits if limits is not None else Limits()
        # RBAC (None: every authenticated caller may do everything, as AlwaysAllow).
        self.authz = authz
        self.dial = dial
        self.tokens = tokens
        self.bootstrap = bootstrap
        self.audit = audit
        self.readiness = readiness
        self.log_source = log_source
        self.crud = Crud(backend)
        self.watcher = Watcher(backend)
        self.server_address = server_address
        self.static = _build_static(server_address)
        self._static_generation = resources.generation()
        self.metrics = ApiMetrics()
        # what /ui/metrics gathers: this server's registry, then what the composition adds
        self.ui_metrics = ui.MetricsSources()
        self.ui_metrics.add("apiserver", registry_source(self.metrics.registry))

    def set_server_address(self, address: str) -> None:
        """The address /api advertises (known only after binding when port was 0)."""
        self.server_address = address
        self.static.api = encode(discovery.api_versions(address))

    def make_app(self) -> web.Application:
        # client_max_size just above the limit so that read() of an oversized chunked body
        # fails fast; crud.read_body answers upstream's 413 Status.
        app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        target = paths.parse(path) if path.startswith(("/api/", "/apis/")) else None
        labels = self.metrics.labels(request, target)
        long_running = labels[0] in ("WATCH", "CONNECT")
        started = time.perf_counter()
        if long_running:
            gauge = self.metrics.longrunning_gauge(labels)
            gauge.inc()
        else:
            kind = self.metrics.started(request)
        code = 500
        try:
            response = await self._audited(request)
            code = response.status
            return response
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            if long_running:
                gauge.dec()
            else:
                self.metrics.finished(kind)
            self.metrics.observe(labels, code, time.perf_counter() - started)

    async def _audited(self, request: web.Request) -> web.StreamResponse:
        if self.audit is None or not self.audit.audited(request):
            return await self._handle(request)
        received = datetime.now(UTC)
        audit_id = str(uuid.uuid4())
        seen: list[User] = []  # the authenticated user (and whom it impersonates)
        response = await self._handle(request, seen)
        if not response.prepared:
            response.headers["Audit-Id"] = audit_id
        try:
            await self.audit.record(request, response, seen[0] if seen else None,
                                    received=received, audit_id=audit_id,
                                    impersonated=seen[1] if len(seen) > 1 else None)
        except Exception:
            log.exception("writing the audit event of %s %s", request.method, request.path)
        return response

    async def _handle(self, request: web.Request,
                      seen: list[User] | None = None) -> web.StreamResponse:
        try:
            path = request.path
            if ui.is_static(path):  # the page and its scripts: no cluster data in them
                return ui.serve_static(request)
            user: User | None = None
            attrs: Attributes | None = None
            if self.tokens is not None:
                user = await self.authenticate(
                    request.headers.get("Authorization") or websocket_bearer(request),
                    request)
                if seen is not None:
                    seen.append(user)
                if self.authz is not None:
                    # Impersonation, then the RBAC decision (upstream's filter order).
                    acting = user
                    user = self.authz.impersonate(request, acting)
                    if seen is not None and user is not acting:
                        seen.append(user)  # the audit event's impersonatedUser
                    attrs = self.authz.authorize_request(request, user)
            target = paths.parse(path) if path.startswith(("/api/", "/apis/")) else None
            long_running = target is not None and (
                target.subresource in _LONG_RUNNING_SUBRESOURCES or target.legacy_watch
                or (request.method in ("GET", "HEAD")
                    and truthy(request.rel_url.query.get("watch"))))
            return await self.limits.serve(
                request, user, lambda: self._route(request, path, user, target, attrs),
                long_running=long_running)
        except errors.KubeError as exc:
            return status_response(exc)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("internal error serving %s %s", request.method, request.path)
            return status_response(errors.InternalError("an error on the server has prevented "
                                                        "the request from succeeding"))

    async def authenticate(self, authorization: str | None,
                           request: web.Request | None = None) -> User:
        """The caller of a request with this Authorization header, through upstream's
        chain: a verified client certificate of ``request`` first, then the bearer token;
        no bearer token at all is anonymous (when allowed), a bearer token no
        authenticator accepts is 401."""
        if request is not None and self.x509 is not None:
            cert_user = self.x509.authenticate(request)
            if cert_user is not None:
                return cert_user
        token = bearer_token(authorization)
        if not token:
            if self.anonymous:
                return ANONYMOUS
            raise errors.Unauthorized("Unauthorized")
        assert self.tokens is not None
        user = self.tokens.authenticate(authorization)
        if user is None and self.bootstrap is not None:
            user = await self.bootstrap.authenticate(authorization)
        if user is None and self.service_accounts is not None:
            user = (await self.service_accounts.authenticator.authenticate(token)).user
        if user is None:
            raise errors.Unauthorized("Unauthorized")
        return user

    async def _route(self, request: web.Request, path: str, user: User | None,
                     target: paths.Target | None,
                     attrs: Attributes | None = None) -> web.StreamResponse:
        if path.startswith(("/api/", "/apis/")):
            if target is not None:
                if self.authz is not None and attrs is not None:
                    await self.authz.check_rbac_write(request, target, attrs)
                    if target.subresource == "approval":
                        await csradmission.check(request, target, user, authz=self.authz,
                                                 backend=self.backend)
                    await self.authz.admit_node(request, target, attrs)
                return await self._resource(request, target, user)
            return self._discovery(request, path)
        method = request.method
        if method not in ("GET", "HEAD"):
            if path in ("/api", "/apis", "/version") or path.startswith("/openapi"):
                raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
            raise errors.NotFound(_NOT_FOUND)
        if path in ("/api", "/apis"):
            return self._discovery(request, path)
        if path in ("/version", "/version/"):
            return health.version(request)
        for endpoint in ("healthz", "livez", "readyz"):
            if path == f"/{endpoint}" or path.startswith(f"/{endpoint}/"):
                checks = self._readiness() if endpoint == "readyz" else {}
                return health.health(request, endpoint, checks)
        if path == "/openapi/v3" or path == "/openapi/v3/":
            return openapi.v3_index(request)
        if path.startswith("/openapi/v3/"):
            return openapi.v3_document(request, path[len("/openapi/v3/"):])
        if path == "/openapi/v2":
            return openapi.v2(request)
        if path == "/metrics":
            return metrics_response([self.metrics.registry])
        if path == ui.METRICS_PATH:
            return await self.ui_metrics.serve(request)
        if path == "/":
            return web.Response(body=self.static.root_paths, content_type="application/json")
        if path in OIDC_PATHS and self.service_accounts is not None:
            return self.service_accounts.serve_oidc(request, path)
        raise errors.NotFound(_NOT_FOUND)

    def _readiness(self) -> Mapping[str, bool]:
        if self.readiness is None:
            return {}
        try:
            return self.readiness()
        except Exception:
            log.exception("readiness callback failed")
            return {"readiness-callback": False}

    def _discovery(self, request: web.Request, path: str) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            raise errors.NotFound(_NOT_FOUND)
        if self._static_generation != resources.generation():
            # the served custom resources changed: rebuild the documents once
            self._static_generation = resources.generation()
            self.static = _build_static(self.server_address)
        s = self.static
        parts = path.strip("/").split("/")
        body: bytes | None = None
        content_type = "application/json"
        if parts[0] in ("api", "apis") and len(parts) == 1:
            agg = discovery.wants_aggregated(request.headers.get("Accept", ""))
            if agg:
                body = (s.agg_core if parts[0] == "api" else s.agg_groups)[agg]
                content_type = discovery.AGGREGATED_MEDIA.format(v=agg)
            else:
                body = s.api if parts[0] == "api" else s.apis
        elif parts[0] == "api" and len(parts) == 2:
            body = s.resource_lists.get(("", parts[1]))
        elif parts[0] == "apis" and len(parts) == 2:
            body = s.groups.get(parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            body = s.resource_lists.get((parts[1], parts[2]))
        if body is None:
            raise errors.NotFound(_NOT_FOUND)
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = content_type
        return resp

    async def _resource(self, request: web.Request, target: paths.Target,
                        user: User | None) -> web.StreamResponse:
        method = request.method
        info = target.info
        verbs = info.verbs
        sub = target.subresource
        if sub == "token":  # serviceaccounts/NAME/token: a TokenRequest
            if method != "POST" or self.service_accounts is None:
                raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
            return await self.service_accounts.serve_token_request(request, target,
                                                                   self.backend)
        if sub == "proxy":
            return await serve_proxy(request, target, backend=self.backend, dial=self.dial,
                                     proxy_path=target.proxy_path)
        if sub in CONNECT_SUBRESOURCES and info.key == "pods":
            if method not in ("GET", "POST"):
                raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
            if self.kubelet is None:
                raise errors.ServiceUnavailable(f"{sub} is not served: the API server has no "
                                                "connection to node agents")
            with self.watcher.track():
                return await serve_connect(request, target, backend=self.backend,
                                           kubelet=self.kubelet)
        if method in ("GET", "HEAD"):
            watching = target.legacy_watch or truthy(request.rel_url.query.get("watch"))
            if sub == "log":
                with self.watcher.track():
                    source = self.log_source
                    if source is None and self.kubelet is not None:
                        source = KubeletLogs(self.backend, self.kubelet)
                    return await serve_log(request, target, backend=self.backend,
                                           source=source)
            if sub and not watching:
                return await self.crud.get(request, target)
            if watching:
                _need(verbs, "watch")
                return await self.watcher.watch(request, target)
            if target.name:
                _need(verbs, "get")
                return await self.crud.get(request, target)
            _need(verbs, "list")
            return await self.crud.list(request, target)
        if target.legacy_watch or method not in _WRITE_METHODS:
            raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
        if method == "POST":
            if not info.stored and not target.name and not sub:
                if info.namespaced and target.namespace is None:
                    raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
                _need(verbs, "create")
                if info.kind == "TokenReview" and self.service_accounts is not None:
                    return await self.service_accounts.serve_token_review(
                        request, info, target.namespace)
                return await reviews.serve(request, info, user, authz=self.authz,
                                           namespace=target.namespace)
            if sub == "binding":
                return await self.crud.binding(request, target)
            if sub == "eviction":
                return await self.crud.eviction(request, target)
            if target.name or (info.namespaced and target.namespace is None):
                raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
            _need(verbs, "create")
            return await self.crud.create(
                request, target,
                prepare=csr_requester(info, user) if info.key == CSR_KEY else None)
        if not target.name:
            if method == "DELETE" and not (info.namespaced and target.namespace is None):
                _need(verbs, "deletecollection")
                return await self.crud.delete_collection(request, target)
            raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
        if sub in ("log", "binding", "eviction"):
            raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
        if method == "PUT":
            if not sub:
                _need(verbs, "update")
            return await self.crud.update(request, target)
        if method == "PATCH":
            if sub == "finalize":
                raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
            if not sub:
                _need(verbs, "patch")
            return await self.crud.patch(request, target)
        if sub:
            raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)
        _need(verbs, "delete")
        return await self.crud.delete(request, target)


_WS_BEARER = "base64url.bearer.authorization.k8s.io."


def websocket_bearer(request: web.Request) -> str | None:
    """A browser's WebSocket cannot send an Authorization header: upstream takes the token
    from a ``base64url.bearer.authorization.k8s.io.<base64url token>`` subprotocol."""
    for proto in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        proto = proto.strip()
        if proto.startswith(_WS_BEARER):
            raw = proto[len(_WS_BEARER):]
            try:
                token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
            except (ValueError, UnicodeDecodeError):
                return None
            return f"Bearer {token}"
    return None


def _need(verbs: tuple[str, ...], verb: str) -> None:
    if verb not in verbs:
        raise errors.MethodNotAllowed(_METHOD_NOT_ALLOWED)

