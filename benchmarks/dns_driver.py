"""A stand-alone kubesvc DNS process for the DNS benchmark (uvloop when installed).

``python -m benchmarks.dns_driver serve --port P --services N`` fills a
:class:`~kubesvc.dns.records.RecordBook` with ``N`` ClusterIP Services (the same records
:func:`records` gives unbound), starts :class:`~kubesvc.dns.server.DnsServer` on
127.0.0.1:P, prints ``ready`` and serves until SIGTERM.

``python -m benchmarks.dns_driver programming --changes N`` measures DNS programming
latency: Services are created in a FakeClient, flow through Informers and
:class:`~kubesvc.dns.source.DnsSource` into the book, and a UDP query to the running server
is repeated until it sees each new name; prints one JSON line of latencies (seconds).
Started by :mod:`benchmarks.dns_bench`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import socket
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubesvc.dns.records import EndpointView, PortView, RecordBook, ServiceView
from kubesvc.dns.server import DnsServer

ZONE = "cluster.local"
NAMESPACES = 10


def service_ip(i: int) -> str:
    return f"10.96.{i // 250}.{i % 250 + 1}"


def services(n: int) -> Iterator[tuple[str, str, str]]:
    """(namespace, name, clusterIP) of the benchmark's Services."""
    for i in range(n):
        yield f"ns-{i % NAMESPACES}", f"svc-{i}", service_ip(i)


def fill(book: RecordBook, n: int) -> None:
    """The benchmark's Services into ``book``, each with 3 ready endpoints."""
    book.set_namespaces({f"ns-{k}" for k in range(NAMESPACES)})
    port = (PortView("http", "TCP", 80),)
    for i, (ns, name, ip) in enumerate(services(n)):
        eps = [EndpointView(f"10.244.{i // 80}.{(i % 80) * 3 + j + 1}", "",
                            (PortView("http", "TCP", 8080),)) for j in range(3)]
        book.set_service(ServiceView(ns, name, "ClusterIP", (ip,), False, "", port), eps)


async def serve(port: int, n: int) -> None:
    book = RecordBook(zone=ZONE, dns_ip="10.96.0.10")
    fill(book, n)
    server = DnsServer(book, host="127.0.0.1", port=port)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"ready 127.0.0.1:{server.port} loop={type(loop).__module__}", flush=True)
    await stop.wait()
    await server.stop()


def _query(qid: int, name: str) -> bytes:
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", 1, 1)


async def programming(changes: int, *, timeout: float) -> dict[str, Any]:
    from kubesvc.dns.source import DnsSource
    from kubesvc.informers import Informer
    from tests.fakes.client import FakeClient

    client = FakeClient()
    await client.create("namespaces", {"metadata": {"name": "bench"}})
    infs = {r: Informer(client, r) for r in
            ("services", "endpointslices.discovery.k8s.io", "namespaces")}
    book = RecordBook(zone=ZONE)
    src = DnsSource(book, services=infs["services"],
                    slices=infs["endpointslices.discovery.k8s.io"],
                    namespaces=infs["namespaces"])
    stop = asyncio.Event()
    tasks = [asyncio.create_task(i.run(stop)) for i in infs.values()]
    server = await _start_any_port(book, ready=src.synced)
    for inf in infs.values():
        await inf.wait_synced()
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    lat: list[float] = []
    queries = 0
    deadline = time.monotonic() + timeout
    for i in range(changes):
        if time.monotonic() > deadline:
            break
        ip = service_ip(i)
        want = socket.inet_aton(ip)
        name = f"new-{i}.bench.svc.{ZONE}"
        t0 = time.perf_counter()
        await client.create("services", {
            "metadata": {"name": f"new-{i}", "namespace": "bench"},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
        for attempt in range(10_000):  # bounded: ~10k polls at most per change
            qid = (i * 7 + attempt) & 0xFFFF
            await loop.sock_sendall(sock, _query(qid, name))
            reply = await asyncio.wait_for(loop.sock_recv(sock, 4096), 2)
            queries += 1
            if reply[:2] == struct.pack("!H", qid) and (reply[3] & 0x0F) == 0 and (
                    want in reply[-16:]):
                lat.append(time.perf_counter() - t0)
                break
    sock.close()
    await server.stop()
    stop.set()
    await asyncio.gather(*tasks)
    return {"latencies_s": lat, "queries": queries}


async def _start_any_port(book: RecordBook, *, ready: Callable[[], bool]) -> DnsServer:
    """A server on a free port: UDP port 0, then TCP on the same number, which may be
    taken; try again (bounded)."""
    for _ in range(20):
        server = DnsServer(book, host="127.0.0.1", port=0, ready=ready)
        try:
            await server.start()
            return server
        except OSError:
            await server.stop()
    raise RuntimeError("no free port for the DNS server")


def loop_factory(no_uvloop: bool) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if no_uvloop:
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["serve", "programming"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--changes", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--no-uvloop", action="store_true")
    a = ap.parse_args()
    with asyncio.Runner(loop_factory=loop_factory(a.no_uvloop)) as runner:
        if a.mode == "serve":
            runner.run(serve(a.port, a.services))
        else:
            print(json.dumps(runner.run(programming(a.changes, timeout=a.timeout))),
                  flush=True)


if __name__ == "__main__":
    main()
