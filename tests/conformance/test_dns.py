"""Upstream ``test/e2e/network/dns.go`` (Kubernetes v1.32), [sig-network] DNS: the
[Conformance] cases, written anew against kubesvc.

Upstream runs a probe pod that digs every name over UDP and TCP from inside the cluster
(and checks its own pod A record ``a-b-c-d.<ns>.pod.<domain>``). Here the same queries go
from the node to kubesvc's cluster DNS server, over both transports; partially qualified
names go through a stub resolver configured exactly like the resolv.conf a ClusterFirst pod
gets (search ``<ns>.svc.<domain> svc.<domain> <domain>``, ndots:5). The cases about a pod's
own /etc/hosts, resolv.conf and hostname are in :mod:`.test_dns_pods`. Run by pytest; uses
:mod:`.framework` and :mod:`.probes`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from tests.conformance.framework import (
    Api,
    core,
    poll,
    service,
    update_service,
)
from tests.conformance.probes import (
    DOMAIN,
    TEST_SERVICE,
    Dns,
    dns_probe_pod,
    headless_and_regular,
    kubernetes_cluster_ip,
    pod_a_record_name,
    reverse_name,
)


def _validate(checks: dict[str, Any], *, timeout: float = 20) -> None:
    """``validateDNSResults``: every lookup must succeed (poll until all do)."""
    def all_ok() -> bool:
        failed = {}
        for what, fn in checks.items():
            try:
                fn()
            except Exception as exc:  # any lookup error is a failed probe, as upstream
                failed[what] = repr(exc)
        assert not failed, f"DNS probes failing: {failed}"
        return True

    poll(all_ok, timeout=timeout, what="all DNS probes to succeed")


def _equals(got: list[str], want: list[str], what: str) -> None:
    assert got == want, f"{what}: got {got}, want {want}"


def _nonempty(lookup: Callable[[], list[str]], what: str) -> None:
    assert lookup(), f"{what}: no records"


def _pod_record_check(dnsc: Dns, pod: dict[str, Any], ns: str) -> dict[str, Any]:
    ip = pod["status"]["podIP"]
    name = pod_a_record_name(ip, ns)
    return {f"{name} A": lambda: _equals(dnsc.both(name, "A"), [ip], name)}


def test_should_provide_dns_for_the_cluster(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should provide DNS for the cluster [Conformance]"""
    name = f"kubernetes.default.svc.{DOMAIN}"
    want = [kubernetes_cluster_ip(api)]
    pod = dns_probe_pod(api, ns)
    _validate({f"{name} A": lambda: _equals(dnsc.both(name, "A"), want, name),
               **_pod_record_check(dnsc, pod, ns)})


