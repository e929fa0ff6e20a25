"""Fixtures for the storage contract suite: one ``store`` per backend (memory, sqlite, etcd).

etcd runs as a real ``etcd`` binary on 127.0.0.1 with free ports and a temporary data dir
(on /dev/shm when present, so its fsyncs are cheap); tests that need it skip with a reason
when the binary is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from kubesvc.storage.etcd import EtcdStore
from kubesvc.storage.memory import MemoryStore
from kubesvc.storage.sqlite import SqliteStore
from kubesvc.storage.store import Store, Watch, WatchEvent

ETCD = shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EtcdProcess:
    """One single-member etcd on loopback; can be killed and restarted on the same ports."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.client_port = free_port()
        self.peer_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"etcd://127.0.0.1:{self.client_port}"

    def start(self) -> None:
        assert ETCD is not None
        client = f"http://127.0.0.1:{self.client_port}"
        peer = f"http://127.0.0.1:{self.peer_port}"
        self.proc = subprocess.Popen(
            [ETCD, "--name", "t", "--data-dir", str(self.data_dir),
             "--listen-client-urls", client, "--advertise-client-urls", client,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"t={peer}", "--logger", "zap", "--log-level", "error",
             # A lone member elects itself after one election timeout: keep it short.
             "--heartbeat-interval", "10", "--election-timeout", "100"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{client}/health", timeout=0.5) as resp:
                    if json.load(resp).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise RuntimeError("etcd did not become healthy within 10s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def _tmp_base() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


@pytest.fixture
def etcd_factory() -> Iterator[Callable[[], EtcdProcess]]:
    """Starts private etcd instances (for tests that kill them); cleans them up."""
    if ETCD is None:
        pytest.skip("etcd binary not installed (Debian package etcd-server)")
    started: list[EtcdProcess] = []
    dirs: list[str] = []

    class _Factory(EtcdProcess):
        def __init__(self) -> None:
            d = tempfile.mkdtemp(prefix="kubesvc-etcd-", dir=_tmp_base())
            dirs.append(d)
            super().__init__(Path(d))
            started.append(self)

    yield _Factory
    for p in started:
        p.kill()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session")
def etcd_server() -> Iterator[EtcdProcess]:
    if ETCD is None:
        pytest.skip("etcd binary not installed (Debian package etcd-server)")
    d = tempfile.mkdtemp(prefix="kubesvc-etcd-", dir=_tmp_base())
    proc = EtcdProcess(Path(d))
    proc.start()
    yield proc
    proc.kill()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["memory", "sqlite", "etcd"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Store]:
    s: Store
    if backend == "memory":
        s = MemoryStore()
    elif backend == "sqlite":
        s = await SqliteStore.open(str(tmp_path / "store.db"))
    else:
        server: EtcdProcess = request.getfixturevalue("etcd_server")
        s = await EtcdStore.connect(server.url)
    yield s
    await s.close()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own (the etcd server is shared by the session)."""
    return f"/t/{uuid.uuid4().hex[:12]}/"


class Events:
    """Pulls events from a watch one at a time, across its batches, with a timeout."""

    def __init__(self, watch: Watch) -> None:
        self._it: AsyncIterator[list[WatchEvent]] = aiter(watch)
        self._buf: list[WatchEvent] = []

    async def next(self, timeout: float = 5.0) -> WatchEvent:
        if not self._buf:
            async with asyncio.timeout(timeout):
                self._buf.extend(await anext(self._it))
        return self._buf.pop(0)

    async def take(self, n: int, timeout: float = 5.0) -> list[WatchEvent]:
        return [await self.next(timeout) for _ in range(n)]

    async def end(self, timeout: float = 5.0) -> None:
        """Wait for the iteration to finish (raises what it raised)."""
        async with asyncio.timeout(timeout):
            async for batch in self._it:
                self._buf.extend(batch)


@pytest.fixture
def events() -> type[Events]:
    """The :class:`Events` reader (``events(watch).take(n)``)."""
    return Events
