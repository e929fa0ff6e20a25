"""Serving metrics in the Prometheus text format: :func:`metrics_response` for a handler of
an existing aiohttp app (the API server's ``/metrics``), :class:`MetricsServer` for a
component that serves ``/metrics`` alone. What is served is a list of
:data:`MetricsSource`: one scrape each, so that a source may refresh itself first (the
nftables proxy reads its kernel counters)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

log = logging.getLogger(__name__)


# One scrape of a component: its Prometheus text.
MetricsSource = Callable[[], Awaitable[bytes]]


def registry_source(registry: CollectorRegistry) -> MetricsSource:
    async def scrape() -> bytes:
        return generate_latest(registry)
    return scrape


def exposition(registries: Sequence[CollectorRegistry]) -> bytes:
    """The text format of every registry, concatenated (their metric names are distinct)."""
    return b"".join(generate_latest(r) for r in registries)


def metrics_response(registries: Sequence[CollectorRegistry]) -> web.Response:
    resp = web.Response(body=exposition(registries))
    resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return resp


class MetricsServer:
    """``GET /metrics`` (and ``/healthz``) on ``host:port``; port 0 picks a free port, read
    back from :attr:`port` after :meth:`start`."""

    def __init__(self, sources: Sequence[MetricsSource], *, host: str, port: int) -> None:
        self.sources = list(sources)
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        if self.port == 0 and runner.addresses:
            self.port = int(runner.addresses[0][1])
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        resp = web.Response(body=b"".join([await s() for s in self.sources]))
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    async def _healthz(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")
