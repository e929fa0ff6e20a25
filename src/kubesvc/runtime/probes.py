"""Container probes as the kubelet's prober runs them: httpGet (2xx/3xx succeed), tcpSocket
(connect succeeds), exec (exit code 0); ``initialDelaySeconds``, ``periodSeconds``,
``timeoutSeconds``, ``successThreshold``, ``failureThreshold`` with upstream defaults
(0/10/1/1/3). Liveness and readiness wait for the startup probe; a liveness or startup
failure puts the worker on hold until the agent restarts the container.

One :class:`ContainerProbes` per running container attempt, created and closed by the
agent; its probe loops are tasks that report through a callback (results only change state,
so an idle pod costs nothing but the timers). ``scale`` shrinks every period for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from typing import Any

from kubesvc.api.objects import Obj
from kubesvc.runtime.network import PodNetwork, Sandbox

log = logging.getLogger(__name__)

# (kind, success) -> None ; kind in {"liveness", "readiness", "startup"}
ResultCallback = Callable[[str, bool, str], None]


def _port(container: Obj, port: Any) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"port {port!r} not found in container ports")


async def _http(network: PodNetwork, sandbox: Sandbox, container: Obj, h: Obj,
                timeout: float) -> tuple[bool, str]:
    host = str(h.get("host") or sandbox.ip)
    port = _port(container, h.get("port"))
    path = str(h.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    scheme = str(h.get("scheme") or "HTTP").upper()
    headers = {"Host": f"{host}:{port}", "User-Agent": "kube-probe/1.32", "Accept": "*/*",
               "Connection": "close"}
    for hd in h.get("httpHeaders") or []:
        headers[str(hd.get("name"))] = str(hd.get("value"))
    reader, writer = await network.open_connection(sandbox, host, port)
    try:
        if scheme == "HTTPS":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            await writer.start_tls(ctx, server_hostname=host)
        req = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write((req + "\r\n").encode("latin-1"))
        await writer.drain()
        line = await reader.readline()
        parts = line.decode("latin-1").split()
        if len(parts) < 2 or not parts[1].isdigit():
            return False, f"Get \"{scheme.lower()}://{host}:{port}{path}\": malformed response"
        code = int(parts[1])
        if 200 <= code < 400:
            return True, ""
        return False, f"HTTP probe failed with statuscode: {code}"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _tcp(network: PodNetwork, sandbox: Sandbox, container: Obj, h: Obj) -> tuple[bool, str]:
    host = str(h.get("host") or sandbox.ip)
    port = _port(container, h.get("port"))
    _, writer = await network.open_connection(sandbox, host, port)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


async def _exec(network: PodNetwork, sandbox: Sandbox, h: Obj, env: dict[str, str],
                timeout: float) -> tuple[bool, str]:
    cmd = [str(c) for c in h.get("command") or []]
    if not cmd:
        return False, "exec probe has no command"
    proc = await asyncio.create_subprocess_exec(
        *network.exec_prefix(sandbox), *cmd, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return False, f"command timed out: \"{' '.join(cmd)}\" timed out after {timeout:g}s"
    if proc.returncode == 0:
        return True, ""
    return False, out.decode("utf-8", "replace")[-1024:]


async def run_probe(probe: Obj, *, network: PodNetwork, sandbox: Sandbox, container: Obj,
                    env: dict[str, str], timeout: float) -> tuple[bool, str]:
    """Run a probe once: (success, message)."""
    try:
        if "httpGet" in probe:
            return await asyncio.wait_for(
                _http(network, sandbox, container, probe["httpGet"], timeout), timeout)
        if "tcpSocket" in probe:
            return await asyncio.wait_for(
                _tcp(network, sandbox, container, probe["tcpSocket"]), timeout)
        if "exec" in probe:
            return await _exec(network, sandbox, probe["exec"], env, timeout)
        return False, "unsupported probe handler (kubesvc runs httpGet, tcpSocket and exec)"
    except TimeoutError:
        return False, f"probe timed out after {timeout:g}s"
    except (OSError, ValueError, ssl.SSLError) as exc:
        return False, str(exc) or exc.__class__.__name__


class ContainerProbes:
    """Probe loops for one container attempt, and their current results."""

    def __init__(self, container: Obj, *, network: PodNetwork, sandbox: Sandbox,
                 env: dict[str, str], started_at: float, on_result: ResultCallback,
                 scale: float = 1.0) -> None:
        self.container = container
        self.network = network
        self.sandbox = sandbox
        self.env = env
        self.started_at = started_at
        self.on_result = on_result
        self.scale = scale
        self.startup_done = asyncio.Event()
        self.started = "startupProbe" not in container
        if self.started:
            self.startup_done.set()
        self.ready = "readinessProbe" not in container
        self._closed = False
        self._tasks: list[asyncio.Task[None]] = []
        self._kinds: dict[asyncio.Task[None], str] = {}
        for kind in ("startup", "liveness", "readiness"):
            spec = container.get(f"{kind}Probe")
            if spec:
                task = asyncio.create_task(self._loop(kind, spec),
                                           name=f"{kind}-probe {container.get('name', '')}")
                self._tasks.append(task)
                self._kinds[task] = kind

    @property
    def has_tasks(self) -> bool:
        return bool(self._tasks)

    async def close(self) -> None:
        # Python 3.11's wait_for can swallow a cancellation that races with the probe's
        # completion, so the loops also check a flag, and cancelling is repeated.
        self._closed = True
        await self._cancel(set(self._tasks))
        self._tasks.clear()

    async def stop_restart_probes(self) -> None:
        """The pod is terminating: liveness and startup probes stop (they must not restart
        it), readiness goes on until the container stops (upstream prober worker)."""
        doomed = {t for t in self._tasks if self._kinds.get(t) in ("liveness", "startup")}
        self._tasks = [t for t in self._tasks if t not in doomed]
        await self._cancel(doomed)

    @staticmethod
    async def _cancel(pending: set[asyncio.Task[None]]) -> None:
        while pending:
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=0.5)

    async def _loop(self, kind: str, spec: Obj) -> None:
        delay = float(spec.get("initialDelaySeconds") or 0) * self.scale
        period = float(spec.get("periodSeconds") or 10) * self.scale
        timeout = float(spec.get("timeoutSeconds") or 1)
        succ_th = int(spec.get("successThreshold") or 1)
        fail_th = int(spec.get("failureThreshold") or 3)
        if kind != "startup":
            await self.startup_done.wait()
        remaining = self.started_at + delay - time.time()
        if remaining > 0:
            await asyncio.sleep(remaining)
        current: bool | None = None
        last: bool | None = None
        run = 0
        while not self._closed:
            ok, msg = await run_probe(spec, network=self.network, sandbox=self.sandbox,
                                      container=self.container, env=self.env,
                                      timeout=timeout)
            if self._closed:
                return
            run = run + 1 if ok == last else 1
            last = ok
            if (ok and run >= succ_th) or (not ok and run >= fail_th):
                if ok != current:
                    current = ok
                    self._apply(kind, ok, msg)
                elif not ok and kind in ("liveness", "startup"):
                    self._apply(kind, ok, msg)
                if not ok and kind in ("liveness", "startup"):
                    return  # on hold until the agent restarts the container
                if ok and kind == "startup":
                    return  # startup probes stop once they succeed
            await asyncio.sleep(period)

    def _apply(self, kind: str, ok: bool, msg: str) -> None:
        if kind == "startup" and ok:
            self.started = True
            self.startup_done.set()
        if kind == "readiness":
            self.ready = ok
        self.on_result(kind, ok, msg)
