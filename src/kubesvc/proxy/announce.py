"""LoadBalancer IP announcement on a layer-2 network (as MetalLB's and Cilium's L2 modes do):
for every ``type: LoadBalancer`` Service with an ingress IP, exactly one Ready node
answers for that IP — it adds the address (``/32``) to its interface and sends gratuitous
ARP so that clients on the segment move to it — and the node's proxy rules (which already
match the LoadBalancer IP) take the traffic from there.

Election without coordination: every node ranks the candidate nodes of a Service the same
way (rendezvous hashing of ``namespace/name`` and the node name, highest wins) over the
nodes whose ``Ready`` condition is ``True`` and that do not carry the upstream label
``node.kubernetes.io/exclude-from-external-load-balancers``; with
``externalTrafficPolicy: Local`` only nodes with a ready local endpoint are candidates (no
node announces when there is none, as MetalLB). When the holder's Node goes NotReady (its
agent died, or it lost its link and stopped heartbeating) every other node sees it and the
next in rank takes the IP over. The holder records itself in the Lease
``kube-system/kubesvc-l2announce-<namespace>-<name>`` (owned by the Service, so it goes
with it), as Cilium records its L2 announcements, so ``kubectl get lease`` shows who holds
an IP.

Called by ``kubesvc agent`` (one per node, sharing its informers of services, endpoint
slices and nodes); :class:`IpAddresses` runs ``ip`` in the agent's namespace, and tests use
a fake :class:`Addresses`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import ipaddress
import logging
import socket
import struct
import time
from typing import Protocol

from kubesvc import errors
from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

LB_CLASS = "kubesvc.io/lb"  # the class kubesvc's LB IPAM serves (unset also means ours)
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
LEASE_NAMESPACE = "kube-system"
LEASE_PREFIX = "kubesvc-l2announce-"
LEASES = "leases.coordination.k8s.io"
SLICES = "endpointslices.discovery.k8s.io"


class Addresses(Protocol):
    """The announcing side: which /32s the interface holds, add (and announce) one, drop one."""

    async def held(self) -> set[str]: ...

    async def add(self, ip: str) -> None: ...

    async def remove(self, ip: str) -> None: ...


def node_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def rank(key: str, node: str) -> bytes:
    return hashlib.sha256(f"{key}\x00{node}".encode()).digest()


def lb_ips(svc: Obj) -> list[str]:
    """The IPv4 ingress IPs of a LoadBalancer Service kubesvc announces."""
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer":
        return []
    if spec.get("loadBalancerClass") not in (None, "", LB_CLASS):
        return []
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    out = []
    for i in ingress:
        ip = i.get("ip")
        if ip and ipaddress.ip_address(ip).version == 4:
            out.append(str(ip))
    return out


def holder(key: str, candidates: set[str]) -> str:
    """The node that announces the Service ``key`` among ``candidates`` ("" if none)."""
    return max(candidates, key=lambda n: rank(key, n)) if candidates else ""


class LbAnnouncer:
    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        services: Informer,
        slices: Informer,
        nodes: Informer,
        addresses: Addresses,
        retry_interval: float = 2.0,
    ) -> None:
        self.client = client
        self.node_name = node_name
        self.services = services
        self.slices = slices
        self.nodes = nodes
        self.addresses = addresses
        self.retry_interval = retry_interval
        self.held: dict[str, str] = {}  # ip -> service key this node announces it for
        self._changed = asyncio.Event()
        self._synced = False
        for inf in (services, slices, nodes):
            inf.add_handler(on_add=self._poke, on_update=lambda _o, _n: self._poke(None),
                            on_delete=self._poke)

    def synced(self) -> bool:
        return self._synced

    def _poke(self, _obj: Obj | None) -> None:
        self._changed.set()

    # -- pure part
    def _ready_nodes(self) -> set[str]:
        out = set()
        for n in self.nodes.indexer.list():
            meta = n.get("metadata") or {}
            if node_ready(n) and EXCLUDE_LABEL not in (meta.get("labels") or {}):
                out.add(str(meta.get("name")))
        return out

    def _local_endpoint_nodes(self, namespace: str, name: str) -> set[str]:
        out = set()
        for sl in self.slices.indexer.list():
            meta = sl.get("metadata") or {}
            if meta.get("namespace") != namespace or (meta.get("labels") or {}).get(
                    LABEL_SERVICE_NAME) != name:
                continue
            for ep in sl.get("endpoints") or []:
                cond = ep.get("conditions") or {}
                if cond.get("ready") is not False and ep.get("nodeName"):
                    out.add(str(ep["nodeName"]))
        return out

    def desired(self) -> dict[str, tuple[str, Obj]]:
        """ip -> (service key, service) for the IPs this node should announce now."""
        ready = self._ready_nodes()
        want: dict[str, tuple[str, Obj]] = {}
        for svc in self.services.indexer.list():
            ips = lb_ips(svc)
            if not ips:
                continue
            meta = svc.get("metadata") or {}
            ns, name = str(meta.get("namespace")), str(meta.get("name"))
            candidates = ready
            if (svc.get("spec") or {}).get("externalTrafficPolicy") == "Local":
                candidates = ready & self._local_endpoint_nodes(ns, name)
            key = f"{ns}/{name}"
            if holder(key, candidates) == self.node_name:
                for ip in ips:
                    want[ip] = (key, svc)
        return want

    # -- loop
    async def run(self, stop: asyncio.Event) -> None:
        for inf in (self.services, self.slices, self.nodes):
            await inf.wait_synced()
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                self._changed.clear()
                ok = await self._sync()
                self._synced = True
                changed = asyncio.ensure_future(self._changed.wait())
                await asyncio.wait({changed, stopping}, return_when=asyncio.FIRST_COMPLETED,
                                   timeout=None if ok else self.retry_interval)
                changed.cancel()
        finally:
            stopping.cancel()
            for ip in list(self.held):
                with contextlib.suppress(Exception):
                    await self.addresses.remove(ip)
            self.held.clear()

    async def _sync(self) -> bool:
        want = self.desired()
        ok = True
        try:
            present = await self.addresses.held()
        except Exception as exc:
            log.warning("LB announcer %s: listing addresses: %s", self.node_name, exc)
            return False
        for ip in sorted(present - set(want)):
            try:
                await self.addresses.remove(ip)
                log.info("node %s stops announcing %s", self.node_name, ip)
            except Exception as exc:
                ok = False
                log.warning("LB announcer %s: removing %s: %s", self.node_name, ip, exc)
                continue
            self.held.pop(ip, None)
        for ip, (key, svc) in sorted(want.items()):
            if ip in present and self.held.get(ip) == key:
                continue
            try:
                await self.addresses.add(ip)
            except Exception as exc:
                ok = False
                log.warning("LB announcer %s: adding %s: %s", self.node_name, ip, exc)
                continue
            log.info("node %s announces %s for Service %s", self.node_name, ip, key)
            self.held[ip] = key
            await self._record(svc)
        return ok

    async def _record(self, svc: Obj) -> None:
        """Write this node as the holder into the Service's announcement Lease."""
        meta = svc.get("metadata") or {}
        name = f"{LEASE_PREFIX}{meta.get('namespace')}-{meta.get('name')}"[:253]
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
        try:
            try:
                cur = await self.client.get(LEASES, name, namespace=LEASE_NAMESPACE)
            except errors.NotFound:
                await self.client.create(LEASES, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": LEASE_NAMESPACE,
                                 "ownerReferences": [{
                                     "apiVersion": "v1", "kind": "Service",
                                     "name": meta.get("name"), "uid": meta.get("uid"),
                                 }]},
                    "spec": {"holderIdentity": self.node_name, "acquireTime": now,
                             "renewTime": now, "leaseTransitions": 0},
                }, namespace=LEASE_NAMESPACE)
                return
            spec = dict(cur.get("spec") or {})
            if spec.get("holderIdentity") == self.node_name:
                return
            spec.update(holderIdentity=self.node_name, acquireTime=now, renewTime=now,
                        leaseTransitions=int(spec.get("leaseTransitions") or 0) + 1)
            await self.client.update(LEASES, {**cur, "spec": spec}, namespace=LEASE_NAMESPACE)
        except errors.KubeError as exc:
            # The Lease only records the holder; the announcement does not depend on it.
            log.warning("LB announcer %s: recording Lease %s: %s", self.node_name, name, exc)


