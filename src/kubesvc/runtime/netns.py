"""Netns mode pod networking (root, Linux): one network namespace per pod, a veth pair from
it to the node's bridge, the pod IP from the node's pod CIDR (the bridge holds the first
address and is the pod's default gateway), and ``/etc/netns/<ns>/resolv.conf`` + ``hosts``
(bind-mounted over /etc by ``ip netns exec``) pointing at cluster DNS with the upstream
search path and ``options ndots:5``.

The node side lives in ``node_netns`` (a namespace the cluster set-up created for the node)
or, when None, in the current namespace. A ``hostNetwork`` pod gets no namespace, veth or IP
of its own: its pod-named namespace is the node's namespace under a second name (``ip netns
attach``), so its processes share the node's network (its IP is the node's, its ports are
node ports) while ``ip netns exec`` still gives them the pod's own ``resolv.conf`` and
``hosts`` (the node's, plus hostAliases); its hostname is the node's (the node name).
Each pod also gets ``/etc/netns/<ns>/hostname``, and ``ip_unprivileged_port_start=0`` in its
namespace. Only ``ip`` (iproute2) is run, and
``nsenter`` to name the node namespace when it is not the current one. Probes connect from
the node side: a socket is created inside ``node_netns`` by a thread that ``setns``-es in and
back out, then used from the event loop. Implements :class:`kubesvc.runtime.network.
PodNetwork`; chosen by ``NodeAgent(network="netns")``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from kubesvc.linuxns import setns
from kubesvc.runtime import poddns
from kubesvc.runtime.network import IPAllocator, PodSandboxes, Sandbox

log = logging.getLogger(__name__)
ETC_NETNS = Path("/etc/netns")
RUN_NETNS = Path("/run/netns")
ETC_HOSTNAME = Path("/etc/hostname")  # bind-mounted over only where the machine has one


class NetnsError(RuntimeError):
    pass


async def ip(*args: str, check: bool = True) -> str:
    proc = await asyncio.create_subprocess_exec(
        "ip", *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if check and proc.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {err.decode().strip()}")
    return out.decode()


async def unprivileged_ports(nsname: str) -> None:
    """Any port may be bound inside the pod's network namespace, by any user (containerd's
    ``enable_unprivileged_ports``: ``net.ipv4.ip_unprivileged_port_start=0``), so a pod
    run as non-root can serve on port 80 as in a real cluster."""
    proc = await asyncio.create_subprocess_exec(
        "ip", "netns", "exec", nsname, "sh", "-c",
        "echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        log.warning("%s: ip_unprivileged_port_start not set: %s", nsname,
                    err.decode().strip())


def netns_available() -> tuple[bool, str]:
    """Whether netns mode can work here, and why not."""
    if os.geteuid() != 0:
        return False, "netns mode needs root"
    if shutil.which("ip") is None:
        return False, "iproute2 `ip` is not installed"
    if not Path("/proc/self/ns/net").exists():
        return False, "the kernel has no network namespaces"
    return True, ""


def same_netns(a: str, b: str) -> bool:
    """Whether two namespace files (``/run/netns/x``, ``/proc/<pid>/ns/net``) are the same
    network namespace."""
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def socket_in_netns(netns: str, family: int, kind: int) -> socket.socket:
    """Create a socket inside ``netns`` (call from a worker thread: it switches the calling
    thread's namespace and back)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        setns(target)
        try:
            return socket.socket(family, kind)
        finally:
            setns(own)
    finally:
        os.close(target)
        os.close(own)


class NetnsNetwork(PodSandboxes):
    mode = "netns"

    def __init__(self, *, pod_cidr: str, dns_ip: str = "", cluster_domain: str = "cluster.local",
                 node_netns: str | None = None, bridge: str = "kubesvc0",
                 prefix: str = "kubesvc-pod-") -> None:
        self.net = ipaddress.ip_network(pod_cidr, strict=False)
        self.gateway = str(self.net.network_address + 1)
        super().__init__(pod_cidr, IPAllocator(pod_cidr, reserved=(self.gateway,)))
        self.dns_ip = dns_ip
        self.cluster_domain = cluster_domain
        self.node_netns = node_netns
        self.bridge = bridge
        self.prefix = prefix
        self._bridge_ready = False
        self._lock = asyncio.Lock()

    def _n(self) -> list[str]:
        return ["-n", self.node_netns] if self.node_netns else []

    def ns_name(self, pod_uid: str) -> str:
        return f"{self.prefix}{pod_uid[:13]}"

    async def ensure_bridge(self) -> None:
        if self._bridge_ready:
            return
        n = self._n()
        if self.node_netns and not Path(f"/run/netns/{self.node_netns}").exists():
            await ip("netns", "add", self.node_netns)  # the node side; never the root ns
            await ip("-n", self.node_netns, "link", "set", "lo", "up")
        if not await ip(*n, "-o", "link", "show", "dev", self.bridge, check=False):
            await ip(*n, "link", "add", self.bridge, "type", "bridge")
        addrs = await ip(*n, "-o", "addr", "show", "dev", self.bridge)
        if f" {self.gateway}/" not in addrs:
            await ip(*n, "addr", "add", f"{self.gateway}/{self.net.prefixlen}", "dev",
                     self.bridge)
        await ip(*n, "link", "set", self.bridge, "up")
        self._bridge_ready = True

    async def setup(self, pod_uid: str, *, namespace: str, name: str,
                    ip: str | None = None, pod: dict[str, Any] | None = None,
                    host_ip: str = "") -> Sandbox:
        sb = self._sandboxes.get(pod_uid)
        if sb is not None:
            return sb
        async with self._lock:
            await self.ensure_bridge()
        if pod is not None and poddns.host_network(pod):
            sb = await self._setup_host_network(pod_uid, pod, host_ip=host_ip)
            self._sandboxes[pod_uid] = sb
            return sb
        if ip is None or not self.allocator.reserve(ip, pod_uid):
            ip = self.allocator.allocate(pod_uid)
        nsname = self.ns_name(pod_uid)
        try:
            await self._plumb(nsname, pod_uid, ip, pod=pod or {
                "metadata": {"name": name, "namespace": namespace}})
        except Exception:
            self.allocator.release(pod_uid)
            await _ip_quiet("netns", "del", nsname)
            raise
        hostname = poddns.pod_hostname(pod or {"metadata": {"name": name}})
        sb = Sandbox(pod_uid, ip, nsname, "0.0.0.0", hostname)
        self._sandboxes[pod_uid] = sb
        return sb

    async def _plumb(self, nsname: str, pod_uid: str, addr: str, *, pod: dict[str, Any]
                     ) -> None:
        existing = (await ip("netns", "list")).split()
        if nsname in existing:
            # Left by a previous agent: keep it if it still has our address.
            have = await ip("-n", nsname, "-o", "addr", "show", "dev", "eth0", check=False)
            if f" {addr}/" in have:
                return
            await ip("netns", "del", nsname)
        host_if = f"ksv{pod_uid.replace('-', '')[:11]}"
        peer_if = f"ksp{pod_uid.replace('-', '')[:11]}"
        await ip("netns", "add", nsname)
        n = self._n()
        await ip(*n, "link", "add", host_if, "type", "veth", "peer", "name", peer_if,
                 "netns", nsname)
        await ip(*n, "link", "set", host_if, "master", self.bridge, "up")
        await ip("-n", nsname, "link", "set", peer_if, "name", "eth0")
        await ip("-n", nsname, "addr", "add", f"{addr}/{self.net.prefixlen}", "dev", "eth0")
        await ip("-n", nsname, "link", "set", "eth0", "up")
        await ip("-n", nsname, "link", "set", "lo", "up")
        await ip("-n", nsname, "route", "add", "default", "via", self.gateway)
        await unprivileged_ports(nsname)
        self._write_etc(nsname, pod, hosts=poddns.hosts_file(
            pod, addr, cluster_domain=self.cluster_domain), hostname=poddns.pod_hostname(pod))

    async def _setup_host_network(self, pod_uid: str, pod: dict[str, Any], *,
                                  host_ip: str) -> Sandbox:
        """A hostNetwork pod: the node's namespace under the pod's namespace name, the
        node's IP, the node's hostname."""
        spec = pod.get("spec") or {}
        node_ip = host_ip or str((pod.get("status") or {}).get("hostIP") or "")
        node_name = str(spec.get("nodeName") or "")
        if not node_ip or not node_name:
            raise NetnsError(f"hostNetwork pod {pod.get('metadata', {}).get('name')}: the "
                             "node's name and IP are needed")
        nsname = self.ns_name(pod_uid)
        try:
            await self._attach_node_netns(nsname)
            hostname = poddns.host_network_hostname(node_name)
            self._write_etc(nsname, pod, hosts=poddns.node_hosts_file(pod), hostname=hostname)
        except Exception:
            await _ip_quiet("netns", "del", nsname)
            shutil.rmtree(ETC_NETNS / nsname, ignore_errors=True)
            raise
        return Sandbox(pod_uid, node_ip, nsname, "0.0.0.0", hostname)

    def _node_netns_path(self) -> str:
        return str(RUN_NETNS / self.node_netns) if self.node_netns else "/proc/self/ns/net"

    async def _attach_node_netns(self, nsname: str) -> None:
        """Name the node's network namespace ``nsname`` too (kept when a previous agent
        left that name on it). ``ip netns attach`` takes a PID in the namespace: this
        process's own when it runs in the node namespace, else a shell's that ``nsenter``
        moved into it (network namespace only, so the new name's mount is seen
        everywhere, which ``ip netns exec``'s private mount namespace would prevent)."""
        have = RUN_NETNS / nsname
        if have.exists():
            if same_netns(str(have), self._node_netns_path()):
                return
            await ip("netns", "del", nsname)
        if not self.node_netns:
            await ip("netns", "attach", nsname, str(os.getpid()))
            return
        if shutil.which("nsenter") is None:
            raise NetnsError("hostNetwork pods need `nsenter` (util-linux)")
        proc = await asyncio.create_subprocess_exec(
            "nsenter", f"--net={self._node_netns_path()}", "--", "sh", "-c",
            'exec ip netns attach "$0" "$$"', nsname, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode != 0:
            raise NetnsError(f"ip netns attach {nsname} (in {self.node_netns}): "
                             f"{err.decode().strip()}")

    def _write_etc(self, nsname: str, pod: dict[str, Any], *, hosts: str,
                   hostname: str) -> None:
        """The files ``ip netns exec`` bind-mounts over the pod's /etc."""
        etc = ETC_NETNS / nsname
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(poddns.resolv_conf(
            pod, dns_ip=self.dns_ip, cluster_domain=self.cluster_domain))
        (etc / "hosts").write_text(hosts)
        if ETC_HOSTNAME.exists():
            (etc / "hostname").write_text(hostname + "\n")

    async def teardown(self, pod_uid: str) -> None:
        self._sandboxes.pop(pod_uid, None)
        nsname = self.ns_name(pod_uid)
        if Path(f"/run/netns/{nsname}").exists():
            await _ip_quiet("netns", "del", nsname)
        shutil.rmtree(ETC_NETNS / nsname, ignore_errors=True)
        self.allocator.release(pod_uid)

    async def open_connection(
        self, sandbox: Sandbox, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not self.node_netns:
            return await asyncio.open_connection(host, port)
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        loop = asyncio.get_running_loop()
        made = loop.run_in_executor(None, socket_in_netns, self.node_netns, fam,
                                    socket.SOCK_STREAM)
        try:
            sock = await asyncio.shield(made)
        except asyncio.CancelledError:
            made.add_done_callback(_close_result)  # don't leak the socket made meanwhile
            raise
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (host, port))
            return await asyncio.open_connection(sock=sock)
        except BaseException:
            sock.close()
            raise

    def exec_prefix(self, sandbox: Sandbox) -> list[str]:
        if not sandbox.netns:
            return []
        prefix = ["ip", "netns", "exec", sandbox.netns]
        if sandbox.hostname and shutil.which("unshare"):
            # The pod's own hostname, in a UTS namespace of its own.
            prefix += ["unshare", "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"',
                       sandbox.hostname]
        return prefix


def _close_result(fut: asyncio.Future[socket.socket]) -> None:
    if not fut.cancelled() and fut.exception() is None:
        fut.result().close()


async def _ip_quiet(*args: str) -> None:
    try:
        await ip(*args)
    except NetnsError as exc:
        log.warning("%s", exc)
