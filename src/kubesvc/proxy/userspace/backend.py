"""Turns a :class:`~kubesvc.proxy.tracker.SyncRequest` into listeners (see package doc)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kubesvc.proxy.healthcheck import HealthCheckServer
from kubesvc.proxy.model import ServicePort, usable_endpoints
from kubesvc.proxy.stats import Stats
from kubesvc.proxy.tracker import SyncRequest
from kubesvc.proxy.userspace.balancer import Addr, Balancer
from kubesvc.proxy.userspace.listeners import TcpListener, UdpListener

log = logging.getLogger(__name__)

ListenerKey = tuple[str, int, str]  # ip, port, protocol


@dataclass(slots=True)
class _Want:
    name: str
    endpoints: list[Addr]
    affinity_timeout: int
    source_ranges: tuple[str, ...]


class UserspaceBackend:
    name = "userspace"

    def __init__(
        self,
        *,
        node_name: str,
        node_addresses: tuple[str, ...] = ("127.0.0.1",),
        udp_idle_timeout: float = 30.0,
        reuse_port: bool = False,
    ) -> None:
        """``reuse_port``: let several host-mode agents on one machine listen on the same
        ClusterIP/LoadBalancer/external addresses (the kernel spreads connections)."""
        self.reuse_port = reuse_port
        self.node_name = node_name
        self.node_addresses = node_addresses
        self.udp_idle_timeout = udp_idle_timeout
        self.stats = Stats()
        self.listeners: dict[ListenerKey, TcpListener | UdpListener] = {}
        self._owned: dict[str, set[ListenerKey]] = {}  # service key -> listener keys
        self._health: dict[str, HealthCheckServer] = {}
        self.bind_errors: dict[ListenerKey, str] = {}

    def _desired(self, sp: ServicePort, req: SyncRequest) -> dict[ListenerKey, _Want]:
        eps = req.state.endpoints.get(sp.id, [])
        internal = [e.addr for e in usable_endpoints(eps, local_only=sp.internal_local,
                                                     node_name=self.node_name)]
        external = [e.addr for e in usable_endpoints(eps, local_only=sp.external_local,
                                                     node_name=self.node_name)]
        timeout = sp.affinity_timeout if sp.session_affinity else 0
        name = str(sp.id)
        out: dict[ListenerKey, _Want] = {}
        proto = sp.protocol
        if proto not in ("TCP", "UDP"):
            return out  # SCTP is not proxied in userspace
        if internal:
            for ip in sp.cluster_ips:
                out[(ip, sp.port, proto)] = _Want(name, internal, timeout, ())
        if external:
            if sp.node_port:
                for a in self.node_addresses:
                    out[(a, sp.node_port, proto)] = _Want(name, external, timeout, ())
            for ip in sp.external_ips:
                out[(ip, sp.port, proto)] = _Want(name, external, timeout, ())
            for ip in sp.lb_ips:
                out[(ip, sp.port, proto)] = _Want(name, external, timeout, sp.source_ranges)
        return out

    async def sync(self, req: SyncRequest) -> None:
        keys = set(req.changed)
        if req.full:
            keys |= set(self._owned) | set(req.state.by_service)
        for svc_key in keys:
            want: dict[ListenerKey, _Want] = {}
            for spn in req.state.by_service.get(svc_key, []):
                want.update(self._desired(req.state.ports[spn], req))
            await self._apply(svc_key, want)
            await self._apply_health(svc_key,
                                     req.state.health_check(svc_key, node_name=self.node_name))

    async def _apply(self, svc_key: str, want: dict[ListenerKey, _Want]) -> None:
        have = self._owned.get(svc_key, set())
        for key in have - want.keys():
            lst = self.listeners.pop(key, None)
            if lst is not None:
                await lst.close()
        owned: set[ListenerKey] = set()
        for key, w in want.items():
            lst = self.listeners.get(key)
            if lst is not None and lst.name != w.name:
                # The address moved to another Service port: replace the listener.
                await lst.close()
                del self.listeners[key]
                lst = None
            if lst is None:
                bal = Balancer(affinity_timeout=w.affinity_timeout,
                               source_ranges=w.source_ranges)
                bal.endpoints = w.endpoints
                new: TcpListener | UdpListener
                if key[2] == "UDP":
                    new = UdpListener(w.name, (key[0], key[1]), bal, self.stats,
                                      idle_timeout=self.udp_idle_timeout,
                                      reuse_port=self.reuse_port)
                else:
                    new = TcpListener(w.name, (key[0], key[1]), bal, self.stats,
                                      reuse_port=self.reuse_port)
                try:
                    await new.start()
                except OSError as exc:
                    if key not in self.bind_errors:
                        log.error("proxy: cannot listen on %s:%s/%s for %s: %s", *key, w.name,
                                  exc)
                    self.bind_errors[key] = str(exc)
                    continue
                self.bind_errors.pop(key, None)
                self.listeners[key] = new
            else:
                lst.balancer.update(w.endpoints, affinity_timeout=w.affinity_timeout,
                                    source_ranges=w.source_ranges)
            owned.add(key)
        if owned:
            self._owned[svc_key] = owned
        else:
            self._owned.pop(svc_key, None)

    async def _apply_health(self, svc_key: str, health: tuple[int, int] | None) -> None:
        cur = self._health.get(svc_key)
        if health is None or (cur is not None and cur.port != health[0]):
            if cur is not None:
                await cur.close()
                del self._health[svc_key]
            cur = None
        if health is None:
            return
        if cur is None:
            ns, _, name = svc_key.partition("/")
            cur = HealthCheckServer(ns, name, host=self.node_addresses[0], port=health[0])
            try:
                await cur.start()
            except OSError as exc:
                log.error("proxy: health check port %s for %s: %s", health[0], svc_key, exc)
                return
            self._health[svc_key] = cur
        cur.local_endpoints = health[1]

    async def close(self) -> None:
        for lst in self.listeners.values():
            await lst.close(drop_connections=True)
        self.listeners.clear()
        self._owned.clear()
        for h in self._health.values():
            await h.close()
        self._health.clear()