def test_should_resolve_dns_of_partial_qualified_names_for_the_cluster(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should resolve DNS of partial qualified names for the cluster
    [LinuxOnly]"""
    want = [kubernetes_cluster_ip(api)]
    pod = dns_probe_pod(api, ns)
    checks: dict[str, Any] = {}
    for name in ("kubernetes.default", "kubernetes.default.svc"):
        for tcp in (False, True):
            checks[f"{name} A tcp={tcp}"] = (
                lambda n=name, t=tcp: _equals(dnsc.search_resolve(n, "A", namespace=ns, tcp=t),
                                              want, n))
    checks.update(_pod_record_check(dnsc, pod, ns))
    _validate(checks)


def test_should_provide_dns_for_services(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should provide DNS for services [Conformance]"""
    selector = {"dns-test": "true"}
    regular = headless_and_regular(api, ns, selector)
    pod = dns_probe_pod(api, ns, labels=selector)
    pod_ip, cluster_ip = pod["status"]["podIP"], regular["spec"]["clusterIP"]
    headless_fqdn = f"{TEST_SERVICE}.{ns}.svc.{DOMAIN}"
    regular_fqdn = f"test-service-2.{ns}.svc.{DOMAIN}"

    def srv(name: str, target_suffix: str) -> None:
        recs = dnsc.both(name, "SRV")
        assert recs, f"{name}: no SRV records"
        for r in recs:
            _prio, _weight, port, target = r.split()
            assert port == "80", f"{name}: SRV port {port} != 80 ({r})"
            assert target.endswith(target_suffix + "."), f"{name}: SRV target {target}"

    _validate({
        f"{headless_fqdn} A": lambda: _equals(dnsc.both(headless_fqdn, "A"), [pod_ip],
                                              headless_fqdn),
        f"_http._tcp.{headless_fqdn} SRV": lambda: srv(f"_http._tcp.{headless_fqdn}",
                                                       headless_fqdn),
        f"_http._tcp.{regular_fqdn} SRV": lambda: srv(f"_http._tcp.{regular_fqdn}",
                                                      regular_fqdn),
        f"{cluster_ip} PTR": lambda: _equals(dnsc.both(reverse_name(cluster_ip), "PTR"),
                                             [regular_fqdn + "."], "PTR"),
        **_pod_record_check(dnsc, pod, ns),
    })


def test_should_resolve_dns_of_partial_qualified_names_for_services(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should resolve DNS of partial qualified names for services
    [LinuxOnly] [Conformance]"""
    selector = {"dns-test": "true"}
    regular = headless_and_regular(api, ns, selector)
    pod = dns_probe_pod(api, ns, labels=selector)
    pod_ip = pod["status"]["podIP"]
    checks: dict[str, Any] = {}
    for name in (TEST_SERVICE, f"{TEST_SERVICE}.{ns}", f"{TEST_SERVICE}.{ns}.svc"):
        for tcp in (False, True):
            checks[f"{name} A tcp={tcp}"] = (
                lambda n=name, t=tcp: _equals(dnsc.search_resolve(n, "A", namespace=ns, tcp=t),
                                              [pod_ip], n))
    for svc_name in (TEST_SERVICE, "test-service-2"):
        name = f"_http._tcp.{svc_name}.{ns}.svc"
        for tcp in (False, True):
            checks[f"{name} SRV tcp={tcp}"] = partial(
                _nonempty, partial(dnsc.search_resolve, name, "SRV", namespace=ns, tcp=tcp), name)
    cluster_ip = regular["spec"]["clusterIP"]
    checks[f"{cluster_ip} PTR"] = lambda: _equals(
        dnsc.both(reverse_name(cluster_ip), "PTR"), [f"test-service-2.{ns}.svc.{DOMAIN}."],
        "PTR")
    checks.update(_pod_record_check(dnsc, pod, ns))
    _validate(checks)


def _hostname_subdomain_setup(api: Api, ns: str) -> tuple[str, str, str]:
    selector = {"dns-test-hostname-attribute": "true"}
    svc_name, hostname = "dns-test-service-2", "dns-querier-2"
    api.create(core(ns, "services"), service(
        svc_name, selector=selector, ports=[{"port": 80, "name": "http", "protocol": "TCP"}],
        clusterIP="None"))
    pod = dns_probe_pod(api, ns, labels=selector, hostname=hostname, subdomain=svc_name)
    return (pod["status"]["podIP"], f"{hostname}.{svc_name}.{ns}.svc.{DOMAIN}",
            f"{svc_name}.{ns}.svc.{DOMAIN}")


def test_should_provide_dns_for_pods_for_hostname(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should provide DNS for pods for Hostname [Conformance]"""
    pod_ip, host_fqdn, _ = _hostname_subdomain_setup(api, ns)
    # Upstream resolves the FQDN and the bare hostname with getent; the bare hostname can
    # only come from the pod's own /etc/hosts (see the /etc/hosts case), the FQDN is DNS.
    _validate({f"{host_fqdn} A": lambda: _equals(dnsc.both(host_fqdn, "A"), [pod_ip],
                                                 host_fqdn)})


def test_should_provide_dns_for_pods_for_subdomain(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should provide DNS for pods for Subdomain [Conformance]"""
    pod_ip, host_fqdn, subdomain = _hostname_subdomain_setup(api, ns)
    _validate({
        f"{host_fqdn} A": lambda: _equals(dnsc.both(host_fqdn, "A"), [pod_ip], host_fqdn),
        f"{subdomain} A": lambda: _equals(dnsc.both(subdomain, "A"), [pod_ip], subdomain),
    })


def test_should_provide_dns_for_externalname_services(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] DNS should provide DNS for ExternalName services [Conformance]"""
    name = "dns-test-service-3"
    fqdn = f"{name}.{ns}.svc.{DOMAIN}"
    api.create(core(ns, "services"), service(
        name, type="ExternalName", externalName="foo.example.com",
        ports=[{"port": 80, "name": "http", "protocol": "TCP"}]))
    _validate({"CNAME foo": lambda: _equals(dnsc.both(fqdn, "CNAME"), ["foo.example.com."],
                                            fqdn)})

    update_service(api, ns, name, lambda s: s["spec"].__setitem__("externalName",
                                                                  "bar.example.com"))
    _validate({"CNAME bar": lambda: _equals(dnsc.both(fqdn, "CNAME"), ["bar.example.com."],
                                            fqdn)})

    def to_cluster_ip(s: dict[str, Any]) -> None:
        s["spec"]["type"] = "ClusterIP"
        s["spec"]["ports"] = [{"port": 80, "name": "http", "protocol": "TCP"}]

    update_service(api, ns, name, to_cluster_ip)
    svc = api.get(core(ns, "services", name))
    assert svc["spec"].get("clusterIP"), f"no ClusterIP after the type change: {svc['spec']}"
    _validate({"A": lambda: _equals(dnsc.both(fqdn, "A"), [svc["spec"]["clusterIP"]], fqdn)})
