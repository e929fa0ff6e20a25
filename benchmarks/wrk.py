"""Runs ``wrk`` with a hard time limit and parses its report (req/s, latency percentiles,
errors). Used by :mod:`benchmarks.proxy_userspace`."""

from __future__ import annotations

import re
import shlex
from typing import Any

from benchmarks.common import run_cmd

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_PCT = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)


def wrk_argv(url: str, *, seconds: int, connections: int = 50, threads: int = 2,
             close: bool = False) -> list[str]:
    argv = ["wrk", f"-c{connections}", f"-t{threads}", f"-d{seconds}s", "--latency"]
    if close:
        argv += ["-H", "Connection: close"]
    return [*argv, url]


def parse(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else None
    for pct, val, unit in _PCT.findall(text):
        out[f"p{pct}_ms"] = float(val) * _UNITS[unit]
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", text)
    out["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    return out


def run(url: str, *, seconds: int, close: bool, connections: int = 50,
        threads: int = 2) -> dict[str, Any]:
    argv = wrk_argv(url, seconds=seconds, connections=connections, threads=threads,
                    close=close)
    r = run_cmd(argv, timeout=seconds + 30)
    res = parse(r.stdout)
    res["command"] = shlex.join(argv)
    if r.returncode != 0 or res["rps"] is None:
        res["error"] = (r.stderr or r.stdout).strip()[-500:]
    return res
