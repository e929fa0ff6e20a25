"""Running a command in a container for ``kubectl exec`` (and ``kubectl cp``, which is tar
over exec), and the stream-session seam the protocols drive.

:class:`ContainerTarget` is what the node agent knows about one running container: the
argv prefix that puts a process in its namespaces, its environment, working directory,
user and main pid. :func:`namespace_prefix` builds the prefix: every namespace of the
container's main process that differs from the agent's own (net, uts, mnt, ipc) is joined
with ``nsenter --target PID`` (which execs in place, so the command keeps the pid the agent
started), so an exec'd process sees the pod's network, hostname and mounts — including the
``resolv.conf`` bind-mounted by ``ip netns exec`` in netns mode, and a per-pod mount
namespace when the runtime makes one. When the main process is gone or ``nsenter`` is
missing, the network's ``exec_prefix`` (``ip netns exec``) is the fallback.

:class:`ExecSession` is one exec'd process: pipes (or a real PTY with ``tty``) for stdin,
stdout and stderr, resize, close of stdin, the exit code, and :meth:`kill` of its whole
process group (a client that goes away leaves no process behind). It implements
:class:`StreamSession`, the seam every stream protocol drives (:mod:`.wsexec` for the
WebSocket channel protocols, an SPDY implementation through
:func:`kubesvc.runtime.streaming.server.serve_spdy_session`); :mod:`.attach` implements it
for a container's main process. Called by :mod:`.server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import pty
import shutil
import signal
import struct
import subprocess
import termios
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

from kubesvc.runtime.process import die_with_parent
from kubesvc.runtime.streaming.fdio import FdReader, set_winsize, write_all
from kubesvc.runtime.types import SandboxJoin

log = logging.getLogger(__name__)

_NAMESPACES = (("net", "--net"), ("uts", "--uts"), ("mnt", "--mount"), ("ipc", "--ipc"))


class ExecError(Exception):
    """The command could not be started (the message is shown to the user)."""


@dataclass(slots=True)
class ContainerTarget:
    """One running container as the streaming server sees it."""

    namespace: str
    pod: str
    container: str
    pid: int | None  # the main process (None: not running)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str | None = None
    uid: int | None = None  # securityContext.runAsUser (applied when the agent is root)
    gid: int | None = None
    fallback_prefix: list[str] = field(default_factory=list)  # the network's exec prefix
    attach: AttachPoint | None = None  # the main process's stdio, when kept (stdin/tty)
    # the pod sandbox to join (its launcher enters the namespaces, changes to the working
    # dir and drops to the container's user); None: unisolated, nsenter as below
    sandbox: SandboxJoin | None = None


class AttachPoint(Protocol):
    """The stdio of a container's main process, kept by the runner for ``kubectl attach``."""

    tty: bool

    def subscribe(self) -> asyncio.Queue[bytes]:
        """A queue of the process's output from now on (``b""`` at its end)."""
        ...

    def unsubscribe(self, q: asyncio.Queue[bytes]) -> None: ...

    async def write(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int: ...


class StreamSession(Protocol):
    """What a stream protocol drives: an exec'd process or an attached main process."""

    tty: bool

    async def write_stdin(self, data: bytes) -> None: ...

    def close_stdin(self) -> None: ...

    def resize(self, width: int, height: int) -> None: ...

    async def read_stdout(self) -> bytes:
        """The next output chunk; ``b""`` at the end."""
        ...

    async def read_stderr(self) -> bytes: ...

    async def wait(self) -> int:
        """The exit code (128+N for a signal, as a shell reports it)."""
        ...

    def kill(self) -> None:
        """End it now (the client went away)."""
        ...


def _ns_ino(pid: int | str, ns: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{ns}").st_ino
    except OSError:
        return None


def namespace_prefix(target: ContainerTarget) -> list[str]:
    """argv prefix putting a command into the namespaces of the container's main process."""
    if target.pid is None:
        return list(target.fallback_prefix)
    flags = []
    for ns, flag in _NAMESPACES:
        theirs = _ns_ino(target.pid, ns)
        if theirs is None:
            return list(target.fallback_prefix)  # the main process is gone
        if theirs != _ns_ino("self", ns):
            flags.append(flag)
    if not flags:
        return []
    if shutil.which("nsenter") is None:
        return list(target.fallback_prefix)
    return ["nsenter", f"--target={target.pid}", *flags, "--"]


_TIOCGPTN = 0x80045430
_TIOCSPTLCK = 0x40045431


def _sandbox_pty(pid: int) -> tuple[int, int]:
    """A PTY pair from the container's own devpts (the sandbox mounts a new instance, so a
    host PTY would not be a terminal name inside it): its ``/dev/ptmx`` through
    ``/proc/PID/root``, unlocked, and the slave it names."""
    root = f"/proc/{pid}/root/dev"
    master = os.open(f"{root}/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, _TIOCSPTLCK, struct.pack("i", 0))
        n = struct.unpack("I", fcntl.ioctl(master, _TIOCGPTN, struct.pack("I", 0)))[0]
        slave = os.open(f"{root}/pts/{n}", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        os.close(master)
        raise
    return master, slave


def _check_in_sandbox(pid: int, command: list[str], target: ContainerTarget) -> None:
    """Upstream's errors for a command or working dir the container's root lacks (the
    launcher would only see them after joining)."""
    root = f"/proc/{pid}/root"
    if target.workdir and not os.path.isdir(root + target.workdir):
        raise ExecError(f"chdir to cwd ({target.workdir!r}) set in config.json failed: "
                        "no such file or directory")
    name = command[0]
    if "/" in name:
        found = os.path.exists(root + (name if name.startswith("/") else
                                       f"{target.workdir or '/'}/{name}"))
    else:
        path = (target.env or {}).get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
                                              "/usr/bin:/sbin:/bin")
        found = any(os.access(f"{root}{d}/{name}", os.X_OK) for d in path.split(":") if d)
    if not found:
        raise ExecError(f'exec: "{name}": executable file not found in $PATH')


def _child_setup(parent: int, tty: int | None, uid: int | None, gid: int | None) -> None:
    """``preexec_fn``: die with the agent; with a tty, make it the controlling terminal of
    the new session; then become the container's user. ``tty`` is the PTY slave's fd
    number (uvloop runs this before it moves the slave onto fd 0)."""
    die_with_parent(parent)
    if tty is not None:
        # (uvloop's start_new_session may run after preexec_fn: be a session leader now)
        with contextlib.suppress(OSError):
            os.setsid()
        fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
    if gid is not None:
        os.setgroups([])
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)


class ExecSession:
    """One exec'd process (see the module docstring). Build with :meth:`start`."""

    def __init__(self, proc: asyncio.subprocess.Process, *, tty: bool, stdin_fd: int | None,
                 stdout: FdReader | None, stderr: FdReader | None) -> None:
        self.proc = proc
        self.tty = tty
        self._stdin = stdin_fd
        self._stdout = stdout
        self._stderr = stderr
        self._master = stdin_fd if tty else None

    @classmethod
    async def start(cls, target: ContainerTarget, command: list[str], *, stdin: bool,
                    stdout: bool, stderr: bool, tty: bool,
                    size: tuple[int, int] | None = None) -> ExecSession:
        """Start ``command`` in the container. Raises :class:`ExecError`."""
        if not command:
            raise ExecError("you must specify at least one command for the container")
        join = target.sandbox
        if join is not None:
            _check_in_sandbox(join.pid, command, target)
            argv = join.argv(command)
        else:
            argv = [*namespace_prefix(target), *command]
        child: list[int] = []  # the child's ends, closed here once it runs
        mine: list[int] = []
        try:
            if tty:
                master, slave = (_sandbox_pty(join.pid) if join is not None
                                 else pty.openpty())
                os.set_inheritable(master, False)
                if size:
                    set_winsize(master, *size)
                child.append(slave)
                mine.append(master)
                fds = {"stdin": slave, "stdout": slave, "stderr": slave}
            else:
                fds = {}
                for name, wanted in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr)):
                    if not wanted:
                        fds[name] = asyncio.subprocess.DEVNULL
                        continue
                    r, w = os.pipe2(os.O_CLOEXEC)
                    ours, theirs = (w, r) if name == "stdin" else (r, w)
                    mine.append(ours)
                    child.append(theirs)
                    fds[name] = theirs
            # runAsUser/runAsGroup: applied in the child (uvloop takes no user/group
            # arguments), when the agent may switch users.
            # In a sandbox the launcher does both (and the working directory) after joining.
            run_as = ((target.uid, target.gid) if os.geteuid() == 0 and join is None
                      else (None, None))
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=fds["stdin"], stdout=fds["stdout"], stderr=fds["stderr"],
                env=target.env or None,
                cwd=(target.workdir or None) if join is None else None, start_new_session=True,
                preexec_fn=partial(_child_setup, os.getpid(), child[0] if tty else None,
                                   *run_as))
        except FileNotFoundError as exc:
            for fd in (*child, *mine):
                os.close(fd)
            if target.workdir and exc.filename == target.workdir:
                raise ExecError(f"chdir to cwd ({target.workdir!r}) set in config.json failed: "
                                "no such file or directory") from exc
            raise ExecError(f'exec: "{command[0]}": executable file not found in $PATH') from exc
        except (OSError, subprocess.SubprocessError) as exc:
            for fd in (*child, *mine):
                os.close(fd)
            raise ExecError(f'exec: "{command[0]}": {exc}') from exc
        for fd in child:
            os.close(fd)
        if tty:
            master = mine[0]
            return cls(proc, tty=True, stdin_fd=master, stdout=FdReader(os.dup(master)),
                       stderr=None)
        it = iter(mine)
        stdin_fd = next(it) if stdin else None
        if stdin_fd is not None:
            os.set_blocking(stdin_fd, False)
        out = FdReader(next(it)) if stdout else None
        err = FdReader(next(it)) if stderr else None
        return cls(proc, tty=False, stdin_fd=stdin_fd, stdout=out, stderr=err)

    async def write_stdin(self, data: bytes) -> None:
        if self._stdin is None:
            return
        try:
            await write_all(self._stdin, data)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EBADF, errno.EIO):
                raise
            self.close_stdin()

    def close_stdin(self) -> None:
        if self._stdin is None:
            return
        if self.tty:
            # A terminal's stdin cannot close without hanging it up: send EOF (^D).
            with contextlib.suppress(OSError):
                os.write(self._stdin, b"\x04")
            return
        with contextlib.suppress(OSError):
            os.close(self._stdin)
        self._stdin = None

    def resize(self, width: int, height: int) -> None:
        if self._master is not None:
            set_winsize(self._master, width, height)

    async def read_stdout(self) -> bytes:
        return await self._stdout.read() if self._stdout is not None else b""

    async def read_stderr(self) -> bytes:
        return await self._stderr.read() if self._stderr is not None else b""

    async def wait(self) -> int:
        rc = await self.proc.wait()
        return 128 - rc if rc < 0 else rc

    def kill(self) -> None:
        """SIGKILL the process group: the command and whatever it started (also after the
        command itself has exited: its children may still hold the output open)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def close(self) -> None:
        """Release the fds (after the protocol is done)."""
        self.kill()
        for r in (self._stdout, self._stderr):
            if r is not None:
                r.close()
        if self._stdin is not None:
            with contextlib.suppress(OSError):
                os.close(self._stdin)
            self._stdin = None
        self._master = None

