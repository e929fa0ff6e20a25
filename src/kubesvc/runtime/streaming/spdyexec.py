"""exec (and attach) over SPDY/3.1, as kubelet's remotecommand package serves it
(pkg/kubelet/cri/streaming/remotecommand): the client upgrades with ``Upgrade: SPDY/3.1``
offering ``v4.channel.k8s.io`` .. ``channel.k8s.io`` and opens one stream per channel,
named by its ``streamType`` header: ``error``, ``stdin``, ``stdout``, ``stderr`` and (v3+,
with a TTY) ``resize``, whose data are ``{"Width": W, "Height": H}`` JSON objects.
kubectl uses it with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`` and as the fallback when
the WebSocket (``v5.channel.k8s.io``) upgrade is refused.

When the process ends (after its output has been sent) the ``error`` stream carries the
outcome: v4 a JSON ``Status`` (``Success``, or ``Failure`` with reason
``NonZeroExitCode`` and an ``ExitCode`` cause, from which kubectl prints ``command
terminated with exit code N``); v1-v3 a plain message, nothing on success. Then the
connection closes. A client that goes away kills the process.

What runs is behind :class:`ExecSession` (the agent's runner implements it: the
container's env, cwd, user, namespaces, a PTY with resize); ``serve_spdy_exec`` only
speaks the protocol. Called by the agent's streaming server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from aiohttp import web

from kubesvc.runtime.streaming.portforward import negotiate
from kubesvc.runtime.streaming.spdy import SpdySession, SpdyStream
from kubesvc.runtime.streaming.transport import HijackedResponse, live_stream, upgrade_to_spdy

log = logging.getLogger(__name__)

EXEC_PROTOCOLS = ("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                  "channel.k8s.io")
STREAM_CREATION_TIMEOUT = 30.0


class ExecProcess(Protocol):
    """A started command. Streams are None when not asked for (stderr with a TTY)."""

    @property
    def stdin(self) -> asyncio.StreamWriter | None: ...
    @property
    def stdout(self) -> asyncio.StreamReader | None: ...
    @property
    def stderr(self) -> asyncio.StreamReader | None: ...
    async def wait(self) -> int: ...
    def resize(self, width: int, height: int) -> None: ...
    def kill(self) -> None: ...


class ExecSession(Protocol):
    """Starts the command in the container (for attach: connects to its main process)."""

    async def start(self, argv: Sequence[str], *, tty: bool, stdin: bool, stdout: bool,
                    stderr: bool) -> ExecProcess: ...


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true")


def _status(argv: Sequence[str], code: int | None, error: str | None) -> dict[str, Any]:
    if error is not None:
        return {"metadata": {}, "status": "Failure", "message":
                f"Internal error occurred: {error}", "reason": "InternalError",
                "details": {"causes": [{"message": error}]}, "code": 500}
    if not code:
        return {"metadata": {}, "status": "Success"}
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: command "
                       f"'{' '.join(argv)}' exited with {code}: ",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


class _ExecStreams:
    def __init__(self, expected: set[str]) -> None:
        self.expected = expected
        self.streams: dict[str, SpdyStream] = {}
        self.ready = asyncio.Event()

    def on_stream(self, stream: SpdyStream) -> None:
        kind = stream.headers.get("streamtype", "")
        if kind not in ("error", "stdin", "stdout", "stderr", "resize"):
            raise ValueError(f"unexpected stream type: {kind!r}")
        stream.reply()
        self.streams[kind] = stream
        if self.expected <= self.streams.keys():
            self.ready.set()


async def _copy_out(reader: asyncio.StreamReader, stream: SpdyStream) -> None:
    while chunk := await reader.read(1 << 16):
        stream.write(chunk)
        await stream.drain()


async def _copy_in(stream: SpdyStream, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await stream.read():
            writer.write(chunk)
            await writer.drain()
        writer.close()


async def _resizes(stream: SpdyStream, proc: ExecProcess) -> None:
    decoder, buf = json.JSONDecoder(), ""
    while chunk := await stream.read():
        buf += chunk.decode(errors="replace")
        while buf.strip():
            try:
                size, end = decoder.raw_decode(buf.lstrip())
            except ValueError:
                break  # an object split across frames: wait for the rest
            buf = buf.lstrip()[end:]
            if isinstance(size, dict):
                proc.resize(int(size.get("Width", 0)), int(size.get("Height", 0)))


async def serve_spdy_exec(request: web.Request, session: ExecSession, *,
                          stream_creation_timeout: float = STREAM_CREATION_TIMEOUT,
                          ) -> web.StreamResponse:
    """Serve ``pods/exec`` (``?command=...&stdin=&stdout=&stderr=&tty=``) or ``pods/attach``
    over SPDY; returns when the command ended and its outcome was sent, or the client left."""
    tty, stdin, stdout = _flag(request, "tty"), _flag(request, "stdin"), _flag(request, "stdout")
    stderr = _flag(request, "stderr") and not tty  # kubelet drops stderr with a TTY
    if not (stdin or stdout or stderr):
        return web.Response(status=400,
                            text="you must specify at least 1 of stdin, stdout, stderr\n")
    connection = request.headers.get("Connection", "").lower()
    if "upgrade" not in connection or "spdy/3.1" not in request.headers.get("Upgrade", "").lower():
        return web.Response(status=400, text="unable to upgrade: missing upgrade headers in "
                                             "request\n")
    proto = negotiate(request, EXEC_PROTOCOLS)
    if isinstance(proto, web.Response):
        return proto
    expected = {"error"} | {k for k, on in (("stdin", stdin), ("stdout", stdout),
                                            ("stderr", stderr)) if on}
    if tty and proto in ("v4.channel.k8s.io", "v3.channel.k8s.io"):
        expected.add("resize")
    streams = _ExecStreams(expected)
    spdy = upgrade_to_spdy(request, {"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                     "X-Stream-Protocol-Version": proto}, streams.on_stream)
    try:
        with live_stream(spdy.close):
            await _run(spdy, streams, session, request.query.getall("command", []), proto,
                       tty=tty, stdin=stdin, stdout=stdout, stderr=stderr,
                       timeout=stream_creation_timeout)
    finally:
        spdy.close()
    return HijackedResponse()


async def _run(spdy: SpdySession, streams: _ExecStreams, session: ExecSession,
               argv: list[str], proto: str, *, tty: bool, stdin: bool, stdout: bool,
               stderr: bool, timeout: float) -> None:
    closed = asyncio.ensure_future(spdy.wait_closed())
    ready = asyncio.ensure_future(streams.ready.wait())
    try:
        await asyncio.wait([closed, ready], timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if not streams.ready.is_set():
        closed.cancel()
        if "error" in streams.streams:
            streams.streams["error"].write(b"timed out waiting for client to create streams")
        return
    s = streams.streams
    code: int | None = None
    error: str | None = None
    try:
        proc = await session.start(argv, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)
    except Exception as exc:  # the client is told; nothing was started
        error = f"error executing command in container: {exc}"
        log.info("%s", error)
    else:
        try:
            code = await _supervise(proc, s, closed)
        except Exception as exc:  # waiting on the process failed
            error = f"error executing command in container: {exc}"
    closed.cancel()
    if code is None and error is None:
        return  # the client went away; the process was killed
    if proto == "v4.channel.k8s.io":
        s["error"].write(json.dumps(_status(argv, code, error)).encode())
    elif error is not None or code:
        s["error"].write((error or f"command terminated with exit code {code}").encode())
    for kind in ("stdout", "stderr", "error"):
        if kind in s:
            s[kind].close()


async def _supervise(proc: ExecProcess, s: dict[str, SpdyStream],
                     closed: asyncio.Future[None]) -> int | None:
    """Pump the streams until the process exits and its output is sent; the exit code, or
    None when the client left first (then the process is killed)."""
    tasks: list[asyncio.Task[None]] = []
    outputs: list[asyncio.Task[None]] = []
    if proc.stdin is not None and "stdin" in s:
        tasks.append(asyncio.create_task(_copy_in(s["stdin"], proc.stdin), name="exec-stdin"))
    for kind, reader in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        if reader is not None and kind in s:
            outputs.append(asyncio.create_task(_copy_out(reader, s[kind]), name=f"exec-{kind}"))
    if "resize" in s:
        tasks.append(asyncio.create_task(_resizes(s["resize"], proc), name="exec-resize"))
    waiting = asyncio.create_task(proc.wait(), name="exec-wait")
    try:
        done_all: asyncio.Future[Any] = asyncio.gather(waiting, *outputs,
                                                       return_exceptions=True)
        watch: list[asyncio.Future[Any]] = [done_all, closed]
        await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
        if not done_all.done():
            proc.kill()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(waiting), 5)  # reap it
            return None
        return waiting.result()
    finally:
        for t in [*tasks, *outputs, waiting]:
            t.cancel()
        await asyncio.gather(*tasks, *outputs, waiting, return_exceptions=True)
