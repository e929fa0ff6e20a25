"""Building blocks shared by the commands that compose a cluster: ``kubesvc up`` (all in
one process), ``kubesvc server`` (API server + controllers + DNS) and ``kubesvc agent``
(node agent + proxy).

Holds what would otherwise be written three times: the readiness checks behind ``/readyz``
and the "ready" announcement, the cluster DNS stack (record book, informer-fed source,
server), the ``kube-dns`` Service with the Endpoints/EndpointSlice pointing at the DNS
servers, the proxy backend chosen by name, the simulated pod runner and uvloop. Calls the
dns, proxy and runtime packages and the Client protocol; called only by :mod:`kubesvc.cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import logging
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from kubesvc import errors
from kubesvc.api import sysendpoints
from kubesvc.api.objects import Obj
from kubesvc.cli import gctuning
from kubesvc.client.protocol import Client
from kubesvc.dns.records import RecordBook
from kubesvc.dns.server import DnsServer
from kubesvc.dns.source import DnsSource
from kubesvc.informers import Informer
from kubesvc.metrics.exposition import MetricsServer, MetricsSource
from kubesvc.proxy.backend import ProxyBackend
from kubesvc.proxy.userspace import UserspaceBackend

log = logging.getLogger(__name__)

SLICES = "endpointslices.discovery.k8s.io"
WILDCARDS = ("0.0.0.0", "::", "")
INIT_LOCK = ".init.lock"  # in a data dir: held while creating shared TLS material and tokens


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the ``with`` body."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def install_uvloop() -> None:
    """Use uvloop's event loop where it is installed (see DESIGN.md, data-plane notes)."""
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def dns_cluster_ip(service_cidr: str) -> str:
    """The tenth address of the Service range, as kubeadm gives kube-dns (the last usable
    one in ranges too small to have a tenth)."""
    net = ipaddress.ip_network(service_cidr, strict=False)
    return str(net[min(10, net.num_addresses - 2)])


def reachable(host: str, fallback: str) -> str:
    """``host`` unless it is a wildcard listen address, then ``fallback``."""
    return fallback if host in WILDCARDS else host


class Readiness:
    """Named readiness checks (``/readyz``); :meth:`wait` fires a callback once all pass."""

    def __init__(self) -> None:
        self.checks: dict[str, Callable[[], bool]] = {}
        self.ready = asyncio.Event()

    def add(self, name: str, check: Callable[[], bool]) -> None:
        self.checks[name] = check

    def __call__(self) -> dict[str, bool]:
        return {name: bool(fn()) for name, fn in self.checks.items()}

    async def wait(self, stop: asyncio.Event, on_ready: Callable[[], None] | None = None,
                   *, interval: float = 0.01) -> None:
        while not stop.is_set():
            if all(self().values()):
                self.ready.set()
                if on_ready is not None:
                    on_ready()
                return
            await asyncio.sleep(interval)


@dataclass(slots=True)
class DnsStack:
    """Cluster DNS fed by informers (services, endpointslices, namespaces) on one client."""

    source: DnsSource
    server: DnsServer
    informers: list[Informer]

    @classmethod
    def build(
        cls, client: Client, *, zone: str, ttl: int, dns_ip: str, host: str, port: int,
        upstreams: tuple[tuple[str, int], ...] = (),
        informers: Sequence[Informer] | None = None,
    ) -> DnsStack:
        """``informers``: (services, slices, namespaces) already made by the caller, which
        then also runs them; otherwise the stack makes its own (see :attr:`informers`)."""
        if informers is None:
            informers = [Informer(client, "services"), Informer(client, SLICES),
                         Informer(client, "namespaces")]
        services, slices, namespaces = informers
        book = RecordBook(zone=zone, ttl=ttl, dns_ip=dns_ip)
        source = DnsSource(book, services=services, slices=slices, namespaces=namespaces)
        server = DnsServer(book, host=host, port=port, upstreams=upstreams,
                           ready=source.synced)
        return cls(source, server, list(informers))


def simulated_runner() -> Any:
    from kubesvc.runtime.simulated import SimulatedRunner

    return SimulatedRunner()