# -- the real interface: `ip addr` + gratuitous ARP, in the calling process's namespace
_SIOCGIFHWADDR = 0x8927
_ETH_P_ARP = 0x0806


async def _ip(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise OSError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


def gratuitous_arp(interface: str, ip: str) -> None:
    """Broadcast a gratuitous ARP request and reply for ``ip`` from ``interface``'s MAC, so
    neighbours update an entry that pointed at the previous holder."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = fcntl.ioctl(s.fileno(), _SIOCGIFHWADDR,
                            struct.pack("256s", interface[:15].encode()))
    mac = ifreq[18:24]
    addr = socket.inet_aton(ip)
    bcast = b"\xff" * 6
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(_ETH_P_ARP)) as raw:
        raw.bind((interface, _ETH_P_ARP))
        for op, target_mac in ((1, b"\x00" * 6), (2, bcast)):
            frame = (bcast + mac + struct.pack("!H", _ETH_P_ARP)
                     + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
                     + mac + addr + target_mac + addr)
            raw.send(frame)


class IpAddresses:
    """Announced IPs are the ``/32`` addresses of ``interface`` (its own address has the
    subnet's prefix, so it is never touched)."""

    def __init__(self, interface: str) -> None:
        self.interface = interface

    async def held(self) -> set[str]:
        out = await _ip("-o", "-4", "addr", "show", "dev", self.interface)
        found = set()
        for line in out.splitlines():
            parts = line.split()
            if "inet" in parts:
                addr = parts[parts.index("inet") + 1]
                if addr.endswith("/32"):
                    found.add(addr.removesuffix("/32"))
        return found

    async def add(self, ip: str) -> None:
        await _ip("addr", "replace", f"{ip}/32", "dev", self.interface)
        try:
            gratuitous_arp(self.interface, ip)
        except OSError as exc:
            log.warning("gratuitous ARP for %s on %s: %s", ip, self.interface, exc)

    async def remove(self, ip: str) -> None:
        with contextlib.suppress(OSError):
            await _ip("addr", "del", f"{ip}/32", "dev", self.interface)
