"""``kubectl attach`` (and ``kubectl run -i/-it``): a :class:`~.exec.StreamSession` over the
stdio of a container's main process, which the runner keeps (:class:`ProcessAttach`: the
output the log pump reads, fanned out to attached clients; with ``stdin`` a stdin pipe,
with ``tty`` a PTY whose master is both).

Output is what the process writes from the moment of attaching (as upstream; stdout and
stderr share one pipe here, so both arrive on stdout). A client that goes away detaches and
leaves the container running; with ``stdinOnce`` the first detach closes its stdin. The
attach ends when the main process exits and reports Success, as the kubelet's does: the
exit code is in the pod status. Used by :mod:`.server` and
:class:`kubesvc.runtime.process.ProcessRunner`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import TYPE_CHECKING

from kubesvc.runtime.streaming.fdio import set_winsize, write_all

if TYPE_CHECKING:
    from kubesvc.runtime.streaming.exec import AttachPoint


class ProcessAttach:
    """The runner's side: ``stdin_fd`` (a pipe's write end or the PTY master) and the
    output fan-out fed by the log pump (:meth:`feed`). Implements :class:`AttachPoint`."""

    def __init__(self, stdin_fd: int | None, *, tty: bool, stdin_once: bool) -> None:
        self.tty = tty
        self.stdin_once = stdin_once
        self._stdin = stdin_fd
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, False)
        self._subscribers: list[asyncio.Queue[bytes]] = []
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._attached_once = False

    def feed(self, data: bytes) -> None:
        """Output of the process (``b""``: its output ended)."""
        for q in self._subscribers:
            q.put_nowait(data)

    def exited(self, code: int) -> None:
        if not self._exited.done():
            self._exited.set_result(code)
        self.feed(b"")
        self.close_stdin(force=True)

    def subscribe(self) -> asyncio.Queue[bytes]:
        q: asyncio.Queue[bytes] = asyncio.Queue()
        if self._exited.done():
            q.put_nowait(b"")
        self._subscribers.append(q)
        self._attached_once = True
        return q

    def unsubscribe(self, q: asyncio.Queue[bytes]) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(q)
        if self.stdin_once and self._attached_once:
            self.close_stdin()

    async def write(self, data: bytes) -> None:
        if self._stdin is None:
            return
        try:
            await write_all(self._stdin, data)
        except OSError:
            self.close_stdin(force=True)

    def close_stdin(self, *, force: bool = False) -> None:
        if self._stdin is None:
            return
        if self.tty and not force:
            with contextlib.suppress(OSError):
                os.write(self._stdin, b"\x04")
            return
        with contextlib.suppress(OSError):
            os.close(self._stdin)
        self._stdin = None

    def resize(self, width: int, height: int) -> None:
        if self.tty and self._stdin is not None:
            set_winsize(self._stdin, width, height)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


class AttachSession:
    """One attached client (see the module docstring)."""

    def __init__(self, point: AttachPoint, *, stdin: bool, tty: bool) -> None:
        self.point = point
        self.tty = point.tty
        self._stdin = stdin
        self._q = point.subscribe()
        self._detached = False
        self._ended = asyncio.Event()

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin and not self._ended.is_set():
            await self.point.write(data)

    def close_stdin(self) -> None:
        """The client's stdin ended. With ``stdinOnce`` the container's stdin closes and the
        output goes on until it exits; otherwise the client detaches here and the container
        keeps its stdin for the next attach (as containerd's CRI attach)."""
        if not self._stdin:
            return
        if getattr(self.point, "stdin_once", False):
            self.point.close_stdin()
        else:
            self._ended.set()
            self._q.put_nowait(b"")

    def resize(self, width: int, height: int) -> None:
        self.point.resize(width, height)

    async def read_stdout(self) -> bytes:
        data = await self._q.get()
        if not data:
            self._q.put_nowait(b"")
        return data

    async def read_stderr(self) -> bytes:
        return b""  # one pipe carries both (module docstring)

    async def wait(self) -> int:
        exited = asyncio.ensure_future(self.point.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({exited, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            ended.cancel()
        return 0  # attach reports Success; the exit code is the pod status's

    def kill(self) -> None:
        """Detach (the container keeps running)."""
        self.close()

    def close(self) -> None:
        if not self._detached:
            self._detached = True
            self.point.unsubscribe(self._q)
