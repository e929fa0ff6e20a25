"""Table printer for Ingresses: ``kubectl get ingress`` (CLASS, HOSTS, ADDRESS, PORTS, AGE).
Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`.
Reference: pkg/printers/internalversion/printers.go printIngress, formatHosts (v1.32).
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, get, list_with_more, name

INGRESS_COLUMNS = (
    NAME,
    Column("Class", description="The name of the IngressClass resource that should be used"),
    Column("Hosts", description="Hosts that incoming requests are matched against before the "
           "ingress rule"),
    Column("Address", description="Address is a list containing ingress points for the "
           "load-balancer"),
    Column("Ports", description="Ports of TLS configurations that open"),
    AGE,
)


def ingress_cells(ing: Obj, now: float, wide: bool = True) -> list[Any]:
    rules = get(ing, "spec", "rules") or []
    hosts = [str(r.get("host")) for r in rules if isinstance(r, dict) and r.get("host")]
    lbs = get(ing, "status", "loadBalancer", "ingress") or []
    addrs = [str(x.get("ip") or x.get("hostname") or "") for x in lbs if isinstance(x, dict)]
    return [
        name(ing),
        str(get(ing, "spec", "ingressClassName") or "<none>"),
        list_with_more(hosts) if hosts else "*",
        ",".join(a for a in addrs if a),
        "80, 443" if get(ing, "spec", "tls") else "80",
        age(ing, now),
    ]


INGRESS = Printer(INGRESS_COLUMNS, ingress_cells)
