"""Port-forward throughput (and SPDY exec latency): the real ``kubectl port-forward``
(v1.32, both its default WebSocket-tunneled SPDY and
``KUBECTL_PORT_FORWARD_WEBSOCKETS=false`` plain SPDY) through
:func:`kubesvc.runtime.streaming.portforward.serve_portforward`, against a direct
connection to the same backend in the same run.

The server side is the streaming tests' stand-in API server
(``python -m tests.integration.streaming.harness --uvloop``, its own process, uvloop as the
agent uses): it routes ``pods/web/portforward`` straight to ``serve_portforward``, whose
``connect`` dials local backends: ``source`` (sends N bytes), ``sink`` (counts bytes) and
``echo``. So the figures are kubectl + the SPDY/WebSocket session + the pod-side copy,
without the API server relay in between. Load: blocking sockets from this process.
Also ``kubectl exec web -- true`` over SPDY against ``kubectl get pod web`` (kubectl's own
start-up and one GET), the exec route running the command as a local process.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.common import PYTHON, cpu_seconds, ratio, started, summarize

MODES = {"kubectl (WebSocket tunnel)": {},
         "kubectl (SPDY, KUBECTL_PORT_FORWARD_WEBSOCKETS=false)":
             {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}}
PAYLOAD = b"x" * 64


def _download(port: int, size: int) -> float:
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(b"%d\n" % size)
        got = 0
        while chunk := s.recv(1 << 20):
            got += len(chunk)
    assert got == size, (got, size)
    return size / (time.perf_counter() - t0) / 1e6


def _upload(port: int, size: int) -> float:
    block = b"u" * (1 << 20)
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        left = size
        while left > 0:
            s.sendall(block[:min(left, len(block))])
            left -= len(block)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(64):
            answer += chunk
    assert int(answer) == size, (answer, size)
    return size / (time.perf_counter() - t0) / 1e6


def _one_request(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(PAYLOAD)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := s.recv(4096):
            got += chunk
    assert got == PAYLOAD


def _new_connections(port: int, count: int, workers: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda _i: _one_request(port), range(count)))
    return count / (time.perf_counter() - t0)


def _round_trips(port: int, count: int) -> tuple[float, float]:
    lat = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        t0 = time.perf_counter()
        for _ in range(count):
            t = time.perf_counter()
            s.sendall(PAYLOAD)
            got = b""
            while len(got) < len(PAYLOAD):
                got += s.recv(4096)
            lat.append((time.perf_counter() - t) * 1000)
        total = time.perf_counter() - t0
    return count / total, summarize(lat)["p50"]


def measure(ports: dict[str, int], quick: bool) -> dict[str, float]:
    size = (64 if quick else 256) << 20
    reps = 1 if quick else 3

    def best(fn: Callable[[], float]) -> float:
        return max(fn() for _ in range(reps))

    rt_rps, rt_p50 = _round_trips(ports["echo"], 1000 if quick else 5000)
    return {
        "download_MBps": best(lambda: _download(ports["source"], size)),
        "upload_MBps": best(lambda: _upload(ports["sink"], size)),
        "new_conn_rps": _new_connections(ports["echo"], 200 if quick else 1000, 8),
        "round_trip_rps": rt_rps, "round_trip_p50_ms": rt_p50,
    }


@contextlib.contextmanager
def kubectl_forward(info: dict[str, Any], env_extra: dict[str, str], tmp: Path
                    ) -> Iterator[tuple[dict[str, int], int]]:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is not installed"
    kc = tmp / "kubeconfig"
    kc.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "b",
        "clusters": [{"name": "b", "cluster": {"server": info["url"]}}],
        "users": [{"name": "b", "user": {"token": "t"}}],
        "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b",
                                               "namespace": "default"}}]}))
    remote = {name: info[name] for name in ("echo", "source", "sink")}
    proc = subprocess.Popen([kubectl, "port-forward", "pod/web", "--address", "127.0.0.1",
                             *(f":{p}" for p in remote.values())], text=True,
                            env={**os.environ, "KUBECONFIG": str(kc), "HOME": str(tmp),
                                 **env_extra},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        local: dict[int, int] = {}
        assert proc.stdout is not None
        while len(local) < len(remote):
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("kubectl port-forward exited")
            if m := re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line):
                local[int(m[2])] = int(m[1])
        yield {name: local[p] for name, p in remote.items()}, proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def _kubectl_ms(info: dict[str, Any], tmp: Path, args: list[str], env_extra: dict[str, str],
                runs: int) -> dict[str, float]:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None, "kubectl is not installed"
    kc = tmp / "kubeconfig"  # written by kubectl_forward before
    env = {**os.environ, "KUBECONFIG": str(kc), "HOME": str(tmp), **env_extra}
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([kubectl, *args], env=env, check=True, capture_output=True, timeout=60)
        times.append((time.perf_counter() - t0) * 1000)
    return summarize(times)


def run(quick: bool) -> dict[str, Any]:
    argv = [PYTHON, "-m", "tests.integration.streaming.harness", "--uvloop"]
    rows: list[list[Any]] = []
    results: dict[str, dict[str, float]] = {}
    with started(argv, name="portforward-apiserver") as api, \
            tempfile.TemporaryDirectory() as tmp:
        info = json.loads(api.wait_line('"url"'))
        results["direct"] = measure({k: info[k] for k in ("echo", "source", "sink")}, quick)
        for label, env in MODES.items():
            with kubectl_forward(info, env, Path(tmp)) as (ports, kpid):
                s0, k0 = cpu_seconds(api.pid) or 0.0, cpu_seconds(kpid) or 0.0
                results[label] = measure(ports, quick)
                results[label]["server_cpu_s"] = (cpu_seconds(api.pid) or 0.0) - s0
                results[label]["kubectl_cpu_s"] = (cpu_seconds(kpid) or 0.0) - k0
        runs = 5 if quick else 20
        latency = {
            "kubectl get pod web": _kubectl_ms(info, Path(tmp), ["get", "pod", "web"], {}, runs),
            "kubectl exec web -- true (SPDY)": _kubectl_ms(
                info, Path(tmp), ["exec", "web", "--", "true"],
                {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}, runs),
        }
    base = results["direct"]
    for label, r in results.items():
        rows.append([label, round(r["download_MBps"]), round(r["upload_MBps"]),
                     round(r["new_conn_rps"]), round(r["round_trip_rps"]),
                     round(r["round_trip_p50_ms"], 3),
                     ratio(r["download_MBps"], base["download_MBps"]),
                     ratio(r["new_conn_rps"], base["new_conn_rps"]),
                     round(r.get("server_cpu_s", 0), 1), round(r.get("kubectl_cpu_s", 0), 1)])
    get_p50 = latency["kubectl get pod web"]["p50"]
    return {
        "results": results,
        "latency": latency,
        "tables": [{"title": f"exec over SPDY vs kubectl's own start-up ({runs} runs each; "
                             "the exec route runs `true` as a local process)",
                    "head": ["command", "p50 ms", "p90 ms", "max ms", "p50 minus get"],
                    "rows": [[k, round(v["p50"], 1), round(v["p90"], 1), round(v["max"], 1),
                              round(v["p50"] - get_p50, 1)] for k, v in latency.items()]}],
        "head": ["path", "download MB/s", "upload MB/s", "new connection req/s",
                 "keep-alive round trips/s", "round trip p50 ms", "download vs direct",
                 "new conn vs direct", "server CPU s", "kubectl CPU s"],
        "rows": rows,
        "notes": [
            "`kubectl port-forward pod/web :echo :source :sink` against the streaming tests' "
            "stand-in API server, whose `pods/web/portforward` route is `serve_portforward` "
            "(the node agent's handler) dialing local backends; `direct` connects to the "
            "same backends. Bulk: one connection moving "
            f"{64 if quick else 256} MiB (best of {1 if quick else 3}); new connections: "
            f"{200 if quick else 1000} requests of 64 bytes, each its own connection, 8 at a "
            f"time; round trips: {1000 if quick else 5000} 64-byte echoes on one connection.",
            "CPU columns: seconds the stand-in server process (serve_portforward plus the "
            "backends, which the direct row also loads) and kubectl spent over each row's "
            "whole measurement (not measured for the direct row).",
            "Not included: the API server's relay hop (`kubesvc server` + agent), which adds "
            "one more byte copy each way."],
        "commands": [" ".join(argv), "kubectl port-forward pod/web --address 127.0.0.1 "
                     ":ECHO :SOURCE :SINK  (and with KUBECTL_PORT_FORWARD_WEBSOCKETS=false)"],
    }


if __name__ == "__main__":
    print(json.dumps(run(quick=True), indent=1))
