"""The API server's own metrics under kube-apiserver's names, served at ``/metrics``:
``apiserver_request_total`` and ``apiserver_request_duration_seconds`` (labelled as
upstream's ``endpoints/metrics``: canonical verb, dry_run, group, version, resource,
subresource, scope, component, code), ``apiserver_current_inflight_requests`` by request
kind, ``apiserver_longrunning_requests`` for open watches and streams, and the process
collector's ``process_*``. :class:`.app.ApiApp` calls :meth:`ApiMetrics.observe` once per
answered request."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import Counter, Gauge, Histogram, ProcessCollector

from kubesvc.apiserver.http.paths import Target
from kubesvc.metrics import new_registry

COMPONENT = "apiserver"
# upstream's requestLatencies buckets
_DURATION_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0,
                     4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
_REQUEST_LABELS = ("verb", "dry_run", "group", "version", "resource", "subresource", "scope",
                   "component")
_LONGRUNNING_LABELS = ("verb", "group", "version", "resource", "subresource", "scope",
                       "component")
# Non-resource paths are reported with the path as subresource, as upstream does for its
# own handlers; any other path is one "other" series so that a client cannot grow the
# label set without bound.
_NON_RESOURCE = frozenset({"/healthz", "/livez", "/readyz", "/version", "/openapi/v2",
                           "/openapi/v3", "/metrics", "/api", "/apis", "/"})
_CONNECT_SUBRESOURCES = frozenset({"proxy", "exec", "attach", "portforward"})
_APPLY_PATCH = "application/apply-patch+yaml"


def canonical_verb(request: web.Request, target: Target | None) -> str:
    """The verb label: LIST/GET/WATCH for reads, APPLY for server-side apply, CONNECT for
    streaming subresources, DELETECOLLECTION, else the HTTP method."""
    method = request.method
    if target is None:
        return method
    if target.subresource in _CONNECT_SUBRESOURCES:
        return "CONNECT"
    if method in ("GET", "HEAD"):
        if target.legacy_watch or request.rel_url.query.get("watch") in ("1", "true", "True"):
            return "WATCH"
        return "GET" if target.name else "LIST"
    if method == "PATCH" and request.content_type == _APPLY_PATCH:
        return "APPLY"
    if method == "DELETE" and not target.name:
        return "DELETECOLLECTION"
    return method


def scope(target: Target | None) -> str:
    if target is None:
        return ""
    if target.name:
        return "resource"
    return "namespace" if target.namespace is not None else "cluster"


def _path_label(path: str) -> str:
    trimmed = path.rstrip("/") or "/"
    for p in ("/healthz", "/livez", "/readyz", "/openapi/v3"):
        if trimmed.startswith(p + "/"):
            return p
    return trimmed if trimmed in _NON_RESOURCE else "other"


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = new_registry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "apiserver_request_total",
            "Counter of apiserver requests broken out for each verb, dry run value, group, "
            "version, resource, scope, component, and HTTP response code.",
            (*_REQUEST_LABELS, "code"), registry=self.registry)
        self.duration = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, "
            "version, resource, subresource, scope and component.",
            _REQUEST_LABELS, buckets=_DURATION_BUCKETS, registry=self.registry)
        self.inflight = Gauge(
            "apiserver_current_inflight_requests",
            "Maximal number of currently used inflight request limit of this apiserver per "
            "request kind in last second.", ("request_kind",), registry=self.registry)
        self.longrunning = Gauge(
            "apiserver_longrunning_requests",
            "Gauge of all active long-running apiserver requests broken out by verb, group, "
            "version, resource, scope and component. Not all requests are tracked this way.",
            _LONGRUNNING_LABELS, registry=self.registry)
        for kind in ("mutating", "readOnly"):
            self.inflight.labels(kind).set(0)

    def labels(self, request: web.Request, target: Target | None) -> tuple[str, ...]:
        verb = canonical_verb(request, target)
        dry_run = "All" if request.rel_url.query.get("dryRun") == "All" else ""
        if target is None:
            return (verb, dry_run, "", "", "", _path_label(request.path), "", COMPONENT)
        info = target.info
        return (verb, dry_run, info.group, info.version, info.plural, target.subresource,
                scope(target), COMPONENT)

    def started(self, request: web.Request) -> str:
        kind = "readOnly" if request.method in ("GET", "HEAD", "OPTIONS") else "mutating"
        self.inflight.labels(kind).inc()
        return kind

    def finished(self, kind: str) -> None:
        self.inflight.labels(kind).dec()

    def longrunning_gauge(self, labels: tuple[str, ...]) -> Gauge:
        verb, _dry, group, version, resource, sub, scope_, component = labels
        return self.longrunning.labels(verb, group, version, resource, sub, scope_, component)

    def observe(self, labels: tuple[str, ...], code: int, seconds: float) -> None:
        self.requests.labels(*labels, str(code)).inc()
        self.duration.labels(*labels).observe(seconds)
