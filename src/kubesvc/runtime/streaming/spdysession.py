"""SPDY exec and attach for the agent's streaming server (:mod:`.server`): an exec/attach
:class:`~.exec.StreamSession` served over SPDY/3.1 (older kubectl, and kubectl's fallback
when a WebSocket upgrade fails) by :func:`.spdyexec.serve_spdy_exec`. This module adapts the
session to the ExecSession/ExecProcess shape that handler drives: its output becomes
StreamReaders fed by pumps, its stdin a small writer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from aiohttp import web

from kubesvc.runtime.streaming.exec import StreamSession
from kubesvc.runtime.streaming.spdyexec import ExecProcess, serve_spdy_exec


class _StdinWriter:
    """What ``spdyexec`` calls on stdin (write, drain, close) over the session's stdin."""

    def __init__(self, session: StreamSession) -> None:
        self._session = session
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._pending.append(bytes(data))

    async def drain(self) -> None:
        data, self._pending = b"".join(self._pending), []
        if data:
            await self._session.write_stdin(data)

    def close(self) -> None:
        self._session.close_stdin()


class _Process:
    def __init__(self, session: StreamSession, *, stdin: bool, stdout: bool,
                 stderr: bool) -> None:
        self._session = session
        self._stdin = cast(asyncio.StreamWriter, _StdinWriter(session)) if stdin else None
        self._stdout = asyncio.StreamReader() if stdout else None
        # with a TTY everything comes on stdout, as upstream
        self._stderr = asyncio.StreamReader() if stderr and not session.tty else None
        self._pumps = [
            asyncio.create_task(_pump(read, reader), name=f"spdy-{name}")
            for name, read, reader in (("stdout", session.read_stdout, self._stdout),
                                       ("stderr", session.read_stderr, self._stderr))
            if reader is not None]

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        return self._stdin

    @property
    def stdout(self) -> asyncio.StreamReader | None:
        return self._stdout

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        return self._stderr

    async def wait(self) -> int:
        code = await self._session.wait()
        # the output read so far still goes out before the exit status
        await asyncio.gather(*self._pumps, return_exceptions=True)
        return code

    def resize(self, width: int, height: int) -> None:
        self._session.resize(width, height)

    def kill(self) -> None:
        self._session.kill()
        for t in self._pumps:
            t.cancel()


async def _pump(read: Callable[[], Awaitable[bytes]], reader: asyncio.StreamReader) -> None:
    try:
        while chunk := await read():
            reader.feed_data(chunk)
    finally:
        with contextlib.suppress(Exception):
            reader.feed_eof()


class _Session:
    def __init__(self, session: StreamSession) -> None:
        self._session = session

    async def start(self, argv: Sequence[str], *, tty: bool, stdin: bool, stdout: bool,
                    stderr: bool) -> ExecProcess:
        return _Process(self._session, stdin=stdin, stdout=stdout, stderr=stderr)


async def serve_session(request: web.Request, session: StreamSession) -> web.StreamResponse:
    """Serve an already started exec or attach session over SPDY."""
    return await serve_spdy_exec(request, _Session(session))
