"""Serving the service map UI (:mod:`kubesvc.ui`): its static files at ``/ui/`` without
authentication (they hold no cluster data: the page signs in with a token and reads the
API as that user), and ``/ui/metrics``, authenticated and authorized like any non-resource
path, which concatenates the Prometheus text of every component the cluster's composition
registered as a :class:`MetricsSource` (the API server's own registry, in-process DNS and
proxies, node agents scraped over HTTP). Called by :mod:`.app`."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import mimetypes
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from kubesvc.metrics.exposition import MetricsSource
from kubesvc.ui import STATIC_DIR

log = logging.getLogger(__name__)

PREFIX = "/ui/"
METRICS_PATH = "/ui/metrics"
_SCRAPE_TIMEOUT = 2.0

def _files(root: Path) -> dict[str, Path]:
    """URL path -> file, fixed at start: a request can name only these (no traversal)."""
    out = {PREFIX: root / "index.html"}
    for f in sorted(root.rglob("*")):
        if f.is_file():
            out[PREFIX + "static/" + f.relative_to(root).as_posix()] = f
    return out


_FILES = _files(STATIC_DIR)


def _inline_script_hashes(index: Path) -> str:
    """CSP source expressions allowing exactly the page's inline scripts (its import map)."""
    out = []
    for m in re.finditer(r"<script[^>]*>(.*?)</script>", index.read_text(), re.S):
        if m.group(1).strip():
            digest = base64.b64encode(hashlib.sha256(m.group(1).encode()).digest()).decode()
            out.append(f"'sha256-{digest}'")
    return " ".join(out)


_SCRIPTS = _inline_script_hashes(STATIC_DIR / "index.html")
_CSP = (f"default-src 'self'; script-src 'self' {_SCRIPTS}; "
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:")


def is_static(path: str) -> bool:
    return path == "/ui" or (path.startswith(PREFIX) and path != METRICS_PATH)


def serve_static(request: web.Request) -> web.StreamResponse:
    path = request.path
    if path == "/ui":
        raise web.HTTPMovedPermanently(PREFIX)
    f = _FILES.get(path)
    if f is None or request.method not in ("GET", "HEAD"):
        raise web.HTTPNotFound(text="404 page not found\n")
    ctype = "text/javascript" if f.suffix == ".js" else (
        mimetypes.guess_type(f.name)[0] or "text/plain")
    resp = web.Response(body=f.read_bytes(), content_type=ctype)
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = _CSP
    return resp


def http_source(dial: Callable[[str, int], Awaitable[tuple[asyncio.StreamReader,
                                                            asyncio.StreamWriter]]],
                host: str, port: int) -> MetricsSource:
    """``GET http://host:port/metrics`` through ``dial`` (so a node namespace's address is
    reachable in netns mode)."""
    async def scrape() -> bytes:
        reader, writer = await dial(host, port)
        try:
            writer.write(f"GET /metrics HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
            await writer.drain()
            raw = await reader.read(-1)
        finally:
            writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n", 1)[0]:
            raise OSError(f"{host}:{port}/metrics answered {head[:40]!r}")
        return body
    return scrape


class MetricsSources:
    """The components whose metrics ``/ui/metrics`` gathers; added to as they start."""

    def __init__(self) -> None:
        self._sources: list[tuple[str, MetricsSource]] = []

    def add(self, name: str, source: MetricsSource) -> None:
        self._sources.append((name, source))

    async def serve(self, _request: web.Request) -> web.Response:
        async def one(name: str, src: MetricsSource) -> bytes:
            try:
                return await asyncio.wait_for(src(), _SCRAPE_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                log.debug("ui metrics: %s: %s", name, exc)
                return f"# {name}: not reachable\n".encode()
        parts = await asyncio.gather(*(one(n, s) for n, s in self._sources))
        resp = web.Response(body=b"".join(parts))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp
