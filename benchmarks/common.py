"""Shared helpers of the benchmark suite: machine info, percentiles, subprocesses started
and always stopped, waiting for ports, and bounded load loops.

Used by every benchmark module and by :mod:`benchmarks.report`; calls only the standard
library (and the system tools a benchmark names).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ENV = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"}


# -- machine -----------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    """CPU model and count (from /proc/cpuinfo and ``nproc``), memory (``free -m``),
    kernel, Python and the date, for the header of docs/benchmarks.md."""
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    nproc = _out(["nproc"]).strip() or str(os.cpu_count())
    free = _out(["free", "-m"]).strip()
    mem_total = ""
    for line in free.splitlines():
        if line.startswith("Mem:"):
            mem_total = f"{line.split()[1]} MiB"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": model,
        "nproc": nproc,
        "mem_total": mem_total,
        "free_m": free,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "tools": {
            "haproxy": _first_line(["haproxy", "-v"]),
            "unbound": _first_line(["unbound", "-V"]),
            "dnsperf": _grep_line(["dnsperf", "-H"], "Version"),
            "wrk": _first_line(["wrk", "-v"]),
        },
    }


def _out(argv: Sequence[str]) -> str:
    try:
        r = subprocess.run(list(argv), capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return r.stdout + r.stderr


def _first_line(argv: Sequence[str]) -> str:
    lines = _out(argv).strip().splitlines()
    return lines[0] if lines else ""


def _grep_line(argv: Sequence[str], word: str) -> str:
    return next((ln for ln in _out(argv).splitlines() if word in ln), "")


# -- statistics --------------------------------------------------------------------------

def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile (0..100) of ``values`` by linear interpolation between the
    closest ranks (numpy's default); NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    if len(xs) == 1:
        return float(xs[0])
    rank = (len(xs) - 1) * min(max(pct, 0.0), 100.0) / 100.0
    lo = math.floor(rank)
    hi = math.ceil(rank)
    return float(xs[lo] + (xs[hi] - xs[lo]) * (rank - lo))


def summarize(values: Sequence[float]) -> dict[str, float]:
    """count, min, p50, p90, p99, max and mean of a sample."""
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "min": min(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


# -- ports and processes -----------------------------------------------------------------

def free_port(host: str = "127.0.0.1", *, kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_port_both(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP (DNS binds both), chosen below the ephemeral range
    so a client's outgoing connection does not take it in the meantime."""
    import random

    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000)
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t, \
                    socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                t.bind((host, port))
                u.bind((host, port))
                return port
        except OSError:
            continue
    raise RuntimeError("no free TCP+UDP port")


def wait_tcp(host: str, port: int, *, timeout: float = 10.0) -> None:
    """Wait until something accepts on host:port (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            last = exc
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s ({last})")


@dataclass
class Proc:
    """A started helper process; its output goes to a log file shown on failure."""

    argv: list[str]
    popen: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_line(self, text: str, *, timeout: float = 15.0) -> str:
        """Wait for a line containing ``text`` in the process log; return that line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                for line in self.log_path.read_text(errors="replace").splitlines():
                    if text in line:
                        return line
            if not self.alive():
                break
            time.sleep(0.02)
        raise RuntimeError(f"{shlex.join(self.argv)}: no '{text}' line "
                           f"(exit {self.popen.poll()}):\n{self.log_tail()}")

    def stop(self, *, timeout: float = 5.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


_LOG_DIR = Path(tempfile.gettempdir()) / "kubesvc-bench"


def start(argv: Sequence[str], *, name: str, env: dict[str, str] | None = None,
          cwd: Path | None = None, quiet: bool = False) -> Proc:
    """Start a helper process, output to /tmp/kubesvc-bench/<name>.log (or nowhere when
    ``quiet``: request logs of a backend under load would fill the disk)."""
    _LOG_DIR.mkdir(exist_ok=True)
    log_path = _LOG_DIR / f"{name}.log"
    with log_path.open("wb") as fh:
        popen = subprocess.Popen(list(argv), stdout=subprocess.DEVNULL if quiet else fh,
                                 stderr=subprocess.DEVNULL if quiet else subprocess.STDOUT,
                                 env=env or ENV, cwd=cwd or ROOT, start_new_session=True)
    return Proc(list(argv), popen, log_path)


@contextlib.contextmanager
def started(argv: Sequence[str], *, name: str, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Iterator[Proc]:
    """Start a process for the duration of a ``with`` block; always stopped after."""
    proc = start(argv, name=name, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        proc.stop()


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM (peak resident set) of a live process, MiB."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def cpu_seconds(pid: int) -> float | None:
    """User+system CPU time of a live process (from /proc/<pid>/stat)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


def open_fds(pid: int) -> int | None:
    """How many file descriptors a live process holds (a leak shows up here)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def run_cmd(argv: Sequence[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run a load generator with a hard time limit; its command line is recorded by the
    caller (``shlex.join(argv)``) next to the figure it produced."""
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          env=ENV, cwd=ROOT)


# -- bounded loops -----------------------------------------------------------------------

def bounded(count: int, seconds: float) -> Iterator[int]:
    """Yield 0..count-1 but stop early once ``seconds`` have passed: every load loop of
    the suite is bounded in count and in time."""
    deadline = time.monotonic() + seconds
    for i in range(count):
        if time.monotonic() > deadline:
            return
        yield i


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
