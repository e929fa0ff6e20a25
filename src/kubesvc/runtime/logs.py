"""PodLogs: the node agent's :class:`kubesvc.runtime.types.LogSource` — ``kubectl logs``
(``pods/log``) for the pods on this node, with ``container``, ``follow``, ``tailLines`` and
``previous``, ``sinceSeconds``/``sinceTime``, ``timestamps`` and ``limitBytes`` (a
:class:`~kubesvc.api.podlogs.LogOptions`; the times are the arrival times the log pump
records per chunk, as a CRI runtime stamps each read), and upstream's error messages.

The API server's HTTP layer calls :meth:`PodLogs.stream`; it reads the log files the
runner writes (one per container attempt) and the agent's records of which attempt is
current/previous. ``follow`` polls the file while the attempt runs and ends when it exits;
when the file is rotated (renamed away, :mod:`.logfile`) it finishes the old one and goes
on in the new one. As the kubelet's, a plain read shows the live file only.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import time
from collections.abc import AsyncIterator, Callable

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.podlogs import LogOptions, format_timestamp
from kubesvc.runtime.logfile import times_path
from kubesvc.runtime.podstatus import ContainerRecord
from kubesvc.runtime.types import ContainerInfo, PodRunner

Lookup = Callable[[str, str], "tuple[Obj, dict[str, ContainerRecord]] | None"]

CHUNK = 64 * 1024


def tail_offset(path: str, lines: int) -> int:
    """Byte offset where the last ``lines`` lines of the file begin."""
    if lines <= 0:
        return os.path.getsize(path)
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        pos = end
        count = 0
        # A trailing newline ends the last line; it does not start a new one.
        skip_last = True
        while pos > 0:
            step = min(CHUNK, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step)
            i = len(buf)
            while True:
                i = buf.rfind(b"\n", 0, i)
                if i < 0:
                    break
                if skip_last and pos + i == end - 1:
                    skip_last = False
                    continue
                skip_last = False
                count += 1
                if count == lines:
                    return pos + i + 1
        return 0


def _rotated(path: str, fd: int) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


class PodLogs:
    def __init__(self, lookup: Lookup, runner: PodRunner, *, poll_interval: float = 0.1) -> None:
        self._lookup = lookup
        self._runner = runner
        self._poll = poll_interval

    def _select(self, namespace: str, pod: str, container: str | None,
                previous: bool) -> tuple[ContainerInfo, ContainerRecord]:
        found = self._lookup(namespace, pod)
        if found is None:
            raise errors.NotFound(f'pods "{pod}" not found', name=pod, kind="pods")
        obj, records = found
        spec = obj.get("spec") or {}
        names = [c["name"] for c in spec.get("containers") or []]
        inits = [c["name"] for c in spec.get("initContainers") or []]
        debug = [c["name"] for c in spec.get("ephemeralContainers") or []]
        if not container:
            if len(names) != 1:
                msg = (f"a container name must be specified for pod {pod}, "
                       f"choose one of: [{' '.join(names)}]")
                if inits:
                    msg += f" or one of the init containers: [{' '.join(inits)}]"
                raise errors.BadRequest(msg)
            container = names[0]
        rec = records.get(container)
        if container not in names and container not in inits and container not in debug:
            raise errors.BadRequest(f"container {container} is not valid for pod {pod}")
        if rec is None:
            raise errors.BadRequest(
                f'container "{container}" in pod "{pod}" is waiting to start: '
                "ContainerCreating")
        if previous:
            # The attempt shown as lastState: while waiting to restart that is the one that
            # just ended; otherwise the one before the current attempt.
            if rec.running:
                prev = rec.last
            elif rec.waiting is not None:
                prev = rec.current or rec.last
            else:
                prev = rec.last
            if prev is None:
                raise errors.BadRequest(
                    f'previous terminated container "{container}" in pod "{pod}" not found')
            return prev, rec
        if rec.current is None:
            reason = rec.waiting[0] if rec.waiting else "ContainerCreating"
            raise errors.BadRequest(
                f'container "{container}" in pod "{pod}" is waiting to start: {reason}')
        return rec.current, rec

    def stream(
        self,
        namespace: str,
        pod: str,
        *,
        container: str | None = None,
        follow: bool = False,
        tail_lines: int | None = None,
        previous: bool = False,
        options: LogOptions | None = None,
    ) -> AsyncIterator[bytes]:
        """``options`` adds since/timestamps/limitBytes (its follow/tail/previous win)."""
        if options is not None:
            follow, tail_lines, previous = options.follow, options.tail_lines, options.previous
        # Validate eagerly so the HTTP layer can answer 400/404 before streaming.
        info, _ = self._select(namespace, pod, container, previous)
        gen = self._gen(info, follow=follow and not previous, tail_lines=tail_lines)
        if options is None or not (options.timestamps or options.since_seconds is not None
                                   or options.since_time is not None
                                   or options.limit_bytes is not None):
            return gen
        path = info.log_path or self._runner.log_path(info.pod_uid, info.container,
                                                      info.attempt) or ""
        start = tail_offset(path, tail_lines) if tail_lines is not None and path and \
            os.path.exists(path) else 0
        return filter_lines(gen, ArrivalTimes(times_path(path)), options, start=start)

    async def _gen(self, info: ContainerInfo, *, follow: bool,
                   tail_lines: int | None) -> AsyncIterator[bytes]:
        path = info.log_path or self._runner.log_path(info.pod_uid, info.container,
                                                      info.attempt)
        if not path or not os.path.exists(path):
            return
        pos = tail_offset(path, tail_lines) if tail_lines is not None else 0
        f = open(path, "rb")  # reopened after a rotation; closed below
        try:
            f.seek(pos)
            while True:
                data = f.read(CHUNK)
                if data:
                    yield data
                    continue
                if not follow:
                    return
                if _rotated(path, f.fileno()):
                    # Renamed away by a rotation and final now: finish it, go on in the
                    # new live file.
                    rest = f.read()
                    if rest:
                        yield rest
                    f.close()
                    f = open(path, "rb")
                    continue
                cur = self._runner.status(info.id)
                if cur is None or cur.finished_at is not None:
                    rest = f.read()
                    if rest:
                        yield rest
                    return
                await asyncio.sleep(self._poll)
        finally:
            f.close()


class ArrivalTimes:
    """The live file's arrival-time index (:func:`~.logfile.times_path`), read as it
    grows: :meth:`at` is the arrival time (unix ns) of the chunk holding a byte offset."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.offsets: list[int] = []
        self.times: list[int] = []
        self._pos = 0

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                if os.fstat(f.fileno()).st_size < self._pos:  # truncated by a rotation
                    self._pos = 0
                    self.offsets.clear()
                    self.times.clear()
                f.seek(self._pos)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        self._pos += end
        for line in data[:end].splitlines():
            off, _, ns = line.partition(b" ")
            if off.isdigit() and ns.isdigit():
                if self.offsets and int(off) < self.offsets[-1]:  # rotated: a new file
                    self.offsets.clear()
                    self.times.clear()
                self.offsets.append(int(off))
                self.times.append(int(ns))

    def at(self, offset: int) -> int:
        if not self.offsets or offset > self.offsets[-1]:
            self._load()
        i = bisect.bisect_right(self.offsets, offset) - 1
        if i < 0:
            return self.times[0] if self.times else time.time_ns()
        return self.times[i]


