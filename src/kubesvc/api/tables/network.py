"""Table printers for the Service system: Services, Endpoints, EndpointSlices, Ingresses
and IngressClasses.

Role: the rows of ``kubectl get services`` / ``get endpoints`` / ``get endpointslices`` —
``80:30080/TCP`` ports, ``<pending>`` LoadBalancers, ``None`` for headless Services, the
ExternalName in EXTERNAL-IP, and ``10.0.0.1:8080,... + 1 more...`` endpoint lists.
Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`, :mod:`.descriptions`,
:func:`kubesvc.api.selectors.format_labels`.
Reference: pkg/printers/internalversion/printers.go printService, printEndpoints,
printEndpointSlice and their helpers (v1.32).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc.api.selectors import format_labels, from_label_selector_dict
from kubesvc.api.tables import descriptions as d
from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, as_int, join_host_port, list_with_more, name
from kubesvc.errors import BadRequest

LOAD_BALANCER_WIDTH = 16

SERVICE_COLUMNS = (
    NAME,
    Column("Type", description=d.SERVICE_TYPE),
    Column("Cluster-IP", description=d.CLUSTER_IP),
    Column("External-IP", description=d.EXTERNAL_IPS),
    Column("Port(s)", description=d.SERVICE_PORTS),
    AGE,
    Column("Selector", priority=1, description=d.SERVICE_SELECTOR),
)


def load_balancer_status(status: Mapping[str, Any] | None, *, wide: bool) -> str:
    """loadBalancerStatusStringer: sorted unique ingress IPs/hostnames, clipped unless wide."""
    seen: set[str] = set()
    for ing in (status or {}).get("ingress") or []:
        if ing.get("ip"):
            seen.add(str(ing["ip"]))
        elif ing.get("hostname"):
            seen.add(str(ing["hostname"]))
    r = ",".join(sorted(seen))
    if not wide and len(r) > LOAD_BALANCER_WIDTH:
        r = r[: LOAD_BALANCER_WIDTH - 3] + "..."
    return r


def service_external_ip(svc: Obj, *, wide: bool) -> str:
    """getServiceExternalIP."""
    spec: Mapping[str, Any] = svc.get("spec") or {}
    external: list[str] = [str(ip) for ip in spec.get("externalIPs") or []]
    svc_type = spec.get("type")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        lb = load_balancer_status((svc.get("status") or {}).get("loadBalancer"), wide=wide)
        if external:
            return ",".join((lb.split(",") if lb else []) + external)
        return lb or "<pending>"
    if svc_type == "ExternalName":
        return str(spec.get("externalName") or "")
    return "<unknown>"


def service_ports(ports: Sequence[Mapping[str, Any]] | None) -> str:
    """makePortString: ``80/TCP``, ``80:30080/TCP``; ``<none>`` for no ports."""
    pieces = []
    for p in ports or []:
        proto = p.get("protocol") or "TCP"  # defaulted by the API server; TCP when absent
        if as_int(p.get("nodePort")) > 0:
            pieces.append(f"{as_int(p.get('port'))}:{as_int(p.get('nodePort'))}/{proto}")
        else:
            pieces.append(f"{as_int(p.get('port'))}/{proto}")
    return ",".join(pieces) or "<none>"


def service_cells(svc: Obj, now: float, wide: bool = True) -> list[Any]:
    spec: Mapping[str, Any] = svc.get("spec") or {}
    ips = spec.get("clusterIPs") or []
    # Stored Services always carry clusterIPs; clusterIP is the legacy mirror of ips[0].
    internal = str(ips[0]) if ips else (str(spec.get("clusterIP") or "") or "<none>")
    return [
        name(svc),
        str(spec.get("type") or ""),
        internal,
        service_external_ip(svc, wide=wide),
        service_ports(spec.get("ports")),
        age(svc, now),
        format_labels(spec.get("selector")),
    ]


ENDPOINTS_COLUMNS = (NAME, Column("Endpoints", description=d.ENDPOINTS_SUBSETS), AGE)


def format_endpoints(ep: Obj, ports: set[str] | None = None) -> str:
    """formatEndpoints: up to three ``ip:port``, then ``+ N more...``; ``<none>`` if empty."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    limit, more, count = 3, False, 0
    for ss in subsets:
        addrs = ss.get("addresses") or []
        sports = ss.get("ports") or []
        if not sports:
            # Headless Services may have addresses without ports.
            count += len(addrs)
            for a in addrs:
                if len(shown) == limit:
                    more = True
                    break
                shown.append(str(a.get("ip") or ""))
            continue
        for port in sports:
            if ports is None or str(port.get("name") or "") in ports:
                count += len(addrs)
                for a in addrs:
                    if len(shown) == limit:
                        more = True
                        break
                    shown.append(join_host_port(str(a.get("ip") or ""), as_int(port.get("port"))))
    ret = ",".join(shown)
    if more:
        return f"{ret} + {count - limit} more..."
    return ret


