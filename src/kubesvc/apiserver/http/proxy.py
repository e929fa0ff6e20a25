"""The API server proxy: ``services/{[scheme:]name[:port]}/proxy/{path}`` and
``pods/{[scheme:]name[:port]}/proxy/{path}`` pass a request on to the Service's endpoints
or the pod, and stream the answer back (``kubectl get --raw``, ``kubectl proxy``, and the
URLs ``kubectl cluster-info`` prints).

Where to go is upstream's ``ResourceLocation``: for a Service, a port number names the
Service port with that number; then a random ready address of the Endpoints subset that
has a port of that name (the unnamed port when none is given). For a pod, its IP and the
given port, or its first declared container port. Errors are upstream's: 400 for a
malformed name, 503 ``no endpoints available`` / ``error trying to reach service`` (for
pods too, as upstream words it).

A request is sent as HTTP/1.0 with ``Connection: close`` (so the answer is never chunked
and ends at EOF), without hop-by-hop headers and without the caller's ``Authorization``
(upstream drops it once authenticated). Only ``http`` is proxied; ``https:`` targets
answer 400, as kubesvc's pods hold no certificates to verify. How the API server reaches
a pod address is the :data:`Dialer` the composition gives (the host network; in netns mode
a socket made in the cluster bridge's namespace). Called by :mod:`.app`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kubesvc import errors
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.crud import read_body
from kubesvc.apiserver.http.paths import Target

Dialer = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]

CONNECT_TIMEOUT = 10.0
HEADER_TIMEOUT = 60.0  # a target that never answers (e.g. a DNS port) does not hold on
# Headers not copied across: the hop-by-hop ones, and those the proxy writes itself (Host,
# Content-Length) or drops (the caller's Authorization).
_NOT_FORWARDED = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "host", "authorization", "content-length",
})
_MAX_HEADER_LINES = 200


async def direct_dial(host: str, port: int) -> tuple[asyncio.StreamReader,
                                                     asyncio.StreamWriter]:
    """Connect from this process's own network namespace."""
    return await asyncio.open_connection(host, port)


def split_scheme_name_port(ident: str) -> tuple[str, str, str] | None:
    """``name``, ``name:port`` or ``scheme:name:port`` (upstream ``SplitSchemeNamePort``);
    None when malformed."""
    parts = ident.split(":")
    if len(parts) == 1:
        scheme, name, port = "", parts[0], ""
    elif len(parts) == 2:
        scheme, name, port = "", parts[0], parts[1]
    elif len(parts) == 3:
        scheme, name, port = parts
    else:
        return None
    if not name or scheme not in ("", "http", "https"):
        return None
    return scheme, name, port


def service_location(svc: dict[str, Any], endpoints: dict[str, Any], ident: str, port: str,
                     *, rng: random.Random) -> tuple[str, int]:
    """The (ip, port) a Service proxy request goes to (upstream's service
    ``ResourceLocation``)."""
    name = str(svc["metadata"]["name"])
    if port.isdigit():
        number = int(port)
        for sp in (svc.get("spec") or {}).get("ports") or []:
            if sp.get("port") == number:
                port = str(sp.get("name") or "")
                break
        else:
            raise errors.ServiceUnavailable(
                f'no service port {number} found for service "{name}"')
    subsets = [s for s in endpoints.get("subsets") or [] if s.get("addresses")]
    if not endpoints.get("subsets"):
        raise errors.ServiceUnavailable(f'no endpoints available for service "{name}"')
    rng.shuffle(subsets)
    for ss in subsets:
        for p in ss.get("ports") or []:
            if str(p.get("name") or "") == port:
                addr = rng.choice(ss["addresses"])
                return str(addr["ip"]), int(p["port"])
    raise errors.ServiceUnavailable(f'no endpoints available for service "{ident}"')


