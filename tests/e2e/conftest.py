"""e2e fixtures: a real ``kubesvc up`` subprocess with its own data dir, API port, DNS
port and address ranges (random inside 127/8 so runs never collide), and helpers that run
the real ``kubectl``, ``dig`` and ``curl`` against it."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
KUBESVC = [sys.executable, "-m", "kubesvc.cli.main"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    kubeconfig: Path
    api_port: int
    dns_port: int
    service_cidr: str
    lb_pool: str
    log_path: Path
    metrics_port: int = 0  # the proxy's /metrics (kube-proxy's 10249 by default)
    dns_metrics_port: int = 0  # DNS's /metrics (CoreDNS's 9153 by default)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, check: bool = True, input: str | None = None,
                timeout: float = 30) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env,
                           input=input, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout}\n{r.stderr}")
        return r

    def kubectl_json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def dig(self, *args: str) -> str:
        r = subprocess.run(["dig", "@127.0.0.1", "-p", str(self.dns_port), "+time=2",
                            "+tries=1", *args], capture_output=True, text=True, timeout=20)
        return r.stdout

    def wait_for(self, pred: Any, *, timeout: float = 20, what: str = "") -> Any:
        end = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < end:
            try:
                last = pred()
            except AssertionError as exc:
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what or pred}: last={last!r}\n"
                             f"--- kubesvc log tail ---\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_cluster(data_dir: Path, *extra: str, api_port: int | None = None,
                  dns_port: int | None = None, service_cidr: str | None = None,
                  lb_pool: str | None = None) -> Cluster:
    api_port = api_port or free_port()
    dns_port = dns_port or free_port()
    octet = random.randint(150, 249)
    service_cidr = service_cidr or f"127.{octet}.0.0/16"
    lb_pool = lb_pool or f"127.{octet - 50}.0.0/24"
    log_path = data_dir.parent / f"{data_dir.name}.log"
    log = log_path.open("ab")
    # Free metrics ports rather than the fixed defaults, which a cluster left over by an
    # earlier run (or a developer's `make up`) may hold.
    metrics_port, dns_metrics_port = free_port(), free_port()
    proc = subprocess.Popen(
        [*KUBESVC, "up", "--data-dir", str(data_dir), "--api-port", str(api_port),
         "--dns-addr", f"127.0.0.1:{dns_port}", "--service-cidr", service_cidr,
         "--lb-pool", lb_pool, "--metrics-bind-address", f"127.0.0.1:{metrics_port}",
         "--dns-metrics-addr", f"127.0.0.1:{dns_metrics_port}", *extra],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    log.close()
    c = Cluster(proc, data_dir, data_dir / "kubeconfig", api_port, dns_port, service_cidr,
                lb_pool, log_path, metrics_port, dns_metrics_port)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"kubesvc up exited {proc.returncode}:\n{c.log_tail()}")
        if c.kubeconfig.exists():
            r = subprocess.run(["kubectl", "get", "--raw", "/readyz"], capture_output=True,
                               text=True, env=c.env, timeout=10)
            if r.returncode == 0 and r.stdout.strip() == "ok":
                return c
        time.sleep(0.05)
    c.stop()
    raise AssertionError(f"kubesvc up not ready in 30 s:\n{c.log_tail()}")


def _missing_tools() -> str:
    missing = [t for t in ("kubectl", "dig", "curl") if shutil.which(t) is None]
    return f"needs {', '.join(missing)} on PATH" if missing else ""


MISSING = _missing_tools()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if MISSING:
        pytest.skip(MISSING)
    c = start_cluster(tmp_path_factory.mktemp("kubesvc") / "data")
    try:
        yield c
    finally:
        c.stop()
