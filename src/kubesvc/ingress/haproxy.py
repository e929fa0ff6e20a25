"""Run HAProxy as the ingress data plane, in master-worker mode under one directory.

:class:`HAProxy` writes ``haproxy.cfg`` and the files :func:`kubesvc.ingress.render.render`
returns (atomically, each through a temporary file and a rename), checks the new
configuration with ``haproxy -c`` before using it (a bad one is an error and the running
one stays), starts ``haproxy -W -S DIR/master.sock`` the first time and afterwards asks the
master for a ``reload``. The reload is hitless: the stats socket is declared with
``expose-fd listeners``, so the master starts the new worker with ``-x`` and the listening
sockets pass to it (no connection refused), and the old worker finishes its in-flight
requests (``hard-stop-after`` bounds it). :meth:`HAProxy.apply` returns once the new worker
answers on the stats socket, so "applied" means routable.

A change that only moves backend servers (the configuration equal but for the address or
``disabled`` of ``server sN`` slot lines, files unchanged) goes through the runtime API
instead: ``set server B/sN addr IP port P`` and ``state ready``/``state maint`` on the
stats socket, no reload; the new file is written for the next reload. Any answer but the
expected ones falls back to a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT_BINARY = "/usr/sbin/haproxy"


def find_haproxy() -> str | None:
    """The haproxy binary, or None when it is not installed."""
    found = shutil.which("haproxy")
    if found:
        return found
    return DEFAULT_BINARY if os.access(DEFAULT_BINARY, os.X_OK) else None


class DataPlane(Protocol):
    """What the controller needs of its data plane (a fake in tests/fakes/ingress.py)."""

    async def apply(self, config: str, files: dict[str, bytes]) -> None: ...

    async def close(self) -> None: ...


_SERVER = re.compile(r"^  server (s\d+) (\S+)( disabled)?$")
_RUNTIME_OK = ("IP changed", "no need to change", "port changed")
Servers = dict[tuple[str, str], tuple[str, bool]]  # (backend, slot) -> (address, disabled)


def split_servers(config: str) -> tuple[str, Servers]:
    """The configuration without the servers' addresses, and the servers by slot."""
    skeleton: list[str] = []
    servers: Servers = {}
    backend = ""
    for line in config.splitlines():
        if line.startswith("backend "):
            backend = line.split()[1]
        m = _SERVER.match(line)
        if m and backend:
            servers[(backend, m.group(1))] = (m.group(2), bool(m.group(3)))
            line = f"  server {m.group(1)}"
        skeleton.append(line)
    return "\n".join(skeleton), servers


def runtime_commands(old: Servers, new: Servers) -> list[str]:
    """Runtime API commands turning the servers ``old`` into ``new`` (same slots)."""
    cmds: list[str] = []
    for (backend, slot), (addr, disabled) in sorted(new.items()):
        before = old.get((backend, slot))
        if before == (addr, disabled):
            continue
        name = f"{backend}/{slot}"
        if disabled:
            cmds.append(f"set server {name} state maint")
            continue
        if before is None or before[0] != addr:
            host, _, port = addr.rpartition(":")
            cmds.append(f"set server {name} addr {host.strip('[]')} port {port}")
        cmds.append(f"set server {name} state ready")
    return cmds


class HAProxyError(RuntimeError):
    """HAProxy refused a configuration or did not start/reload in time."""


