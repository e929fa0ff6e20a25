"""Container log files as the kubelet keeps them (``containerLogMaxSize`` 10Mi,
``containerLogMaxFiles`` 5): a container's stdout+stderr go through a pipe that the node
agent reads (the part a CRI runtime's shim plays), and :class:`LogPump` appends each chunk
to the live ``<attempt>.log``. When the live file reaches the size limit it is renamed to
``<attempt>.log.<timestamp>`` and a new live file is opened at once, so the live file
overshoots the limit by at most one read (256 KiB); in a worker thread the older rotated
files are gzipped (``.gz``, the newest one stays plain for a reader still on it) and the
oldest removed, so at most ``max_files`` files (live included) exist: about size x files
on disk. While that thread still runs, a second rotation waits and the pipe is not read,
so a flooding container blocks on its own writes instead of growing the disk.

Used by :class:`kubesvc.runtime.process.ProcessRunner`; read back by
:mod:`kubesvc.runtime.logs` (the live file, reopened after a rotation when following).
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import gzip
import logging
import os
import shutil
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_SIZE = 10 * 1024 * 1024  # kubelet containerLogMaxSize
MAX_FILES = 5  # kubelet containerLogMaxFiles
READ_SIZE = 256 * 1024


def times_path(path: str) -> str:
    """The arrival-time index of a live log file (lines ``<offset> <unix ns>``)."""
    return path + "-times"


def rotated_logs(path: str) -> list[str]:
    """Rotated files of ``path``, oldest first (timestamps sort as strings)."""
    return sorted(p for p in glob.glob(glob.escape(path) + ".*") if not p.endswith(".tmp"))


def tidy(path: str, max_files: int) -> None:
    """Keep at most ``max_files - 1`` rotated files and gzip all but the newest one."""
    for p in glob.glob(glob.escape(path) + ".*.tmp"):
        with contextlib.suppress(OSError):
            os.unlink(p)
    found = rotated_logs(path)
    logs = [p for p in found if p + ".gz" not in found]  # a plain copy of a .gz: half done
    excess = len(logs) - max(max_files - 1, 0)
    for p in logs[:max(excess, 0)]:
        with contextlib.suppress(OSError):
            os.unlink(p)
    keep = logs[max(excess, 0):]
    for p in keep[:-1]:
        if p.endswith(".gz"):
            continue
        tmp = p + ".gz.tmp"
        with open(p, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst, READ_SIZE)
        os.replace(tmp, p + ".gz")
        os.unlink(p)


class LogPump:
    """Reads a container's output pipe ``read_fd`` into ``path`` with rotation. Runs on the
    event loop as a reader callback until the pipe's last writer closes it; ``closed`` is
    set then."""

    def __init__(self, read_fd: int, path: str, *, max_size: int = MAX_SIZE,
                 max_files: int = MAX_FILES) -> None:
        self.path = path
        self.max_size = max_size
        self.max_files = max_files
        self._rfd = read_fd
        os.set_blocking(read_fd, False)
        self._wfd = self._open()
        self._size = os.fstat(self._wfd).st_size
        self._loop = asyncio.get_running_loop()
        self._tidying: asyncio.Future[None] | None = None
        self._failed = False
        self._paused = False
        self.closed = asyncio.Event()
        # Where each chunk of the live file begins and when it arrived (``times_path``):
        # what ``kubectl logs --timestamps/--since`` read, as a CRI log line's timestamp.
        self._tfd = self._open_times(truncate=self._size == 0)
        self.on_data: Callable[[bytes], None] | None = None  # attach's output fan-out
        self._loop.add_reader(read_fd, self._readable)

    @property
    def times_path(self) -> str:
        return times_path(self.path)

    def _open_times(self, *, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        return os.open(self.times_path, flags | (os.O_TRUNC if truncate else 0), 0o644)

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC,
                       0o644)

    def _readable(self) -> None:
        try:
            data = os.read(self._rfd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        self._write(data)
        if self._size >= self.max_size:
            self._rotate()

    def _write(self, data: bytes) -> None:
        if self.on_data is not None:
            self.on_data(data)
        view = memoryview(data)
        with contextlib.suppress(OSError):
            os.write(self._tfd, f"{self._size} {time.time_ns()}\n".encode())
        try:
            while view:
                n = os.write(self._wfd, view)
                view = view[n:]
                self._size += n
            self._failed = False
        except OSError as exc:  # a full disk: drop output, keep draining the pipe
            if not self._failed:
                log.warning("container log %s: write failed (%s); output is dropped", self.path,
                            exc)
            self._failed = True

    def _rotate(self) -> None:
        if self._tidying is not None and not self._tidying.done():
            # The previous rotation is still compressing: stop reading until it is done.
            if not self._paused:
                self._paused = True
                self._loop.remove_reader(self._rfd)
                self._tidying.add_done_callback(lambda _f: self._resume())
            return
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
        try:
            os.rename(self.path, f"{self.path}.{stamp}")
            new = self._open()
        except OSError as exc:
            log.warning("container log %s: rotation failed: %s", self.path, exc)
            return
        os.close(self._wfd)
        self._wfd = new
        self._size = 0
        os.close(self._tfd)
        self._tfd = self._open_times(truncate=True)
        self._tidying = asyncio.ensure_future(asyncio.to_thread(self._tidy))

    def _tidy(self) -> None:
        try:
            tidy(self.path, self.max_files)
        except OSError as exc:
            log.warning("container log %s: compressing rotated logs failed: %s", self.path,
                        exc)

    def _resume(self) -> None:
        self._paused = False
        if self.closed.is_set():
            return
        self._rotate()
        self._loop.add_reader(self._rfd, self._readable)

    def drain(self) -> None:
        """Append what the pipe holds now (the container has exited)."""
        while not self.closed.is_set():
            try:
                data = os.read(self._rfd, READ_SIZE)
            except OSError:
                return
            if not data:
                self.close()
                return
            self._write(data)

    def close(self) -> None:
        if self.closed.is_set():
            return
        self._loop.remove_reader(self._rfd)
        os.close(self._rfd)
        os.close(self._wfd)
        os.close(self._tfd)
        self.closed.set()
        if self.on_data is not None:
            self.on_data(b"")
