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

A change that keeps the configuration's skeleton (equal but for comments and the address
or ``disabled`` of ``server sN`` slot lines) and the certificates goes through the runtime
API instead, no reload: servers first (``set server B/sN addr IP port P``, ``state
ready``/``state maint``), then the routing maps under ``maps/`` — order-insensitive ones
(``map_str``) by ``add map``/``set map``/``del map`` of the entries that changed, an
order-sensitive one (``map_beg``, :data:`~kubesvc.ingress.render.ORDERED_MAPS`) replaced
atomically (``prepare map``, ``add map @V`` with a payload, ``commit map @V``), the hosts
map last so that a new host shows once its paths are there. The new files are written for
the next reload. Any answer but the expected ones falls back to a reload. So new
Ingresses, hosts, paths, Services and endpoints need no reload; a new certificate, a pool
of backends exhausted or a backend needing more server slots do.
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

from kubesvc.ingress.render import ORDERED_MAPS

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


_RUNTIME_OK = ("IP changed", "no need to change", "port changed")
_CLI_CHUNK = 8000  # bytes per CLI request: well under tune.bufsize (16 kB)
MAP_DIR = "maps/"
_LAST_MAP = "hosts.map"  # a host becomes visible once its paths are in place
Servers = dict[tuple[str, str], tuple[str, bool]]  # (backend, slot) -> (address, disabled)