async def filter_lines(chunks: AsyncIterator[bytes], times: ArrivalTimes, opts: LogOptions,
                       *, start: int) -> AsyncIterator[bytes]:
    """The byte stream (from file offset ``start``) as lines with ``--since`` applied, each
    prefixed with its arrival time for ``--timestamps``, cut at ``--limit-bytes``."""
    since = opts.since(time.time())
    since_ns = int(since * 10**9) if since is not None else None
    left = opts.limit_bytes
    pos = start
    buf = b""
    bytewise = since_ns is None and not opts.timestamps  # limitBytes alone
    try:
        async for chunk in chunks:
            if bytewise and left is not None:
                yield chunk[:left]
                left -= len(chunk[:left])
                if left <= 0:
                    return
                continue
            buf += chunk
            out: list[bytes] = []
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line, buf = buf[:nl + 1], buf[nl + 1:]
                ns = times.at(pos) if (since_ns is not None or opts.timestamps) else 0
                pos += len(line)
                if since_ns is not None and ns < since_ns:
                    continue
                out.append(format_timestamp(ns).encode() + b" " + line if opts.timestamps
                           else line)
            if not out:
                continue
            data = b"".join(out)
            if left is not None:
                data = data[:left]
                left -= len(data)
            yield data
            if left is not None and left <= 0:
                return
        if buf:  # a last line without a newline
            ns = times.at(pos)
            if since_ns is None or ns >= since_ns:
                data = (format_timestamp(ns).encode() + b" " + buf if opts.timestamps else buf)
                yield data[:left] if left is not None else data
    finally:
        close = getattr(chunks, "aclose", None)
        if close is not None:
            await close()
