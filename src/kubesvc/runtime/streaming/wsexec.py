"""The WebSocket channel protocols of exec and attach, as the kubelet speaks them
(apimachinery ``wsstream`` and ``remotecommand``): ``v5.channel.k8s.io`` (kubectl 1.30+),
``v4.channel.k8s.io`` (the official Python client), ``v3.channel.k8s.io``,
``v2.channel.k8s.io`` and ``channel.k8s.io``.

Each binary (or text) message starts with its channel byte: 0 stdin, 1 stdout, 2 stderr,
3 error, 4 resize (v3+: ``{"Width": W, "Height": H}``), and in v5 255 close (``[255, N]``
closes channel N; kubectl sends it for stdin at its EOF). The error channel carries the
outcome once the command has ended: in v4/v5 a ``metav1.Status`` (Success, or
``NonZeroExitCode`` with an ``ExitCode`` cause, from which kubectl prints ``command
terminated with exit code N``), before v4 the failure message as text.

:func:`serve_session` drives a :class:`~.exec.StreamSession` over an upgraded WebSocket:
called by :mod:`.server` for ``/exec`` and ``/attach``. The framing helpers are pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from kubesvc.runtime.streaming.exec import ExecError, StreamSession

log = logging.getLogger(__name__)

V5, V4, V3, V2, V1 = ("v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                      "v2.channel.k8s.io", "channel.k8s.io")
PROTOCOLS = (V5, V4, V3, V2, V1)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
# After the command exits, how long output still held open by its children may flow before
# they are ended (their output pipe then closes and the last bytes are sent).
LINGER = 2.0


def frame(channel: int, data: bytes) -> bytes:
    return bytes((channel,)) + data


def parse(message: bytes | str) -> tuple[int, bytes] | None:
    """``(channel, payload)`` of a client message; None for an empty one."""
    data = message.encode() if isinstance(message, str) else message
    if not data:
        return None
    return data[0], data[1:]


def parse_resize(payload: bytes) -> tuple[int, int] | None:
    """``(width, height)`` of a resize message (upstream ``TerminalSize`` JSON)."""
    try:
        doc = json.loads(payload)
        w, h = int(doc.get("Width", 0)), int(doc.get("Height", 0))
    except (ValueError, TypeError, AttributeError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, command: list[str]) -> dict[str, Any]:
    """The kubelet's Status for a command that exited non-zero."""
    return {
        "metadata": {}, "status": "Failure",
        "message": ("command terminated with non-zero exit code: error executing command "
                    f"[{' '.join(command)}], exit code {code}"),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """upstream ``apierrors.NewInternalError``."""
    return {"metadata": {}, "status": "Failure", "message": f"Internal error occurred: {message}",
            "reason": "InternalError", "details": {"causes": [{"message": message}]},
            "code": 500}


def error_payload(protocol: str, status: dict[str, Any]) -> bytes | None:
    """What goes on the error channel: v4/v5 the Status as JSON; older protocols the
    message of a failure only (None: nothing to send)."""
    if protocol in (V5, V4):
        return json.dumps(status, separators=(",", ":")).encode()
    if status.get("status") == "Success":
        return None
    return str(status.get("message") or "").encode()


async def _pump(ws: web.WebSocketResponse, read: Callable[[], Awaitable[bytes]],
                channel: int) -> None:
    while True:
        data = await read()
        if not data:
            return
        await ws.send_bytes(frame(channel, data))


async def _client(ws: web.WebSocketResponse, session: StreamSession, protocol: str,
                  gone: asyncio.Event) -> None:
    """Messages from the client: stdin, resize, close; sets ``gone`` when it goes."""
    try:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            parsed = parse(msg.data)
            if parsed is None:
                continue
            channel, payload = parsed
            if channel == STDIN:
                if payload:
                    await session.write_stdin(payload)
            elif channel == RESIZE and protocol not in (V1, V2):
                size = parse_resize(payload)
                if size is not None:
                    session.resize(*size)
            elif channel == CLOSE and protocol == V5:
                if payload[:1] == bytes((STDIN,)):
                    session.close_stdin()
    finally:
        gone.set()


async def serve_session(
    request: web.Request, start: Callable[[], Awaitable[StreamSession]], *,
    command: list[str], stdin: bool, stdout: bool, stderr: bool,
) -> web.WebSocketResponse:
    """Upgrade, start the session, relay until it ends, then send its outcome on the error
    channel and close. ``command`` names the command in the failure message (exec)."""
    ws = web.WebSocketResponse(protocols=PROTOCOLS, autoping=True, max_msg_size=0)
    await ws.prepare(request)
    protocol = ws.ws_protocol or V1
    try:
        session = await start()
    except ExecError as exc:
        payload = error_payload(protocol, internal_error_status(
            f"error executing command in container: {exc}"))
        if payload is not None:
            await ws.send_bytes(frame(ERROR, payload))
        await ws.close()
        return ws
    gone = asyncio.Event()
    status: dict[str, Any] | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            client = tg.create_task(_client(ws, session, protocol, gone), name="stream-client")
            pumps = []
            if stdout or session.tty:
                pumps.append(tg.create_task(_pump(ws, session.read_stdout, STDOUT),
                                            name="stream-stdout"))
            if stderr and not session.tty:
                pumps.append(tg.create_task(_pump(ws, session.read_stderr, STDERR),
                                            name="stream-stderr"))
            exited = tg.create_task(session.wait(), name="stream-wait")
            gone_wait = tg.create_task(gone.wait(), name="stream-gone")
            await asyncio.wait({exited, gone_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():  # the client went away first: no orphans
                session.kill()
                client.cancel()
                for p in pumps:
                    p.cancel()
                exited.cancel()
                return ws
            code = exited.result()
            if pumps:
                _, pending = await asyncio.wait(pumps, timeout=LINGER)
                if pending:
                    session.kill()  # ends what still holds the output open
                    await asyncio.wait(pumps, timeout=LINGER)
            status = success_status() if code == 0 else exit_status(code, command)
            payload = error_payload(protocol, status)
            with contextlib.suppress(ConnectionError):
                if payload is not None:
                    await ws.send_bytes(frame(ERROR, payload))
                await ws.close()
            gone_wait.cancel()
            client.cancel()
            for p in pumps:
                p.cancel()
    except* ConnectionError:
        session.kill()
    finally:
        close = getattr(session, "close", None)
        if close is not None:
            close()
    return ws
