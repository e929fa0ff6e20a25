"""The Service strategy: ClusterIP / NodePort admission around the generic pipeline
(upstream ``pkg/registry/core/service/storage``: ``allocateCreate``, ``allocateUpdate``,
``releaseAllocatedResources``).

Pipeline (pure parts from :mod:`kubesvc.api.defaults.service`):

    create:  defaults -> normalize_cluster_ips -> validate -> allocate -> finish -> write
    update:  defaults -> prepare_service_update (patch allocated values, drop type-dependent
             fields) -> validate -> allocate new values -> finish -> write -> release old
    delete:  write (delete) -> release everything the Service held

Allocation happens before the Service write and is reverted when the write fails, so a
rejected request leaves nothing allocated; releases happen only after the write succeeded,
so a value is never free while a stored Service still holds it (a crash in between leaks at
worst, which the start-up repair fixes).

Called by :mod:`.core` through the :class:`~.strategies.Strategy` hooks; calls the
allocators in :mod:`kubesvc.apiserver.allocators`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api.defaults import service as svcdefaults
from kubesvc.api.meta import parse_ip
from kubesvc.api.objects import Obj
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.validation import field as f
from kubesvc.apiserver.allocators.cluster_ip import ERR_ALLOCATED as IP_ALLOCATED
from kubesvc.apiserver.allocators.cluster_ip import ERR_FULL as IP_FULL
from kubesvc.apiserver.allocators.cluster_ip import ClusterIPAllocator
from kubesvc.apiserver.allocators.node_port import ERR_ALLOCATED as PORT_ALLOCATED
from kubesvc.apiserver.allocators.node_port import ERR_FULL as PORT_FULL
from kubesvc.apiserver.allocators.node_port import NodePortAllocator
from kubesvc.apiserver.allocators.repair import service_cluster_ips, service_node_ports
from kubesvc.apiserver.registry.strategies import NOOP_TXN, Strategy, Txn

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry


def _internal(msg: str) -> errors.InternalError:
    return errors.InternalError(message=f"Internal error occurred: {msg}")


class _AllocTxn(Txn):
    """Values taken for one Service write (given back on revert) and values to release
    once the write succeeded (on commit)."""

    def __init__(self, strategy: ServiceStrategy, *, dry_run: bool) -> None:
        self.s = strategy
        self.dry_run = dry_run
        self.settled = False  # commit/revert run at most once
        self.new_ips: list[str] = []
        self.new_ports: list[int] = []
        self.old_ips: list[str] = []
        self.old_ports: list[int] = []

    async def commit(self) -> None:
        if self.dry_run or self.settled:
            return
        self.settled = True
        if self.old_ips:
            await self.s.ips.commit(release=self.old_ips)
        if self.old_ports:
            await self.s.ports.commit(release=self.old_ports)

    async def revert(self) -> None:
        if self.dry_run or self.settled:
            return
        self.settled = True
        if self.new_ips:
            await self.s.ips.commit(release=self.new_ips)
        if self.new_ports:
            await self.s.ports.commit(release=self.new_ports)


def _port(value: Any) -> int:
    """A port number from a client object; 0 for anything malformed (validation reports
    it, the allocators skip it)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _should_allocate_node_ports(spec: dict[str, Any]) -> bool:
    t = spec.get("type")
    if t == "NodePort":
        return True
    if t == "LoadBalancer":
        return spec.get("allocateLoadBalancerNodePorts") is not False
    return False


def _needs_node_ports(spec: dict[str, Any]) -> bool:
    return spec.get("type") in ("NodePort", "LoadBalancer")


def _is_headless(spec: dict[str, Any]) -> bool:
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return bool(ips) and ips[0] == "None"