async def _unix_command(path: Path, command: str, *, timeout: float = 2.0) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), timeout)
    try:
        writer.write(command.encode() + b"\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
        return data.decode(errors="replace")
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


class HAProxy:
    """One HAProxy master under ``directory`` (its log: ``directory/haproxy.log``)."""

    def __init__(self, directory: Path, *, binary: str, ready_timeout: float = 10.0) -> None:
        self.dir = directory
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.config_path = directory / "haproxy.cfg"
        self.master_socket = directory / "master.sock"
        self.stats_socket = directory / "haproxy.sock"
        self._proc: asyncio.subprocess.Process | None = None
        self._current: tuple[str, dict[str, bytes]] | None = None
        self.reloads = 0
        self.runtime_updates = 0

    async def apply(self, config: str, files: dict[str, bytes]) -> None:
        if self._current == (config, files) and self._running():
            return
        if await self._try_runtime(config, files):
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = self.dir / "haproxy.cfg.new"
        self._write_files(files)
        staged.write_text(config)
        await self._check(staged)
        staged.replace(self.config_path)
        if self._running():
            await self._reload()
        else:
            await self._start()
        self._current = (config, dict(files))

    async def _try_runtime(self, config: str, files: dict[str, bytes]) -> bool:
        if self._current is None or not self._running() or files != self._current[1]:
            return False
        old_skeleton, old = split_servers(self._current[0])
        new_skeleton, new = split_servers(config)
        if old_skeleton != new_skeleton:
            return False
        cmds = runtime_commands(old, new)
        try:
            answer = await _unix_command(self.stats_socket, ";".join(cmds)) if cmds else ""
        except (OSError, TimeoutError) as exc:
            log.warning("ingress: runtime API unreachable (%s); reloading", exc)
            return False
        bad = [ln for ln in answer.splitlines() if ln.strip() and not ln.startswith(_RUNTIME_OK)]
        if bad:
            log.warning("ingress: runtime API refused %s; reloading", bad[:3])
            return False
        tmp = self.dir / "haproxy.cfg.new"
        tmp.write_text(config)
        tmp.replace(self.config_path)
        self._current = (config, dict(files))
        self.runtime_updates += 1
        return True

    def _write_files(self, files: dict[str, bytes]) -> None:
        for name, data in files.items():
            path = self.dir / name
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            tmp.replace(path)
        certs = self.dir / "certs"
        if certs.is_dir():  # certificates of Secrets no longer used
            for old in certs.iterdir():
                if f"certs/{old.name}" not in files:
                    old.unlink(missing_ok=True)

    async def _check(self, path: Path) -> None:
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", "-q", "-f", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise HAProxyError(f"haproxy rejected the configuration: "
                               f"{out.decode(errors='replace').strip()[-2000:]}")

    def _running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _kill_stale(self) -> None:
        """A master left by an earlier run that was killed (its pidfile names it and its
        command line our configuration) would hold the ports: stop it."""
        pidfile = self.dir / "haproxy.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            return
        if str(self.config_path).encode() in cmdline and b"-W" in cmdline:
            log.warning("ingress: stopping haproxy %d left by an earlier run", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not Path(f"/proc/{pid}").exists():
                    break
                time.sleep(0.01)

    async def _start(self) -> None:
        self._kill_stale()
        self.master_socket.unlink(missing_ok=True)
        self.stats_socket.unlink(missing_ok=True)
        with (self.dir / "haproxy.log").open("ab") as logf:
            self._proc = await asyncio.create_subprocess_exec(
                self.binary, "-W", "-S", f"{self.master_socket},mode,600",
                "-f", str(self.config_path), "-p", str(self.dir / "haproxy.pid"),
                stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf,
                start_new_session=True)
        log.info("ingress: haproxy master pid %d started", self._proc.pid)
        await self._wait_worker(previous=None)

    async def worker_pid(self) -> int | None:
        try:
            info = await _unix_command(self.stats_socket, "show info", timeout=0.5)
        except (OSError, TimeoutError):
            return None
        for line in info.splitlines():
            if line.startswith("Pid:"):
                return int(line.split(":", 1)[1])
        return None

    async def _wait_worker(self, previous: int | None) -> None:
        end = time.monotonic() + self.ready_timeout
        while time.monotonic() < end:
            if not self._running():
                code = self._proc.returncode if self._proc else None
                raise HAProxyError(f"haproxy exited ({code}): {self._log_tail()}")
            pid = await self.worker_pid()
            if pid is not None and pid != previous:
                return
            await asyncio.sleep(0.01)
        raise HAProxyError(f"haproxy worker not ready after {self.ready_timeout:.0f} s: "
                           f"{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            text = (self.dir / "haproxy.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " | ".join(text.strip().splitlines()[-5:])

    async def _reload(self) -> None:
        previous = await self.worker_pid()
        await _unix_command(self.master_socket, "reload")
        self.reloads += 1
        await self._wait_worker(previous)

    async def close(self) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGUSR1)  # soft stop: finish in-flight requests
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