def proxy_backend(kind: str, *, node_name: str, node_ip: str,
                  nodeport_addresses: Iterable[str] = (), shared_host: bool = False,
                  cluster_cidr: str = "") -> ProxyBackend:
    """The data plane by name: ``userspace`` or ``nftables``. ``shared_host``: other
    host-mode agents may run on this machine, so userspace listeners use SO_REUSEPORT.
    ``cluster_cidr``: the pod CIDR of the whole cluster (nftables masquerades traffic
    from outside it)."""
    addresses = tuple(nodeport_addresses) or (node_ip,)
    if kind == "userspace":
        return UserspaceBackend(node_name=node_name, node_addresses=addresses,
                                reuse_port=shared_host)
    if kind != "nftables":
        raise ValueError(f"unknown proxy {kind!r} (userspace, nftables, none)")
    from kubesvc.proxy.nftables.backend import NftablesBackend
    from kubesvc.proxy.nftables.nft import default_runner
    from kubesvc.proxy.nftables.rules import NftConfig

    return NftablesBackend(default_runner(),
                           NftConfig(node_name=node_name, pod_cidr=cluster_cidr),
                           health_host=node_ip)


async def start_metrics(sources: Sequence[MetricsSource], addr: tuple[str, int] | None,
                        what: str) -> MetricsServer | None:
    """Serve ``sources`` at ``http://addr/metrics``; None when ``addr`` is None or taken
    (a warning: metrics are not worth failing a cluster for)."""
    if addr is None or not sources:
        return None
    server = MetricsServer(sources, host=addr[0], port=addr[1])
    try:
        await server.start()
    except OSError as exc:
        log.warning("%s metrics are not served: %s:%s: %s", what, addr[0], addr[1], exc)
        return None
    return server


async def ensure_kube_dns_service(client: Client, *, cluster_ip: str, dns_port: int) -> None:
    """The ``kube-dns`` Service in kube-system at ``cluster_ip`` (created when missing)."""
    svc = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS",
                                "kubernetes.io/cluster-service": "true"}},
        "spec": {"clusterIP": cluster_ip,
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP",
                            "targetPort": dns_port},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP",
                            "targetPort": dns_port}]},
    }
    try:
        await client.get("services", "kube-dns", namespace="kube-system")
    except errors.NotFound:
        try:
            await client.create("services", svc, namespace="kube-system")
        except errors.AlreadyExists:
            pass


async def put(client: Client, resource: str, obj: Obj, *, namespace: str) -> None:
    """Create ``obj`` or replace the stored one with it (last writer wins)."""
    try:
        await client.create(resource, obj, namespace=namespace)
    except errors.AlreadyExists:
        cur = await client.get(resource, obj["metadata"]["name"], namespace=namespace)
        obj = {**obj, "metadata": {**obj["metadata"],
                                   "resourceVersion": cur["metadata"]["resourceVersion"]}}
        await client.update(resource, obj, namespace=namespace)


async def ensure_kube_dns(client: Client, *, cluster_ip: str, dns_ip: str, dns_port: int,
                          node_name: str) -> None:
    """``kube-dns`` with an EndpointSlice and Endpoints pointing at one DNS server, so that
    ``dig @<kube-dns IP>`` reaches it through the proxy like any other Service."""
    await ensure_kube_dns_service(client, cluster_ip=cluster_ip, dns_port=dns_port)
    await put_system_endpoints(client, sysendpoints.kube_dns(managed_by="kubesvc.io-up"),
                               [sysendpoints.Backend(dns_ip, dns_port, node_name)])


async def put_system_endpoints(client: Client, svc: sysendpoints.SystemService,
                               backends: Sequence[sysendpoints.Backend]) -> None:
    """Write the Endpoints and EndpointSlice(s) of ``svc`` listing ``backends``."""
    eps, slices = sysendpoints.build(svc, backends)
    await put(client, "endpoints", eps, namespace=svc.namespace)
    for sl in slices:
        await put(client, SLICES, sl, namespace=svc.namespace)


R = TypeVar("R", covariant=True)


class Runnable(Protocol[R]):
    stop: asyncio.Event

    async def run(self, *, on_ready: Callable[[R], None] | None = None) -> None: ...


def run_until_signalled(make: Callable[[], Runnable[R]], on_ready: Callable[[R], None]) -> None:
    """Build the component inside a fresh event loop, stop it on SIGINT/SIGTERM, and run it
    to the end (``kubesvc up``, ``server`` and ``agent`` share this)."""

    gctuning.tune()

    async def main() -> None:
        component = make()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, component.stop.set)
        await component.run(on_ready=on_ready)

    asyncio.run(main())
