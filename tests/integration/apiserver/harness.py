"""Test harness for the API server integration tests: an in-process server (Registry over
the memory store + ApiServer on a free port) on its own event loop in a background thread,
so that tests drive it synchronously with the real ``kubectl`` and the official
``kubernetes`` Python client; a raw HTTPS helper; a kubectl runner. Fixtures: conftest.py."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from kubesvc.apiserver.http import ApiServer
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore

T = TypeVar("T")
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


class FakeLogs:
    """A LogSource serving three numbered lines per container."""

    async def stream(
        self, namespace: str, pod: str, *, container: str, follow: bool,
        tail_lines: int | None, previous: bool, options: object = None,
    ) -> AsyncIterator[bytes]:
        lines = [f"{namespace}/{pod}/{container} line {i}\n".encode() for i in range(3)]
        if tail_lines is not None:
            lines = lines[len(lines) - tail_lines:] if tail_lines else []
        for line in lines:
            yield line


class ServerThread:
    """An ApiServer + Registry on a private event loop in a daemon thread."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ready: dict[str, bool] = {"informers-synced": True}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.registry: Registry
        self.server: ApiServer

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        self.registry = Registry(MemoryStore(), compact_interval=0)
        await self.registry.start()
        self.server = ApiServer(
            self.registry, data_dir=self.data_dir, port=0, readiness=lambda: self.ready,
            log_source=FakeLogs(),
        )
        await self.server.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        async def _stop() -> None:
            await self.server.stop()
            await self.registry.stop()

        self.run(_stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class Http:
    """A tiny HTTPS client for raw requests (status, headers, body)."""

    def __init__(self, url: str, ca_pem: bytes, token: str) -> None:
        self.url = url
        self.token = token
        self.ctx = ssl.create_default_context(cadata=ca_pem.decode())

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | list[Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float = 10,
    ) -> tuple[int, dict[str, list[str]], bytes]:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        tok = self.token if token is None else token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=timeout) as resp:
                return resp.status, _headers(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            with err:
                return err.code, _headers(err.headers), err.read()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        code, _, raw = self.request(method, path, body, **kw)
        return code, json.loads(raw) if raw else None


def _headers(msg: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in msg.items():
        out.setdefault(k.lower(), []).append(v)
    return out


class Kubectl:
    def __init__(self, kubeconfig: Path, home: Path) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "KUBECONFIG": str(kubeconfig),
        }

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [KUBECTL, *args], input=input, capture_output=True, text=True, env=self.env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n"
                f"{proc.stderr}"
            )
        return proc


def too_large_rv(code: int, raw: bytes) -> bool:
    """Upstream's one deliberate 5xx for a client's input: a list or get at a
    resourceVersion newer than the store's answers 504 "Too large resource version"
    (reason Timeout, retryAfterSeconds 1) once the cache has waited for it."""
    if code != 504:
        return False
    body = json.loads(raw)
    return body.get("reason") == "Timeout" and "Too large resource version" in body["message"]
