"""The ingress controller of ``kubesvc up`` and ``kubesvc server``: its informers, data
plane and address.

HAProxy binds directly on a dedicated loopback address (``--ingress-address``; by default
the address just past the first LoadBalancer pool, ``127.100.1.1`` for ``127.100.0.0/24``,
so it never collides with an allocated LoadBalancer IP and differs between clusters with
different pools) on ports 80 and 443, and that address is what Ingress status reports.
Its files live under ``DATA_DIR/ingress``. Without haproxy the controller still runs, with
no data plane: it logs once and records a ``NoDataPlane`` Warning Event on every Ingress
of its class, leaving their status empty.

In netns mode (:class:`NetnsIngress`, ``kubesvc up --network netns``) no cluster address
lives in the root namespace, so the ingress is a LoadBalancer Service like any other:
``kube-system/kubesvc-ingress`` (ports 80 and 443, no selector) with an EndpointSlice naming
the first node's IP, where HAProxy runs (in that node's namespace, ``ip netns exec``). LB
IPAM gives it an address from the pool, the nodes' proxies DNAT it and one node announces
it on the bridge (:mod:`kubesvc.proxy.announce`), so clients reach it from the client
namespace; once assigned, that address is what HAProxy's Ingresses get in their status.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer
from kubesvc.ingress.controller import CLASSES, INGRESSES, IngressController
from kubesvc.ingress.haproxy import HAProxy, find_haproxy
from kubesvc.ingress.render import Settings

SLICES = "endpointslices.discovery.k8s.io"
LB_NAMESPACE = "kube-system"
LB_SERVICE = "kubesvc-ingress"
MANAGED_BY = "ingress-controller.kubesvc.io"  # as endpointslice-controller.k8s.io

log = logging.getLogger(__name__)


def default_address(lb_pool: str) -> str:
    net = ipaddress.ip_network(lb_pool, strict=False)
    return str(net.broadcast_address + 2)


@dataclass(slots=True)
class IngressParts:
    controller: IngressController
    own_informers: list[Informer]  # to run; services and slices are the shared ones
    address: str


def build(client: Client, *, data_dir: Path, address: str, services: Informer,
          slices: Informer, bind: str = "", netns: str = "") -> IngressParts:
    directory = data_dir / "ingress"
    binary = find_haproxy()
    own = {r: Informer(client, r) for r in (INGRESSES, CLASSES, "secrets")}
    settings = Settings(address=address, config_dir=str(directory), bind=bind)
    controller = IngressController(
        client, settings=settings,
        plane=HAProxy(directory, binary=binary, netns=netns) if binary else None,
        missing="" if binary else "haproxy is not installed (scripts/system-deps.sh "
        "installs it)",
        informers={**own, "services": services, SLICES: slices})
    return IngressParts(controller, list(own.values()), address)


def lb_objects(node_ip: str, node_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The netns-mode Service and its EndpointSlice (see the module docstring)."""
    ports = [("http", 80), ("https", 443)]
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": LB_SERVICE, "namespace": LB_NAMESPACE,
                        "labels": {"app.kubernetes.io/name": LB_SERVICE}},
           "spec": {"type": "LoadBalancer", "ports": [
               {"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports]}}
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": f"{LB_SERVICE}-haproxy", "namespace": LB_NAMESPACE,
                        "labels": {"kubernetes.io/service-name": LB_SERVICE,
                                   "endpointslice.kubernetes.io/managed-by": MANAGED_BY}},
           "addressType": "IPv4",
           "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports],
           "endpoints": [{"addresses": [node_ip], "nodeName": node_name,
                          "conditions": {"ready": True, "serving": True,
                                         "terminating": False}}]}
    return svc, eps


class NetnsIngress:
    """The ingress controller of a netns-mode ``kubesvc up``: the LoadBalancer Service for
    HAProxy first (through ``admin``), then, once it has its address, the controller."""

    def __init__(self, admin: Client, client: Client, *, data_dir: Path, node_ip: str,
                 node_name: str, node_netns: str, services: Informer,
                 slices: Informer) -> None:
        self.admin, self.client = admin, client
        self.data_dir = data_dir
        self.node_ip, self.node_name, self.node_netns = node_ip, node_name, node_netns
        self.services, self.slices = services, slices
        self.parts: IngressParts | None = None

    async def _ensure(self) -> None:
        from kubesvc.cli.components import put

        svc, eps = lb_objects(self.node_ip, self.node_name)
        with contextlib.suppress(errors.AlreadyExists):
            await self.admin.create("services", svc, namespace=LB_NAMESPACE)
        await put(self.admin, SLICES, eps, namespace=LB_NAMESPACE)

    async def _address(self, stop: asyncio.Event) -> str:
        while not stop.is_set():
            svc = self.services.indexer.get(f"{LB_NAMESPACE}/{LB_SERVICE}")
            for e in ((svc or {}).get("status") or {}).get("loadBalancer", {}).get(
                    "ingress") or []:
                if e.get("ip"):
                    return str(e["ip"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        return ""

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._ensure()
                break
            except Exception as exc:  # the API may not be ready yet
                log.warning("ingress: cannot create %s/%s: %s", LB_NAMESPACE, LB_SERVICE, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 1)
        address = await self._address(stop)
        if not address:
            return
        log.info("ingress: HAProxy in %s at %s, LoadBalancer IP %s", self.node_netns,
                 self.node_ip, address)
        self.parts = build(self.client, data_dir=self.data_dir, address=address,
                           services=self.services, slices=self.slices, bind=self.node_ip,
                           netns=self.node_netns)
        async with asyncio.TaskGroup() as tg:
            for inf in self.parts.own_informers:
                tg.create_task(inf.run(stop), name=f"informer/{inf.resource}")
            tg.create_task(self.parts.controller.run(stop), name="ingress-controller")
