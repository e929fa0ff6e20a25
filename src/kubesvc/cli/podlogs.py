"""Pod logs across processes: an agent running apart from the API server serves its pods'
logs on a unix socket, as the kubelet serves ``/containerLogs/{ns}/{pod}/{container}`` to
kube-apiserver, and the API server's :class:`~kubesvc.apiserver.http.logs.LogSource` for
that node forwards ``kubectl logs`` there.

:class:`LogSocketServer` is started by ``kubesvc agent --log-socket PATH`` (:mod:`.agent`)
over the node agent's :class:`~kubesvc.runtime.logs.PodLogs`; :class:`LogSocketSource` is
registered per node by ``kubesvc up --network netns`` (:mod:`.nodes`). Errors travel as
metav1.Status bodies, so ``kubectl`` sees upstream's messages unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions
from kubesvc.runtime.streaming.server import serve_log_stream
from kubesvc.runtime.types import LogSource

_CHUNK = 64 * 1024


class LogSocketServer:
    def __init__(self, source: LogSource, path: Path) -> None:
        self.source = source
        self.path = path
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=0.5)
        await runner.setup()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.unlink(missing_ok=True)
        await web.UnixSite(runner, str(self.path)).start()
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.path.unlink(missing_ok=True)

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        return await serve_log_stream(request, self.source, name=request.match_info["pod"])


class LogSocketSource:
    """The API server side: streams one node's pod logs from its agent's log socket."""

    def __init__(self, path: Path, *, node: str) -> None:
        self.path = path
        self.node = node

    async def stream(
        self, namespace: str, pod: str, *, container: str, follow: bool,
        tail_lines: int | None, previous: bool, options: LogOptions | None = None,
    ) -> AsyncIterator[bytes]:
        query = {"follow": str(follow).lower(), "previous": str(previous).lower()}
        if tail_lines is not None:
            query["tailLines"] = str(tail_lines)
        if options is not None:
            query.update(options.query())
        timeout = aiohttp.ClientTimeout(total=None, connect=5, sock_connect=5)
        try:
            session = aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(self.path)), timeout=timeout)
        except OSError as exc:  # pragma: no cover - aiohttp connects lazily
            raise errors.ServiceUnavailable(str(exc)) from exc
        async with session:
            try:
                resp = await session.get(
                    f"http://localhost/containerLogs/{namespace}/{pod}/{container}",
                    params=query)
            except aiohttp.ClientError as exc:
                raise errors.ServiceUnavailable(
                    f"the node agent of {self.node} does not answer for logs: {exc}") from exc
            async with resp:
                if resp.status != 200:
                    try:
                        body = await resp.json(content_type=None)
                    except (ValueError, aiohttp.ClientError):
                        body = {"message": await resp.text(), "code": resp.status}
                    raise errors.from_status(body, http_code=resp.status)
                async for chunk in resp.content.iter_chunked(_CHUNK):
                    yield chunk
