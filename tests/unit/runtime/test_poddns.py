"""The kubelet-style /etc/hosts, /etc/resolv.conf and hostname of netns-mode pods."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubesvc.runtime import poddns


def pod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "web-7d9f-abcde", "namespace": "shop"}, "spec": spec}


def test_hostname_is_spec_hostname_or_pod_name() -> None:
    assert poddns.pod_hostname(pod()) == "web-7d9f-abcde"
    assert poddns.pod_hostname(pod(hostname="web-0")) == "web-0"
    long = {"metadata": {"name": "a" * 62 + "-b"}, "spec": {}}
    assert poddns.pod_hostname(long) == "a" * 62  # 63 chars, trailing "-" trimmed


def test_hosts_file_with_subdomain_and_aliases() -> None:
    text = poddns.hosts_file(pod(hostname="web-0", subdomain="web",
                                 hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo", "bar"]}]),
                             "10.244.0.5", cluster_domain="cluster.local")
    assert text.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert "10.244.0.5\tweb-0.web.shop.svc.cluster.local\tweb-0\n" in text
    assert text.endswith("\n# Entries added by HostAliases.\n10.1.2.3\tfoo\tbar\n")
    plain = poddns.hosts_file(pod(), "10.244.0.6", cluster_domain="cluster.local")
    assert plain.endswith("10.244.0.6\tweb-7d9f-abcde\n")


def test_resolv_conf_cluster_first_with_dns_config() -> None:
    text = poddns.resolv_conf(
        pod(dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["my.dns.search.suffix"],
                       "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}),
        dns_ip="10.96.0.10", cluster_domain="cluster.local")
    assert text == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local my.dns.search.suffix\n"
        "nameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:2 edns0\n")


def test_resolv_conf_policy_none_and_default(tmp_path: Path) -> None:
    text = poddns.resolv_conf(
        pod(dnsPolicy="None", dnsConfig={"nameservers": ["1.2.3.4"], "searches": ["a.b"]}),
        dns_ip="10.96.0.10", cluster_domain="cluster.local")
    assert text == "search a.b\nnameserver 1.2.3.4\n"
    host = tmp_path / "resolv.conf"
    host.write_text("# host\nnameserver 192.0.2.53\nsearch corp.example\n")
    text = poddns.resolv_conf(pod(dnsPolicy="Default"), dns_ip="10.96.0.10",
                              cluster_domain="cluster.local", host_resolv=host)
    assert text == "search corp.example\nnameserver 192.0.2.53\n"
