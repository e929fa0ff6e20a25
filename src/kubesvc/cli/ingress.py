"""The ingress controller of ``kubesvc up`` (host mode): its informers, data plane and
address.

HAProxy binds directly on a dedicated loopback address (``--ingress-address``; by default
the address just past the first LoadBalancer pool, ``127.100.1.1`` for ``127.100.0.0/24``,
so it never collides with an allocated LoadBalancer IP and differs between clusters with
different pools) on ports 80 and 443, and that address is what Ingress status reports.
Its files live under ``DATA_DIR/ingress``. Without haproxy the controller still runs, with
no data plane: it logs once and records a ``NoDataPlane`` Warning Event on every Ingress
of its class, leaving their status empty.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from kubesvc.client.protocol import Client
from kubesvc.informers import Informer
from kubesvc.ingress.controller import CLASSES, INGRESSES, IngressController
from kubesvc.ingress.haproxy import HAProxy, find_haproxy
from kubesvc.ingress.render import Settings

SLICES = "endpointslices.discovery.k8s.io"


def default_address(lb_pool: str) -> str:
    net = ipaddress.ip_network(lb_pool, strict=False)
    return str(net.broadcast_address + 2)


@dataclass(slots=True)
class IngressParts:
    controller: IngressController
    own_informers: list[Informer]  # to run; services and slices are the shared ones
    address: str


def build(client: Client, *, data_dir: Path, address: str, services: Informer,
          slices: Informer) -> IngressParts:
    directory = data_dir / "ingress"
    binary = find_haproxy()
    own = {r: Informer(client, r) for r in (INGRESSES, CLASSES, "secrets")}
    settings = Settings(address=address, config_dir=str(directory))
    controller = IngressController(
        client, settings=settings,
        plane=HAProxy(directory, binary=binary) if binary else None,
        missing="" if binary else "haproxy is not installed (scripts/system-deps.sh "
        "installs it)",
        informers={**own, "services": services, SLICES: slices})
    return IngressParts(controller, list(own.values()), address)
