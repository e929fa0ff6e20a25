"""Upstream ``test/e2e/network/dns.go`` (Kubernetes v1.32): the DNS cases that look at what
a pod itself sees - its /etc/hosts, its resolv.conf (dnsPolicy, dnsConfig, search paths) and
its hostname - written anew against kubesvc.

Such a pod needs namespaces of its own, which kubesvc gives pods in netns mode (root
only): these cases start a netns-mode cluster, run upstream's probe commands (``dig
+search``, ``getent hosts``, ``hostname``, ``cat /etc/resolv.conf``) inside the pod's
namespaces with ``nsenter``, and skip with the reason when not root. The hostNetwork
hostname case runs in host mode, where every pod shares the node's namespaces. Run by
pytest; uses :mod:`.framework`, :mod:`.probes` and :mod:`.podfiles`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from typing import Any

import pytest

from tests.conformance.framework import Api, agnhost_pod, create_pod_sync, poll
from tests.conformance.podfiles import pod_exec, pod_file
from tests.conformance.probes import (
    DOMAIN,
    PROBE_HOSTNAME,
    TEST_SERVICE,
    dns_probe_pod,
    headless_and_regular,
    pod_a_record_name,
    reverse_name,
)


def _probe_in_pod(pod: dict[str, Any], *, names: Sequence[str] = (),
                  srv: Sequence[str] = (), host_entries: Sequence[str] = (),
                  ptr_ip: str = "", timeout: float = 30) -> None:
    """``createProbeCommand`` + ``validateDNSResults``: each name answers ``dig +search``
    over UDP and TCP inside the pod, each host entry answers ``getent hosts``, the pod's
    own A record resolves, and (``ptr_ip``) the reverse record exists."""
    ns = pod["metadata"]["namespace"]
    checks: list[tuple[str, ...]] = []
    for name in names:
        checks += [("dig", "+notcp", "+noall", "+answer", "+search", name, "A"),
                   ("dig", "+tcp", "+noall", "+answer", "+search", name, "A")]
    for name in srv:
        checks += [("dig", "+notcp", "+noall", "+answer", "+search", name, "SRV"),
                   ("dig", "+tcp", "+noall", "+answer", "+search", name, "SRV")]
    for name in host_entries:
        checks.append(("getent", "hosts", name))
    record = pod_a_record_name(pod["status"]["podIP"], ns)
    checks += [("dig", "+notcp", "+noall", "+answer", "+search", record, "A"),
               ("dig", "+tcp", "+noall", "+answer", "+search", record, "A")]
    if ptr_ip:
        checks.append(("dig", "+notcp", "+noall", "+answer", "+search",
                       reverse_name(ptr_ip) + ".", "PTR"))

    def all_ok() -> bool:
        failed = []
        for argv in checks:
            try:
                if not pod_exec(pod, *argv).strip():
                    failed.append(" ".join(argv))
            except AssertionError as exc:
                failed.append(f"{' '.join(argv)}: {exc}")
        assert not failed, f"probes with no answer: {failed}"
        return True

    poll(all_ok, timeout=timeout, interval=1, what="every in-pod DNS probe to answer")


def test_should_provide_etc_hosts_entries_for_the_cluster(
        netns_api: Api, netns_ns: str) -> None:
    """[sig-network] DNS should provide /etc/hosts entries for the cluster [Conformance]"""
    pod = dns_probe_pod(netns_api, netns_ns)
    fqdn = f"{PROBE_HOSTNAME}.{TEST_SERVICE}.{netns_ns}.svc.{DOMAIN}"
    ip = pod["status"]["podIP"]
    hosts = pod_file(pod, "/etc/hosts")
    names = {n for line in hosts.splitlines() if line.split() and line.split()[0] == ip
             for n in line.split()[1:]}
    assert {fqdn, PROBE_HOSTNAME} <= names, f"/etc/hosts of the pod:\n{hosts}"
    _probe_in_pod(pod, host_entries=[fqdn, PROBE_HOSTNAME])


def test_should_support_configurable_pod_dns_nameservers(
        netns_api: Api, netns_ns: str) -> None:
    """[sig-network] DNS should support configurable pod DNS nameservers [Conformance]"""
    pod = create_pod_sync(netns_api, netns_ns, agnhost_pod(
        "test-dns-nameservers", dnsPolicy="None",
        dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["resolv.conf.local"]}))
    resolv = pod_file(pod, "/etc/resolv.conf")
    lines = [line.split() for line in resolv.splitlines() if line.strip()]
    servers = [w[1] for w in lines if w[0] == "nameserver" and len(w) > 1]
    search = [d for w in lines if w[0] == "search" for d in w[1:]]
    assert "resolv.conf.local" in search, f"customized DNS suffix list not found:\n{resolv}"
    assert "1.1.1.1" in servers, f"customized DNS server not found:\n{resolv}"


def _search_path_case(api: Api, ns: str, searches: list[str], ndots: str | None) -> None:
    fqdn = f"{PROBE_HOSTNAME}.{TEST_SERVICE}.{ns}.svc.{DOMAIN}"
    config: dict[str, Any] = {"searches": searches}
    if ndots is not None:
        config["options"] = [{"name": "ndots", "value": ndots}]
    pod = dns_probe_pod(api, ns, dnsPolicy="ClusterFirst", dnsConfig=config)
    resolv = pod_file(pod, "/etc/resolv.conf")
    search = [d for line in resolv.splitlines() if line.startswith("search")
              for d in line.split()[1:]]
    assert all(s in search for s in searches), f"search paths missing:\n{resolv}"
    _probe_in_pod(pod, names=["kubernetes.default", "kubernetes.default.svc"],
                  host_entries=[fqdn, PROBE_HOSTNAME])


def test_should_work_with_the_pod_containing_more_than_6_dns_search_paths_and_longer_than_256_search_list_characters(  # noqa: E501
        netns_api: Api, netns_ns: str) -> None:
    """[sig-network] DNS should work with the pod containing more than 6 DNS search paths
    and longer than 256 search list characters"""
    _search_path_case(netns_api, netns_ns, [f"{i:038d}.k8s.io" for i in range(1, 7)], "5")


def test_should_work_with_a_search_path_containing_an_underscore_and_a_search_path_with_a_single_dot(  # noqa: E501
        netns_api: Api, netns_ns: str) -> None:
    """[sig-network] DNS should work with a search path containing an underscore and a
    search path with a single dot"""
    _search_path_case(netns_api, netns_ns, [".", "_sip._tcp.abc_d.example.com"], None)


def test_should_resolve_dns_of_partial_qualified_names_for_services_on_hostnetwork_pods_with_dnspolicy_clusterfirstwithhostnet(  # noqa: E501
        netns_api: Api, netns_ns: str) -> None:
    """[sig-network] DNS HostNetwork should resolve DNS of partial qualified names for
    services on hostNetwork pods with dnsPolicy: ClusterFirstWithHostNet [LinuxOnly]"""
    selector = {"dns-test": "true"}
    regular = headless_and_regular(netns_api, netns_ns, selector)
    pod = dns_probe_pod(netns_api, netns_ns, labels=selector, hostNetwork=True,
                        dnsPolicy="ClusterFirstWithHostNet")
    ns = netns_ns
    _probe_in_pod(pod, names=[TEST_SERVICE, f"{TEST_SERVICE}.{ns}", f"{TEST_SERVICE}.{ns}.svc"],
                  srv=[f"_http._tcp.{TEST_SERVICE}.{ns}.svc",
                       f"_http._tcp.test-service-2.{ns}.svc"],
                  ptr_ip=regular["spec"]["clusterIP"])


def test_spec_hostname_field_is_not_silently_ignored_and_is_used_for_hostname_for_a_pod(
        netns_api: Api, netns_ns: str) -> None:
    """[sig-network] DNS HostNetwork spec.Hostname field is not silently ignored and is used
    for hostname for a Pod"""
    pod = create_pod_sync(netns_api, netns_ns, agnhost_pod("test-dns-hostname",
                                                           hostname=PROBE_HOSTNAME))
    got = pod_exec(pod, "hostname").strip()
    assert got == PROBE_HOSTNAME, f"expected hostname: {PROBE_HOSTNAME}, got: {got}"


def test_spec_hostname_field_is_silently_ignored_and_the_node_hostname_is_used_when_hostnetwork_is_set_to_true_for_a_pod(  # noqa: E501
        api: Api, ns: str) -> None:
    """[sig-network] DNS HostNetwork spec.Hostname field is silently ignored and the node
    hostname is used when hostNetwork is set to true for a Pod"""
    if os.geteuid() != 0:
        pytest.skip("needs root to enter the pod's namespaces with nsenter")
    pod = create_pod_sync(api, ns, agnhost_pod("test-dns-hostnetwork", hostname=PROBE_HOSTNAME,
                                               hostNetwork=True))
    got = pod_exec(pod, "hostname").strip()
    assert got != PROBE_HOSTNAME, f"expected spec.Hostname {got} to be ignored"
    assert got == socket.gethostname(), f"expected the node's hostname, got {got}"
