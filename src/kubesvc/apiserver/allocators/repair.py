"""Rebuild the ClusterIP and NodePort bitmaps from the stored Services (upstream's
``ipallocator/controller/repair.go`` and ``portallocator/controller/repair.go``, run once).

Allocation and the Service write are two store writes, so a crash between them can leave a
value marked but unused (a leak) — never the reverse, because a value is marked before the
Service that holds it is written and freed only after that Service is gone. Running this at
start-up, before the API server serves, makes the bitmaps exactly match the Services again.
Duplicates and out-of-range values in stored Services are logged (upstream emits Events).

:class:`PeriodicRepair` is the same check for a running cluster (upstream runs it every
3 minutes), careful not to free a value whose Service write is still in flight.

Called by :meth:`kubesvc.apiserver.registry.Registry.start` (and its repair loop); calls the
``Store`` and the two allocators.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import orjson

from kubesvc.api.resources import BY_KEY
from kubesvc.apiserver.allocators.bitmap import RangeAllocator
from kubesvc.apiserver.allocators.cluster_ip import ClusterIPAllocator
from kubesvc.apiserver.allocators.node_port import NodePortAllocator
from kubesvc.storage.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RepairReport:
    services: int = 0
    ips: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def service_cluster_ips(svc: dict[str, Any]) -> list[str]:
    """The ClusterIPs a stored Service holds (none for ExternalName and headless)."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return []
    ips = list(spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
    if not ips or ips[0] == "None":
        return []
    return [str(ip) for ip in ips]


def service_node_ports(svc: dict[str, Any]) -> list[int]:
    """Every NodePort a stored Service holds, health-check port included."""
    spec = svc.get("spec") or {}
    ports = [int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")]
    if spec.get("healthCheckNodePort"):
        ports.append(int(spec["healthCheckNodePort"]))
    return ports


async def _scan(store: Store, ips: ClusterIPAllocator, ports: NodePortAllocator
                ) -> RepairReport:
    """What the stored Services hold (in-range values only), plus problems found."""
    prefix = BY_KEY["services"].storage_prefix()
    report = RepairReport()
    seen_ips: dict[str, str] = {}
    seen_ports: dict[int, str] = {}
    start_after = ""
    revision = 0
    while True:
        page = await store.list(prefix, revision=revision, limit=1000, start_after=start_after)
        revision = page.revision
        for kv in page.items:
            report.services += 1
            svc = orjson.loads(kv.value)
            name = kv.key[len(prefix):]
            for ip in service_cluster_ips(svc):
                if ips.offset_of(ip) is None:
                    if ip != ips.network_ip:
                        report.problems.append(f"{name}: ClusterIP {ip} is not in {ips.cidr}")
                elif ip in seen_ips:
                    report.problems.append(f"{name}: ClusterIP {ip} also held by {seen_ips[ip]}")
                else:
                    seen_ips[ip] = name
            for port in dict.fromkeys(service_node_ports(svc)):
                if not ports.contains(port):
                    report.problems.append(
                        f"{name}: NodePort {port} is not in {ports.range_spec}"
                    )
                elif port in seen_ports:
                    report.problems.append(
                        f"{name}: NodePort {port} also held by {seen_ports[port]}"
                    )
                else:
                    seen_ports[port] = name
        if not page.more or not page.items:
            break
        start_after = page.items[-1].key
    report.ips = sorted(seen_ips)
    report.ports = sorted(seen_ports)
    return report


async def repair_allocators(
    store: Store, ips: ClusterIPAllocator, ports: NodePortAllocator
) -> RepairReport:
    """Start-up repair: make both bitmaps exactly what the stored Services hold."""
    report = await _scan(store, ips, ports)
    for p in report.problems:
        log.warning("allocator repair: %s", p)
    await ips.reset(report.ips)
    await ports.reset(report.ports)
    return report


class PeriodicRepair:
    """Upstream's repair loop for a running cluster (several API servers may share the
    store): a value a Service holds but the bitmap lacks is marked at once; a value marked
    but held by no Service is released only after ``leak_rounds`` consecutive runs saw it
    leaked, so an allocation whose Service write is still in flight is never taken away."""

    def __init__(self, store: Store, ips: ClusterIPAllocator, ports: NodePortAllocator, *,
                 leak_rounds: int = 3) -> None:
        self.store = store
        self.ips = ips
        self.ports = ports
        self.leak_rounds = leak_rounds
        self._ip_leaks: dict[int, int] = {}
        self._port_leaks: dict[int, int] = {}

    async def run_once(self) -> RepairReport:
        await self.ips.range.load()
        await self.ports.range.load()
        ip_marked = set(self.ips.range.allocated())
        port_marked = set(self.ports.range.allocated())
        report = await _scan(self.store, self.ips, self.ports)
        held_ips = {o for o in (self.ips.offset_of(ip) for ip in report.ips) if o is not None}
        held_ports = {p - self.ports.first for p in report.ports}
        for off in sorted(held_ips - ip_marked):
            await self.ips.range.commit(take=[off])
        for off in sorted(held_ports - port_marked):
            await self.ports.range.commit(take=[off])
        await self._release_leaks(self.ips.range, ip_marked - held_ips, self._ip_leaks)
        await self._release_leaks(self.ports.range, port_marked - held_ports, self._port_leaks)
        return report

    async def _release_leaks(self, rng: RangeAllocator, leaked: set[int],
                             counts: dict[int, int]) -> None:
        for off in list(counts):
            if off not in leaked:
                del counts[off]  # claimed by a Service meanwhile
        ripe = []
        for off in leaked:
            counts[off] = counts.get(off, 0) + 1
            if counts[off] >= self.leak_rounds:
                ripe.append(off)
        if ripe:
            log.warning("allocator repair: releasing %d leaked values of %s", len(ripe),
                        rng.range_spec)
            await rng.commit(release=ripe)
            for off in ripe:
                del counts[off]