def endpoints_cells(ep: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(ep), format_endpoints(ep), age(ep, now)]


SLICE_COLUMNS = (
    NAME,
    Column("AddressType", description=d.SLICE_ADDRESS_TYPE),
    Column("Ports", description=d.SLICE_PORTS),
    Column("Endpoints", description=d.SLICE_ENDPOINTS),
    AGE,
)


def format_slice_ports(ports: Sequence[Mapping[str, Any]] | None) -> str:
    """formatDiscoveryPorts: port numbers, the name for a nil port, ``*`` for neither."""
    out = []
    for p in ports or []:
        if p.get("port") is not None:
            out.append(str(as_int(p.get("port"))))
        elif p.get("name") is not None:
            out.append(str(p["name"]))
        else:
            out.append("*")
    return list_with_more(out)


def format_slice_endpoints(endpoints: Sequence[Mapping[str, Any]] | None) -> str:
    """formatDiscoveryEndpoints: every address of every endpoint, three shown."""
    return list_with_more([str(a) for e in endpoints or [] for a in e.get("addresses") or []])


def slice_cells(es: Obj, now: float, wide: bool = True) -> list[Any]:
    return [
        name(es),
        str(es.get("addressType") or ""),
        format_slice_ports(es.get("ports")),
        format_slice_endpoints(es.get("endpoints")),
        age(es, now),
    ]


SERVICE = Printer(SERVICE_COLUMNS, service_cells)
ENDPOINTS = Printer(ENDPOINTS_COLUMNS, endpoints_cells)
ENDPOINT_SLICE = Printer(SLICE_COLUMNS, slice_cells)


# -- networking.k8s.io/v1 Ingress and IngressClass (printIngress, printIngressClass) -----

INGRESS_COLUMNS = (
    NAME,
    Column("Class", description="The name of the IngressClass resource that should be used "
           "for ingress."),
    Column("Hosts", description="Hosts that incoming requests are matched against before the "
           "ingress rule"),
    Column("Address", description="Address is a list containing ingress points for the "
           "load-balancer"),
    Column("Ports", description="Ports of TLS configurations that open"),
    AGE,
)


def ingress_hosts(rules: Sequence[Mapping[str, Any]] | None) -> str:
    """formatHosts: up to three hosts (``*`` for a rule without one), then ``+ N more...``."""
    hosts = [str(r.get("host") or "*") for r in rules or []]
    if not hosts:
        return "*"
    if len(hosts) > 3:
        return ",".join(hosts[:3]) + f" + {len(hosts) - 3} more..."
    return ",".join(hosts)


def ingress_cells(ing: Obj, now: float, wide: bool = True) -> list[Any]:
    spec: Mapping[str, Any] = ing.get("spec") or {}
    lb = (ing.get("status") or {}).get("loadBalancer")
    return [
        name(ing),
        str(spec.get("ingressClassName") or "<none>"),
        ingress_hosts(spec.get("rules")),
        load_balancer_status(lb, wide=wide),
        "80, 443" if spec.get("tls") else "80",
        age(ing, now),
    ]


INGRESS_CLASS_COLUMNS = (
    NAME,
    Column("Controller", description="Controller that is responsible for handling this "
           "class"),
    Column("Parameters", description="A reference to a resource with additional parameters"),
    AGE,
)


def ingress_class_cells(ic: Obj, now: float, wide: bool = True) -> list[Any]:
    spec: Mapping[str, Any] = ic.get("spec") or {}
    params = spec.get("parameters")
    shown = "<none>"
    if params:
        shown = str(params.get("kind") or "")
        if params.get("apiGroup"):
            shown += "." + str(params["apiGroup"])
        shown += "/" + str(params.get("name") or "")
    return [name(ic), str(spec.get("controller") or ""), shown, age(ic, now)]


INGRESS = Printer(INGRESS_COLUMNS, ingress_cells)
INGRESS_CLASS = Printer(INGRESS_CLASS_COLUMNS, ingress_class_cells)

# -- NetworkPolicy (issue 23): printNetworkPolicy
NETWORK_POLICY_COLUMNS = (
    NAME,
    Column("Pod-Selector", description="PodSelector selects the pods to which this "
           "NetworkPolicy object applies."),
    AGE,
)


def network_policy_cells(np: Obj, now: float, wide: bool = True) -> list[Any]:
    """metav1.FormatLabelSelector: the selector's String(), ``<none>`` when it is empty,
    ``<error>`` when it does not parse."""
    sel = (np.get("spec") or {}).get("podSelector")
    try:
        shown = str(from_label_selector_dict(sel)) or "<none>"
    except BadRequest:
        shown = "<error>"
    return [name(np), shown, age(np, now)]


NETWORK_POLICY = Printer(NETWORK_POLICY_COLUMNS, network_policy_cells)