def pod_location(pod: dict[str, Any], port: str) -> tuple[str, int]:
    """The (ip, port) a pod proxy request goes to (upstream's pod ``ResourceLocation``;
    no port means the first declared container port, else 80)."""
    if not port:
        for c in (pod.get("spec") or {}).get("containers") or []:
            if c.get("ports"):
                port = str(c["ports"][0].get("containerPort") or "")
                break
    ip = str((pod.get("status") or {}).get("podIP") or "")
    if not ip:
        raise errors.BadRequest("address not allowed")
    if not port:
        return ip, 80
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise errors.BadRequest(f'invalid pod request "{pod["metadata"]["name"]}:{port}"')
    return ip, int(port)


def _request_head(request: web.Request, host: str, port: int, path: str,
                  body_len: int) -> bytes:
    target = path + (f"?{request.query_string}" if request.query_string else "")
    lines = [f"{request.method} {target} HTTP/1.0", f"Host: {host}:{port}",
             "Connection: close"]
    for k, v in request.headers.items():
        if k.lower() not in _NOT_FORWARDED:
            lines.append(f"{k}: {v}")
    if body_len or request.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {body_len}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def serve_proxy(request: web.Request, target: Target, *, backend: Backend,
                      dial: Dialer, proxy_path: str,
                      rng: random.Random | None = None) -> web.StreamResponse:
    kind = "service" if target.info.key == "services" else "pod"
    parsed = split_scheme_name_port(target.name)
    if parsed is None:
        raise errors.BadRequest(f'invalid {kind} request "{target.name}"')
    scheme, name, port = parsed
    if not proxy_path:  # ".../proxy": relative links need the trailing slash
        loc = request.path + "/" + (f"?{request.query_string}" if request.query_string
                                    else "")
        raise web.HTTPMovedPermanently(location=loc)
    ns = target.namespace or "default"
    if kind == "service":
        svc = await backend.get("services", name, namespace=ns)
        eps = await backend.get("endpoints", name, namespace=ns)
        host, dport = service_location(svc, eps, target.name, port, rng=rng or random.Random())
    else:
        host, dport = pod_location(await backend.get("pods", name, namespace=ns), port)
    if scheme == "https":
        raise errors.BadRequest(f"https is not proxied by kubesvc: ask for "
                                f"http:{name}:{port or dport}")
    body = await read_body(request)
    try:
        reader, writer = await asyncio.wait_for(dial(host, dport), CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        why = ("i/o timeout" if isinstance(exc, TimeoutError) or not exc.strerror
               else f"connect: {exc.strerror.lower()}")
        raise errors.ServiceUnavailable(
            f"error trying to reach service: dial tcp {host}:{dport}: {why}") from exc
    try:
        writer.write(_request_head(request, host, dport, proxy_path, len(body)) + body)
        await writer.drain()
        try:
            status_line = await asyncio.wait_for(reader.readline(), HEADER_TIMEOUT)
        except TimeoutError as exc:
            raise errors.ServiceUnavailable("error trying to reach service: timeout awaiting "
                                            "response headers") from exc
        return await _relay_answer(request, status_line, reader)
    finally:
        writer.close()


async def _relay_answer(request: web.Request, first_line: bytes,
                        reader: asyncio.StreamReader) -> web.StreamResponse:
    status_line = first_line.decode("latin-1").rstrip("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise errors.ServiceUnavailable(f"error trying to reach service: malformed HTTP "
                                        f"response {status_line[:80]!r}")
    resp = web.StreamResponse(status=int(parts[1]), reason=parts[2] if len(parts) > 2 else None)
    length: int | None = None
    for _ in range(_MAX_HEADER_LINES):
        line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
        if not line:
            break
        k, _, v = line.partition(":")
        v = v.strip()
        if k.lower() == "content-length" and v.isdigit():
            length = int(v)
        elif k.lower() not in _NOT_FORWARDED:
            resp.headers.add(k, v)
    if length is not None:
        resp.content_length = length
    await resp.prepare(request)
    if request.method != "HEAD":
        left = length
        while left is None or left > 0:
            chunk = await reader.read(65536 if left is None else min(65536, left))
            if not chunk:
                break
            await resp.write(chunk)
            if left is not None:
                left -= len(chunk)
    await resp.write_eof()
    return resp
