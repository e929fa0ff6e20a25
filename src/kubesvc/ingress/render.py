"""Render ``haproxy.cfg`` from Ingresses: a pure function, no I/O, deterministic output.

``render(inputs, settings)`` returns the configuration text, the files it references
(certificates and the ``crt-list``, by name relative to ``settings.config_dir``) and the
problems to report as Events. Semantics, as the Ingress spec and ingress-nginx:

- only Ingresses of our class (``spec.ingressClassName`` or the legacy
  ``kubernetes.io/ingress.class`` annotation naming a class whose controller is ours, or
  naming ``kubesvc``), or with no class when the default IngressClass is ours;
- rules of all those Ingresses merge per host; a host is chosen first (exact host, then a
  wildcard ``*.foo.com`` matching exactly one label, then the rules without host), then a
  path within it: longest path first, Exact before Prefix on equal paths;
  ImplementationSpecific is Prefix. Prefix matching is element-wise (``/foo`` matches
  ``/foo`` and ``/foo/bar``, not ``/foobar``; a trailing slash is ignored). On the same
  (host, path, type) the oldest Ingress wins. A chosen host with no matching path goes to
  the default backend, never to another host's rules;
- the default backend is the oldest Ingress's ``spec.defaultBackend``, else a 404;
- a backend's servers are the Service's ready endpoints from its EndpointSlices, the
  Ingress's service port (number or name) resolved to the Service port's name and then to
  the slice port of that name (its targetPort);
- routing is data, not configuration: the frontend looks the host up in ``hosts.map``
  (``map_str``, then the wildcard form ``*.`` + all but the first label, else ``*`` for the
  rules without host), then ``host+path`` in ``exact.map`` (``map_str``), else
  ``host+path/`` in ``prefix.map`` (``map_beg``, entries ``host+prefix/`` longest first, so
  the first match is the longest element-wise prefix), else the default in
  ``default.map``, and ``use_backend %[var(txn.be)]``. A new host, path or Ingress is then
  a map entry, which :mod:`.haproxy` sets through the runtime API without a reload;
- backends come from a pool (:mod:`.layout`, planned from the previous output's layout):
  each has server slots, the unused ones ``disabled``, so new Services and endpoint changes
  are server addresses set through the runtime API too;
- TLS: each ``spec.tls`` entry's ``kubernetes.io/tls`` Secret becomes a PEM file served by
  SNI for its hosts (``bind ... ssl crt-list``); a missing or bad Secret is a
  :class:`Problem` and those hosts are served over plain HTTP only, others unaffected.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj
from kubesvc.ingress.layout import Layout, plan
from kubesvc.ingress.layout import slots as slots  # re-exported for callers of render()

CONTROLLER = "kubesvc.io/ingress-haproxy"
CLASS_NAME = "kubesvc"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_404 = "be_default_404"
CRT_LIST = "crt-list.txt"
EMPTY_SLOT = "0.0.0.0:1"  # the address of a disabled server slot
MAP_HOSTS = "maps/hosts.map"
MAP_EXACT = "maps/exact.map"
MAP_PREFIX = "maps/prefix.map"
MAP_DEFAULT = "maps/default.map"
MAPS = (MAP_HOSTS, MAP_EXACT, MAP_PREFIX, MAP_DEFAULT)
ORDERED_MAPS = frozenset({MAP_PREFIX})  # map_beg takes the first match: order matters
_UNSAFE_PATH = re.compile(r"[\s;#\\]")  # cannot be a map key (nor a runtime API word)


@dataclass(frozen=True, slots=True)
class Settings:
    """Where HAProxy listens and keeps its files (absolute paths)."""

    address: str
    config_dir: str
    http_port: int = 80
    https_port: int = 443
    stats_socket: str = ""  # default: CONFIG_DIR/haproxy.sock
    class_name: str = CLASS_NAME
    controller: str = CONTROLLER
    bind: str = ""  # where HAProxy binds, when not ``address`` (netns: the node IP behind it)


@dataclass(frozen=True, slots=True)
class Inputs:
    ingresses: Sequence[Obj] = ()
    services: Sequence[Obj] = ()
    slices: Sequence[Obj] = ()
    secrets: Sequence[Obj] = ()
    classes: Sequence[Obj] = ()


@dataclass(frozen=True, slots=True)
class Problem:
    """Something to tell the user about ``namespace/name`` (an Ingress) as a Warning."""

    namespace: str
    name: str
    reason: str
    message: str


@dataclass(slots=True)
class Rendered:
    config: str
    files: dict[str, bytes] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    served: list[tuple[str, str]] = field(default_factory=list)  # Ingresses that are ours
    layout: Layout = field(default_factory=Layout)  # give it to the next render()


@dataclass(frozen=True, slots=True)
class _Route:
    host: str
    exact: bool
    path: str
    backend: str


def _md(obj: Obj) -> dict[str, Any]:
    md: dict[str, Any] = obj.get("metadata") or {}
    return md


def _age_key(obj: Obj) -> tuple[str, str, str]:
    md = _md(obj)
    return (str(md.get("creationTimestamp") or ""), str(md.get("namespace") or ""),
            str(md.get("name") or ""))


def class_filter(classes: Sequence[Obj], settings: Settings) -> Callable[[Obj], bool]:
    """Whether this controller serves an Ingress (see the module docstring), the classes
    looked at once for all Ingresses of a render."""
    by_name = {_md(c).get("name"): c for c in classes}
    defaults = sorted((c for c in classes if (_md(c).get("annotations") or {}).get(
        DEFAULT_CLASS_ANNOTATION) == "true"), key=_age_key, reverse=True)
    default_ours = bool(defaults and (defaults[0].get("spec") or {}).get("controller")
                        == settings.controller)

    def ours(ing: Obj) -> bool:
        name = (ing.get("spec") or {}).get("ingressClassName") or (
            _md(ing).get("annotations") or {}).get(LEGACY_CLASS_ANNOTATION)
        if not name:
            return default_ours
        cls = by_name.get(name)
        if cls is None:
            return bool(name == settings.class_name)
        return bool((cls.get("spec") or {}).get("controller") == settings.controller)

    return ours


def is_ours(ing: Obj, classes: Sequence[Obj], settings: Settings) -> bool:
    """Whether this controller serves ``ing`` (see the module docstring)."""
    return class_filter(classes, settings)(ing)


def normalize_prefix(path: str) -> str:
    """``/foo/`` and ``/foo`` are the same prefix; ``/`` stays ``/``."""
    stripped = path.rstrip("/")
    return stripped or "/"


def prefix_matches(prefix: str, path: str) -> bool:
    """Element-wise Prefix matching, as the spec (for tests and documentation)."""
    p = normalize_prefix(prefix)
    return p == "/" or path == p or path.rstrip("/") == p or path.startswith(p + "/")


def wildcard_matches(pattern: str, host: str) -> bool:
    """``*.foo.com`` matches ``bar.foo.com``, not ``foo.com`` nor ``a.bar.foo.com``."""
    if not pattern.startswith("*."):
        return pattern == host
    head, _, rest = host.partition(".")
    return bool(head) and rest == pattern[2:]


def _quote(s: str) -> str:
    """An HAProxy config word: single quotes (no expansion) unless it holds one."""
    if "'" not in s:
        return f"'{s}'"
    return '"' + re.sub(r'(["\\$#])', r"\\\1", s) + '"'


class _Backends:
    """Backend sections by (namespace, service, port) with their servers."""

    def __init__(self, inputs: Inputs) -> None:
        self._svcs = {(_md(s).get("namespace"), _md(s).get("name")): s for s in inputs.services}
        self._slices: dict[tuple[str, str], list[Obj]] = {}
        for sl in inputs.slices:
            svc = (_md(sl).get("labels") or {}).get(LABEL_SERVICE_NAME)
            if svc:
                self._slices.setdefault((_md(sl).get("namespace") or "", svc), []).append(sl)
        self.sections: dict[str, list[tuple[str, int]]] = {}

    def backend(self, ns: str, ref: dict[str, Any]) -> str:
        svc_ref = ref.get("service") or {}
        name = str(svc_ref.get("name") or "")
        port = svc_ref.get("port") or {}
        port_s = str(port.get("number") or port.get("name") or "")
        key = f"{ns}/{name}:{port_s}"
        if key not in self.sections:
            self.sections[key] = self._servers(ns, name, port)
        return key

    def _servers(self, ns: str, name: str, port: dict[str, Any]) -> list[tuple[str, int]]:
        svc = self._svcs.get((ns, name))
        if svc is None:
            return []
        want = None
        for p in (svc.get("spec") or {}).get("ports") or []:
            if (port.get("number") and p.get("port") == port["number"]) or (
                    port.get("name") and p.get("name") == port["name"]):
                want = p
                break
        if want is None or (want.get("protocol") or "TCP") != "TCP":
            return []
        pname = want.get("name") or ""
        out: set[tuple[str, int]] = set()
        for sl in self._slices.get((ns, name), []):
            nums = [sp.get("port") for sp in sl.get("ports") or []
                    if (sp.get("name") or "") == pname and (sp.get("protocol") or "TCP") == "TCP"]
            if not nums or not nums[0]:
                continue
            for ep in sl.get("endpoints") or []:
                if (ep.get("conditions") or {}).get("ready") is False:
                    continue
                addrs = ep.get("addresses") or []
                if addrs:
                    out.add((str(addrs[0]), int(nums[0])))
        return sorted(out)


def _decode_tls(secret: Obj | None) -> tuple[bytes, str]:
    """(PEM of certificate and key, "") or (b"", why it is unusable)."""
    if secret is None:
        return b"", "not found"
    if secret.get("type") != "kubernetes.io/tls":
        return b"", f"type is {secret.get('type')!r}, not kubernetes.io/tls"
    data = secret.get("data") or {}
    try:
        crt = base64.b64decode(data.get("tls.crt") or "", validate=True)
        key = base64.b64decode(data.get("tls.key") or "", validate=True)
    except (binascii.Error, ValueError):
        return b"", "tls.crt or tls.key is not valid base64"
    if not crt or not key:
        return b"", "tls.crt or tls.key is empty"
    try:
        cert = x509.load_pem_x509_certificate(crt)
        pkey = serialization.load_pem_private_key(key, password=None)
    except ValueError as exc:
        return b"", f"cannot parse the certificate or key: {exc}"
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.PEM
    if cert.public_key().public_bytes(enc, pub) != pkey.public_key().public_bytes(enc, pub):
        return b"", "tls.key does not match the certificate in tls.crt"
    return crt.rstrip(b"\n") + b"\n" + key.rstrip(b"\n") + b"\n", ""


def render(inputs: Inputs, settings: Settings, previous: Layout | None = None) -> Rendered:
    """The configuration for ``inputs``; ``previous`` is the last applied output's
    ``layout`` (so that Services keep their backends and new ones take free ones)."""
    out = Rendered(config="")
    wanted = class_filter(inputs.classes, settings)
    ours = sorted((i for i in inputs.ingresses if wanted(i)), key=_age_key)
    backends = _Backends(inputs)
    routes: dict[tuple[str, bool, str], _Route] = {}
    default: str | None = None
    secrets = {(_md(s).get("namespace"), _md(s).get("name")): s for s in inputs.secrets}
    certs: dict[str, list[str]] = {}  # file -> SNI hosts
    for ing in ours:
        ns, name = str(_md(ing).get("namespace") or ""), str(_md(ing).get("name") or "")
        out.served.append((ns, name))
        spec = ing.get("spec") or {}
        if spec.get("defaultBackend") and default is None:
            if (spec["defaultBackend"].get("service")):
                default = backends.backend(ns, spec["defaultBackend"])
        for rule in spec.get("rules") or []:
            host = str(rule.get("host") or "").lower()
            for p in (rule.get("http") or {}).get("paths") or []:
                be = p.get("backend") or {}
                if not be.get("service"):
                    out.problems.append(Problem(ns, name, "UnsupportedBackend",
                                                "resource backends are not supported"))
                    continue
                exact = p.get("pathType") == "Exact"
                path = str(p.get("path") or "/")
                path = path if exact else normalize_prefix(path)
                if _UNSAFE_PATH.search(path):
                    out.problems.append(Problem(ns, name, "UnsupportedPath", (
                        f"path {path!r} has whitespace, ';', '#' or '\\'; not served")))
                    continue
                key = (host, exact, path)
                if key not in routes:  # the oldest Ingress wins
                    routes[key] = _Route(host, exact, path, backends.backend(ns, be))
        for tls in spec.get("tls") or []:
            sname = str(tls.get("secretName") or "")
            hosts = [str(h).lower() for h in tls.get("hosts") or []]
            if not sname:
                continue
            pem, why = _decode_tls(secrets.get((ns, sname)))
            if why:
                out.problems.append(Problem(
                    ns, name, "InvalidTLSSecret",
                    f"secret {ns}/{sname}: {why}; hosts {', '.join(hosts) or '(all)'} are "
                    f"served without TLS"))
                continue
            fname = f"certs/{ns}_{sname}.pem"
            out.files[fname] = pem
            certs.setdefault(fname, [])
            certs[fname].extend(h for h in hosts if h not in certs[fname])
    out.layout = plan({k: len(v) for k, v in backends.sections.items()}, previous)
    out.files.update(maps(routes, default or DEFAULT_404, out.layout))
    out.config = _config(settings, out.layout, backends, certs)
    if certs:
        lines = [f"{settings.config_dir}/{f} {' '.join(hs)}".rstrip() + "\n"
                 for f, hs in sorted(certs.items())]
        out.files[CRT_LIST] = "".join(lines).encode()
    return out


def _vhost(host: str) -> str:
    return host or "*"  # "*": the rules without host (no host name is "*")


def maps(routes: dict[tuple[str, bool, str], _Route], default: str,
         layout: Layout) -> dict[str, bytes]:
    """The routing maps (see :data:`MAPS`): hosts, Exact and Prefix paths, the default."""
    be = layout.assign
    hosts = sorted({r.host for r in routes.values() if r.host})
    exact = sorted((_vhost(r.host) + r.path, be[r.backend]) for r in routes.values() if r.exact)
    prefix = sorted(((_vhost(r.host) + r.path.rstrip("/") + "/", be[r.backend])
                     for r in routes.values() if not r.exact),
                    key=lambda kv: (-len(kv[0]), kv[0]))  # map_beg: the first match wins

    def text(head: str, rows: Sequence[tuple[str, str]]) -> bytes:
        return (f"# {head}\n" + "".join(f"{k} {v}\n" for k, v in rows)).encode()

    return {
        MAP_HOSTS: text("host -> the host whose rules apply", [(h, h) for h in hosts]),
        MAP_EXACT: text("host+path -> backend (Exact)", exact),
        MAP_PREFIX: text("host+prefix/ -> backend (Prefix), longest first", prefix),
        MAP_DEFAULT: text("the default backend",
                          [("default", be[default] if default in be else DEFAULT_404)]),
    }


def _config(settings: Settings, layout: Layout, backends: _Backends,
            certs: dict[str, list[str]]) -> str:
    sock = settings.stats_socket or f"{settings.config_dir}/haproxy.sock"

    def m(name: str) -> str:
        return f"{settings.config_dir}/{name}"

    lines = [
        "# Generated by kubesvc's ingress controller; do not edit.",
        "global",
        f"  stats socket {sock} mode 600 level admin expose-fd listeners",
        "  hard-stop-after 30s",
        "",
        "defaults",
        "  mode http",
        "  option http-keep-alive",
        "  option forwardfor",
        "  option redispatch",
        "  retries 2",
        "  timeout connect 5s",
        "  timeout client 60s",
        "  timeout server 60s",
        "  timeout http-request 10s",
        "",
        "frontend ingress",
        f"  bind {settings.bind or settings.address}:{settings.http_port}",
    ]
    if certs:
        lines.append(f"  bind {settings.bind or settings.address}:{settings.https_port} ssl "
                     f"crt-list {settings.config_dir}/{CRT_LIST}")
        lines.append("  http-request set-header X-Forwarded-Proto https if { ssl_fc }")
    missing = "if !{ var(txn.vhost) -m found }"
    no_be = "if !{ var(txn.be) -m found }"
    lines += [
        "  # the host: exact, else a wildcard of its first label, else the rules without host",
        "  http-request set-var(txn.host) req.hdr(host),field(1,:),lower",
        f"  http-request set-var(txn.vhost) var(txn.host),map_str({m(MAP_HOSTS)})",
        "  http-request set-var(txn.vhost) var(txn.host),regsub(^[^.]+\\.,*.),"
        f"map_str({m(MAP_HOSTS)}) {missing}",
        f"  http-request set-var(txn.vhost) str(*) {missing}",
        "  # then the path within that host: Exact, else the longest Prefix (element-wise)",
        "  http-request set-var(txn.path) path",
        f"  http-request set-var(txn.be) var(txn.vhost),concat(,txn.path,),"
        f"map_str({m(MAP_EXACT)})",
        f"  http-request set-var(txn.be) var(txn.vhost),concat(,txn.path,/),"
        f"map_beg({m(MAP_PREFIX)}) {no_be}",
        f"  http-request set-var(txn.be) str(default),map_str({m(MAP_DEFAULT)}) {no_be}",
        "  use_backend %[var(txn.be)]",
        f"  default_backend {DEFAULT_404}", "",
        f"backend {DEFAULT_404}",
        "  http-request return status 404 content-type text/plain "
        "string 'default backend - 404'"]
    owner = {be: key for key, be in layout.assign.items()}
    for ident in layout.backends():
        key = owner.get(ident)
        servers = backends.sections[key] if key else []
        lines += ["", f"# {key or 'free'}", f"backend {ident}", "  balance roundrobin"]
        lines += [f"  server s{i} {ip}:{port}" if ":" not in ip else
                  f"  server s{i} [{ip}]:{port}"
                  for i, (ip, port) in enumerate(servers, 1)]
        lines += [f"  server s{i} {EMPTY_SLOT} disabled"
                  for i in range(len(servers) + 1, layout.slots[ident] + 1)]
    return "\n".join(lines) + "\n"
