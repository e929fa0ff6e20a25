"""``GET pods/{name}/log``: container logs from a :class:`LogSource` (the node agent serves
them later), streamed as ``text/plain`` like kube-apiserver's proxy to the kubelet.

Checks the pod and container the way upstream does (a container name is required when the
pod has several) and maps the query parameters ``container``, ``follow``, ``tailLines``,
``previous``, ``sinceSeconds``, ``sinceTime``, ``timestamps``, ``limitBytes`` (validated as
upstream, :class:`~kubesvc.api.podlogs.LogOptions`); a client that asks for a WebSocket
upgrade gets the log as ``binary.k8s.io`` messages. Called by :mod:`.app`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from aiohttp import web

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.paths import Target

log = logging.getLogger(__name__)


@runtime_checkable
class LogSource(Protocol):
    """Where container logs come from (implemented by the node agent)."""

    def stream(
        self,
        namespace: str,
        pod: str,
        *,
        container: str,
        follow: bool,
        tail_lines: int | None,
        previous: bool,
        options: LogOptions | None = None,
    ) -> AsyncIterator[bytes]:
        """Chunks of the container's log. Raises kubesvc.errors (NotFound, BadRequest)
        when the log cannot be read."""
        ...


def _containers(pod: dict[str, object], kind: str = "containers") -> list[str]:
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        return []
    return [str(c.get("name")) for c in spec.get(kind) or [] if isinstance(c, dict)]


async def serve_log(
    request: web.Request, target: Target, *, backend: Backend, source: LogSource | None
) -> web.StreamResponse:
    q = request.rel_url.query
    ns = target.namespace or "default"
    opts = LogOptions.from_query(q, name=target.name)
    pod = await backend.get(target.info.key, target.name, namespace=ns)
    names = _containers(pod)
    container = q.get("container", "")
    if not container:
        if len(names) != 1:
            msg = (f"a container name must be specified for pod {target.name}, choose one "
                   f"of: [{' '.join(names)}]")
            inits = _containers(pod, "initContainers")
            if inits:
                msg += f" or one of the init containers: [{' '.join(inits)}]"
            raise errors.BadRequest(msg)
        container = names[0]
    elif container not in names and container not in _containers(
            pod, "initContainers") and container not in _containers(pod, "ephemeralContainers"):
        raise errors.BadRequest(f"container {container} is not valid for pod {target.name}")
    if source is None:
        raise errors.ServiceUnavailable(
            f"no node agent serves logs for pod {target.name}: the log source is not "
            "configured"
        )
    opts = dataclasses.replace(opts, container=container)
    chunks = source.stream(ns, target.name, container=container, follow=opts.follow,
                           tail_lines=opts.tail_lines, previous=opts.previous, options=opts)
    iterator = aiter(chunks)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return await _serve_websocket(request, iterator)
    resp = web.StreamResponse(status=200)
    resp.content_type = "text/plain"
    resp.enable_chunked_encoding()
    first: bytes | None = None
    # Read the first chunk before committing to 200 so that a source error is a Status.
    with contextlib.suppress(StopAsyncIteration):
        first = await anext(iterator)
    try:
        await resp.prepare(request)
        if first:
            await resp.write(first)
        try:
            async for chunk in iterator:
                await resp.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:
            # The status line is out; a failing source can only end the stream early.
            log.exception("log stream of %s/%s failed", ns, target.name)
        await resp.write_eof()
    except ConnectionError:
        pass
    finally:
        close = getattr(iterator, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
    return resp


# upstream's wsstream.Reader protocols for streamed reads: binary messages, or base64 text
WS_PROTOCOLS = ("binary.k8s.io", "base64.binary.k8s.io")


async def _serve_websocket(request: web.Request,
                           chunks: AsyncIterator[bytes]) -> web.WebSocketResponse:
    """The log as WebSocket messages (one per chunk), as kube-apiserver serves a streamed
    read to a client that upgrades: ``binary.k8s.io`` (or no protocol) sends binary
    messages, ``base64.binary.k8s.io`` base64 text; the socket closes at the end."""
    ws = web.WebSocketResponse(protocols=WS_PROTOCOLS)
    # Read the first chunk before upgrading so that a source error is still a Status.
    first = b""
    with contextlib.suppress(StopAsyncIteration):
        first = await anext(chunks)
    await ws.prepare(request)
    b64 = ws.ws_protocol == "base64.binary.k8s.io"
    try:
        data = first
        while True:
            if data:
                if b64:
                    await ws.send_str(base64.b64encode(data).decode())
                else:
                    await ws.send_bytes(data)
            try:
                data = await anext(chunks)
            except StopAsyncIteration:
                break
        await ws.close()
    except ConnectionError:
        pass
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            with contextlib.suppress(Exception):
                await close()
    return ws
