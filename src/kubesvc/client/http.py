"""``HttpClient``: the :class:`~kubesvc.client.protocol.Client` protocol over HTTPS.

Used by every component that runs apart from the API server (``kubesvc agent``, controllers,
DNS and proxy on other machines) and by tests against a served API. Built from a kubeconfig
(:meth:`HttpClient.from_kubeconfig`) or explicit arguments. Calls the API server's REST API
with ``aiohttp``: bearer token, the cluster CA (or client certificates), JSON bodies;
``metav1.Status`` error bodies come back as :mod:`kubesvc.errors` classes through
:func:`kubesvc.errors.from_status`; watches read the chunked stream of JSON lines. URL paths
come from :mod:`kubesvc.api.resources`.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import orjson

from kubesvc import errors
from kubesvc.api import resources
from kubesvc.api.objects import Obj
from kubesvc.client.kubeconfig import KubeConfig, load_kubeconfig
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import PATCH_CONTENT_TYPES, PatchType, WatchEventDict

_JSON = "application/json"


def ssl_context_for(cfg: KubeConfig) -> ssl.SSLContext:
    """Verify the server against the kubeconfig's CA (or the system store), optionally
    presenting a client certificate; ``insecure-skip-tls-verify`` disables verification."""
    ctx = ssl.create_default_context(cadata=cfg.ca_data.decode() if cfg.ca_data else None)
    if cfg.insecure_skip_tls_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cfg.client_cert_data and cfg.client_key_data:
        # load_cert_chain reads files only: write them to a private dir, then remove them.
        with tempfile.TemporaryDirectory(prefix="kubesvc-tls-") as d:
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            for path, data in ((cert, cfg.client_cert_data), (key, cfg.client_key_data)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
            ctx.load_cert_chain(cert, key)
    return ctx


def _error(status: int, raw: bytes, reason: str) -> errors.KubeError:
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return errors.from_status(body, http_code=status)
    text = raw.decode(errors="replace").strip()[:1000] or reason or f"HTTP {status}"
    return errors.from_status({"code": status, "message": text}, http_code=status)


def _event(line: bytes) -> WatchEventDict:
    try:
        ev = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise errors.InternalError(f"malformed watch event: {line[:200]!r}") from exc
    if not isinstance(ev, dict) or not isinstance(ev.get("object"), dict):
        raise errors.InternalError(f"malformed watch event: {line[:200]!r}")
    if ev.get("type") == "ERROR":
        raise errors.from_status(ev["object"])
    return WatchEventDict(type=str(ev.get("type")), object=ev["object"])


class HttpClient:
    """A :class:`~kubesvc.client.protocol.Client` talking HTTPS to a kubesvc (or any
    Kubernetes) API server. Create inside a running event loop's lifetime; ``await
    close()`` (or ``async with``) when done."""

    def __init__(
        self,
        server: str,
        *,
        token: str = "",
        ssl_context: ssl.SSLContext | None = None,
        namespace: str = "default",
        field_manager: str = "kubesvc",
        user_agent: str = "kubesvc",
        request_timeout: float = 30.0,
    ) -> None:
        # ``unix:///path/to.sock``: plain HTTP over a unix socket (it crosses network
        # namespaces, so in-cluster components can reach a host-side API server).
        self._unix_path = server.removeprefix("unix://") if server.startswith("unix:") else ""
        self.server = "http://localhost" if self._unix_path else server.rstrip("/")
        self.namespace = namespace  # default namespace for namespaced writes and gets
        self.field_manager = field_manager
        self._token = token
        self._ssl = ssl_context
        self._headers = {"Accept": _JSON, "User-Agent": user_agent}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._request_timeout = request_timeout
        self._timeout = aiohttp.ClientTimeout(total=request_timeout)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def from_config(cls, cfg: KubeConfig, **kwargs: Any) -> HttpClient:
        ctx = ssl_context_for(cfg) if cfg.server.startswith("https:") else None
        return cls(cfg.server, token=cfg.token, ssl_context=ctx, namespace=cfg.namespace,
                   **kwargs)

    @classmethod
    def from_kubeconfig(
        cls, path: str | os.PathLike[str], *, context: str = "", **kwargs: Any
    ) -> HttpClient:
        return cls.from_config(load_kubeconfig(path, context=context), **kwargs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- plumbing
    def _sess(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # limit=0: every watch holds an HTTP/1.1 connection; never queue behind them.
            connector: aiohttp.BaseConnector
            if self._unix_path:
                connector = aiohttp.UnixConnector(path=self._unix_path, limit=0)
            else:
                connector = aiohttp.TCPConnector(limit=0, ssl=self._ssl if self._ssl else True)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers)
        return self._session

    def _path(
        self, resource: str, *, namespace: str | None, name: str = "", subresource: str = "",
        default_ns: bool, obj: Obj | None = None,
    ) -> str:
        try:
            info = resources.lookup(resource)
        except KeyError as exc:
            raise errors.NotFound(f'the server doesn\'t have a resource type "{resource}"') \
                from exc
        ns: str | None = None
        if info.namespaced:
            ns = namespace or ((obj or {}).get("metadata") or {}).get("namespace") or None
            if ns is None and default_ns:
                ns = self.namespace
        path = info.url_path(ns, name or None)
        return f"{path}/{subresource}" if subresource else path

    async def _request(
        self, method: str, path: str, *, params: dict[str, str] | None = None,
        body: Any = None, content_type: str = _JSON,
    ) -> Obj:
        data: bytes | None = None
        headers: dict[str, str] = {}
        if body is not None:
            data = body if isinstance(body, bytes) else (
                body.encode() if isinstance(body, str) else orjson.dumps(body))
            headers["Content-Type"] = content_type
        try:
            async with self._sess().request(
                method, self.server + path, params=params, data=data, headers=headers,
                timeout=self._timeout,
            ) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise _error(resp.status, raw, resp.reason or "")
        except aiohttp.ClientError as exc:
            raise errors.ServiceUnavailable(f"{method} {self.server}{path}: {exc}") from exc
        except TimeoutError as exc:
            raise errors.Timeout(f"{method} {self.server}{path}: timed out") from exc
        if not raw:
            return {}
        out = orjson.loads(raw)
        if not isinstance(out, dict):
            raise errors.InternalError(f"{method} {path}: expected a JSON object")
        return out

    # -- the Client protocol
    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> Obj:
        path = self._path(resource, namespace=namespace, name=name, default_ns=True)
        return await self._request("GET", path)

    async def list(
        self, resource: str, *, namespace: str | None = None, opts: ListOptions = ListOptions()
    ) -> Obj:
        path = self._path(resource, namespace=namespace, default_ns=False)
        return await self._request("GET", path, params=opts.query())

    def watch(
        self, resource: str, *, namespace: str | None = None, opts: WatchOptions = WatchOptions()
    ) -> AsyncIterator[WatchEventDict]:
        path = self._path(resource, namespace=namespace, default_ns=False)
        # An idle watch is normal; but when the server promised to end it, a silent
        # connection past that point is dead.
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self._request_timeout,
            sock_read=opts.timeout_seconds + 60 if opts.timeout_seconds else None,
        )
        return self._watch(path, opts.query(), timeout)

    async def _watch(
        self, path: str, params: dict[str, str], timeout: aiohttp.ClientTimeout
    ) -> AsyncIterator[WatchEventDict]:
        url = self.server + path
        try:
            async with self._sess().get(url, params=params, timeout=timeout) as resp:
                if resp.status >= 400:
                    raise _error(resp.status, await resp.read(), resp.reason or "")
                buf = bytearray()
                async for chunk in resp.content.iter_any():
                    start = len(buf)
                    buf += chunk
                    nl = buf.find(b"\n", start)
                    while nl >= 0:
                        line = bytes(buf[:nl])
                        del buf[:nl + 1]
                        if line.strip():
                            yield _event(line)
                        nl = buf.find(b"\n")
                if bytes(buf).strip():
                    yield _event(bytes(buf))
        except aiohttp.ClientError as exc:
            raise errors.ServiceUnavailable(f"watch {url}: {exc}") from exc
        except TimeoutError as exc:
            raise errors.Timeout(f"watch {url}: timed out") from exc

    async def create(
        self, resource: str, obj: Obj, *, namespace: str | None = None,
        opts: WriteOptions = WriteOptions(), subresource: str = "", name: str = "",
    ) -> Obj:
        """POST; with ``subresource`` to that subresource of the object ``name`` (as the
        in-process Registry: ``serviceaccounts/<name>/token``, ``pods/<name>/binding``)."""
        path = self._path(resource, namespace=namespace, name=name if subresource else "",
                          subresource=subresource, default_ns=True, obj=obj)
        return await self._request("POST", path, body=obj, params=opts.query())

    async def update(
        self, resource: str, obj: Obj, *, namespace: str | None = None, subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if not name:
            raise errors.BadRequest("update: metadata.name is required")
        path = self._path(resource, namespace=namespace, name=name, subresource=subresource,
                          default_ns=True, obj=obj)
        return await self._request("PUT", path, body=obj, params=opts.query())

    async def patch(
        self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
        patch_type: PatchType = "merge", subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        path = self._path(resource, namespace=namespace, name=name, subresource=subresource,
                          default_ns=True)
        if patch_type == "apply" and not opts.field_manager:
            opts = replace(opts, field_manager=self.field_manager)  # required for apply
        return await self._request("PATCH", path, body=patch, params=opts.query(),
                                   content_type=PATCH_CONTENT_TYPES[patch_type])

    async def delete(
        self, resource: str, name: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(),
    ) -> Obj:
        path = self._path(resource, namespace=namespace, name=name, default_ns=True)
        return await self._request("DELETE", path, body=opts.body(), params=opts.query())
