"""Shared pieces of the built-in agnhost: pflag-style flag parsing, Go ``log`` style output
(buffered, flushed every 100 ms so logging a request costs no syscall), the hostname and bind
address, Go duration parsing, the loop a subcommand runs on (:func:`run`), and a small fast
HTTP/1.1 server (``asyncio.Protocol``, keep-alive) and a UDP one that the subcommands plug
handlers into.

Runs inside the pod process started by the node agent; imports nothing from the rest of
kubesvc so it starts quickly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

_log_buf: list[str] = []


def log(msg: str) -> None:
    _log_buf.append(time.strftime("%Y/%m/%d %H:%M:%S ") + msg + "\n")


def flush_logs() -> None:
    if _log_buf:
        data = "".join(_log_buf)
        _log_buf.clear()
        try:
            sys.stderr.write(data)
            sys.stderr.flush()
        except OSError:
            pass


async def log_flusher() -> None:
    while True:
        await asyncio.sleep(0.1)
        flush_logs()


async def with_log_flusher(main: Awaitable[None]) -> None:
    """Run ``main`` with the log flusher as a named task beside it, cancelled and awaited
    when ``main`` ends."""
    flusher = asyncio.create_task(log_flusher(), name="agnhost-log-flusher")
    try:
        await main
    finally:
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher


def fatal(msg: str) -> None:
    log(msg)
    flush_logs()
    os._exit(1)


def hostname() -> str:
    return os.environ.get("HOSTNAME") or os.environ.get("POD_NAME") or socket.gethostname()


def bind_address() -> str:
    """The pod IP in host mode (each pod binds its own 127.x address); all addresses in a
    pod network namespace."""
    addr = os.environ.get("KUBESVC_BIND_ADDRESS")
    if addr is None:
        addr = os.environ.get("POD_IP", "")
    return "" if addr in ("0.0.0.0", "::") else addr


_DUR = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go ``time.ParseDuration`` (seconds). Raises ValueError."""
    if text in ("0", ""):
        return 0.0
    pos, total = 0, 0.0
    for m in _DUR.finditer(text):
        if m.start() != pos:
            raise ValueError(text)
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(text)
    return total


def parse_flags(args: list[str], spec: dict[str, Any]) -> dict[str, Any]:
    """pflag-style: ``--name=value``, ``--name value``, bare ``--flag`` for booleans."""
    out = dict(spec)
    i = 0
    while i < len(args):
        a = args[i]
        if not a.startswith("-") or a in ("-", "--"):
            fatal(f'Error: unknown command "{a}" for agnhost')
        name, eq, val = a.lstrip("-").partition("=")
        if name not in spec:
            sys.stderr.write(f"Error: unknown flag: --{name}\n")
            sys.exit(1)
        default = spec[name]
        if isinstance(default, bool):
            out[name] = (val.lower() in ("1", "t", "true")) if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(args):
                    sys.stderr.write(f"Error: flag needs an argument: --{name}\n")
                    sys.exit(1)
                val = args[i]
            try:
                out[name] = int(val) if isinstance(default, int) else val
            except ValueError:
                sys.stderr.write(f'Error: invalid argument "{val}" for "--{name}" flag\n')
                sys.exit(1)
        i += 1
    return out


# -- HTTP ----------------------------------------------------------------------------------

_REASONS = {200: "OK", 201: "Created", 301: "Moved Permanently", 302: "Found",
            307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
            404: "Not Found", 412: "Precondition Failed", 417: "Expectation Failed",
            500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass(slots=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    peer: tuple[Any, ...]
    _query: dict[str, list[str]] | None = None
    path: str = ""
    # For handlers that answer later (they return None and call this once).
    reply: Callable[[Response], None] | None = None

    def arg(self, name: str) -> str:
        if self._query is None:
            self._query = parse_qs(urlsplit(self.target).query, keep_blank_values=True)
        vals = self._query.get(name)
        return vals[0] if vals else ""

    @property
    def remote_addr(self) -> str:
        host, port = self.peer[0], self.peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], "Response | None"]


class UDPProtocol(asyncio.DatagramProtocol):
    """A UDP server: each datagram is answered with what ``answer(data, addr)`` returns
    (nothing when it returns None)."""

    def __init__(self, answer: Callable[[bytes, tuple[Any, ...]], bytes | None]) -> None:
        self.answer = answer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        reply = self.answer(data, addr)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class HTTPProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; handlers are synchronous (they only format strings)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[Any, ...] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses
        self.peer = transport.get_extra_info("peername") or ("", 0)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.transport.close()
                return
            head = self.buf[:end].decode("latin-1").split("\r\n")
            parts = head[0].split()
            if len(parts) != 3:
                self._send(Response(400, b"400 Bad Request"), close=True)
                return
            headers = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            method, target, version = parts
            conn = headers.get("connection", "").lower()
            close = conn == "close" or (version == "HTTP/1.0" and conn != "keep-alive")
            req = Request(method, target, headers, body, self.peer)
            req.path = urlsplit(target).path
            req.reply = lambda r, c=close: self._send(r, close=c)
            resp = self.handler(req)
            if resp is None:  # the handler answers later (or exits)
                return
            self._send(resp, close=close or resp.headers.get("Connection") == "close")
            if close:
                return

    def _send(self, resp: Response, *, close: bool) -> None:
        if self.transport is None:
            return
        hdrs = {"Date": formatdate(usegmt=True), "Content-Length": str(len(resp.body))}
        if resp.body:
            hdrs["Content-Type"] = "text/plain; charset=utf-8"
        hdrs.update(resp.headers)
        lines = [f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Status')}"]
        lines += [f"{k}: {v}" for k, v in hdrs.items()]
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body)
        if close:
            self.transport.close()
            self.transport = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    return loop


def run(main: Coroutine[Any, Any, None]) -> None:
    """Run a subcommand's ``main`` on a new loop with the log flusher beside it
    (:func:`with_log_flusher`); what was logged is written out however ``main`` ends."""
    loop = new_loop()
    try:
        loop.run_until_complete(with_log_flusher(main))
    finally:
        flush_logs()
