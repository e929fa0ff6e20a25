"""``kubesvc server``: one control-plane replica — API server, cluster DNS, and (only while
it holds the ``kube-system/kubesvc-controller-manager`` Lease) the controllers, the
scheduler and (host mode, ``--ingress``) the ingress controller with its HAProxy
(:mod:`.ingress`): one per cluster, moving with the Lease; replicas sharing ``--data-dir``
share its directory, so a new leader stops the HAProxy a killed one left behind.

Several replicas share one store (``--store etcd://...``); each serves the API on its own
address and port and keeps its address in the ``kubernetes`` and ``kube-dns`` endpoints
(:mod:`kubesvc.apiserver.endpointlease`). Replicas on one machine may share ``--data-dir``:
the CA, serving certificate and token file there are created once under a file lock, so every
replica presents the same CA and accepts the same tokens. Bootstrap tokens for agents
(``kubesvc token create``) are Secrets in the shared store, read by every replica on each
request.

Start order: TLS material and tokens, store, Registry, HTTPS API server (writing the
kubeconfig), endpoint lease, DNS, leader election. Each long-running loop is a named task
under one TaskGroup; SIGINT/SIGTERM set one stop event; a leader releases its Lease on the
way out so another replica takes over at once. Calls :mod:`kubesvc.apiserver`,
:mod:`kubesvc.controllers`, :mod:`kubesvc.runtime.scheduler`, :mod:`kubesvc.dns` through
:mod:`.components`, and :class:`~kubesvc.client.leaderelection.LeaderElector`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubesvc.api.validation.formats import ADDRESS_POLICY
from kubesvc.apiserver.endpointlease import EndpointLeaseReconciler
from kubesvc.apiserver.http.auth import TokenFile
from kubesvc.apiserver.http.server import ApiServer
from kubesvc.apiserver.http.tls import ensure_admin_cert, ensure_tls
from kubesvc.apiserver.registry.core import Registry
from kubesvc.cli import certs, components, defaults
from kubesvc.cli import ingress as ingress_cli
from kubesvc.cli.datadir import secure_data_dir
from kubesvc.cli.identities import Identities
from kubesvc.cli.serving import Serving
from kubesvc.client.kubeconfig import write_kubeconfig
from kubesvc.client.leaderelection import LeaderElector
from kubesvc.controllers.manager import ControllerManager, ControllerOptions
from kubesvc.informers import Informer
from kubesvc.metrics.exposition import MetricsServer, registry_source
from kubesvc.runtime.scheduler import Scheduler
from kubesvc.storage import open_store

log = logging.getLogger("kubesvc.server")

@dataclass(slots=True)
class ServerOptions:
    data_dir: Path
    api_host: str = defaults.API_HOST
    serving: Serving = field(default_factory=Serving)
    api_port: int = defaults.API_PORT
    advertise_address: str = ""
    tls_sans: tuple[str, ...] = ()
    dns_addr: tuple[str, int] = defaults.DNS_ADDR
    dns_upstreams: tuple[tuple[str, int], ...] = ()
    dns_metrics_addr: tuple[str, int] | None = None  # CoreDNS's :9153/metrics; None: off
    cluster_domain: str = defaults.CLUSTER_DOMAIN
    dns_ttl: int = defaults.DNS_TTL
    network: str = "host"
    store: str = ""
    service_cidr: str = defaults.HOST_SERVICE_CIDR
    node_port_range: tuple[int, int] = defaults.NODE_PORT_RANGE
    lb_pools: tuple[str, ...] = (defaults.HOST_LB_POOL,)
    node_monitor_grace_period: float = defaults.NODE_MONITOR_GRACE_PERIOD
    leader_elect: bool = True
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    endpoint_lease_duration: int = 15
    identity: str = ""
    kubeconfig: Path | None = None
    encryption_provider_config: Path | None = None
    audit_log_path: Path | None = None
    audit_policy_file: Path | None = None
    ingress: bool = False  # the CLI's default is on (--no-ingress); in-process tests opt in
    ingress_address: str = ""

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> ServerOptions:
        netns = a.network == "netns"
        return cls(
            data_dir=a.data_dir.resolve(),
            serving=Serving.from_args(a),
            api_host=a.api_host,
            api_port=a.api_port,
            advertise_address=a.advertise_address or "",
            tls_sans=tuple(a.tls_san),
            dns_addr=a.dns_addr or defaults.DNS_ADDR,
            dns_upstreams=tuple(a.dns_upstream),
            dns_metrics_addr=defaults.dns_metrics_addr(a, a.dns_addr or defaults.DNS_ADDR),
            cluster_domain=a.cluster_domain,
            dns_ttl=a.dns_ttl,
            network=a.network,
            store=a.store,
            service_cidr=a.service_cidr or defaults.service_cidr(a.network),
            node_port_range=a.service_node_port_range,
            lb_pools=tuple(a.lb_pool) or (() if netns else (defaults.HOST_LB_POOL,)),
            node_monitor_grace_period=a.node_monitor_grace_period,
            leader_elect=a.leader_elect,
            lease_duration=a.leader_elect_lease_duration,
            renew_deadline=a.leader_elect_renew_deadline,
            retry_period=a.leader_elect_retry_period,
            endpoint_lease_duration=a.endpoint_lease_duration,
            identity=a.identity or "",
            kubeconfig=a.write_kubeconfig,
            encryption_provider_config=a.encryption_provider_config,
            audit_log_path=a.audit_log_path,
            audit_policy_file=a.audit_policy_file,
            ingress=a.ingress,
            ingress_address=a.ingress_address,
        )

    @property
    def advertise(self) -> str:
        return self.advertise_address or components.reachable(self.api_host, "127.0.0.1")


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Server:
    """One running replica (also usable in-process by tests)."""

    def __init__(self, opts: ServerOptions) -> None:
        self.opts = opts
        self.identity = opts.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.stop = asyncio.Event()
        self.readiness = components.Readiness()
        self.api: ApiServer | None = None
        self.elector: LeaderElector | None = None
        self.controllers: ControllerManager | None = None
        self.ingress: ingress_cli.IngressParts | None = None
        self.kubeconfig = opts.kubeconfig or opts.data_dir / "kubeconfig"

    def _prepare_data_dir(self, sans: list[str]) -> None:
        """TLS material and the token file, created once even when replicas sharing the
        data dir start together (ApiServer.start then finds and reuses them)."""
        with components.file_lock(self.opts.data_dir / components.INIT_LOCK):
            ensure_admin_cert(ensure_tls(self.opts.data_dir, extra_sans=sans))
            TokenFile.load_or_create(self.opts.data_dir / "tokens.csv")

    async def run(self, *, on_ready: Callable[[Server], None] | None = None
                  ) -> None:
        o = self.opts
        secure_data_dir(o.data_dir)  # 0700, secret files 0600 (fixes older dirs)
        ADDRESS_POLICY.allow_loopback = o.network == "host"
        port = o.api_port or _free_port(o.api_host)
        sans = [o.api_host, o.advertise, *o.tls_sans]
        if o.api_host in components.WILDCARDS:
            sans = [o.advertise, *o.tls_sans, socket.gethostname()]
        await asyncio.to_thread(self._prepare_data_dir, sans)
        store = await open_store(
            o.store or f"sqlite://{o.data_dir / 'state.db'}",
            encryption_config=str(o.encryption_provider_config or "") or None)
        registry = Registry(store, service_cidr=o.service_cidr,
                            node_port_range=o.node_port_range,
                            apiserver_endpoint=(o.advertise, port),
                            endpoint_reconciler="none",  # the lease reconciler owns them
                            service_account_admission=True)
        api = ApiServer(registry, data_dir=o.data_dir, host=o.api_host, port=port,
                        extra_sans=[o.advertise, *o.tls_sans], readiness=self.readiness,
                        **o.serving.api_server_kwargs(),
                        audit_log_path=o.audit_log_path,
                        audit_policy_file=o.audit_policy_file)
        self.api = api
        dns = None
        metrics: MetricsServer | None = None
        try:
            await registry.start()
            self.readiness.add("registry", lambda: registry.started)
            store_healthy = getattr(store, "healthy", None)
            if store_healthy is not None:  # "[-]etcd failed" while store writes fail
                self.readiness.add("etcd", store_healthy)
            await api.start()
            # The admin token in the kubeconfig, the admin certificate in admin.conf (see
            # kubesvc up), unless another CA is the client CA.
            url = f"https://{_url_host(o.advertise)}:{api.port}"
            write_kubeconfig(self.kubeconfig, server=url, ca_pem=api.ca_pem, token=api.token)
            if o.serving.client_ca_file is None:
                cert, key = api.admin_cert()
                write_kubeconfig(o.data_dir / "admin.conf", server=url, ca_pem=api.ca_pem,
                                 client_cert=cert, client_key=key)
            stack = components.DnsStack.build(  # DNS reads as kube-system:coredns
                Identities(registry, api.authz).dns, zone=o.cluster_domain, ttl=o.dns_ttl,
                dns_ip=components.dns_cluster_ip(o.service_cidr), host=o.dns_addr[0],
                port=o.dns_addr[1], upstreams=o.dns_upstreams)
            dns = stack.server
            await dns.start()
            self.readiness.add("dns", stack.source.synced)
            dns_source = registry_source(dns.metrics.registry)
            metrics = await components.start_metrics([dns_source], o.dns_metrics_addr, "DNS")
            api.add_metrics_source("dns", dns_source)
            await components.ensure_kube_dns_service(
                registry, cluster_ip=components.dns_cluster_ip(o.service_cidr),
                dns_port=dns.port)
            endpoints = EndpointLeaseReconciler(
                registry, identity=self.identity, api=(o.advertise, api.port),
                dns=(components.reachable(o.dns_addr[0], o.advertise), dns.port),
                lease_duration=o.endpoint_lease_duration)
            self.readiness.add("endpoints", lambda: endpoints.synced)
            self.elector = LeaderElector(
                registry, identity=self.identity, lease_duration=o.lease_duration,
                renew_deadline=o.renew_deadline, retry_period=o.retry_period)
            async with asyncio.TaskGroup() as tg:
                for inf in stack.informers:
                    tg.create_task(inf.run(self.stop), name=f"informer/{inf.resource}")
                tg.create_task(endpoints.run(self.stop), name="endpoint-lease")
                if o.leader_elect:
                    tg.create_task(self.elector.run(self.stop, self._lead),
                                   name="leader-election")
                else:
                    tg.create_task(self._lead(self.stop), name="controllers")
                tg.create_task(self.readiness.wait(
                    self.stop, (lambda: on_ready(self)) if on_ready else None),
                    name="readiness")
        finally:
            if metrics is not None:
                await metrics.stop()
            if dns is not None:
                await dns.stop()
            await api.stop()
            await registry.stop()
            await store.close()

    async def _lead(self, lost: asyncio.Event) -> None:
        """The controllers and the scheduler, for as long as this replica leads."""
        o = self.opts
        log.info("%s: starting controllers", self.identity)
        # The scheduler reads the controllers' pods and nodes informers (run by the
        # manager): each pod change is handled once.
        # Each runs with its own identity (.identities); the scheduler's informers are the
        # controller manager's.
        assert self.api is not None
        who = Identities(self._registry(), self.api.authz)
        who.shared_reads(who.scheduler, ("pods", "nodes"))
        shared = {res: Informer(who.controller_manager, res) for res in ("pods", "nodes")}
        cm = ControllerManager(who.controller_manager, informers=shared,
                               options=ControllerOptions(
                                   lb_pools=list(o.lb_pools),
                                   node_grace_period=o.node_monitor_grace_period,
                                   event_host=self.identity, root_ca=self._ca_pem(),
                                   **certs.controller_options(self._api(), o.serving)),
                               clients=who.controller)
        scheduler = Scheduler(who.scheduler, pods=shared["pods"], nodes=shared["nodes"])
        ing = self._ingress(who)
        self.controllers = cm
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(cm.run(lost), name="controllers")
                tg.create_task(scheduler.run(lost), name="scheduler")
                if ing is not None:  # one ingress controller per cluster: the leader's
                    for inf in ing.own_informers:
                        tg.create_task(inf.run(lost), name=f"informer/{inf.resource}")
                    tg.create_task(ing.controller.run(lost), name="ingress-controller")
        finally:
            self.controllers = None
            log.info("%s: controllers stopped", self.identity)

    def _ingress(self, who: Identities) -> ingress_cli.IngressParts | None:
        """The ingress controller with informers of its own (host mode), or None."""
        o = self.opts
        if not o.ingress:
            return None
        if o.network != "host" or not o.lb_pools:
            log.warning("ingress: kubesvc server runs the ingress controller in host mode "
                        "only; not started")
            return None
        client = who.controller("ingress")
        services = Informer(client, "services")
        slices = Informer(client, ingress_cli.SLICES)
        ing = ingress_cli.build(client, data_dir=o.data_dir, services=services, slices=slices,
                                address=o.ingress_address
                                or ingress_cli.default_address(o.lb_pools[0]))
        ing.own_informers += [services, slices]
        self.ingress = ing
        return ing

    def _ca_pem(self) -> bytes:
        assert self.api is not None
        return self.api.ca_pem

    def _api(self) -> ApiServer:
        assert self.api is not None
        return self.api

    def _registry(self) -> Registry:
        assert self.api is not None and isinstance(self.api.registry, Registry)
        return self.api.registry


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def run_server(opts: ServerOptions) -> int:
    components.install_uvloop()
    started = time.monotonic()

    def announce(s: Server) -> None:
        ms = (time.monotonic() - started) * 1000
        print(f"kubesvc server is ready in {ms:.0f} ms\n"
              f"  API server: {s.api.url if s.api else '?'} (advertised as "
              f"{opts.advertise})\n"
              f"  identity:   {s.identity}\n"
              f"  kubeconfig: export KUBECONFIG={s.kubeconfig}", flush=True)

    try:
        components.run_until_signalled(lambda: Server(opts), announce)
    except OSError as exc:
        print(f"kubesvc server: {exc}", file=sys.stderr)
        return 1
    return 0
