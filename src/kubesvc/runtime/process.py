"""ProcessRunner: each container attempt is a host process (asyncio subprocess in its own
process group / session), its stdout+stderr piped into
``<data_dir>/pods/<pod-uid>/<container>/<attempt>.log`` by a :class:`~.logfile.LogPump`
(rotated by size as the kubelet does; the previous attempt's kept for ``kubectl logs
--previous``), its pid and start time recorded under ``<data_dir>/containers/<id>.json`` so a
restarted agent can adopt it or kill it as an orphan.

Called by the agent through the :class:`kubesvc.runtime.types.PodRunner` protocol. In netns
mode the agent passes ``launch.netns`` and the process is started with ``ip netns exec``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import fcntl
import json
import logging
import os
import pty
import secrets
import shutil
import signal
import subprocess
import sys
import termios
import time
from functools import partial
from pathlib import Path

from kubesvc.runtime import cgroups as cg
from kubesvc.runtime.logfile import MAX_FILES, MAX_SIZE, LogPump
from kubesvc.runtime.streaming.attach import ProcessAttach
from kubesvc.runtime.types import ContainerInfo, ContainerLaunch, ExitCallback

log = logging.getLogger(__name__)
LAUNCHER = str(Path(__file__).with_name("sandbox") / "launch.py")

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_prctl = _libc.prctl  # looked up here: the child between fork and exec only calls it


def die_with_parent(parent: int) -> None:
    """``preexec_fn`` of every container process: SIGKILL it when the agent dies (even by
    kill -9), so no pod process outlives its node agent; a parent that is already gone
    (died between fork and here) ends the child at once. The signal follows the *thread*
    that forked, so containers are only started from the event loop's thread; it survives
    ``exec`` (also through ``ip netns exec`` and ``unshare``, which exec in place), and the
    next agent kills whatever of the container's session is left (:meth:`kill_orphans`)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(137)


def _extra(rec: dict[str, object]) -> dict[str, str]:
    extra = rec.get("extra")
    return {str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {}


def _missing_command(argv: list[str], env: dict[str, str]) -> str:
    """Why ``argv[0]`` cannot be executed, as the exec error a direct start would give
    (checked on the host before the launcher hides the failure behind its exit code)."""
    if not argv:
        return "no command"
    if "/" in argv[0] and not os.path.exists(argv[0]):
        return ""  # maybe inside one of its volumes: the launcher's exec will tell
    exe = argv[0] if "/" in argv[0] else shutil.which(argv[0], path=env.get("PATH", ""))
    if exe is None or not os.path.exists(exe):
        return f'exec {argv[0]!r}: executable file not found in $PATH'
    if not os.access(exe, os.X_OK):
        return f"exec {argv[0]!r}: permission denied"
    return ""


def proc_start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time since boot), to tell a reused pid apart."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = data[data.rfind(")") + 2 :].split()
    state = fields[0]
    if state == "Z":
        return None
    return int(fields[19])