def _static(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files a change of which needs a reload (all but the maps)."""
    return {n: d for n, d in files.items() if not n.startswith(MAP_DIR)}


def parse_map(data: bytes) -> list[tuple[str, str]]:
    """An HAProxy map file's ``key value`` rows, in order (comments skipped)."""
    rows: list[tuple[str, str]] = []
    for line in data.decode().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            rows.append((key, value.strip()))
    return rows


def _rows(lines: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            out[key] = value
    return out


def map_commands(path: str, old: bytes, new: bytes, *, ordered: bool = False
                 ) -> list[str] | None:
    """Runtime API commands turning the map file ``old`` into ``new`` (set differences of
    their lines: this runs on maps of thousands of entries), or None when an ``ordered``
    one (``map_beg`` over keys ending in "/", longest first, where the first match wins)
    must be replaced whole. ``del``/``set`` keep the others' order and ``add`` appends,
    which is right for a new key unless a key that stays is a proper prefix of it at a "/"
    (that one, earlier in the list, would shadow it): a new host, or a path under none of
    the host's others, goes in as one ``add map``."""
    old_lines, new_lines = set(old.decode().split("\n")), set(new.decode().split("\n"))
    gone, came = _rows(old_lines - new_lines), _rows(new_lines - old_lines)
    cmds = [f"del map {path} {k}" for k in gone if k not in came]
    if ordered and any(k not in gone for k in came):
        kept = set(_rows(old_lines & new_lines)) | (set(gone) & set(came))
        for k in came:
            if k not in gone and any(k[:i + 1] in kept for i in range(len(k) - 1)
                                     if k[i] == "/"):
                return None
    for k, v in came.items():
        cmds.append(f"{'set' if k in gone else 'add'} map {path} {k} {v}")
    return cmds


def _expect_ok(answer: str) -> None:
    bad = [ln for ln in answer.splitlines() if ln.strip() and not ln.startswith(_RUNTIME_OK)]
    if bad:
        raise HAProxyError(f"runtime API refused: {' | '.join(bad[:3])}")


def split_servers(config: str) -> tuple[str, Servers]:
    """The configuration without comments (which Service a pooled backend serves needs no
    reload) and servers' addresses, and the servers by slot (this runs on every change of
    a configuration of thousands of lines: plain string tests, no regular expression)."""
    skeleton: list[str] = []
    servers: Servers = {}
    backend = ""
    for line in config.split("\n"):
        if line.startswith("  server "):
            _, name, addr, *rest = line.split()
            if backend:
                servers[(backend, name)] = (addr, rest == ["disabled"])
                line = f"  server {name}"
        elif line.startswith("backend "):
            backend = line[8:].strip()
        elif line.lstrip().startswith("#"):
            continue
        skeleton.append(line)
    return "\n".join(skeleton), servers


def server_changes(old: str, new: str) -> tuple[Servers, Servers] | None:
    """The server slots whose lines differ between two configurations (before, after), or
    None when anything else differs but comments (a structural change: a reload). Line by
    line, no parsing of the rest: this runs on every change of thousands of lines."""
    a, b = old.split("\n"), new.split("\n")
    if len(a) != len(b):
        return None
    before: Servers = {}
    after: Servers = {}
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x == y:
            continue
        if x.lstrip().startswith("#") and y.lstrip().startswith("#"):
            continue
        if not (x.startswith("  server ") and y.startswith("  server ")):
            return None
        xs, ys = x.split(), y.split()
        if xs[1] != ys[1]:
            return None
        j = i
        while j > 0 and not a[j].startswith("backend "):
            j -= 1
        backend = a[j][8:].strip()
        if not backend or b[j] != a[j]:
            return None
        before[(backend, xs[1])] = (xs[2], xs[3:] == ["disabled"])
        after[(backend, ys[1])] = (ys[2], ys[3:] == ["disabled"])
    return before, after


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

    def __init__(self, directory: Path, *, binary: str, ready_timeout: float = 10.0,
                 netns: str = "") -> None:
        """``netns``: run HAProxy in that named network namespace (``ip netns exec``); its
        sockets and files stay under ``directory``, which every namespace sees."""
        self.dir = directory
        self.binary = binary
        self.netns = netns
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
        if self._current is None or not self._running():
            return False
        old_config, old_files = self._current
        if _static(files) != _static(old_files):
            return False
        diff = server_changes(old_config, config)
        if diff is None:
            return False
        changed = {n: d for n, d in files.items() if old_files.get(n) != d}
        try:
            await self._runtime(runtime_commands(*diff))  # servers before routes to them
            for name in sorted((n for n in changed if n.startswith(MAP_DIR)),
                               key=lambda n: (n.endswith(_LAST_MAP), n)):
                path = self.dir / name
                cmds = map_commands(str(path), old_files.get(name, b""), changed[name],
                                    ordered=name in ORDERED_MAPS)
                if cmds is None:
                    await self._replace_map(path, parse_map(changed[name]))
                else:
                    await self._runtime(cmds)
        except (OSError, TimeoutError, HAProxyError) as exc:
            log.warning("ingress: runtime API update failed (%s); reloading", exc)
            return False
        self._write_files(changed, prune=False)
        tmp = self.dir / "haproxy.cfg.new"
        tmp.write_text(config)
        tmp.replace(self.config_path)
        self._current = (config, dict(files))
        self.runtime_updates += 1
        return True

    async def _runtime(self, cmds: list[str]) -> None:
        """Run ``cmds`` (batched into lines under the CLI's buffer); any answer but an
        expected one is an :class:`HAProxyError`."""
        batch: list[str] = []
        size = 0
        for cmd in [*cmds, ""]:
            if batch and (not cmd or size + len(cmd) > _CLI_CHUNK):
                _expect_ok(await _unix_command(self.stats_socket, ";".join(batch)))
                batch, size = [], 0
            if cmd:
                batch.append(cmd)
                size += len(cmd) + 1

    async def _replace_map(self, path: Path, rows: list[tuple[str, str]]) -> None:
        """All of an order-sensitive map, atomically: a new version filled, then committed."""
        answer = await _unix_command(self.stats_socket, f"prepare map {path}")
        m = re.search(r"New version created: (\d+)", answer)
        if not m:
            raise HAProxyError(f"prepare map {path}: {answer.strip()}")
        ver = m.group(1)
        chunk: list[str] = []
        size = 0
        for row in [*rows, None]:
            line = f"{row[0]} {row[1]}\n" if row else ""
            if chunk and (row is None or size + len(line) > _CLI_CHUNK):
                _expect_ok(await _unix_command(
                    self.stats_socket, f"add map @{ver} {path} <<\n{''.join(chunk)}"))
                chunk, size = [], 0
            if row:
                chunk.append(line)
                size += len(line)
        _expect_ok(await _unix_command(self.stats_socket, f"commit map @{ver} {path}"))

    def _write_files(self, files: dict[str, bytes], *, prune: bool = True) -> None:
        for name, data in files.items():
            path = self.dir / name
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = path.with_name(path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            tmp.replace(path)
        certs = self.dir / "certs"
        if prune and certs.is_dir():  # certificates of Secrets no longer used
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
            prefix = ("ip", "netns", "exec", self.netns) if self.netns else ()
            self._proc = await asyncio.create_subprocess_exec(
                *prefix, self.binary, "-W", "-S", f"{self.master_socket},mode,600",
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
