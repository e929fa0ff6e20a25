"""The connect subresources ``pods/{name}/exec``, ``pods/{name}/attach`` and
``pods/{name}/portforward`` (GET or POST with ``Upgrade``), and ``pods/{name}/log`` for pods
whose node agent runs elsewhere: the API server finds the pod's node and relays the request
to that node agent's streaming server, as kube-apiserver does to the kubelet.

Where the agent is: the Node's ``InternalIP`` and ``status.daemonEndpoints.kubeletEndpoint
.Port``, reached through the :data:`~.proxy.Dialer` (the host network, or the cluster
bridge's namespace in netns mode) and TLS with the API server's client certificate
(``kube-apiserver-kubelet-client``, signed by the cluster CA; the agent checks it). The
agent's serving certificate is not verified, as upstream without
``--kubelet-certificate-authority``.

The relay is upgrade-aware and protocol-blind: the request goes on with its ``Upgrade``,
``Sec-WebSocket-*`` and ``X-Stream-Protocol-Version`` headers (without the caller's
``Authorization``); the agent's answer comes back as it is; after a ``101`` the bytes are
copied both ways until either side ends, so WebSocket and SPDY are negotiated end to end.
The pod checks before relaying are upstream's (``streamLocation``): a completed pod, an
unknown container, a pod without a node. Called by :mod:`.app`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.paths import Target
from kubesvc.apiserver.http.proxy import CONNECT_TIMEOUT, HEADER_TIMEOUT, Dialer

log = logging.getLogger(__name__)

CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward"})
_HOP = frozenset({"authorization", "host", "proxy-authorization", "proxy-connection",
                  "keep-alive", "te", "trailer", "transfer-encoding"})
_UPGRADE_HEADERS = frozenset({"upgrade", "connection", "sec-websocket-accept",
                              "sec-websocket-protocol", "sec-websocket-extensions",
                              "x-stream-protocol-version"})
_CHUNK = 256 * 1024
_HIGH_WATER = 1 << 20


class KubeletClient:
    """How the API server reaches node agents: the dialer and the TLS client context
    (None: plain TCP, only for tests of agents without TLS).

    An upgraded connection is used up by its stream, so each exec needs a new TCP + TLS
    connection (~15 ms of handshakes on a busy machine). :meth:`open` therefore keeps one
    spare connection per agent, made in the background after each use and discarded when
    older than :data:`SPARE_MAX_AGE` or closed by the agent."""

    SPARE_MAX_AGE = 30.0

    def __init__(self, dial: Dialer, tls: ssl.SSLContext | None) -> None:
        self.dial = dial
        self.tls = tls
        self._spare: dict[tuple[str, int], tuple[float, asyncio.Future[
            tuple[asyncio.StreamReader, asyncio.StreamWriter]]]] = {}

    async def _connect(self, host: str, port: int) -> tuple[asyncio.StreamReader,
                                                             asyncio.StreamWriter]:
        try:
            reader, writer = await asyncio.wait_for(self.dial(host, port), CONNECT_TIMEOUT)
            try:
                if self.tls is not None:
                    await asyncio.wait_for(writer.start_tls(self.tls), CONNECT_TIMEOUT)
            except BaseException:
                writer.close()  # (also when cancelled: a spare dropped at shutdown)
                raise
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            why = ("i/o timeout" if isinstance(exc, TimeoutError) else str(exc))
            raise errors.ServiceUnavailable(
                f"error dialing backend: dial tcp {host}:{port}: {why}") from exc
        return reader, writer

    async def open(self, host: str, port: int) -> tuple[asyncio.StreamReader,
                                                         asyncio.StreamWriter]:
        key = (host, port)
        loop = asyncio.get_running_loop()
        spare = self._spare.pop(key, None)
        self._spare[key] = (loop.time(), asyncio.ensure_future(self._connect(host, port)))
        if spare is not None:
            made, fut = spare
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                reader, writer = fut.result()
                if (loop.time() - made < self.SPARE_MAX_AGE and not reader.at_eof()
                        and not writer.is_closing()):
                    return reader, writer
                writer.close()
            elif not fut.done():
                fut.add_done_callback(_close_connection)
            elif not fut.cancelled():
                fut.exception()  # (retrieved: a failed spare is not an error of its own)
        return await self._connect(host, port)

    def close(self) -> None:
        """Drop the spare connections (the API server is stopping)."""
        for _, fut in self._spare.values():
            if fut.done():
                _close_connection(fut)
            else:
                fut.cancel()
        self._spare.clear()


def _close_connection(fut: asyncio.Future[tuple[asyncio.StreamReader,
                                                asyncio.StreamWriter]]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result()[1].close()


def client_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # upstream's default without a kubelet CA
    ctx.load_cert_chain(cert, key)
    return ctx


async def node_address(backend: Backend, node_name: str) -> tuple[str, int]:
    """The node agent's (address, port) from its Node object."""
    node = await backend.get("nodes", node_name)
    status = node.get("status") or {}
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []
             if isinstance(a, dict)}
    host = addrs.get("InternalIP") or addrs.get("ExternalIP") or addrs.get("Hostname")
    port = int(((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {})
               .get("Port") or 0)
    if not host or port <= 0:
        raise errors.ServiceUnavailable(f'node "{node_name}" does not publish a kubelet '
                                        "endpoint (status.daemonEndpoints)")
    return str(host), port


def _container_names(pod: dict[str, Any]) -> list[str]:
    spec = pod.get("spec") or {}
    return [str(c.get("name")) for key in ("containers", "initContainers",
                                           "ephemeralContainers")
            for c in spec.get(key) or [] if isinstance(c, dict)]


def check_pod(pod: dict[str, Any], verb: str, container: str) -> str:
    """Upstream's checks before streaming; returns the container name."""
    name = str(pod["metadata"]["name"])
    phase = (pod.get("status") or {}).get("phase")
    if verb != "portforward":
        spec = pod.get("spec") or {}
        if not container:
            mains = [str(c.get("name")) for c in spec.get("containers") or []]
            if len(mains) != 1:
                raise errors.BadRequest(f"a container name must be specified for pod {name}, "
                                        f"choose one of: [{' '.join(mains)}]")
            container = mains[0]
        elif container not in _container_names(pod):
            raise errors.BadRequest(f"container {container} is not valid for pod {name}")
    if phase in ("Succeeded", "Failed"):
        raise errors.BadRequest(f"cannot {verb} into a container in a completed pod; "
                                f"current phase is {phase}")
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.BadRequest(f"pod {name} does not have a host assigned")
    return container


def _request_head(request: web.Request, path: str, host: str, port: int) -> bytes:
    lines = [f"{request.method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    for k, v in request.headers.items():
        low = k.lower()
        if low in _HOP or low.startswith("impersonate-"):
            continue
        lines.append(f"{k}: {v}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, str, list[tuple[str, str]]]:
    try:
        raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEADER_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError) as exc:
        raise errors.ServiceUnavailable("error trying to reach the node agent: no answer"
                                        ) from exc
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise errors.ServiceUnavailable(f"malformed answer from the node agent: {lines[0]!r}")
    headers = []
    for line in lines[1:]:
        if line:
            k, _, v = line.partition(":")
            headers.append((k.strip(), v.strip()))
    return int(parts[1]), parts[2] if len(parts) > 2 else "", headers


class _Tap:
    """Takes the client's bytes after the upgrade (installed as the aiohttp protocol's
    payload parser) and writes them to the agent, pausing the client while the agent's
    side is backed up."""

    def __init__(self, request: web.Request, writer: asyncio.StreamWriter) -> None:
        self.transport = request.transport
        self.writer = writer
        self.eof = asyncio.Event()
        self._paused = False
        self._resuming: asyncio.Future[None] | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self.writer.is_closing():
            return False, b""
        self.writer.write(data)
        if (not self._paused and self.transport is not None
                and self.writer.transport.get_write_buffer_size() > _HIGH_WATER):
            self._paused = True
            self.transport.pause_reading()
            self._resuming = asyncio.ensure_future(self._resume())
        return False, b""

    async def _resume(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()
        self._paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def feed_eof(self) -> None:
        self.eof.set()
        if not self.writer.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                if self.writer.can_write_eof():
                    self.writer.write_eof()


async def _relay_upgraded(request: web.Request, head: tuple[int, str, list[tuple[str, str]]],
                          reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> web.StreamResponse:
    _, reason, headers = head
    resp = web.StreamResponse(status=101, reason=reason or "Switching Protocols")
    for k, v in headers:
        if k.lower() in _UPGRADE_HEADERS:
            resp.headers.add(k, v)
    tap = _Tap(request, writer)
    # Before the 101 goes out: the client sends nothing on the stream until it has it,
    # and aiohttp hands an upgraded connection's bytes to this parser from now on.
    request.protocol.set_parser(tap)  # type: ignore[arg-type]
    request.protocol.keep_alive(False)
    out = await resp.prepare(request)
    transport = request.transport
    try:
        while transport is not None and not transport.is_closing():
            data = await reader.read(_CHUNK)
            if not data:
                break
            transport.write(data)
            if transport.get_write_buffer_size() > _HIGH_WATER and out is not None:
                await out.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        if transport is not None:
            transport.close()
    return resp


async def _relay_plain(request: web.Request, head: tuple[int, str, list[tuple[str, str]]],
                       reader: asyncio.StreamReader) -> web.StreamResponse:
    """A refused upgrade (the agent's error: 400 container not found, ...), as it is."""
    status, reason, headers = head
    length = next((int(v) for k, v in headers if k.lower() == "content-length"
                   and v.isdigit()), None)
    body = await (reader.readexactly(length) if length is not None else reader.read(1 << 20))
    resp = web.Response(status=status, reason=reason or None, body=body)
    for k, v in headers:
        if k.lower() == "content-type":
            resp.headers["Content-Type"] = v
    return resp


async def serve_connect(request: web.Request, target: Target, *, backend: Backend,
                        kubelet: KubeletClient) -> web.StreamResponse:
    """exec, attach or portforward of one pod."""
    verb = target.subresource
    ns = target.namespace or "default"
    pod = await backend.get("pods", target.name, namespace=ns)
    q = request.rel_url.query
    container = check_pod(pod, verb, q.get("container", ""))
    host, port = await node_address(backend, str(pod["spec"]["nodeName"]))
    if verb == "portforward":
        path = f"/portforward/{quote(ns)}/{quote(target.name)}"
    else:
        path = f"/{verb}/{quote(ns)}/{quote(target.name)}/{quote(container)}"
    if request.rel_url.raw_query_string:
        path += "?" + request.rel_url.raw_query_string
    reader, writer = await kubelet.open(host, port)
    try:
        writer.write(_request_head(request, path, host, port))
        await writer.drain()
        head = await _read_head(reader)
        if head[0] == 101:
            return await _relay_upgraded(request, head, reader, writer)
        return await _relay_plain(request, head, reader)
    finally:
        writer.close()


async def _chunked(reader: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        line = await reader.readline()
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


class KubeletLogs:
    """A :class:`~.logs.LogSource` reading ``/containerLogs`` from the pod's node agent
    (``kubesvc server`` with agents elsewhere)."""

    def __init__(self, backend: Backend, kubelet: KubeletClient) -> None:
        self.backend = backend
        self.kubelet = kubelet

    async def stream(self, namespace: str, pod: str, *, container: str, follow: bool,
                     tail_lines: int | None, previous: bool,
                     options: LogOptions | None = None) -> AsyncIterator[bytes]:
        obj = await self.backend.get("pods", pod, namespace=namespace)
        node = str((obj.get("spec") or {}).get("nodeName") or "")
        if not node:
            raise errors.BadRequest(f"pod {pod} does not have a host assigned")
        host, port = await node_address(self.backend, node)
        opts = options or LogOptions(container=container, follow=follow,
                                     tail_lines=tail_lines, previous=previous)
        path = (f"/containerLogs/{quote(namespace)}/{quote(pod)}/{quote(container)}?"
                + urlencode(opts.query()))
        reader, writer = await self.kubelet.open(host, port)
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                         "Connection: close\r\n\r\n".encode("latin-1"))
            await writer.drain()
            status, _, headers = await _read_head(reader)
            chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                          for k, v in headers)
            if status != 200:
                body = b"".join([c async for c in _chunked(reader)]) if chunked else \
                    await reader.read()
                import json

                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = {"message": body.decode(errors="replace"), "code": status}
                raise errors.from_status(doc, http_code=status)
            if chunked:
                async for chunk in _chunked(reader):
                    yield chunk
            else:
                while data := await reader.read(_CHUNK):
                    yield data
        finally:
            writer.close()
