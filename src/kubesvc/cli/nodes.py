"""The node side of ``kubesvc up``: for each node, a node agent, a proxy and the place the
cluster DNS answers from, in host mode (one node on loopback, userspace proxy) or netns
mode (N nodes in network namespaces, nftables in each, DNS sockets on each node IP).

Called by :mod:`kubesvc.cli.up` after the control plane is up; everything here talks to
it through the in-process Client (the Registry).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.apiserver.http.logs import LogSource
from kubesvc.cli import components
from kubesvc.cli import netns as topology
from kubesvc.client.protocol import Client
from kubesvc.dns.server import DnsServer
from kubesvc.informers import Informer
from kubesvc.proxy.nftables.backend import NftablesBackend
from kubesvc.proxy.nftables.nft import SubprocessNft
from kubesvc.proxy.nftables.rules import NftConfig
from kubesvc.proxy.proxier import Proxier
from kubesvc.runtime.agent import NodeAgent
from kubesvc.runtime.netns import NetnsNetwork, socket_in_netns

SLICES = "endpointslices.discovery.k8s.io"


@dataclass(slots=True)
class NodeParts:
    name: str
    agent: NodeAgent
    proxier: Proxier | None
    informers: list[Informer] = field(default_factory=list)
    dns_ip: str = ""  # where this node's DNS endpoint listens
    dns_port: int = 53


class NodeLogs:
    """The API server's LogSource for a cluster of several in-process nodes: finds the
    pod's node and streams from that node agent."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.by_node: dict[str, LogSource] = {}

    def add(self, node: str, source: LogSource) -> None:
        self.by_node[node] = source

    async def stream(
        self, namespace: str, pod: str, *, container: str, follow: bool,
        tail_lines: int | None, previous: bool,
    ) -> AsyncIterator[bytes]:
        obj = await self.client.get("pods", pod, namespace=namespace)
        node = str((obj.get("spec") or {}).get("nodeName") or "")
        source = self.by_node.get(node)
        if source is None:
            raise errors.BadRequest(
                f'pod "{pod}" is not running on a node of this cluster (node "{node}")')
        async for chunk in source.stream(namespace, pod, container=container, follow=follow,
                                         tail_lines=tail_lines, previous=previous):
            yield chunk


def _proxier(client: Client, backend: Any,
             shared: tuple[Informer, Informer] | None) -> tuple[Proxier, list[Informer]]:
    if shared is not None:
        services, slices = shared
        return Proxier(backend, services=services, slices=slices), []
    services = Informer(client, "services")
    slices = Informer(client, SLICES)
    return Proxier(backend, services=services, slices=slices), [services, slices]


def host_node(
    client: Client,
    *,
    name: str,
    node_ip: str,
    data_dir: Path,
    runner: Any,
    proxy: str,
    nodeport_addresses: tuple[str, ...],
    dns_ip: str,
    dns_addr: tuple[str, int],
    cluster_domain: str,
    pod_cidr: str | None,
    shared: tuple[Informer, Informer],
) -> NodeParts:
    agent = NodeAgent(client, node_name=name, data_dir=data_dir, node_ip=node_ip,
                      runner=runner, network="host", pod_cidr=pod_cidr, dns_ip=dns_ip,
                      cluster_domain=cluster_domain)
    proxier: Proxier | None = None
    informers: list[Informer] = []
    if proxy != "none":
        backend = components.proxy_backend(proxy, node_name=name, node_ip=node_ip,
                                           nodeport_addresses=nodeport_addresses)
        proxier, informers = _proxier(client, backend, shared)
    return NodeParts(name, agent, proxier, informers, dns_addr[0], dns_addr[1])


async def netns_nodes(
    client: Client,
    topo: topology.Topology,
    *,
    data_dir: Path,
    runner_factory: Callable[[], Any] | None,
    dns: DnsServer,
    dns_cluster_ip: str,
    cluster_domain: str,
) -> list[NodeParts]:
    """One agent + nftables proxy per node namespace; DNS listens on every node IP."""
    out = []
    for node in topo.nodes:
        network = NetnsNetwork(pod_cidr=node.pod_cidr, dns_ip=dns_cluster_ip,
                               cluster_domain=cluster_domain, node_netns=node.netns,
                               prefix=topology.pod_netns_prefix(topo, node))
        agent = NodeAgent(client, node_name=node.name, data_dir=data_dir / node.name,
                          node_ip=node.ip, pod_cidr=node.pod_cidr,
                          runner=runner_factory() if runner_factory else None,
                          network=network, dns_ip=dns_cluster_ip,
                          cluster_domain=cluster_domain)
        backend = NftablesBackend(SubprocessNft(netns=node.netns),
                                  NftConfig(node_name=node.name,
                                            pod_cidr=topology.CLUSTER_POD_CIDR))
        proxier, informers = _proxier(client, backend, None)
        loop = asyncio.get_running_loop()
        udp = await loop.run_in_executor(None, socket_in_netns, node.netns, socket.AF_INET,
                                         socket.SOCK_DGRAM)
        tcp = await loop.run_in_executor(None, socket_in_netns, node.netns, socket.AF_INET,
                                         socket.SOCK_STREAM)
        for s in (udp, tcp):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((node.ip, 53))
        await dns.add_listener(udp, tcp)
        out.append(NodeParts(node.name, agent, proxier, informers, node.ip, 53))
    return out
