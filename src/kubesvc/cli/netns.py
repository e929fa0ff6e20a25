"""The network of a netns-mode cluster (root, Linux), built and torn down by ``kubesvc up
--network netns --nodes N``.

Topology (nothing is configured in the root namespace, so no cluster traffic can leave
the machine):

- ``ks-<id>-br``: holds the cluster bridge ``br0`` that every node and the client attach to,
  with ``172.20.0.1``: the control plane's address on the cluster network (``kubesvc up``
  relays ``172.20.0.1:6443`` to its API server, so a node that loses its link also loses
  the API server, as a real node would), and routes to each node's pod CIDR via that node:
  the API server's services/pods proxy connects from here (:func:`bridge_dialer`);
- ``ks-<id>-n<i>``: node *i*, ``eth0`` = ``172.20.0.(10+i)/24`` on the bridge, pods in
  ``10.244.(i-1).0/24`` behind the node's own pod bridge (made by the node agent's
  :class:`~kubesvc.runtime.netns.NetnsNetwork`), routes to the other nodes' pod CIDRs via
  their node IPs (host-gateway style), IP forwarding and bridge netfilter on;
- ``ks-<id>-client``: ``172.20.0.200/24``, an "outside" machine for NodePort and
  LoadBalancer traffic (``kubesvc exec client -- curl ...``);
- LoadBalancer IPs come from ``172.20.0.64/27`` on the same subnet: the node that announces
  one adds it to its ``eth0`` and the client reaches it through ARP on the bridge.

The description is saved as ``DATA_DIR/netns.json`` so ``kubesvc exec`` can find it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kubesvc.apiserver.http.proxy import Dialer
from kubesvc.runtime.netns import socket_in_netns

log = logging.getLogger(__name__)

NODE_SUBNET = "172.20.0.0/24"
CLIENT_IP = "172.20.0.200"
CONTROL_PLANE_IP = "172.20.0.1"  # on br0 in the bridge namespace
CONTROL_PLANE_PORT = 6443
LB_POOL = "172.20.0.64/27"
CLUSTER_POD_CIDR = "10.244.0.0/16"


class NetnsSetupError(RuntimeError):
    """A step of building the cluster network failed; the message names the command."""


@dataclass(slots=True)
class NodeNet:
    name: str  # the Kubernetes Node name
    netns: str
    ip: str
    pod_cidr: str


@dataclass(slots=True)
class Topology:
    cluster_id: str
    bridge_netns: str
    client_netns: str
    nodes: list[NodeNet] = field(default_factory=list)

    @classmethod
    def plan(cls, data_dir: Path, nodes: int) -> Topology:
        cid = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:6]
        pod_net = ipaddress.ip_network(CLUSTER_POD_CIDR)
        subnets = list(pod_net.subnets(new_prefix=24))
        node_ips = list(ipaddress.ip_network(NODE_SUBNET).hosts())
        return cls(
            cluster_id=cid,
            bridge_netns=f"ks-{cid}-br",
            client_netns=f"ks-{cid}-client",
            nodes=[
                NodeNet(f"node-{i}", f"ks-{cid}-n{i}", str(node_ips[9 + i]),
                        str(subnets[i - 1]))
                for i in range(1, nodes + 1)
            ],
        )

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(NODE_SUBNET).prefixlen

    def namespaces(self) -> list[str]:
        return [self.bridge_netns, self.client_netns, *(n.netns for n in self.nodes)]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> Topology:
        raw = json.loads(path.read_text())
        nodes = [NodeNet(**n) for n in raw.pop("nodes")]
        return cls(**raw, nodes=nodes)

    def netns_of(self, target: str) -> str:
        """The namespace of ``client``, a node name (``node-1``) or a node number."""
        if target == "client":
            return self.client_netns
        for n in self.nodes:
            if target in (n.name, n.netns, n.name.removeprefix("node-")):
                return n.netns
        names = ", ".join(["client", *(n.name for n in self.nodes)])
        raise KeyError(f"no node {target!r} in this cluster (have: {names})")


async def _run(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise NetnsSetupError(f"{' '.join(argv)}: {err.decode().strip()}")
    return out.decode()


def check_netns_support() -> str:
    """Why netns mode cannot run here ("" when it can)."""
    if os.geteuid() != 0:
        return "netns mode needs root (it creates network namespaces and nftables rules)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"netns mode needs `{tool}` (apt-get install iproute2 nftables)"
    return ""


async def build(topo: Topology) -> None:
    """Create the namespaces, bridge, links, addresses and routes (idempotent: stale
    namespaces of the same cluster id are removed first)."""
    await teardown(topo)
    ip = "ip"
    br = topo.bridge_netns
    for ns in topo.namespaces():
        await _run(ip, "netns", "add", ns)
        await _run(ip, "-n", ns, "link", "set", "lo", "up")
    await _run(ip, "-n", br, "link", "add", "br0", "type", "bridge")
    await _run(ip, "-n", br, "addr", "add", f"{CONTROL_PLANE_IP}/{topo.prefixlen}", "dev",
               "br0")
    await _run(ip, "-n", br, "link", "set", "br0", "up")

    async def attach(ns: str, port: str, addr: str) -> None:
        await _run(ip, "-n", br, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                   "netns", ns)
        await _run(ip, "-n", br, "link", "set", port, "master", "br0", "up")
        await _run(ip, "-n", ns, "addr", "add", f"{addr}/{topo.prefixlen}", "dev", "eth0")
        await _run(ip, "-n", ns, "link", "set", "eth0", "up")

    await attach(topo.client_netns, "client", CLIENT_IP)
    for i, node in enumerate(topo.nodes, start=1):
        await attach(node.netns, f"node{i}", node.ip)
        for key, value in (("net.ipv4.ip_forward", "1"),
                           ("net.bridge.bridge-nf-call-iptables", "1"),
                           ("net.ipv4.conf.all.route_localnet", "1")):
            path = f"/proc/sys/{key.replace('.', '/')}"
            await _run(ip, "netns", "exec", node.netns, "sh", "-c",
                       f"[ ! -e {path} ] || echo {value} > {path}")
        # A default route onto the cluster bridge, so that traffic the node itself sends
        # to a ClusterIP has a route before the nat output hook rewrites it. The bridge
        # has no uplink: nothing can leave the machine this way.
        await _run(ip, "-n", node.netns, "route", "add", "default", "dev", "eth0")
        for other in topo.nodes:
            if other is not node:
                await _run(ip, "-n", node.netns, "route", "add", other.pod_cidr, "via",
                           other.ip)
        await _run(ip, "-n", br, "route", "add", node.pod_cidr, "via", node.ip)
    log.info("netns cluster %s: %d nodes on %s, client %s", topo.cluster_id,
             len(topo.nodes), NODE_SUBNET, CLIENT_IP)


def bridge_dialer(topo: Topology) -> Dialer:
    """How the API server reaches pod addresses in a netns cluster: a socket made in the
    bridge namespace (its control-plane address, routes to every pod CIDR), connected and
    used from the event loop (a socket keeps the namespace it was made in)."""

    async def dial(host: str, port: int) -> tuple[asyncio.StreamReader,
                                                  asyncio.StreamWriter]:
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, socket_in_netns, topo.bridge_netns,
                                          socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, (host, port))
            return await asyncio.open_connection(sock=sock)
        except BaseException:
            sock.close()
            raise

    return dial


async def teardown(topo: Topology) -> None:
    """Delete every namespace of this cluster, including pod namespaces left behind, after
    killing what still runs in them (pods of an agent that died, for instance)."""
    listing = await _run("ip", "netns", "list")
    prefix = f"ks-{topo.cluster_id}-"
    names = [line.split()[0] for line in listing.splitlines()
             if line.split() and line.split()[0].startswith(prefix)]
    me = os.getpid()
    for name in names:
        pids = await _run_quiet("ip", "netns", "pids", name)
        for pid in (int(p) for p in pids.split() if p.isdigit()):
            if pid != me:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
    for name in names:
        if name:
            proc = await asyncio.create_subprocess_exec(
                "ip", "netns", "del", name, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            await proc.wait()
            shutil.rmtree(Path("/etc/netns") / name, ignore_errors=True)


async def _run_quiet(*argv: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return out.decode()


def pod_netns_prefix(topo: Topology, node: NodeNet) -> str:
    """Pod namespaces are named under the cluster's prefix so teardown finds them."""
    return f"ks-{topo.cluster_id}-{node.name.removeprefix('node-')}p-"
