"""SubprocessSession: an ``ExecSession`` (kubesvc.runtime.streaming.spdyexec) that runs the
command as a local subprocess with pipes (no PTY: ``tty`` only records resizes), for the
streaming protocol tests; ``started`` and ``resizes`` record what the client asked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence


class SubprocessProcess:
    def __init__(self, argv: list[str], proc: asyncio.subprocess.Process,
                 resizes: list[tuple[int, int]]) -> None:
        self.argv, self.proc, self.resizes = argv, proc, resizes

    @property
    def stdin(self) -> asyncio.StreamWriter | None:
        return self.proc.stdin

    @property
    def stdout(self) -> asyncio.StreamReader | None:
        return self.proc.stdout

    @property
    def stderr(self) -> asyncio.StreamReader | None:
        return self.proc.stderr

    async def wait(self) -> int:
        return await self.proc.wait()

    def resize(self, width: int, height: int) -> None:
        self.resizes.append((width, height))

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


class SubprocessSession:
    def __init__(self) -> None:
        self.started: list[tuple[list[str], bool]] = []
        self.resizes: list[tuple[int, int]] = []
        self.processes: list[SubprocessProcess] = []

    async def start(self, argv: Sequence[str], *, tty: bool, stdin: bool, stdout: bool,
                    stderr: bool) -> SubprocessProcess:
        self.started.append((list(argv), tty))
        pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=pipe if stdin else null, stdout=pipe if stdout else null,
            stderr=(asyncio.subprocess.STDOUT if tty else pipe) if stderr or tty else null)
        wrapped = SubprocessProcess(list(argv), proc, self.resizes)
        self.processes.append(wrapped)
        return wrapped
