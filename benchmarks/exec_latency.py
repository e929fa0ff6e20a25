"""Benchmark ``exec_latency``: the wall time of ``kubectl exec POD -- true`` against
``kubectl get pod POD`` (kubectl's own start-up, discovery cache and one API round trip)
on a real ``kubesvc up`` (host mode, process runtime, one busybox pod), alternating the two
so that load drifts hit both alike. The difference is what exec adds: the WebSocket upgrade
through the API server's relay, the TLS connection to the node agent's streaming server,
the process start and the exit Status. Target (issue 20): exec adds under 50 ms (p50).
Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from typing import Any

from benchmarks.cluster import up_process, wait_ready
from benchmarks.common import summarize

NAME = "exec_latency"
POD = "bench-exec"


def _kubectl(env: dict[str, str], *args: str) -> float:
    t = time.perf_counter()
    r = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)
    ms = (time.perf_counter() - t) * 1000
    if r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return ms


def run(quick: bool) -> dict[str, Any]:
    rounds = 15 if quick else 60
    with up_process(name="kubesvc-up") as (proc, data_dir, argv):
        kubeconfig = data_dir / "kubeconfig"
        asyncio.run(wait_ready(proc, kubeconfig, timeout=60))
        env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD},
               "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                   {"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]}}
        subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(pod), env=env,
                       capture_output=True, text=True, check=True, timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = subprocess.run(["kubectl", "get", "pod", POD, "-o",
                                "jsonpath={.status.phase}"], env=env, capture_output=True,
                               text=True, timeout=30)
            if r.stdout == "Running":
                break
            time.sleep(0.1)
        for _ in range(3):  # warm the discovery cache and the page cache
            _kubectl(env, "get", "pod", POD)
            _kubectl(env, "exec", POD, "--", "true")
        get_ms: list[float] = []
        exec_ms: list[float] = []
        for _ in range(rounds):
            get_ms.append(_kubectl(env, "get", "pod", POD))
            exec_ms.append(_kubectl(env, "exec", POD, "--", "true"))
    g, e = summarize(get_ms), summarize(exec_ms)
    added = e["p50"] - g["p50"]
    head = ["command", "p50 ms", "p90 ms", "p99 ms", "mean ms"]
    rows = [[name, f"{s['p50']:.1f}", f"{s['p90']:.1f}", f"{s['p99']:.1f}", f"{s['mean']:.1f}"]
            for name, s in ((f"kubectl get pod {POD}", g),
                            (f"kubectl exec {POD} -- true", e))]
    return {
        "head": head, "rows": rows, "get": g, "exec": e, "rounds": rounds,
        "added_p50_ms": round(added, 1),
        "notes": [f"{rounds} alternating rounds after 3 warm-up rounds; exec adds "
                  f"{added:.1f} ms at the median over kubectl's own start-up and round "
                  "trip."],
        "met": {"exec adds < 50 ms (p50)": added < 50},
        "commands": [" ".join(argv)],
    }
