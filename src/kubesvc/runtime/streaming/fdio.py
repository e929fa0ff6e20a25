"""Non-blocking fd plumbing for the streams of exec and attach: :class:`FdReader` (a pipe or
PTY master read on the event loop into a bounded queue), :func:`write_all` and
:func:`set_winsize`. No imports from the rest of kubesvc (the process runner uses it too).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import struct
import termios

READ_SIZE = 64 * 1024


def set_winsize(fd: int, width: int, height: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


class FdReader:
    """Reads a non-blocking fd on the event loop into a bounded queue (reading pauses
    while the consumer lags); ``b""`` marks the end (EOF, or EIO of a PTY master)."""

    def __init__(self, fd: int, *, limit: int = 16) -> None:
        self.fd = fd
        os.set_blocking(fd, False)
        self._loop = asyncio.get_running_loop()
        self._q: asyncio.Queue[bytes] = asyncio.Queue()
        self._limit = limit
        self._reading = True
        self.done = False
        self._loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._finish()
            return
        self._q.put_nowait(data)
        if self._q.qsize() >= self._limit and self._reading:
            self._loop.remove_reader(self.fd)
            self._reading = False

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        if self._reading:
            self._loop.remove_reader(self.fd)
            self._reading = False
        self._q.put_nowait(b"")

    async def read(self) -> bytes:
        data = await self._q.get()
        if not data:
            self._q.put_nowait(b"")  # stay at the end for later readers
        elif not self._reading and not self.done and self._q.qsize() < self._limit:
            self._reading = True
            self._loop.add_reader(self.fd, self._readable)
        return data

    def close(self) -> None:
        self._finish()
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _set_done(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def write_all(fd: int, data: bytes) -> None:
    """Write everything to a non-blocking fd, waiting for it to drain as needed."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
            view = view[n:]
        except BlockingIOError:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_writer(fd, _set_done, ready)
            try:
                await ready
            finally:
                loop.remove_writer(fd)