class ServiceStrategy(Strategy):
    def __init__(
        self,
        info: ResourceInfo,
        registry: Registry,
        *,
        ips: ClusterIPAllocator,
        ports: NodePortAllocator,
    ) -> None:
        super().__init__(info, registry)
        self.ips = ips
        self.ports = ports

    # -- create
    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {}
        svcdefaults.normalize_cluster_ips(obj, None)

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        txn = _AllocTxn(self, dry_run=dry_run)
        spec = obj.setdefault("spec", {})
        name = str(obj["metadata"].get("name") or "")
        try:
            if spec.get("type") != "ExternalName" and not _is_headless(spec):
                await self._alloc_cluster_ip(name, spec, txn)
            if _needs_node_ports(spec):
                await self._alloc_node_ports(name, spec, set(), txn)
            if svcdefaults.needs_health_check(spec):
                await self._alloc_health_check(spec, txn)
        except BaseException:
            await txn.revert()
            raise
        return txn

    def finish_create(self, obj: Obj) -> None:
        svcdefaults.finish_service_defaults(obj, ip_families=(self.ips.family,))

    # -- update
    def prepare_update(self, new: Obj, old: Obj) -> None:
        super().prepare_update(new, old)
        svcdefaults.prepare_service_update(new, old)

    async def admit_update(self, new: Obj, old: Obj, *, dry_run: bool) -> Txn:
        txn = _AllocTxn(self, dry_run=dry_run)
        spec = new.setdefault("spec", {})
        ospec = old.get("spec") or {}
        name = str(new["metadata"].get("name") or "")
        try:
            # ClusterIPs: ExternalName -> other allocates; other -> ExternalName releases.
            if ospec.get("type") == "ExternalName" and spec.get("type") != "ExternalName":
                if not _is_headless(spec):
                    await self._alloc_cluster_ip(name, spec, txn)
            elif ospec.get("type") != "ExternalName" and spec.get("type") == "ExternalName":
                txn.old_ips.extend(service_cluster_ips(old))
            # NodePorts.
            old_ports = [_port(p.get("nodePort")) for p in ospec.get("ports") or []
                         if isinstance(p, dict)]
            old_ports = [p for p in old_ports if p]
            if _needs_node_ports(ospec) and not _needs_node_ports(spec):
                txn.old_ports.extend(old_ports)
            if _needs_node_ports(spec):
                await self._alloc_node_ports(name, spec, set(old_ports), txn)
                kept = {_port(p.get("nodePort")) for p in spec.get("ports") or []
                        if isinstance(p, dict)}
                txn.old_ports.extend(p for p in old_ports if p not in kept)
            # Health-check NodePort.
            needed = svcdefaults.needs_health_check(ospec)
            needs = svcdefaults.needs_health_check(spec)
            if needs and not needed:
                await self._alloc_health_check(spec, txn)
            elif needed and not needs and _port(ospec.get("healthCheckNodePort")):
                txn.old_ports.append(_port(ospec.get("healthCheckNodePort")))
        except BaseException:
            await txn.revert()
            raise
        return txn

    def finish_update(self, new: Obj, old: Obj) -> None:
        svcdefaults.finish_service_defaults(new, ip_families=(self.ips.family,))

    # -- delete
    async def after_delete(self, obj: Obj) -> None:
        ips = service_cluster_ips(obj)
        ports = service_node_ports(obj)
        if ips:
            await self.ips.commit(release=ips)
        if ports:
            await self.ports.commit(release=ports)

    # -- allocation steps
    async def _alloc_cluster_ip(self, name: str, spec: dict[str, Any], txn: _AllocTxn) -> None:
        ips = [ip for ip in spec.get("clusterIPs") or [] if isinstance(ip, str)]
        requested = ips[0] if ips else str(spec.get("clusterIP") or "")
        if requested:
            if self.ips.offset_of(requested) is None:
                if parse_ip(requested) is None:
                    return  # malformed: validation reports it
                raise self._ip_error(name, spec, requested,
                                     self.ips.not_in_range_message(requested))
            if txn.dry_run:
                return  # upstream's dry run does not check availability
            out, _ = await self.ips.commit(take=[requested])
            if not out.ok:
                raise self._ip_error(name, spec, requested, IP_ALLOCATED)
            txn.new_ips.append(requested)
            ip = requested
        else:
            if txn.dry_run:
                ip = self.ips.network_ip  # upstream's dry run hands out the network address
            else:
                out, picked = await self.ips.commit(take_next=1)
                if not out.ok:
                    raise _internal(f"failed to allocate a serviceIP: {IP_FULL}")
                ip = picked[0]
                txn.new_ips.append(ip)
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip, *ips[1:]]

    def _ip_error(self, name: str, spec: dict[str, Any], ip: str, why: str) -> errors.Invalid:
        shown = list(spec.get("clusterIPs") or [ip])
        return errors.invalid("Service", name, [
            f.invalid("spec.clusterIPs", shown, f"failed to allocate IP {ip}: {why}")
        ])

    def _port_error(self, name: str, i: int, port: int, why: str) -> errors.Invalid:
        return errors.invalid("Service", name, [f.invalid(f"spec.ports[{i}].nodePort", port, why)])

    async def _alloc_node_ports(
        self, name: str, spec: dict[str, Any], held: set[int], txn: _AllocTxn
    ) -> None:
        """Upstream ``initNodePorts``/``updateNodePorts``: requested ports are reserved
        (unless ``held`` by the old object), missing ones allocated; service ports with the
        same port number share one NodePort."""
        ports: list[dict[str, Any]] = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        allocate = _should_allocate_node_ports(spec)
        takes: dict[int, int] = {}  # nodePort -> first index asking for it
        slots: list[list[int]] = []  # indices sharing one dynamic port
        by_port: dict[Any, tuple[str, int]] = {}

        def take(np: int, i: int) -> None:
            if np in held or np in takes:
                return
            if not self.ports.contains(np):
                raise self._port_error(name, i, np, self.ports.not_in_range_message())
            takes[np] = i

        for i, p in enumerate(ports):
            np = _port(p.get("nodePort"))
            if np == 0 and not allocate:
                continue
            prior = by_port.get(p.get("port"))
            if prior is None:
                req = np or next((_port(q.get("nodePort")) for q in ports
                                  if q.get("port") == p.get("port") and _port(q.get("nodePort"))),
                                 0)
                if req:
                    take(req, i)
                    p["nodePort"] = req
                    by_port[p.get("port")] = ("take", req)
                else:
                    slots.append([i])
                    by_port[p.get("port")] = ("next", len(slots) - 1)
            elif np == 0:
                kind, val = prior
                if kind == "take":
                    p["nodePort"] = val
                else:
                    slots[val].append(i)
            elif prior != ("take", np):
                take(np, i)
        if not takes and not slots:
            return
        out, picked = await self.ports.commit(
            take=list(takes), take_next=len(slots), dry_run=txn.dry_run
        )
        if not out.ok:
            if out.reason == "full":
                raise _internal(f"failed to allocate a nodePort: {PORT_FULL}")
            bad = out.failed if out.failed is not None else 0
            raise self._port_error(name, takes.get(bad, 0), bad, PORT_ALLOCATED)
        if not txn.dry_run:
            txn.new_ports.extend(takes)
            txn.new_ports.extend(picked)
        for slot, port in zip(slots, picked, strict=True):
            for i in slot:
                ports[i]["nodePort"] = port

    async def _alloc_health_check(self, spec: dict[str, Any], txn: _AllocTxn) -> None:
        hc = _port(spec.get("healthCheckNodePort"))
        if hc:
            if not self.ports.contains(hc):
                raise _internal(f"failed to allocate requested HealthCheck NodePort {hc}: "
                                f"{self.ports.not_in_range_message()}")
            out, _ = await self.ports.commit(take=[hc], dry_run=txn.dry_run)
            if not out.ok:
                raise _internal(
                    f"failed to allocate requested HealthCheck NodePort {hc}: {PORT_ALLOCATED}"
                )
            if not txn.dry_run:
                txn.new_ports.append(hc)
            return
        out, picked = await self.ports.commit(take_next=1, dry_run=txn.dry_run)
        if not out.ok:
            raise _internal(f"failed to allocate a HealthCheck NodePort 0: {PORT_FULL}")
        spec["healthCheckNodePort"] = picked[0]
        if not txn.dry_run:
            txn.new_ports.append(picked[0])


__all__ = ["NOOP_TXN", "ServiceStrategy"]
