"""A real ``kubesvc up`` for the control-plane benchmarks, and a thin aiohttp client for its
API (bearer token and CA from the kubeconfig it writes), so API latency is measured without
kubesvc's own client code in the path.

Used by :mod:`benchmarks.up_ready`, :mod:`benchmarks.api_latency` and
:mod:`benchmarks.control_plane_scale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks.common import PYTHON, Proc, free_port_both, start

Obj = dict[str, Any]


def up_argv(data_dir: Path, *, api_port: int, dns_port: int, runtime: str = "process",
            extra: tuple[str, ...] = ()) -> list[str]:
    return [PYTHON, "-m", "kubesvc.cli.main", "up", "--data-dir", str(data_dir),
            "--api-port", str(api_port), "--dns-addr", f"127.0.0.1:{dns_port}",
            "--runtime", runtime, *extra]


@contextlib.contextmanager
def up_process(*, runtime: str = "process", name: str = "kubesvc-up",
               extra: tuple[str, ...] = ()) -> Iterator[tuple[Proc, Path, list[str]]]:
    """Start ``kubesvc up`` in a fresh data dir; yields (process, data dir, argv); the
    process is stopped and the data dir removed afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="kubesvc-bench-up-"))
    argv = up_argv(data_dir, api_port=free_port_both(), dns_port=free_port_both(),
                   runtime=runtime, extra=extra)
    proc = start(argv, name=name)
    try:
        yield proc, data_dir, argv
    finally:
        proc.stop(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


class Api:
    """Raw HTTPS calls against the API server, JSON in and out via orjson."""

    def __init__(self, kubeconfig: Path, *, connections: int = 64) -> None:
        from kubesvc.client.kubeconfig import load_kubeconfig

        cfg = load_kubeconfig(kubeconfig)
        self.server = cfg.server.rstrip("/")
        ctx = ssl.create_default_context()
        if cfg.ca_data:
            ctx.load_verify_locations(cadata=cfg.ca_data.decode())
        if cfg.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self._ssl = ctx
        self._headers = {"Authorization": f"Bearer {cfg.token}"} if cfg.token else {}
        self._limit = connections
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Api:
        self.session = aiohttp.ClientSession(
            headers=self._headers,
            connector=aiohttp.TCPConnector(ssl=self._ssl, limit=self._limit),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def call(self, method: str, path: str, body: Obj | None = None,
                   *, ok: tuple[int, ...] = (200, 201)) -> Obj:
        assert self.session is not None
        data = orjson.dumps(body) if body is not None else None
        async with self.session.request(
            method, self.server + path, data=data,
            headers={"Content-Type": "application/json"} if data else None,
        ) as r:
            raw = await r.read()
            if r.status not in ok:
                raise RuntimeError(f"{method} {path}: HTTP {r.status}: {raw[:300]!r}")
            out: Obj = orjson.loads(raw) if raw else {}
            return out

    async def raw(self, path: str) -> tuple[int, bytes]:
        assert self.session is not None
        async with self.session.get(self.server + path) as r:
            return r.status, await r.read()

    async def watch(self, path: str) -> AsyncIterator[Obj]:
        """Watch events (one JSON object per line) until the caller stops iterating."""
        assert self.session is not None
        sep = "&" if "?" in path else "?"
        async with self.session.get(f"{self.server}{path}{sep}watch=1",
                                    timeout=aiohttp.ClientTimeout(total=None)) as r:
            if r.status != 200:
                raise RuntimeError(f"watch {path}: HTTP {r.status}")
            buf = b""
            async for chunk in r.content.iter_any():
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.strip():
                        yield orjson.loads(line)


async def wait_ready(proc: Proc, kubeconfig: Path, *, timeout: float) -> float:
    """Poll ``/readyz`` every 10 ms until it says ok; seconds since the process started
    (measured from the caller's t0 by the caller; this returns the poll end time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"kubesvc up exited ({proc.popen.poll()}):\n{proc.log_tail()}")
        if kubeconfig.exists():
            try:
                async with Api(kubeconfig, connections=1) as api:
                    while time.monotonic() < deadline:
                        with contextlib.suppress(aiohttp.ClientError, OSError):
                            status, body = await api.raw("/readyz")
                            if status == 200 and body.strip() == b"ok":
                                return time.monotonic()
                        if not proc.alive():
                            break
                        await asyncio.sleep(0.01)
            except (ValueError, OSError, KeyError, ssl.SSLError):
                pass  # kubeconfig half-written: read it again
        await asyncio.sleep(0.01)
    raise TimeoutError(f"kubesvc up not ready after {timeout}s:\n{proc.log_tail()}")
