"""``kubesvc agent``: one node — the node agent (pods as processes, Node + Lease heartbeat)
and the Service proxy — talking to ``kubesvc server`` replicas over HTTPS.

Credentials: ``--kubeconfig``, or ``--server URL`` (repeatable: one per server replica)
with ``--token-file`` (a bootstrap token from ``kubesvc token create``) and ``--ca-file``
(the cluster CA, ``DATA_DIR/pki/ca.crt`` of the servers). A bootstrap token over HTTPS is
used only to join (TLS bootstrapping, :mod:`.nodecert`): the agent gets a client
certificate for ``system:node:<name>`` through a CertificateSigningRequest, keeps it in
``<data dir>/pki/kubelet-client-current.pem`` (reused on restart while valid), makes
every other API call with it and renews it before it expires. With several servers the agent
uses one at a time and moves to the next when a request cannot reach it
(:class:`FailoverClient`), so a dead server replica does not take its nodes with it.

Every agent serves exec, attach, port-forward and logs to the API server on
``--node-ip:--streaming-port`` (HTTPS; client certificates of ``--client-ca-file``, by
default the cluster CA of ``--ca-file``; :mod:`kubesvc.runtime.streaming.server`), and
publishes the port in its Node's ``status.daemonEndpoints.kubeletEndpoint.Port``.

In host network mode several agents can share a machine: give each its own ``--node-ip``
(any 127.x address; NodePorts listen there) and ``--pod-cidr`` inside 127.0.0.0/8.

In netns network mode (root; ``kubesvc up --network netns`` starts one agent per node this
way) the agent first enters its node's namespace (``--netns``: ``setns`` of the network
namespace only, so that the pod namespaces it creates stay visible to every process), puts
each pod in its own namespace behind a bridge there, programs nftables there, serves its
pods' logs on ``--log-socket`` (:mod:`.podlogs`) and announces the LoadBalancer IPs it is
elected for on ``--lb-announce-interface`` (:mod:`kubesvc.proxy.announce`).

Calls :class:`~kubesvc.runtime.agent.NodeAgent`, :class:`~kubesvc.proxy.proxier.Proxier`
(through :mod:`.components`) and :class:`~kubesvc.client.http.HttpClient`.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import ssl
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kubesvc import errors
from kubesvc.api import bootstraptoken as bt
from kubesvc.api.objects import Obj
from kubesvc.api.validation.formats import ADDRESS_POLICY
from kubesvc.cli import components, defaults, nodecert
from kubesvc.cli.podlogs import LogSocketServer
from kubesvc.client.http import HttpClient, ssl_context_for
from kubesvc.client.kubeconfig import load_kubeconfig
from kubesvc.client.protocol import WatchEventDict
from kubesvc.informers import Informer
from kubesvc.linuxns import enter_netns
from kubesvc.metrics.exposition import MetricsServer
from kubesvc.netpol.controller import POLICIES, NetpolController
from kubesvc.proxy.announce import IpAddresses, LbAnnouncer
from kubesvc.proxy.nftables.nft import default_runner
from kubesvc.proxy.proxier import Proxier
from kubesvc.runtime.agent import NodeAgent
from kubesvc.runtime.netns import NetnsNetwork
from kubesvc.runtime.network import PodNetwork
from kubesvc.runtime.process import ProcessRunner
from kubesvc.runtime.streaming.server import StreamingServer

log = logging.getLogger("kubesvc.agent")
T = TypeVar("T")
_UNREACHABLE = (errors.ServiceUnavailable, errors.Timeout)


class FailoverClient:
    """The Client protocol over several equivalent API servers: requests go to the current
    one; when it cannot be reached the next one is tried (each once per request)."""

    def __init__(self, clients: Sequence[HttpClient]) -> None:
        if not clients:
            raise ValueError("at least one API server is required")
        self.clients = list(clients)
        self._current = 0

    @property
    def current(self) -> HttpClient:
        return self.clients[self._current]

    def _next(self, failed: HttpClient) -> None:
        if self.clients[self._current] is failed and len(self.clients) > 1:
            self._current = (self._current + 1) % len(self.clients)
            log.warning("API server %s unreachable; switching to %s", failed.server,
                        self.current.server)

    async def _call(self, fn: Callable[[HttpClient], Any]) -> Any:
        last: Exception | None = None
        for _ in range(len(self.clients)):
            client = self.current
            try:
                return await fn(client)
            except _UNREACHABLE as exc:
                last = exc
                self._next(client)
        assert last is not None
        raise last

    async def close(self) -> None:
        for c in self.clients:
            await c.close()

    async def get(self, resource: str, name: str, *, namespace: str | None = None) -> Obj:
        r: Obj = await self._call(lambda c: c.get(resource, name, namespace=namespace))
        return r

    async def list(self, resource: str, **kw: Any) -> Obj:
        r: Obj = await self._call(lambda c: c.list(resource, **kw))
        return r

    def watch(self, resource: str, **kw: Any) -> AsyncIterator[WatchEventDict]:
        return self._watch(resource, kw)

    async def _watch(self, resource: str, kw: dict[str, Any]
                     ) -> AsyncIterator[WatchEventDict]:
        client = self.current
        try:
            async for ev in client.watch(resource, **kw):
                yield ev
        except _UNREACHABLE:
            self._next(client)  # the informer retries the watch, then on the next server
            raise

    async def create(self, resource: str, obj: Obj, **kw: Any) -> Obj:
        r: Obj = await self._call(lambda c: c.create(resource, obj, **kw))
        return r

    async def update(self, resource: str, obj: Obj, **kw: Any) -> Obj:
        r: Obj = await self._call(lambda c: c.update(resource, obj, **kw))
        return r

    async def patch(self, resource: str, name: str, patch: Any, **kw: Any) -> Obj:
        r: Obj = await self._call(lambda c: c.patch(resource, name, patch, **kw))
        return r

    async def delete(self, resource: str, name: str, **kw: Any) -> Obj:
        r: Obj = await self._call(lambda c: c.delete(resource, name, **kw))
        return r


@dataclass(slots=True)
class AgentOptions:
    node_name: str
    data_dir: Path
    servers: tuple[str, ...] = ()
    token_file: Path | None = None
    ca_file: Path | None = None
    kubeconfig: Path | None = None
    node_ip: str = defaults.NODE_IP
    pod_cidr: str = defaults.HOST_POD_CIDR
    nodeport_addresses: tuple[str, ...] = ()
    network: str = "host"
    runtime: str = "process"
    proxy: str = "userspace"
    metrics_bind_address: tuple[str, int] | None = defaults.PROXY_METRICS_ADDR
    cluster_dns: str = ""
    cluster_domain: str = defaults.CLUSTER_DOMAIN
    node_lease_duration: int = 40
    image_map: Path | None = None
    netns: str = ""  # enter this named network namespace first
    pod_netns_prefix: str = "kubesvc-pod-"
    cluster_cidr: str = ""
    log_socket: Path | None = None
    lb_announce_interface: str = ""
    exit_with_parent: bool = False
    bootstrap_timeout: float = 3600.0  # how long to wait for the node's certificate
    streaming_port: int = 10250
    client_ca_file: Path | None = None

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> AgentOptions:
        return cls(
            node_name=a.node_name,
            data_dir=(a.data_dir or Path(f".kubesvc-agent-{a.node_name}")).resolve(),
            servers=tuple(a.server),
            token_file=a.token_file,
            ca_file=a.ca_file,
            kubeconfig=a.kubeconfig,
            node_ip=a.node_ip,
            pod_cidr=a.pod_cidr,
            nodeport_addresses=tuple(a.nodeport_addresses),
            network=a.network,
            runtime=a.runtime,
            proxy=a.proxy,
            metrics_bind_address=a.metrics_bind_address,
            cluster_dns=a.cluster_dns or "",
            cluster_domain=a.cluster_domain,
            node_lease_duration=a.node_lease_duration_seconds,
            image_map=a.image_map,
            netns=a.netns,
            pod_netns_prefix=a.pod_netns_prefix,
            cluster_cidr=a.cluster_cidr,
            log_socket=a.log_socket,
            lb_announce_interface=a.lb_announce_interface,
            exit_with_parent=a.exit_with_parent,
            streaming_port=a.streaming_port,
            client_ca_file=a.client_ca_file or a.ca_file,
        )


def bootstrap_token(o: AgentOptions) -> str | None:
    """The bootstrap token to exchange for a client certificate, if this agent has one
    (over HTTPS: a plain-HTTP server cannot see client certificates)."""
    if o.kubeconfig is not None or o.token_file is None or not o.servers:
        return None
    if any(s.startswith(("http:", "unix:")) for s in o.servers):
        return None
    token = o.token_file.read_text().strip()
    return token if bt.parse_token(token) is not None else None


async def agent_client(o: AgentOptions) -> tuple[FailoverClient, ssl.SSLContext | None]:
    """The agent's client: with a bootstrap token, its node client certificate (obtained
    first if it has no valid one) and the TLS context holding it (for rotation); otherwise
    :func:`make_client` and None."""
    if bootstrap_token(o) is None:
        return make_client(o), None
    pki_dir = o.data_dir / "pki"
    ca_pem = o.ca_file.read_bytes() if o.ca_file else None
    path = nodecert.load_client_cert(pki_dir, o.node_name, ca_pem=ca_pem)
    if path is None:
        boot = make_client(o)
        try:
            path = await nodecert.bootstrap_client_cert(boot, pki_dir, o.node_name,
                                                        timeout=o.bootstrap_timeout)
        finally:
            await boot.close()
    else:
        log.info("using the client certificate in %s", path)
    ctx = ssl.create_default_context(cafile=str(o.ca_file) if o.ca_file else None)
    ctx.load_cert_chain(str(path))
    agent = f"kubesvc-agent/{o.node_name}"
    return FailoverClient([HttpClient(s, ssl_context=ctx, user_agent=agent)
                           for s in o.servers]), ctx


def make_client(o: AgentOptions) -> FailoverClient:
    agent = f"kubesvc-agent/{o.node_name}"
    if o.kubeconfig is not None:
        cfg = load_kubeconfig(o.kubeconfig)
        ctx = ssl_context_for(cfg)  # the same credentials for every replica
        urls = [cfg.server, *(s for s in o.servers if s.rstrip("/") != cfg.server)]
        return FailoverClient([HttpClient(u, token=cfg.token, ssl_context=ctx,
                                          user_agent=agent) for u in urls])
    if o.servers and all(s.startswith(("http:", "unix:")) for s in o.servers) \
            and o.token_file is not None:
        token = o.token_file.read_text().strip()  # plain HTTP: no CA needed
        return FailoverClient([HttpClient(s, token=token, user_agent=agent)
                               for s in o.servers])
    if not o.servers or o.token_file is None:
        raise errors.BadRequest("give --kubeconfig, or --server with --token-file")
    token = o.token_file.read_text().strip()
    ctx = ssl.create_default_context(cafile=str(o.ca_file) if o.ca_file else None)
    return FailoverClient([HttpClient(s, token=token, ssl_context=ctx, user_agent=agent)
                           for s in o.servers])


async def _cluster_dns(client: FailoverClient, given: str) -> str:
    if given:
        return given
    try:
        svc = await client.get("services", "kube-dns", namespace="kube-system")
    except errors.KubeError as exc:
        log.warning("no cluster DNS for pods (kube-dns Service: %s)", exc)
        return ""
    return str((svc.get("spec") or {}).get("clusterIP") or "")


class Agent:
    def __init__(self, opts: AgentOptions) -> None:
        self.opts = opts
        self.stop = asyncio.Event()
        self.readiness = components.Readiness()

    async def run(self, *, on_ready: Callable[[Agent], None] | None = None) -> None:
        o = self.opts
        ADDRESS_POLICY.allow_loopback = o.network == "host"
        o.data_dir.mkdir(parents=True, exist_ok=True)
        client, cert_ctx = await agent_client(o)
        logs: LogSocketServer | None = None
        metrics: MetricsServer | None = None
        streams: StreamingServer | None = None
        try:
            dns_ip = await _cluster_dns(client, o.cluster_dns)
            network: str | PodNetwork = o.network
            if o.network == "netns":
                network = NetnsNetwork(pod_cidr=o.pod_cidr, dns_ip=dns_ip,
                                       cluster_domain=o.cluster_domain,
                                       prefix=o.pod_netns_prefix)
            agent = NodeAgent(
                client, node_name=o.node_name, data_dir=o.data_dir / "node",
                node_ip=o.node_ip, pod_cidr=o.pod_cidr, network=network,
                runner=(components.simulated_runner() if o.runtime == "simulated"
                        # Pods outlive a standalone agent (as containers outlive kubelet);
                        # under `kubesvc up` they die with it, as the agent does.
                        else ProcessRunner(o.data_dir / "node",
                                           die_with_agent=o.exit_with_parent)),
                dns_ip=dns_ip, cluster_domain=o.cluster_domain,
                image_map_file=o.image_map, lease_duration=o.node_lease_duration)
            self.readiness.add("node", agent.synced)
            proxier: Proxier | None = None
            services = Informer(client, "services")
            slices = Informer(client, components.SLICES)
            informers: list[Informer] = []  # the ones used, run below
            if o.proxy != "none":
                informers = [services, slices]
                backend = components.proxy_backend(
                    o.proxy, node_name=o.node_name, node_ip=o.node_ip,
                    nodeport_addresses=o.nodeport_addresses, shared_host=True,
                    cluster_cidr=o.cluster_cidr)
                proxier = Proxier(backend, services=services, slices=slices)
                self.readiness.add("proxy", proxier.synced)
            announcer: LbAnnouncer | None = None
            if o.lb_announce_interface:
                nodes = Informer(client, "nodes")
                informers = [services, slices, nodes]  # the proxy's two, if any, and nodes
                announcer = LbAnnouncer(client, node_name=o.node_name, services=services,
                                        slices=slices, nodes=nodes,
                                        addresses=IpAddresses(o.lb_announce_interface))
            netpol: NetpolController | None = None
            if o.network == "netns":
                # NetworkPolicy, enforced in this node's namespace (issue 23)
                pods = Informer(client, "pods")
                own = [Informer(client, POLICIES), pods, Informer(client, "namespaces")]
                netpol = NetpolController(default_runner(), node_name=o.node_name,
                                          policies=own[0], pods=pods, namespaces=own[2])
                informers = [*informers, *own]
                self.readiness.add("network-policy", netpol.synced)
            if o.log_socket is not None:
                logs = LogSocketServer(agent.log_source, o.log_socket)
                await logs.start()
            if proxier is not None:
                metrics = await components.start_metrics(
                    [proxier.metrics.scrape], o.metrics_bind_address, "proxy")
            streams = StreamingServer(agent, host=o.node_ip, port=o.streaming_port,
                                      cert_dir=o.data_dir / "pki", client_ca=o.client_ca_file)
            agent.set_kubelet_port(await streams.start())
            async with asyncio.TaskGroup() as tg:
                for inf in informers:
                    tg.create_task(inf.run(self.stop), name=f"informer/{inf.resource}")
                if proxier is not None:
                    tg.create_task(proxier.run(self.stop), name="proxy")
                if announcer is not None:
                    tg.create_task(announcer.run(self.stop), name="lb-announcer")
                if netpol is not None:
                    tg.create_task(netpol.run(self.stop), name="network-policy")
                tg.create_task(agent.run(self.stop), name="node-agent")
                if cert_ctx is not None:
                    tg.create_task(nodecert.rotate(client, o.data_dir / "pki", o.node_name,
                                                   cert_ctx, self.stop),
                                   name="certificate-rotation")
                tg.create_task(self.readiness.wait(
                    self.stop, (lambda: on_ready(self)) if on_ready else None),
                    name="readiness")
        finally:
            if metrics is not None:
                await metrics.stop()
            if streams is not None:
                await streams.stop()
            if logs is not None:
                await logs.stop()
            await client.close()


_PR_SET_PDEATHSIG = 1


def _exit_with_parent() -> None:
    """SIGTERM this process when the process that started it dies (``kubesvc up``)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() == 1:  # the parent is already gone
        os.kill(os.getpid(), signal.SIGTERM)


def run_agent(opts: AgentOptions) -> int:
    started = time.monotonic()
    try:
        if opts.exit_with_parent:
            _exit_with_parent()
        if opts.netns:
            # setns of the network namespace only, not ``ip netns exec``, which also
            # unshares the mount namespace: pod namespaces made from inside one would not
            # be visible outside it.
            enter_netns(opts.netns)
    except OSError as exc:
        print(f"kubesvc agent: {exc}", file=sys.stderr)
        return 1
    components.install_uvloop()

    def announce(a: Agent) -> None:
        ms = (time.monotonic() - started) * 1000
        print(f"kubesvc agent {opts.node_name} is ready in {ms:.0f} ms "
              f"(node IP {opts.node_ip}, pod CIDR {opts.pod_cidr})", flush=True)

    try:
        components.run_until_signalled(lambda: Agent(opts), announce)
    except (OSError, errors.KubeError) as exc:
        print(f"kubesvc agent: {exc}", file=sys.stderr)
        return 1
    return 0
