"""``kubesvc up``: the all-in-one cluster in one process.

Composes, in start order: the store, the API server's Registry and HTTPS server (writing
``DATA_DIR/kubeconfig``), the controllers, cluster DNS (with a real ``kube-dns`` Service in
``kube-system`` whose endpoint is the DNS server), the proxy, and one node agent with the
scheduler, and (host mode, ``--ingress``) the ingress controller with HAProxy
(:mod:`.ingress`). Everything after the API server reaches it through the in-process Registry,
which implements the same Client protocol as the HTTP client, each component with its own
identity and permissions (:mod:`.identities`). Each long-running loop is a
named task under one TaskGroup; SIGINT/SIGTERM set one stop event. ``/readyz`` is ``ok``
only when every component has synced.

``--network netns`` builds the cluster network first (:mod:`.netns`), serves the API also
on a (TLS) unix socket relayed to ``172.20.0.1:6443`` on the cluster bridge
(:mod:`.apirelay`), makes a bootstrap token the nodes join with (TLS bootstrapping),
answers DNS on every node IP, and runs the nodes as ``kubesvc agent`` processes, one in
each node namespace (:mod:`.agentprocs`); ``kubectl logs`` reaches them through their log
sockets (:mod:`.podlogs`). LoadBalancer IPs come from ``172.20.0.64/27`` unless
``--lb-pool`` says otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesvc.api import sysendpoints
from kubesvc.api.validation.formats import ADDRESS_POLICY
from kubesvc.apiserver.http.proxy import direct_dial
from kubesvc.apiserver.http.server import ApiServer
from kubesvc.apiserver.http.ui import http_source
from kubesvc.apiserver.registry.core import Registry
from kubesvc.cli import certs, components, defaults, netns, nodes
from kubesvc.cli import ingress as ingress_cli
from kubesvc.cli.agentprocs import PROXY_METRICS_PORT, NetnsAgents, write_bootstrap_token
from kubesvc.cli.apirelay import ApiRelay
from kubesvc.cli.datadir import secure_data_dir
from kubesvc.cli.identities import Identities
from kubesvc.cli.nodes import NodeLogs
from kubesvc.cli.podlogs import LogSocketSource
from kubesvc.cli.serving import Serving
from kubesvc.cli.token import create_token
from kubesvc.client.kubeconfig import write_kubeconfig
from kubesvc.controllers.manager import ControllerManager, ControllerOptions
from kubesvc.dns.server import DnsServer
from kubesvc.informers import Informer
from kubesvc.metrics.exposition import MetricsServer, registry_source
from kubesvc.runtime.scheduler import Scheduler
from kubesvc.runtime.streaming.server import StreamingServer
from kubesvc.storage import open_store
from kubesvc.storage.encryption import load_encryption_config

log = logging.getLogger("kubesvc.up")

SLICES = "endpointslices.discovery.k8s.io"
JOIN_TOKEN_TTL = 3600.0  # the netns agents' bootstrap token: enough to join, then unused


@dataclass(slots=True)
class UpOptions:
    data_dir: Path
    api_host: str = defaults.API_HOST
    serving: Serving = field(default_factory=Serving)
    api_port: int = defaults.API_PORT
    dns_addr: tuple[str, int] = defaults.DNS_ADDR
    dns_upstreams: tuple[tuple[str, int], ...] = ()
    # the proxy's (kube-proxy's 10249) and DNS's (CoreDNS's 9153) /metrics; None: not served
    metrics_bind_address: tuple[str, int] | None = defaults.PROXY_METRICS_ADDR
    dns_metrics_addr: tuple[str, int] | None = None
    cluster_domain: str = defaults.CLUSTER_DOMAIN
    dns_ttl: int = defaults.DNS_TTL
    network: str = "host"
    runtime: str = "process"
    proxy: str = "userspace"
    store: str = ""
    service_cidr: str = defaults.HOST_SERVICE_CIDR
    node_port_range: tuple[int, int] = defaults.NODE_PORT_RANGE
    lb_pools: tuple[str, ...] = (defaults.HOST_LB_POOL,)
    node_name: str = "kubesvc-node"
    node_ip: str = defaults.NODE_IP
    nodeport_addresses: tuple[str, ...] = ()
    image_map: Path | None = None
    nodes: int = 1
    pod_cidr: str | None = None
    max_pods: int | None = None
    node_monitor_grace_period: float = defaults.NODE_MONITOR_GRACE_PERIOD
    log_level: str = "info"
    encryption_provider_config: Path | None = None
    audit_log_path: Path | None = None
    audit_policy_file: Path | None = None
    ingress: bool = False  # the CLI's default is on (--no-ingress); in-process tests opt in
    ingress_address: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> UpOptions:
        is_netns = a.network == "netns"
        return cls(
            data_dir=a.data_dir.resolve(),
            serving=Serving.from_args(a),
            api_host=a.api_host,
            api_port=a.api_port,
            dns_addr=a.dns_addr or defaults.DNS_ADDR,
            dns_upstreams=tuple(a.dns_upstream),
            metrics_bind_address=a.metrics_bind_address,
            dns_metrics_addr=defaults.dns_metrics_addr(a, a.dns_addr or defaults.DNS_ADDR),
            cluster_domain=a.cluster_domain,
            dns_ttl=a.dns_ttl,
            network=a.network,
            runtime=a.runtime,
            proxy=a.proxy or ("nftables" if is_netns else "userspace"),
            store=a.store,
            service_cidr=a.service_cidr or defaults.service_cidr(a.network),
            node_port_range=a.service_node_port_range,
            lb_pools=tuple(a.lb_pool) or ((netns.LB_POOL,) if is_netns
                                          else (defaults.HOST_LB_POOL,)),
            node_name=a.node_name,
            node_ip=a.node_ip,
            nodeport_addresses=tuple(a.nodeport_addresses),
            image_map=a.image_map,
            nodes=a.nodes,
            pod_cidr=a.pod_cidr,
            max_pods=a.max_pods,
            node_monitor_grace_period=a.node_monitor_grace_period,
            log_level=a.log_level,
            encryption_provider_config=a.encryption_provider_config,
            audit_log_path=a.audit_log_path,
            audit_policy_file=a.audit_policy_file,
            ingress=a.ingress,
            ingress_address=a.ingress_address,
        )

    @property
    def dns_cluster_ip(self) -> str:
        """The tenth address of the Service range, as kubeadm gives kube-dns."""
        return components.dns_cluster_ip(self.service_cidr)


class UpError(Exception):
    """``kubesvc up`` cannot start as asked; the message says what to change."""


class Cluster:
    """The running all-in-one cluster (also used in-process by integration tests)."""

    def __init__(self, opts: UpOptions) -> None:
        self.opts = opts
        self.stop = asyncio.Event()
        self.ready_event = asyncio.Event()
        self.registry: Registry | None = None
        self.api: ApiServer | None = None
        self.dns: DnsServer | None = None
        self.topology: netns.Topology | None = None
        self.ingress: ingress_cli.IngressParts | None = None
        self._checks: dict[str, Callable[[], bool]] = {}
        self.kubeconfig = opts.data_dir / "kubeconfig"

    def readiness(self) -> dict[str, bool]:
        return {name: bool(fn()) for name, fn in self._checks.items()}

    async def run(self, *, on_ready: Callable[[Cluster], None] | None = None) -> None:
        o = self.opts
        secure_data_dir(o.data_dir)  # 0700, secret files 0600 (fixes older dirs)
        # Host mode puts every cluster address in 127.0.0.0/8 (see DESIGN.md).
        ADDRESS_POLICY.allow_loopback = o.network == "host"
        if o.encryption_provider_config is not None:  # a bad file fails before netns setup
            load_encryption_config(o.encryption_provider_config)
        topo: netns.Topology | None = None
        if o.network == "netns":
            why = netns.check_netns_support()
            if why:
                raise UpError(why)
            topo = netns.Topology.plan(o.data_dir, o.nodes)
            self.topology = topo
            try:
                await netns.build(topo)
            except BaseException:
                await netns.teardown(topo)  # don't leave half a network behind
                raise
            topo.save(o.data_dir / "netns.json")
        store = await open_store(
            o.store or f"sqlite://{o.data_dir / 'state.db'}",
            encryption_config=str(o.encryption_provider_config or "") or None)
        registry = Registry(
            store,
            service_cidr=o.service_cidr,
            node_port_range=o.node_port_range,
            apiserver_endpoint=(o.api_host if o.api_host not in ("0.0.0.0", "::")
                                else o.node_ip, o.api_port),
            service_account_admission=True,
        )
        self.registry = registry
        metrics_servers: list[MetricsServer] = []
        try:
            await registry.start()
            self._checks["registry"] = lambda: registry.started
            store_healthy = getattr(store, "healthy", None)
            if store_healthy is not None:  # "[-]etcd failed" while store writes fail
                self._checks["etcd"] = store_healthy
            logs = NodeLogs(registry)
            api = ApiServer(
                registry, data_dir=o.data_dir, host=o.api_host, port=o.api_port,
                readiness=self.readiness, log_source=logs,
                unix_socket=o.data_dir / "api.sock" if topo is not None else None,
                unix_socket_tls=topo is not None,
                extra_sans=[netns.CONTROL_PLANE_IP] if topo is not None else [],
                dial=netns.bridge_dialer(topo) if topo is not None else direct_dial,
                **o.serving.api_server_kwargs(),
                audit_log_path=o.audit_log_path, audit_policy_file=o.audit_policy_file,
            )
            self.api = api
            await api.start()
            # The admin token in `kubeconfig` (so `kubectl --token` acts as that token: a
            # client certificate beside it would win, as upstream's x509 authenticator comes
            # first); the admin certificate in `admin.conf` (kubeadm's), unless another CA is
            # the client CA.
            write_kubeconfig(self.kubeconfig, server=api.url, ca_pem=api.ca_pem,
                             token=api.token)
            if o.serving.client_ca_file is None:
                cert, key = api.admin_cert()
                write_kubeconfig(o.data_dir / "admin.conf", server=api.url, ca_pem=api.ca_pem,
                                 client_cert=cert, client_key=key)

            # One informer per resource for every component of this process (controllers,
            # scheduler, node agent, proxy, DNS): each change is handled once, not once
            # per component, and each object is cached once.
            shared = {res: Informer(registry, res)
                      for res in ("pods", "services", SLICES, "namespaces", "nodes")}
            informers = [shared["services"], shared[SLICES], shared["namespaces"]]
            # Each component acts with its own identity, judged by the API server's
            # authorizer; the shared informers read for them once each may (see .identities).
            who = Identities(registry, api.authz)
            who.shared_reads(who.controller_manager, shared)
            who.shared_reads(who.scheduler, ("pods", "nodes"))
            who.shared_reads(who.dns, ("services", SLICES, "namespaces"))

            controllers = ControllerManager(
                who.controller_manager, informers=shared, options=ControllerOptions(
                    lb_pools=list(o.lb_pools), node_grace_period=o.node_monitor_grace_period,
                    storage_root=o.data_dir / "storage", external_informers=True,
                    root_ca=api.ca_pem, **certs.controller_options(api, o.serving)),
                clients=who.controller)
            self._checks["controllers"] = controllers.synced

            stack = components.DnsStack.build(
                who.dns, zone=o.cluster_domain, ttl=o.dns_ttl, dns_ip=o.dns_cluster_ip,
                host=o.dns_addr[0], port=o.dns_addr[1], upstreams=o.dns_upstreams,
                informers=informers)
            dns = stack.server
            self.dns = dns
            await dns.start()
            dns_source = registry_source(dns.metrics.registry)
            api.add_metrics_source("dns", dns_source)
            served = await components.start_metrics([dns_source], o.dns_metrics_addr, "DNS")
            if served is not None:
                metrics_servers.append(served)
            self._checks["dns"] = stack.source.synced

            runner = components.simulated_runner if o.runtime == "simulated" else None
            parts: list[nodes.NodeParts] = []
            agents: NetnsAgents | None = None
            relay: ApiRelay | None = None
            streams: list[StreamingServer] = []
            if topo is None:
                agent_client = who.node(o.node_name)
                who.shared_reads(agent_client, ("pods", "services"))
                if o.proxy != "none":
                    who.shared_reads(who.proxy, ("services", SLICES))
                parts = [nodes.host_node(
                    agent_client, name=o.node_name, node_ip=o.node_ip, data_dir=o.data_dir / "node",
                    runner=runner() if runner else None, proxy=o.proxy,
                    nodeport_addresses=o.nodeport_addresses, dns_ip=o.dns_cluster_ip,
                    dns_addr=(components.reachable(o.dns_addr[0], o.node_ip), dns.port),
                    cluster_domain=o.cluster_domain, pod_cidr=o.pod_cidr,
                    max_pods=o.max_pods, shared=shared, image_map=o.image_map)]
                dns_endpoints = [(p.dns_ip, p.name) for p in parts]
                dns_port = parts[0].dns_port
            else:
                await nodes.dns_in_nodes(topo, dns)
                dns_endpoints = [(n.ip, n.name) for n in topo.nodes]
                dns_port = 53
                relay = ApiRelay(netns=topo.bridge_netns, host=netns.CONTROL_PLANE_IP,
                                 port=netns.CONTROL_PLANE_PORT,
                                 unix_socket=o.data_dir / "api.sock", scheme="https")
                # Nodes join with a bootstrap token (TLS bootstrapping), as kubeadm's: one
                # made at each start, needed only by a node without a valid certificate.
                join = write_bootstrap_token(
                    await create_token(registry, ttl=JOIN_TOKEN_TTL),
                    o.data_dir / "nodes" / "bootstrap-token")
                agents = NetnsAgents(
                    topo, data_dir=o.data_dir / "nodes", server=relay.url,
                    bootstrap_token=join, ca_file=o.data_dir / "pki" / "ca.crt",
                    dns_cluster_ip=o.dns_cluster_ip, cluster_domain=o.cluster_domain,
                    runtime=o.runtime, proxy=o.proxy, image_map=o.image_map,
                    lease_duration=max(1, min(40, int(o.node_monitor_grace_period))),
                    log_level=o.log_level, client_ca=o.data_dir / "pki" / "ca.crt")
                try:
                    await relay.start()
                    await agents.start()
                except BaseException:
                    await agents.terminate()
                    await relay.stop()
                    await dns.stop()
                    await api.stop()
                    raise
                for a in agents.agents:
                    logs.add(a.node.name, LogSocketSource(a.log_socket, node=a.node.name))
                self._checks["agents"] = agents.synced
            await components.ensure_kube_dns_service(
                registry, cluster_ip=o.dns_cluster_ip, dns_port=dns_port)
            await components.put_system_endpoints(
                registry, sysendpoints.kube_dns(managed_by="kubesvc.io-up"),
                [sysendpoints.Backend(ip, dns_port, node) for ip, node in dns_endpoints])
            for p in parts:
                # The node's streaming server (exec, attach, port-forward), reached by the
                # API server as any agent's: on the node IP, a free port.
                srv = StreamingServer(p.agent, host=o.node_ip, port=0,
                                      cert_dir=o.data_dir / "node" / "pki",
                                      client_ca=o.data_dir / "pki" / "ca.crt")
                p.agent.set_kubelet_port(await srv.start())
                streams.append(srv)
                logs.add(p.name, p.agent.log_source)
                self._checks[f"node/{p.name}"] = p.agent.synced
                if p.proxier is not None:
                    self._checks[f"proxy/{p.name}"] = p.proxier.synced
            for p in parts:
                if p.proxier is not None:
                    api.add_metrics_source(f"proxy/{p.name}", p.proxier.metrics.scrape)
            if topo is not None:
                for n in topo.nodes:
                    api.add_metrics_source(f"proxy/{n.name}", http_source(
                        netns.bridge_dialer(topo), n.ip, PROXY_METRICS_PORT))
            served = await components.start_metrics(
                [p.proxier.metrics.scrape for p in parts if p.proxier is not None],
                o.metrics_bind_address, "proxy")
            if served is not None:
                metrics_servers.append(served)
            scheduler = Scheduler(who.scheduler, pods=shared["pods"], nodes=shared["nodes"])
            ing: ingress_cli.IngressParts | None = None
            if o.ingress and topo is None:
                ing = ingress_cli.build(
                    who.controller("ingress"), data_dir=o.data_dir, services=shared["services"],
                    slices=shared[SLICES], address=o.ingress_address
                    or ingress_cli.default_address(o.lb_pools[0]))
                self.ingress = ing
            elif o.ingress:
                log.warning("ingress: the ingress controller runs in host mode only; "
                            "not started with --network netns")

            try:
                async with asyncio.TaskGroup() as tg:
                    for inf in shared.values():
                        tg.create_task(inf.run(self.stop), name=f"informer/{inf.resource}")
                    tg.create_task(controllers.run(self.stop), name="controllers")
                    tg.create_task(scheduler.run(self.stop), name="scheduler")
                    if ing is not None:
                        for inf in ing.own_informers:
                            tg.create_task(inf.run(self.stop), name=f"informer/{inf.resource}")
                        tg.create_task(ing.controller.run(self.stop), name="ingress-controller")
                    for p in parts:
                        if p.proxier is not None:
                            tg.create_task(p.proxier.run(self.stop), name=f"proxy/{p.name}")
                        tg.create_task(p.agent.run(self.stop), name=f"node-agent/{p.name}")
                    if agents is not None:
                        tg.create_task(agents.run(self.stop), name="node-agents")
                    tg.create_task(self._watch_ready(on_ready), name="readiness")
            finally:
                for srv in streams:
                    await srv.stop()
                if agents is not None:
                    await agents.terminate()
                if relay is not None:
                    await relay.stop()
                await dns.stop()
                await api.stop()
        finally:
            for m in metrics_servers:
                await m.stop()
            await registry.stop()
            await store.close()
            if topo is not None:
                await netns.teardown(topo)

    async def _watch_ready(self, on_ready: Callable[[Cluster], None] | None) -> None:
        while not self.stop.is_set():
            if all(self.readiness().values()):
                self.ready_event.set()
                if on_ready is not None:
                    on_ready(self)
                return
            await asyncio.sleep(0.01)


def run_up(opts: UpOptions) -> int:
    components.install_uvloop()
    started = time.monotonic()

    def announce(c: Cluster) -> None:
        ms = (time.monotonic() - started) * 1000
        print(
            f"kubesvc is ready in {ms:.0f} ms\n"
            f"  API server: {c.api.url if c.api else '?'}\n"
            f"  DNS:        {opts.dns_addr[0]}:{c.dns.port if c.dns else '?'} "
            f"(kube-dns Service {opts.dns_cluster_ip}:53)\n"
            f"  kubeconfig: export KUBECONFIG={c.kubeconfig}\n"
            f"  service map: {c.api.url if c.api else '?'}/ui/ (sign in with a token, e.g. "
            f"kubectl create token, or the one in the kubeconfig)\n"
            + (f"  Ingress:    http://{c.ingress.address} (:443 with TLS)"
               f"{'' if c.ingress.controller.plane else ' - NOT SERVED: haproxy is missing'}\n"
               if c.ingress else "") +
            "  then:       kubectl get svc -A",
            flush=True,
        )
        if c.topology is not None:
            nodes_line = ", ".join(f"{n.name} {n.ip}" for n in c.topology.nodes)
            print(f"  nodes:      {len(c.topology.nodes)} in network namespaces "
                  f"({nodes_line}); client {netns.CLIENT_IP}\n"
                  f"  on a node:  kubesvc exec --data-dir {opts.data_dir} node-1 -- CMD "
                  f"(or client)", flush=True)

    try:
        components.run_until_signalled(lambda: Cluster(opts), announce)
    except (OSError, UpError, netns.NetnsSetupError) as exc:
        print(f"kubesvc up: {exc}", file=sys.stderr)
        return 1
    return 0
