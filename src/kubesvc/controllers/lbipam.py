"""LoadBalancer IPAM: gives ``type: LoadBalancer`` Services an external IP from configured
pools (as MetalLB / Cilium LB-IPAM do), written to ``status.loadBalancer.ingress[].ip``
through the services ``status`` subresource, so ``kubectl get svc`` shows EXTERNAL-IP.

Pools come from the manager's options (CIDRs such as ``127.0.100.0/24`` or ranges
``a.b.c.d-e.f.g.h``) and from the ConfigMap ``kube-system/kubesvc-lb-pools`` (every value
in ``data`` is a list of CIDRs/ranges separated by commas, spaces or newlines). Honours
``spec.loadBalancerIP`` and ``spec.loadBalancerClass`` (ours is ``kubesvc.io/lb``; unset
means ours; any other class is left alone). IPs are released when a Service is deleted or
stops being an eligible LoadBalancer and then go to Services left pending. When no IP is
free the Service stays ``<pending>`` and gets a Warning Event ``AllocationFailed``.

One worker (allocation state is one in-memory map rebuilt from Service status at start).
Reads the services informer (and the kube-system configmaps one); created by the manager.
"""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from kubesvc.api.objects import Obj, meta
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController, split_key
from kubesvc.controllers.events import NORMAL, WARNING, EventRecorder
from kubesvc.informers import Informer, object_key

log = logging.getLogger(__name__)

LB_CLASS = "kubesvc.io/lb"
POOL_CONFIGMAP = ("kube-system", "kubesvc-lb-pools")
REASON_FAILED = "AllocationFailed"
REASON_ALLOCATED = "IPAllocated"


def parse_pools(specs: Iterable[str]) -> list[tuple[int, int]]:
    """CIDRs / ``a-b`` ranges / single IPs -> inclusive integer ranges (IPv4 and IPv6).
    Network and broadcast addresses of CIDRs wider than /31 are left out."""
    out: list[tuple[int, int]] = []
    for spec in specs:
        for part in re.split(r"[\s,]+", spec.strip()):
            if not part:
                continue
            try:
                if "-" in part:
                    a, b = part.split("-", 1)
                    lo = int(ipaddress.ip_address(a.strip()))
                    hi = int(ipaddress.ip_address(b.strip()))
                elif "/" in part:
                    net = ipaddress.ip_network(part, strict=False)
                    lo, hi = int(net.network_address), int(net.broadcast_address)
                    if net.version == 4 and net.prefixlen < 31:
                        lo, hi = lo + 1, hi - 1
                else:
                    lo = hi = int(ipaddress.ip_address(part))
            except ValueError:
                log.warning("lb-ipam: ignoring invalid pool %r", part)
                continue
            if lo <= hi:
                out.append((lo, hi))
    return out


def _ip_str(n: int) -> str:
    return str(ipaddress.ip_address(n))


def _ip_int(ip: str) -> int | None:
    try:
        return int(ipaddress.ip_address(ip))
    except ValueError:
        return None


def status_ips(svc: Obj) -> list[str]:
    lb = (svc.get("status") or {}).get("loadBalancer") or {}
    return [str(i.get("ip")) for i in lb.get("ingress") or () if i.get("ip")]


def eligible(svc: Obj, lb_class: str = LB_CLASS) -> bool:
    spec = svc.get("spec") or {}
    if spec.get("type") != "LoadBalancer" or meta(svc).get("deletionTimestamp"):
        return False
    cls = spec.get("loadBalancerClass")
    return cls in (None, "", lb_class)


