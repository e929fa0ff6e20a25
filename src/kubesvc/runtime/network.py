"""Pod networking seam: give a pod an IP (and, in netns mode, a network namespace).

:class:`PodNetwork` is the protocol the agent uses; :class:`HostNetwork` is host mode (no
root): pod IPs come from a 127.x range per node (any 127.0.0.0/8 address works on Linux's
loopback without configuration) and each pod's processes bind their own IP (``POD_IP``).
Netns mode lives in :mod:`kubesvc.runtime.netns`. :class:`IPAllocator` hands out addresses
round-robin (as host-local IPAM does, so a released IP is not reused at once).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class Sandbox:
    """A pod's network: its IP, the namespace its processes run in (None = host), and the
    address its servers should bind."""

    pod_uid: str
    ip: str
    netns: str | None = None
    bind_address: str = "0.0.0.0"
    hostname: str = ""  # netns mode: the pod's hostname (UTS namespace per process); the
    # node's for a hostNetwork pod


class IPAllocator:
    def __init__(self, cidr: str, *, reserved: tuple[str, ...] = ()) -> None:
        self.network = ipaddress.ip_network(cidr, strict=False)
        self._used: dict[str, str] = {}  # ip -> owner
        self._by_owner: dict[str, list[str]] = {}  # owner -> its addresses (first: primary)
        self._reserved = set(reserved)
        first = int(self.network.network_address) + 1
        last = int(self.network.broadcast_address) - (1 if self.network.prefixlen < 31 else 0)
        self._first, self._last = first, last
        self._next = first

    @property
    def size(self) -> int:
        return self._last - self._first + 1

    def owner(self, ip: str) -> str | None:
        return self._used.get(ip)

    def reserve(self, ip: str, owner: str) -> bool:
        """Mark ``ip`` used (after an agent restart); False if outside the range or taken."""
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if addr not in self.network or self._used.get(ip, owner) != owner:
            return False
        self._used[ip] = owner
        mine = self._by_owner.setdefault(owner, [])
        if ip not in mine:
            mine.append(ip)
        return True

    def allocate(self, owner: str) -> str:
        mine = self._by_owner.get(owner)
        if mine:
            return mine[0]
        for _ in range(self.size):
            cand = self._next
            self._next = cand + 1 if cand < self._last else self._first
            ip = str(ipaddress.ip_address(cand))
            if ip not in self._used and ip not in self._reserved:
                self._used[ip] = owner
                self._by_owner[owner] = [ip]
                return ip
        raise RuntimeError(f"pod IP range {self.network} is exhausted")

    def release(self, owner: str) -> None:
        for ip in self._by_owner.pop(owner, ()):
            if self._used.get(ip) == owner:
                del self._used[ip]


@runtime_checkable
class PodNetwork(Protocol):
    mode: str  # "host" | "netns"
    pod_cidr: str  # the range pod IPs come from (the Node's spec.podCIDR)

    async def setup(self, pod_uid: str, *, namespace: str, name: str,
                    ip: str | None = None, pod: dict[str, Any] | None = None,
                    host_ip: str = "") -> Sandbox:
        """Create (or return the existing) sandbox; ``ip`` re-uses a known address after an
        agent restart when it is still free; ``pod`` gives hostname, subdomain, hostAliases,
        DNS settings and ``hostNetwork`` where the mode applies them (netns); ``host_ip`` is
        the node's IP, a hostNetwork pod's own where the mode runs such pods in the node's
        network namespace (netns)."""
        ...

    async def teardown(self, pod_uid: str) -> None: ...

    def get(self, pod_uid: str) -> Sandbox | None: ...

    async def open_connection(
        self, sandbox: Sandbox, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Connect as the node would (probes); in netns mode from inside the node's side."""
        ...

    def exec_prefix(self, sandbox: Sandbox) -> list[str]:
        """argv prefix to run a command inside the sandbox ([] in host mode)."""
        ...


class PodSandboxes:
    """What every PodNetwork keeps: the pod CIDR, its address allocator and each pod's
    sandbox (the base of :class:`HostNetwork` and the netns one)."""

    def __init__(self, pod_cidr: str, allocator: IPAllocator) -> None:
        self.pod_cidr = pod_cidr
        self.allocator = allocator
        self._sandboxes: dict[str, Sandbox] = {}

    def get(self, pod_uid: str) -> Sandbox | None:
        return self._sandboxes.get(pod_uid)


class HostNetwork(PodSandboxes):
    """Host mode: a 127.x pod IP per pod, no namespaces, no root."""

    mode = "host"

    def __init__(self, pod_cidr: str = "127.1.0.0/16") -> None:
        super().__init__(pod_cidr, IPAllocator(pod_cidr))

    async def setup(self, pod_uid: str, *, namespace: str, name: str,
                    ip: str | None = None, pod: dict[str, Any] | None = None,
                    host_ip: str = "") -> Sandbox:
        """Every pod shares the node's namespaces here, a hostNetwork pod included: each
        gets a loopback IP of its own (``host_ip`` is not used)."""
        sb = self._sandboxes.get(pod_uid)
        if sb is not None:
            return sb
        if ip is None or not self.allocator.reserve(ip, pod_uid):
            ip = self.allocator.allocate(pod_uid)
        sb = Sandbox(pod_uid, ip, None, ip)
        self._sandboxes[pod_uid] = sb
        return sb

    async def teardown(self, pod_uid: str) -> None:
        self._sandboxes.pop(pod_uid, None)
        self.allocator.release(pod_uid)

    async def open_connection(
        self, sandbox: Sandbox, host: str, port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(host, port)

    def exec_prefix(self, sandbox: Sandbox) -> list[str]:
        return []
