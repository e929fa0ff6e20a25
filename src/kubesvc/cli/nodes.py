"""The node side of ``kubesvc up``: in host mode one in-process node (node agent + proxy on
loopback, talking to the in-process Registry); in netns mode the cluster DNS sockets on
every node IP (:func:`dns_in_nodes`) — the node agents themselves are separate ``kubesvc
agent`` processes, one per node namespace (:mod:`.agentprocs`) — and :class:`NodeLogs`,
the API server's log source that finds a pod's node and reads from that node's agent.

Called by :mod:`kubesvc.cli.up` after the control plane is up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions
from kubesvc.apiserver.http.logs import LogSource
from kubesvc.cli import components
from kubesvc.cli import netns as topology
from kubesvc.client.protocol import Client
from kubesvc.dns.server import DnsServer
from kubesvc.informers import Informer
from kubesvc.proxy.proxier import Proxier
from kubesvc.runtime.agent import NodeAgent
from kubesvc.runtime.netns import socket_in_netns


@dataclass(slots=True)
class NodeParts:
    name: str
    agent: NodeAgent
    proxier: Proxier | None
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
        tail_lines: int | None, previous: bool, options: LogOptions | None = None,
    ) -> AsyncIterator[bytes]:
        obj = await self.client.get("pods", pod, namespace=namespace)
        node = str((obj.get("spec") or {}).get("nodeName") or "")
        source = self.by_node.get(node)
        if source is None:
            raise errors.BadRequest(
                f'pod "{pod}" is not running on a node of this cluster (node "{node}")')
        async for chunk in source.stream(namespace, pod, container=container, follow=follow,
                                         tail_lines=tail_lines, previous=previous,
                                         options=options):
            yield chunk


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
    shared: dict[str, Informer],
    max_pods: int | None = None,
    image_map: Path | None = None,
) -> NodeParts:
    """``shared``: the process's informers by resource (pods, services, EndpointSlices),
    run by the caller. ``image_map``: ``--image-map`` (default ``<data_dir>/images.yaml``)."""
    agent = NodeAgent(client, node_name=name, data_dir=data_dir, node_ip=node_ip,
                      runner=runner, network="host", pod_cidr=pod_cidr, dns_ip=dns_ip,
                      cluster_domain=cluster_domain, max_pods=max_pods,
                      image_map_file=image_map,
                      pods=shared["pods"], services=shared["services"])
    proxier: Proxier | None = None
    if proxy != "none":
        backend = components.proxy_backend(proxy, node_name=name, node_ip=node_ip,
                                           nodeport_addresses=nodeport_addresses)
        proxier = Proxier(backend, services=shared["services"],
                          slices=shared[components.SLICES])
    return NodeParts(name, agent, proxier, dns_addr[0], dns_addr[1])


async def dns_in_nodes(topo: topology.Topology, dns: DnsServer, *, port: int = 53) -> None:
    """Cluster DNS listens on ``<node IP>:53`` inside every node namespace (sockets made
    there, served by this process); the kube-dns ClusterIP DNATs to them."""
    loop = asyncio.get_running_loop()
    for node in topo.nodes:
        udp = await loop.run_in_executor(None, socket_in_netns, node.netns, socket.AF_INET,
                                         socket.SOCK_DGRAM)
        tcp = await loop.run_in_executor(None, socket_in_netns, node.netns, socket.AF_INET,
                                         socket.SOCK_STREAM)
        for s in (udp, tcp):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((node.ip, port))
        await dns.add_listener(udp, tcp)