class LBIPAMController(QueueController):
    name = "lb-ipam"

    def __init__(
        self,
        client: Client,
        *,
        services: Informer,
        configmaps: Informer | None = None,
        pools: Sequence[str] = (),
        recorder: EventRecorder | None = None,
        lb_class: str = LB_CLASS,
    ) -> None:
        super().__init__(workers=1)
        self.client = client
        self.services = services
        self.configmaps = configmaps
        self.static_pools = list(pools)
        self.recorder = recorder
        self.lb_class = lb_class
        self.ranges = parse_pools(self.static_pools)
        self.owner_of: dict[int, str] = {}  # ip -> service key
        self.ip_of: dict[str, int] = {}  # service key -> ip
        self.pending: set[str] = set()
        self._released: list[int] = []  # heap of freed addresses below the scan cursor
        self._scan_range = 0
        self._scan_next = 0
        services.add_handler(
            on_add=self._on_service,
            on_update=lambda _o, n: self._on_service(n),
            on_delete=self._on_service,
        )
        if configmaps is not None:
            configmaps.add_handler(
                on_add=self._on_configmap,
                on_update=lambda _o, n: self._on_configmap(n),
                on_delete=self._on_configmap,
            )

    async def wait_synced(self) -> None:
        infs = [self.services] + ([self.configmaps] if self.configmaps else [])
        await asyncio.gather(*(i.wait_synced() for i in infs))

    def _on_service(self, svc: Obj) -> None:
        key = object_key(svc)
        if key in self.ip_of or eligible(svc, self.lb_class) or status_ips(svc):
            self.queue.add(key)

    def _on_configmap(self, cm: Obj) -> None:
        if (meta(cm).get("namespace"), meta(cm).get("name")) != POOL_CONFIGMAP:
            return
        self._load_pools()
        for key in list(self.pending) + list(self.ip_of):
            self.queue.add(key)

    def _load_pools(self) -> None:
        specs = list(self.static_pools)
        if self.configmaps is not None:
            cm = self.configmaps.indexer.get("/".join(POOL_CONFIGMAP))
            if cm is not None:
                specs += [str(v) for v in (cm.get("data") or {}).values()]
        self.ranges = parse_pools(specs)
        self._reset_scan()

    def in_pool(self, ip: int) -> bool:
        return any(lo <= ip <= hi for lo, hi in self.ranges)

    def on_synced(self) -> None:
        """Rebuild the allocation map from what Services already show."""
        self._load_pools()
        for svc in self.services.indexer.list():
            if not eligible(svc, self.lb_class):
                continue
            key = object_key(svc)
            for ip in status_ips(svc):
                n = _ip_int(ip)
                if n is not None and self.in_pool(n) and n not in self.owner_of:
                    self.owner_of[n] = key
                    self.ip_of[key] = n
                    break

    # -- allocation
    def _release(self, key: str) -> None:
        n = self.ip_of.pop(key, None)
        if n is None:
            return
        if self.owner_of.get(n) == key:
            del self.owner_of[n]
            heapq.heappush(self._released, n)
        for waiting in sorted(self.pending):
            self.queue.add(waiting)

    def _next_free(self) -> int | None:
        """Lowest released address first (so released IPs are reused), else the next one
        past the scan cursor: O(1) amortised instead of a scan of the whole pool."""
        while self._released:
            n = heapq.heappop(self._released)
            if n not in self.owner_of and self.in_pool(n):
                return n
        while self._scan_range < len(self.ranges):
            lo, hi = self.ranges[self._scan_range]
            n = max(self._scan_next, lo)
            while n <= hi:
                if n not in self.owner_of:
                    self._scan_next = n + 1
                    return n
                n += 1
            self._scan_range += 1
            self._scan_next = 0
        return None

    def _reset_scan(self) -> None:
        self._released = []
        self._scan_range = 0
        self._scan_next = 0

    def _take(self, key: str, n: int) -> None:
        self.owner_of[n] = key
        self.ip_of[key] = n
        self.pending.discard(key)

    def _fail(self, svc: Obj, key: str, *, message: str) -> None:
        new = key not in self.pending
        self.pending.add(key)
        if new and self.recorder is not None:
            self.recorder.event(svc, WARNING, reason=REASON_FAILED, message=message,
                                kind="Service",
                                api_version="v1")

    def _pool_desc(self) -> str:
        return ", ".join(
            _ip_str(lo) if lo == hi else f"{_ip_str(lo)}-{_ip_str(hi)}" for lo, hi in self.ranges
        ) or "none configured"

    async def sync(self, key: str) -> None:
        svc = self.services.indexer.get(key)
        if svc is None:
            self.pending.discard(key)
            self._release(key)
            return
        if not eligible(svc, self.lb_class):
            self.pending.discard(key)
            had = self.ip_of.get(key)
            self._release(key)
            ours = (svc.get("spec") or {}).get("loadBalancerClass") in (None, "", self.lb_class)
            if had is not None and ours and _ip_str(had) in status_ips(svc):
                await self._write_status(key, None)
            return
        requested = str((svc.get("spec") or {}).get("loadBalancerIP") or "")
        have = self.ip_of.get(key)
        if requested:
            want = _ip_int(requested)
            if have is not None and have != want:
                self._release(key)
                have = None
            if have is None:
                if want is None or not self.in_pool(want):
                    self._fail(svc, key, message=(
                        f"Failed to allocate IP for \"{key}\": requested IP "
                        f"\"{requested}\" is not in any pool ({self._pool_desc()})"))
                    await self._clear_stale(key, svc)
                    return
                holder = self.owner_of.get(want)
                if holder is not None and holder != key:
                    self._fail(svc, key, message=(
                        f"Failed to allocate IP for \"{key}\": requested IP "
                        f"\"{requested}\" is already in use by \"{holder}\""))
                    await self._clear_stale(key, svc)
                    return
                self._take(key, want)
                have = want
        elif have is None:
            n = None
            for ip in status_ips(svc):  # keep what the Service already shows, if free
                cand = _ip_int(ip)
                if cand is not None and self.in_pool(cand) and cand not in self.owner_of:
                    n = cand
                    break
            if n is None:
                n = self._next_free()
            if n is None:
                self._fail(svc, key, message=(
                    f"Failed to allocate IP for \"{key}\": no available IPs: "
                    f"pool exhausted ({self._pool_desc()})"))
                await self._clear_stale(key, svc)
                return
            self._take(key, n)
            have = n
        ip = _ip_str(have)
        if status_ips(svc) != [ip]:
            await self._write_status(key, ip)
            if self.recorder is not None:
                self.recorder.event(svc, NORMAL, reason=REASON_ALLOCATED,
                                    message=f'Assigned IP ["{ip}"]',
                                    kind="Service", api_version="v1")

    async def _clear_stale(self, key: str, svc: Obj) -> None:
        if status_ips(svc):
            await self._write_status(key, None)

    async def _write_status(self, key: str, ip: str | None) -> None:
        ns, name = split_key(key)
        ingress: Any = [{"ip": ip, "ipMode": "VIP"}] if ip else None
        await self.client.patch(
            "services",
            name,
            {"status": {"loadBalancer": {"ingress": ingress}}},
            namespace=ns,
            patch_type="merge",
            subresource="status",
        )
