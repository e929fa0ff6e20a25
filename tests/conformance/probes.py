"""Higher-level probes for the conformance cases: DNS lookups against the cluster's DNS
server (as upstream's dig-based probe pods run them, over UDP and TCP, and through a pod's
search path for partially qualified names), ``jig.CheckServiceReachability`` and the
session-affinity checker (``checkAffinity``).

Used by the ``test_*.py`` modules; calls :mod:`.framework` and dnspython.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rdatatype
import dns.resolver

from tests.conformance.framework import (
    Api,
    agnhost_pod,
    core,
    create_pod_sync,
    hostname_via,
    node_internal_ip,
    poll,
    service,
    udp_request,
)

DOMAIN = "cluster.local"
AFFINITY_CONFIRM_COUNT = 15  # upstream AffinityConfirmCount
PROBE_HOSTNAME = "dns-querier-1"  # upstream dnsTestPodHostName
TEST_SERVICE = "dns-test-service"  # upstream dnsTestServiceName


@dataclass(frozen=True)
class Dns:
    host: str
    port: int

    def query(self, name: str, rdtype: str, *, tcp: bool = False) -> list[str]:
        """The answer section's records of ``rdtype`` for ``name`` (CNAMEs included when
        asked for an A record, as dig prints them)."""
        q = dns.message.make_query(name if name.endswith(".") else name + ".", rdtype)
        send = dns.query.tcp if tcp else dns.query.udp
        resp = send(q, self.host, port=self.port, timeout=2)
        out = []
        for rrset in resp.answer:
            for rd in rrset:
                out.append(f"{dns.rdatatype.to_text(rrset.rdtype)} {rd.to_text()}")
        return out

    def values(self, name: str, rdtype: str, *, tcp: bool = False) -> list[str]:
        return sorted(r.split(" ", 1)[1] for r in self.query(name, rdtype, tcp=tcp)
                      if r.startswith(rdtype + " "))

    def both(self, name: str, rdtype: str) -> list[str]:
        """Same answer over UDP and TCP (the probe pods check both transports)."""
        udp, tcp = self.values(name, rdtype), self.values(name, rdtype, tcp=True)
        assert udp == tcp, f"{name} {rdtype}: UDP {udp} != TCP {tcp}"
        return udp

    def search_resolve(self, name: str, rdtype: str, *, namespace: str,
                       tcp: bool = False) -> list[str]:
        """Resolve as a pod's stub resolver does with the resolv.conf the kubelet writes for
        dnsPolicy ClusterFirst: search ``<ns>.svc.<domain> svc.<domain> <domain>``, ndots:5."""
        r = dns.resolver.Resolver(configure=False)
        r.nameservers = [self.host]
        r.port = self.port
        r.search = [dns.name.from_text(f"{namespace}.svc.{DOMAIN}"),
                    dns.name.from_text(f"svc.{DOMAIN}"), dns.name.from_text(DOMAIN)]
        r.ndots = 5
        r.use_search_by_default = True
        r.timeout = r.lifetime = 3
        ans = r.resolve(name, rdtype, tcp=tcp, search=True)
        return sorted(rd.to_text() for rd in ans)


def pod_a_record_name(pod_ip: str, ns: str) -> str:
    return f"{pod_ip.replace('.', '-')}.{ns}.pod.{DOMAIN}"


def reverse_name(ip: str) -> str:
    return ".".join(reversed(ip.split("."))) + ".in-addr.arpa"


def check_service_reachability(api: Api, dnsc: Dns, svc: dict[str, Any], *,
                               path: str = "/hostname", udp: bool = False,
                               timeout: float = 20) -> None:
    """``jig.CheckServiceReachability``: a ClusterIP Service answers on every port by its
    ClusterIP and by its name; a NodePort Service also on the node's IP and NodePort; an
    ExternalName Service resolves (CNAME then address); external IPs answer on every port;
    a LoadBalancer Service is checked
    on its ClusterIP, as upstream's jig does. TCP ports are checked with a request to the
    backend (netexec and serve-hostname both answer with the pod name); UDP ports, when
    ``udp`` says the backend serves UDP (netexec), with a ``hostname`` datagram."""
    ns, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
    spec = svc["spec"]
    fqdn = f"{name}.{ns}.svc.{DOMAIN}"
    if spec.get("type") == "ExternalName":
        target = spec["externalName"].rstrip(".")

        def resolved() -> bool:
            # "Service must resolve to IP" (upstream runs nslookup in a pod): the CNAME,
            # then an address - in the same answer (CoreDNS chases in-zone targets) or, as
            # a stub resolver would get it, by asking for the CNAME's target.
            recs = dnsc.query(fqdn, "A")
            assert f"CNAME {target}." in recs, f"{fqdn}: no CNAME to {target}: {recs}"
            if not any(r.startswith("A ") for r in recs):
                recs += dnsc.query(target, "A")
            assert any(r.startswith("A ") for r in recs), f"{fqdn}: no address: {recs}"
            return True

        poll(resolved, timeout=timeout, what=f"{fqdn} to resolve through {target}")
        return
    cluster_ip = spec["clusterIP"]
    assert cluster_ip and cluster_ip != "None", f"{ns}/{name} has no ClusterIP"
    poll(lambda: dnsc.values(fqdn, "A") == [cluster_ip], timeout=timeout,
         what=f"{fqdn} A -> {cluster_ip}")
    for port in spec["ports"]:
        if port.get("protocol", "TCP") == "UDP" and udp:
            poll(partial(udp_request, cluster_ip, int(port["port"]), "hostname"),
                 timeout=timeout, what=f"{ns}/{name} on UDP {cluster_ip}:{port['port']}")
        if port.get("protocol", "TCP") != "TCP":
            continue
        poll(partial(hostname_via, cluster_ip, int(port["port"]), path=path),
             timeout=timeout, what=f"{ns}/{name} on {cluster_ip}:{port['port']}")
        for external_ip in spec.get("externalIPs") or []:
            poll(partial(hostname_via, external_ip, int(port["port"]), path=path),
                 timeout=timeout, what=f"{ns}/{name} on external IP {external_ip}:{port['port']}")
        if spec.get("type") == "NodePort":
            node_ip = node_internal_ip(api)
            assert port.get("nodePort"), f"{ns}/{name} port {port} has no nodePort"
            poll(partial(hostname_via, node_ip, int(port["nodePort"]), path=path),
                 timeout=timeout, what=f"{ns}/{name} on {node_ip}:{port['nodePort']}")


def check_affinity(ip: str, port: int, *, should_hold: bool, timeout: float = 20) -> list[str]:
    """``checkAffinity``: keep sending requests; succeed once the last
    AFFINITY_CONFIRM_COUNT answers all came from one pod (should_hold) or once they did not
    (not should_hold). Returns the trace."""
    trace: list[str] = []

    def settled() -> bool:
        for _ in range(AFFINITY_CONFIRM_COUNT):
            try:
                trace.append(hostname_via(ip, port, path="/"))
            except (AssertionError, OSError):
                continue
        if len(trace) < AFFINITY_CONFIRM_COUNT:
            return False
        holds = len(set(trace[-AFFINITY_CONFIRM_COUNT:])) == 1
        return holds == should_hold

    try:
        poll(settled, timeout=timeout, interval=0.5,
             what=f"affinity on {ip}:{port} to {'hold' if should_hold else 'not hold'}")
    except AssertionError as exc:
        verdict = ("Affinity should hold but did not" if should_hold
                   else "Affinity should not hold but did")
        raise AssertionError(f"{verdict} on {ip}:{port}; last answers "
                             f"{trace[-AFFINITY_CONFIRM_COUNT:]}") from exc
    return trace


def service_ip_and_port(api: Api, svc: dict[str, Any]) -> tuple[str, int]:
    """Where the affinity cases send traffic: node IP + NodePort, or ClusterIP + port."""
    port = svc["spec"]["ports"][0]
    if svc["spec"].get("type") == "NodePort":
        return node_internal_ip(api), int(port["nodePort"])
    return svc["spec"]["clusterIP"], int(port["port"])


def kubernetes_cluster_ip(api: Api) -> str:
    return str(api.get(core("default", "services", "kubernetes"))["spec"]["clusterIP"])


def dns_probe_pod(api: Api, ns: str, *, labels: dict[str, str] | None = None,
               hostname: str = PROBE_HOSTNAME, subdomain: str = TEST_SERVICE,
               **spec: Any) -> dict[str, Any]:
    """``createDNSPod``: a pod with hostname and subdomain set (it only needs to exist and
    have an IP here; the queries are made from the node)."""
    pod = agnhost_pod("dns-test-" + hostname, labels=labels, hostname=hostname,
                      subdomain=subdomain, **spec)
    return create_pod_sync(api, ns, pod)


def headless_and_regular(api: Api, ns: str, selector: dict[str, str]) -> dict[str, Any]:
    """``e2eservice.CreateServiceSpec`` for a headless and a regular Service on port 80
    named http; returns the regular one."""
    ports = [{"port": 80, "name": "http", "protocol": "TCP"}]
    api.create(core(ns, "services"), service(TEST_SERVICE, selector=selector, ports=ports,
                                             clusterIP="None"))
    return dict(api.create(core(ns, "services"), service("test-service-2", selector=selector,
                                                         ports=ports)))