def session_members(sid: int) -> list[int]:
    """Pids whose session is ``sid`` (a container's processes: each starts a new session)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            data = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        fields = data[data.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(d))
    return out


def kill_leftovers(pid: int, ticks: object) -> int:
    """SIGKILL what is left of a dead container's session (children its main process left
    when the agent died and took the main process with it). Safe against pid reuse: a
    session id stays allocated while any member lives, so if ``pid`` now names another
    process the old session is empty."""
    cur = proc_start_ticks(pid)
    if cur is not None and cur != ticks:
        return 0
    n = 0
    for member in session_members(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(member, signal.SIGKILL)
            n += 1
    return n


def _container_setup(parent: int, tty: int | None, cgroup_procs: str = "") -> None:
    """``preexec_fn`` of a container: enter its memory cgroup (``cgroup_procs``), die with
    the agent (``parent`` > 0), and with a tty make the PTY (``tty``: the slave's fd
    number; uvloop runs this before it moves the slave onto fd 0) the controlling
    terminal of a new session."""
    if cgroup_procs:
        fd = os.open(cgroup_procs, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    if parent:
        die_with_parent(parent)
    if tty is not None:
        # (uvloop's start_new_session may run after preexec_fn: be a session leader now)
        with contextlib.suppress(OSError):
            os.setsid()
        fcntl.ioctl(tty, termios.TIOCSCTTY, 0)


class _Attempt:
    __slots__ = ("attach", "info", "on_exit", "proc", "pump", "ticks", "waiter")

    def __init__(self, info: ContainerInfo, on_exit: ExitCallback | None) -> None:
        self.info = info
        self.on_exit = on_exit
        self.proc: asyncio.subprocess.Process | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.ticks: int | None = None
        self.pump: LogPump | None = None
        self.attach: ProcessAttach | None = None


class ProcessRunner:
    simulated = False

    def __init__(self, data_dir: Path, *, log_max_size: int = MAX_SIZE,
                 log_max_files: int = MAX_FILES, die_with_agent: bool = True,
                 cgroups: cg.MemoryCgroups | None = None) -> None:
        """``die_with_agent``: each container's main process is killed when this process
        dies (``kubesvc up``, where nothing else would ever end them). A standalone ``kubesvc
        agent`` passes False: its pods outlive it, as containers outlive a crashed kubelet,
        so Services keep serving until the node is marked unready; the next agent on the
        same data dir adopts them or kills what they left (:meth:`adoptable`).
        ``cgroups``: where memory limits are enforced (default: :func:`.cgroups.detect`,
        on first use)."""
        self.data_dir = Path(data_dir)
        self._cgroups = cgroups
        self.die_with_agent = die_with_agent
        self.log_max_size = log_max_size
        self.log_max_files = log_max_files
        self.pods_dir = self.data_dir / "pods"
        self.records_dir = self.data_dir / "containers"
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self._attempts: dict[str, _Attempt] = {}
        self._recorded: dict[str, dict[str, object]] = self._load_records()

    @property
    def cgroups(self) -> cg.MemoryCgroups:
        if self._cgroups is None:
            self._cgroups = cg.detect(self.data_dir)
            if self._cgroups.problem:
                log.warning("memory limits are not enforced on this node: %s",
                            self._cgroups.problem)
        return self._cgroups

    @property
    def memory_limit_problem(self) -> str:
        """Why ``resources.limits.memory`` cannot be enforced here ("" when it is)."""
        return self.cgroups.problem

    # -- records (agent restart)
    def _load_records(self) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for p in self.records_dir.glob("*.json"):
            try:
                out[p.stem] = json.loads(p.read_text())
            except (OSError, ValueError):
                p.unlink(missing_ok=True)
        return out

    def _record(self, a: _Attempt) -> None:
        i = a.info
        rec = {"id": i.id, "pod_uid": i.pod_uid, "container": i.container,
               "attempt": i.attempt, "pid": i.pid, "ticks": a.ticks,
               "started_at": i.started_at, "log_path": i.log_path, "extra": i.extra}
        tmp = self.records_dir / f".{i.id}.tmp"
        tmp.write_text(json.dumps(rec))
        tmp.replace(self.records_dir / f"{i.id}.json")

    def _unrecord(self, cid: str) -> None:
        (self.records_dir / f"{cid}.json").unlink(missing_ok=True)

    def adoptable(self) -> list[ContainerInfo]:
        out = []
        for cid, rec in list(self._recorded.items()):
            pid = int(str(rec.get("pid") or 0))
            alive = pid > 0 and proc_start_ticks(pid) == rec.get("ticks")
            if not alive:
                if pid > 0 and kill_leftovers(pid, rec.get("ticks")):
                    log.info("killed the processes left by container %s", cid)
                self._recorded.pop(cid)
                self._unrecord(cid)
                continue
            out.append(ContainerInfo(
                id=cid, pod_uid=str(rec["pod_uid"]), container=str(rec["container"]),
                attempt=int(str(rec["attempt"])), started_at=float(str(rec["started_at"])),
                pid=pid, log_path=str(rec.get("log_path") or ""),
                extra=_extra(rec)))
        return out

    def adopt(self, container_id: str, *, on_exit: ExitCallback) -> ContainerInfo | None:
        rec = self._recorded.pop(container_id, None)
        if rec is None:
            return None
        pid = int(str(rec.get("pid") or 0))
        if proc_start_ticks(pid) != rec.get("ticks"):
            self._unrecord(container_id)
            return None
        info = ContainerInfo(
            id=container_id, pod_uid=str(rec["pod_uid"]), container=str(rec["container"]),
            attempt=int(str(rec["attempt"])), started_at=float(str(rec["started_at"])),
            pid=pid, log_path=str(rec.get("log_path") or ""), extra=_extra(rec))
        a = _Attempt(info, on_exit)
        a.ticks = proc_start_ticks(pid)
        self._attempts[container_id] = a
        a.waiter = asyncio.create_task(self._watch_foreign(a),
                                       name=f"container-watch {container_id}")
        return info

    async def kill_orphans(self, keep: set[str]) -> int:
        """SIGKILL recorded processes whose ids are not in ``keep``; returns how many."""
        n = 0
        for info in self.adoptable():
            if info.id in keep:
                continue
            self._recorded.pop(info.id, None)
            if info.pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(info.pid, signal.SIGKILL)
                    n += 1
            self._unrecord(info.id)
        # Cgroups of containers no one runs any more (the agent died with them): whatever
        # is still in them (processes that left the container's session) is killed.
        if self._cgroups is not None or (self.data_dir / ".cgroups").exists():
            for cid in self.cgroups.leftovers():
                if cid not in keep and cid not in self._attempts:
                    await asyncio.to_thread(self.cgroups.remove, cid)
        return n

    async def _watch_foreign(self, a: _Attempt) -> None:
        """Wait for a process that is not our child (adopted); its exit code is unknown."""
        pid = a.info.pid or 0
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            fd = -1
        if fd >= 0:
            ev = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.add_reader(fd, ev.set)
            try:
                await ev.wait()
            finally:
                loop.remove_reader(fd)
                os.close(fd)
        else:
            while proc_start_ticks(pid) == a.ticks:
                await asyncio.sleep(0.5)
        if await self._end_cgroup(a):
            self._finish(a, 137, signal.SIGKILL, reason="OOMKilled")
            return
        self._finish(a, 137, None, reason="ContainerStatusUnknown",
                     message="The container exited while the node agent was not watching it")

    # -- running
    def _log_file(self, launch: ContainerLaunch) -> Path:
        d = self.pods_dir / launch.pod_uid / launch.container
        d.mkdir(parents=True, exist_ok=True)
        return d / f"{launch.attempt}.log"

    def log_path(self, pod_uid: str, container: str, attempt: int) -> str | None:
        p = self.pods_dir / pod_uid / container / f"{attempt}.log"
        return str(p) if p.exists() else None

    async def start(self, launch: ContainerLaunch, *, on_exit: ExitCallback) -> ContainerInfo:
        cid = secrets.token_hex(32)
        path = self._log_file(launch)
        info = ContainerInfo(id=cid, pod_uid=launch.pod_uid, container=launch.container,
                             attempt=launch.attempt, started_at=time.time(),
                             log_path=str(path))
        a = _Attempt(info, on_exit)
        self._attempts[cid] = a
        argv = list(launch.argv)
        cwd = launch.workdir
        if launch.sandbox_plan:
            missing = _missing_command(argv, launch.env)
            if missing:
                msg = f"failed to start container {launch.container!r}: {missing}"
                with contextlib.suppress(OSError), open(path, "ab") as f:
                    f.write((msg + "\n").encode())
                self._finish(a, 128, None, reason="StartError", message=msg)
                return info
            # The launcher builds the root in a new mount namespace, then execs in place.
            argv = [sys.executable, "-I", "-S", LAUNCHER, launch.sandbox_plan, "--", *argv]
            cwd = None
            info.extra.update(sandbox_plan=launch.sandbox_plan, launcher=LAUNCHER)
        if launch.netns:
            if launch.hostname and shutil.which("unshare"):
                # The pod's own hostname in a new UTS namespace; exec keeps the PID.
                argv = ["unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"',
                        launch.hostname, *argv]
            argv = ["ip", "netns", "exec", launch.netns, *argv]
        # stdout+stderr: a pipe, or with ``tty`` a PTY (the agent keeps the master: the log
        # pump reads a copy of it, attach writes to it); ``stdin``: a pipe kept for attach.
        stdin: int = asyncio.subprocess.DEVNULL
        keep_stdin: int | None = None
        if launch.tty:
            keep_stdin, wfd = pty.openpty()
            rfd = os.dup(keep_stdin)
            stdin = wfd
        else:
            rfd, wfd = os.pipe2(os.O_CLOEXEC)
            if launch.stdin:
                stdin, keep_stdin = os.pipe2(os.O_CLOEXEC)
        procs = self._memory_cgroup(info, launch)
        setup = partial(_container_setup, os.getpid() if self.die_with_agent else 0,
                        wfd if launch.tty else None, procs)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=stdin, stdout=wfd, stderr=wfd,
                env=launch.env, cwd=cwd, start_new_session=True,
                preexec_fn=setup if self.die_with_agent or launch.tty or procs else None)
        except (OSError, subprocess.SubprocessError) as exc:  # the latter: preexec_fn's
            os.close(rfd)
            os.close(wfd)
            if keep_stdin is not None:
                os.close(keep_stdin)
            if stdin >= 0 and stdin != wfd:
                os.close(stdin)
            if procs:
                self.cgroups.remove(info.id)
            msg = f"failed to start container {launch.container!r}: exec {argv[0]!r}: {exc}"
            with contextlib.suppress(OSError), open(path, "ab") as f:
                f.write((msg + "\n").encode())
            self._finish(a, 128, None, reason="StartError", message=msg)
            return info
        os.close(wfd)
        if stdin >= 0 and stdin != wfd:
            os.close(stdin)
        # The pump outlives this runner (close() leaves running processes to be adopted);
        # it ends when the container's last process closes the pipe.
        a.pump = LogPump(rfd, str(path), max_size=self.log_max_size,
                         max_files=self.log_max_files)
        # Every container can be attached to (its output from then on); stdin only with
        # ``stdin``/``tty``.
        a.attach = ProcessAttach(keep_stdin, tty=launch.tty, stdin_once=launch.stdin_once)
        a.pump.on_data = a.attach.feed
        self._forget_old_attempts(launch)
        a.proc = proc
        info.pid = proc.pid
        a.ticks = proc_start_ticks(proc.pid)
        self._record(a)
        a.waiter = asyncio.create_task(self._wait(a), name=f"container-wait {info.id}")
        return info

    def _memory_cgroup(self, info: ContainerInfo, launch: ContainerLaunch) -> str:
        """The container's cgroup (its ``cgroup.procs``): every container gets one where
        the node has them, as under a container runtime, so that whatever it started is
        found again after an agent crash (:meth:`kill_orphans`). "" when none can be made
        (with a limit, ``extra["cgroup_error"]`` says why; the agent makes it an event)."""
        if not launch.memory_limit and self.cgroups.problem:
            return ""
        try:
            procs = self.cgroups.create(info.id, launch.memory_limit or None)
        except OSError as exc:
            if launch.memory_limit:
                info.extra["cgroup_error"] = self.cgroups.problem or str(exc)
            return ""
        (self.data_dir / ".cgroups").touch()  # a next agent looks for leftovers
        info.extra["cgroup"] = "memory"
        return procs

    async def _end_cgroup(self, a: _Attempt) -> bool:
        """Remove the attempt's cgroup (killing what is left in it); True when the kernel
        OOM-killed a process in it."""
        if not a.info.extra.get("cgroup"):
            return False
        oom = self.cgroups.oom_killed(a.info.id)
        await asyncio.to_thread(self.cgroups.remove, a.info.id)
        return oom

    def _forget_old_attempts(self, launch: ContainerLaunch) -> None:
        """Keep the logs of this attempt and the previous one (``--previous``) only, as the
        kubelet's container GC keeps one dead container per container name."""
        d = self.pods_dir / launch.pod_uid / launch.container
        for p in d.glob("*.log*"):
            head = p.name.split(".", 1)[0]
            if head.isdigit() and int(head) < launch.attempt - 1:
                p.unlink(missing_ok=True)

    async def _wait(self, a: _Attempt) -> None:
        assert a.proc is not None
        rc = await a.proc.wait()
        # The main process is gone: end the rest of its group, as a container's cgroup would.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(a.proc.pid, signal.SIGKILL)
        if a.pump is not None:
            # Its last output may still be in the pipe: in the file before the exit shows.
            await asyncio.wait({asyncio.ensure_future(a.pump.closed.wait())}, timeout=1.0)
            a.pump.drain()
        oom = await self._end_cgroup(a)
        reason = "OOMKilled" if oom else ""
        if rc < 0:
            self._finish(a, 128 - rc, -rc, reason=reason)
        else:
            self._finish(a, rc, None, reason=reason)

    def _finish(self, a: _Attempt, code: int, sig: int | None, *, reason: str = "",
                message: str = "") -> None:
        i = a.info
        if i.finished_at is not None:
            return
        i.finished_at = time.time()
        i.exit_code = code
        i.signal = sig
        i.reason = reason
        i.message = message
        self._unrecord(i.id)
        if a.attach is not None:
            a.attach.exited(code)
        if a.on_exit is not None:
            cb = a.on_exit
            asyncio.get_running_loop().call_soon(cb, i)

    async def stop(self, container_id: str, *, grace_period: float) -> None:
        a = self._attempts.get(container_id)
        if a is None or a.info.finished_at is not None or not a.info.pid:
            return
        pid = a.info.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        # asyncio.wait, not wait_for: it never cancels the waiter and (on Python 3.11)
        # never swallows a cancellation of this coroutine.
        waiter = a.waiter
        if waiter is not None and grace_period > 0:
            await asyncio.wait({waiter}, timeout=grace_period)
        if a.info.finished_at is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            if waiter is not None:
                await asyncio.wait({waiter}, timeout=5)

    def attach_point(self, container_id: str) -> ProcessAttach | None:
        """The kept stdio of a running container (kubectl attach): its output, and its
        stdin with ``stdin``/``tty``. None for a finished or adopted one."""
        a = self._attempts.get(container_id)
        return a.attach if a is not None and a.info.finished_at is None else None

    def status(self, container_id: str) -> ContainerInfo | None:
        a = self._attempts.get(container_id)
        return a.info if a is not None else None

    async def remove_pod(self, pod_uid: str) -> None:
        for cid, a in list(self._attempts.items()):
            if a.info.pod_uid != pod_uid:
                continue
            if a.info.finished_at is None:
                await self.stop(cid, grace_period=0)
            if a.waiter is not None and not a.waiter.done():
                a.waiter.cancel()
            if a.pump is not None:
                a.pump.close()
            self._attempts.pop(cid, None)
            self._unrecord(cid)
        shutil.rmtree(self.pods_dir / pod_uid, ignore_errors=True)

    async def close(self) -> None:
        """Stop watching (the processes keep running, to be adopted by the next agent);
        this agent's cgroup root goes when no container is left in it."""
        if self._cgroups is not None:
            self._cgroups.remove_root()
        for a in self._attempts.values():
            if a.waiter is not None and not a.waiter.done():
                a.waiter.cancel()
        waiters = [a.waiter for a in self._attempts.values() if a.waiter is not None]
        await asyncio.gather(*waiters, return_exceptions=True)
