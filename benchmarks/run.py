"""``python -m benchmarks.run [--only NAME ...] [--quick] [--docs DIR]`` (``make bench``): runs
the registered benchmarks, stores their results in ``docs/benchmarks/results.json`` (merged with
earlier results of benchmarks not run this time) and renders ``docs/benchmarks.md`` and one
PNG plot per benchmark through :mod:`benchmarks.report`.

Each benchmark module offers ``run(quick: bool) -> dict``; a benchmark that raises is
recorded with its error, and the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, machine_info

# name -> module (each has run(quick: bool) -> dict); the order is the run order.
BENCHMARKS: dict[str, str] = {
    "proxy_userspace": "benchmarks.proxy_userspace",
    "dns": "benchmarks.dns_bench",
    "proxy_nftables": "benchmarks.proxy_nftables",
    "proxy_programming": "benchmarks.proxy_programming",
    "up_ready": "benchmarks.up_ready",
    "api_latency": "benchmarks.api_latency",
    "rbac": "benchmarks.rbac",
    "control_plane_scale": "benchmarks.control_plane_scale",
    "soak": "benchmarks.soak",
    "portforward": "benchmarks.portforward",
    "exec_latency": "benchmarks.exec_latency",
    "statefulset": "benchmarks.statefulset_bench",  # issue 21
    "batch_scale": "benchmarks.batch_scale",  # issue 21
    "ingress": "benchmarks.ingress",
    "crd": "benchmarks.crd_bench",  # issue 24
    "netpol": "benchmarks.netpol",  # issue 23
    "server_side_apply": "benchmarks.server_side_apply",  # issue 24
}

DOCS = ROOT / "docs"


def load(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {"benchmarks": {}}


def run_one(name: str, *, quick: bool, command: str) -> dict[str, Any]:
    mod = importlib.import_module(BENCHMARKS[name])
    t0 = time.monotonic()
    entry: dict[str, Any] = {"command": command, "quick": quick,
                             "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                             "loadavg_before": round(os.getloadavg()[0], 2)}
    try:
        entry["result"] = mod.run(quick)
    except Exception as exc:  # recorded in the report; the other benchmarks still run
        entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["traceback"] = traceback.format_exc()[-3000:]
    entry["duration_s"] = round(time.monotonic() - t0, 1)
    entry["loadavg_after"] = round(os.getloadavg()[0], 2)
    return entry


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run")
    ap.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                    help=f"run only these ({', '.join(BENCHMARKS)})")
    ap.add_argument("--quick", action="store_true", help="short smoke run (~2 minutes)")
    ap.add_argument("--docs", type=Path, default=DOCS,
                    help="where benchmarks.md and benchmarks/ go (default: docs/; point a "
                         "smoke run elsewhere to keep the published numbers)")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render docs/benchmarks.md and plots from results.json")
    args = ap.parse_args(argv)
    from benchmarks import report

    docs: Path = args.docs
    results = docs / "benchmarks" / "results.json"
    data = load(results)
    if not args.render_only:
        names = args.only or list(BENCHMARKS)
        cmd = shlex.join([".venv/bin/python", "-m", "benchmarks.run",
                          *(sys.argv[1:] if argv is None else argv)])
        data["machine"] = machine_info()
        data.setdefault("benchmarks", {})
        for name in names:
            print(f"== {name}", flush=True)
            entry = run_one(name, quick=args.quick, command=cmd)
            data["benchmarks"][name] = entry
            print(f"   {entry['duration_s']} s" + (f"  ERROR {entry['error']}"
                                                   if "error" in entry else ""), flush=True)
            results.parent.mkdir(parents=True, exist_ok=True)
            results.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    report.render(data, docs=docs)
    print(f"wrote {docs / 'benchmarks.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
