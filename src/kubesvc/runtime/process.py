"""ProcessRunner: each container attempt is a host process (asyncio subprocess in its own
process group / session), its stdout+stderr appended to
``<data_dir>/pods/<pod-uid>/<container>/<attempt>.log`` (kept for ``kubectl logs
--previous``), its pid and start time recorded under ``<data_dir>/containers/<id>.json`` so a
restarted agent can adopt it or kill it as an orphan.

Called by the agent through the :class:`kubesvc.runtime.types.PodRunner` protocol. In netns
mode the agent passes ``launch.netns`` and the process is started with ``ip netns exec``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import time
from pathlib import Path

from kubesvc.runtime.types import ContainerInfo, ContainerLaunch, ExitCallback

log = logging.getLogger(__name__)


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


def rotate_log(path: str, max_bytes: int) -> bool:
    """Copy-truncate ``path`` when it is larger than ``max_bytes``; True if rotated."""
    try:
        if os.path.getsize(path) <= max_bytes:
            return False
        shutil.copyfile(path, path + ".1")
        os.truncate(path, 0)
        return True
    except OSError as exc:
        log.warning("log rotation of %s failed: %s", path, exc)
        return False


class _Attempt:
    __slots__ = ("info", "on_exit", "proc", "ticks", "waiter")

    def __init__(self, info: ContainerInfo, on_exit: ExitCallback | None) -> None:
        self.info = info
        self.on_exit = on_exit
        self.proc: asyncio.subprocess.Process | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.ticks: int | None = None


class ProcessRunner:
    simulated = False

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.pods_dir = self.data_dir / "pods"
        self.records_dir = self.data_dir / "containers"
        self.pods_dir.mkdir(parents=True, exist_ok=True)
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self._attempts: dict[str, _Attempt] = {}
        self._recorded: dict[str, dict[str, object]] = self._load_records()

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
               "started_at": i.started_at, "log_path": i.log_path}
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
                self._recorded.pop(cid)
                self._unrecord(cid)
                continue
            out.append(ContainerInfo(
                id=cid, pod_uid=str(rec["pod_uid"]), container=str(rec["container"]),
                attempt=int(str(rec["attempt"])), started_at=float(str(rec["started_at"])),
                pid=pid, log_path=str(rec.get("log_path") or "")))
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
            pid=pid, log_path=str(rec.get("log_path") or ""))
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
        if launch.netns:
            if launch.hostname and shutil.which("unshare"):
                # The pod's own hostname in a new UTS namespace; exec keeps the PID.
                argv = ["unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"',
                        launch.hostname, *argv]
            argv = ["ip", "netns", "exec", launch.netns, *argv]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=fd, stderr=fd,
                env=launch.env, cwd=launch.workdir, start_new_session=True)
        except OSError as exc:
            msg = f"failed to start container {launch.container!r}: exec {argv[0]!r}: {exc}"
            os.write(fd, (msg + "\n").encode())
            os.close(fd)
            self._finish(a, 128, None, reason="StartError", message=msg)
            return info
        os.close(fd)
        a.proc = proc
        info.pid = proc.pid
        a.ticks = proc_start_ticks(proc.pid)
        self._record(a)
        a.waiter = asyncio.create_task(self._wait(a), name=f"container-wait {info.id}")
        return info

    async def _wait(self, a: _Attempt) -> None:
        assert a.proc is not None
        rc = await a.proc.wait()
        # The main process is gone: end the rest of its group, as a container's cgroup would.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(a.proc.pid, signal.SIGKILL)
        if rc < 0:
            self._finish(a, 128 - rc, -rc)
        else:
            self._finish(a, rc, None)

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
            self._attempts.pop(cid, None)
            self._unrecord(cid)
        shutil.rmtree(self.pods_dir / pod_uid, ignore_errors=True)

    async def maintain(self, stop: asyncio.Event, *, interval: float = 10.0,
                       max_bytes: int = 10 * 1024 * 1024) -> None:
        """Rotate running containers' logs (kubelet's containerLogMaxSize, 10 MiB): copy
        to ``<attempt>.log.1`` and truncate in place (writers hold O_APPEND fds)."""
        while not stop.is_set():
            waiter = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({waiter}, timeout=interval)
            finally:
                waiter.cancel()
            for a in list(self._attempts.values()):
                if a.info.finished_at is None and a.info.log_path:
                    rotate_log(a.info.log_path, max_bytes)

    async def close(self) -> None:
        """Stop watching (the processes keep running, to be adopted by the next agent)."""
        for a in self._attempts.values():
            if a.waiter is not None and not a.waiter.done():
                a.waiter.cancel()
        waiters = [a.waiter for a in self._attempts.values() if a.waiter is not None]
        await asyncio.gather(*waiters, return_exceptions=True)
