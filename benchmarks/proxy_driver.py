"""A stand-alone kubesvc userspace proxy for the data-plane benchmark.

``python -m benchmarks.proxy_driver --cluster-ip 127.96.0.10 --port 8080
--endpoints 127.78.1.1:9000,127.78.1.2:9000`` builds one Service and one EndpointSlice,
feeds them through :class:`kubesvc.proxy.tracker.ChangeTracker` into
:meth:`kubesvc.proxy.userspace.UserspaceBackend.sync` (the same path the Proxier takes),
prints ``ready`` and proxies on uvloop until SIGTERM. Started by
:mod:`benchmarks.proxy_userspace` in its own process so the load generator and the proxy do
not share an interpreter.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable
from typing import Any

from kubesvc.proxy.tracker import ChangeTracker
from kubesvc.proxy.userspace import UserspaceBackend


def objects(cluster_ip: str, port: int, endpoints: list[tuple[str, int]]
            ) -> tuple[dict[str, Any], dict[str, Any]]:
    svc = {"metadata": {"name": "bench", "namespace": "default"},
           "spec": {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                    "ports": [{"name": "http", "port": port, "protocol": "TCP",
                               "targetPort": endpoints[0][1]}]}}
    sl = {"metadata": {"name": "bench-1", "namespace": "default",
                       "labels": {"kubernetes.io/service-name": "bench"}},
          "addressType": "IPv4",
          "ports": [{"name": "http", "port": endpoints[0][1], "protocol": "TCP"}],
          "endpoints": [{"addresses": [ip], "nodeName": "node-a",
                         "conditions": {"ready": True}} for ip, _ in endpoints]}
    return svc, sl


async def serve(cluster_ip: str, port: int, endpoints: list[tuple[str, int]]) -> None:
    tracker = ChangeTracker()
    svc, sl = objects(cluster_ip, port, endpoints)
    tracker.service_changed(svc, key="default/bench")
    tracker.slice_changed(sl)
    backend = UserspaceBackend(node_name="node-a")
    await backend.sync(tracker.checkpoint())
    if not backend.listeners:
        raise SystemExit(f"no listener came up: {backend.bind_errors}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready {cluster_ip}:{port} loop={type(loop).__module__}", flush=True)
    await stop.wait()
    await backend.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cluster-ip", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--endpoints", required=True, help="ip:port,ip:port,...")
    ap.add_argument("--no-uvloop", action="store_true")
    a = ap.parse_args()
    eps = [(e.rsplit(":", 1)[0], int(e.rsplit(":", 1)[1])) for e in a.endpoints.split(",")]
    with asyncio.Runner(loop_factory=None if a.no_uvloop else loop_factory()) as runner:
        runner.run(serve(a.cluster_ip, a.port, eps))


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed (as kubesvc itself runs), else asyncio's default."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


if __name__ == "__main__":
    main()
