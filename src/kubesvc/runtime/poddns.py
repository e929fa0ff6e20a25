"""A pod's name-resolution files and hostname, as the kubelet writes them (pure code apart
from reading the node's own files).

:func:`pod_hostname` is ``spec.hostname`` or the pod name (at most 63 characters, no
trailing ``-``/``.``); a hostNetwork pod has its node's hostname instead
(:func:`host_network_hostname`). :func:`hosts_file` is the kubelet-managed ``/etc/hosts``
with the pod's FQDN when ``spec.subdomain`` is set and ``spec.hostAliases`` appended;
:func:`node_hosts_file` is a hostNetwork pod's: the node's own ``/etc/hosts`` plus the
aliases. :func:`resolv_conf` follows ``dnsPolicy`` (ClusterFirst - which falls back to
Default on a hostNetwork pod -, ClusterFirstWithHostNet, Default, None) merged with
``dnsConfig`` (nameservers, searches, options) as upstream's ``pkg/kubelet/network/dns``
does. Used by :mod:`kubesvc.runtime.netns`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubesvc.api.objects import Obj

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
HOST_RESOLV = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")
HOST_NETWORK_HOSTS_HEADER = "# Kubernetes-managed hosts file (host network).\n"


def host_network(pod: Obj) -> bool:
    """Whether the pod runs in its node's network namespace (``spec.hostNetwork``)."""
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def pod_hostname(pod: Obj) -> str:
    spec = pod.get("spec") or {}
    name = str(spec.get("hostname") or (pod.get("metadata") or {}).get("name") or "")
    return name[:63].rstrip("-.")


def host_network_hostname(node_name: str) -> str:
    """A hostNetwork pod's hostname: its node's (``spec.hostname`` is ignored); the node
    name stands for the node's hostname, as the kubelet's default hostname is its node
    name."""
    return node_name[:63].rstrip("-.")


def pod_fqdn(pod: Obj, *, cluster_domain: str) -> str:
    spec = pod.get("spec") or {}
    sub = spec.get("subdomain")
    if not sub:
        return ""
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    return f"{pod_hostname(pod)}.{sub}.{ns}.svc.{cluster_domain}"


def hosts_file(pod: Obj, ip: str, *, cluster_domain: str) -> str:
    out = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    host = pod_hostname(pod)
    fqdn = pod_fqdn(pod, cluster_domain=cluster_domain)
    out.append(f"{ip}\t{fqdn}\t{host}" if fqdn else f"{ip}\t{host}")
    return "\n".join(out) + "\n" + _alias_entries(pod)


def _alias_entries(pod: Obj) -> str:
    aliases = (pod.get("spec") or {}).get("hostAliases") or []
    if not aliases:
        return ""
    out = ["", "# Entries added by HostAliases."]
    for a in aliases:
        names = "\t".join(a.get("hostnames") or [])
        out.append(f"{a.get('ip')}\t{names}")
    return "\n".join(out) + "\n"


def node_hosts_file(pod: Obj, *, host_hosts: Path = HOST_HOSTS) -> str:
    """A hostNetwork pod's ``/etc/hosts`` (upstream ``nodeHostsFileContent``): a header,
    the node's own hosts file as it is, then the pod's ``hostAliases``."""
    try:
        node = host_hosts.read_text()
    except OSError:
        node = ""
    return HOST_NETWORK_HOSTS_HEADER + node + _alias_entries(pod)


def _host_resolv(path: Path) -> tuple[list[str], list[str], list[str]]:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        text = path.read_text()
    except OSError:
        return servers, searches, options
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver":
            servers.extend(parts[1:2])
        elif parts[0] in ("search", "domain"):
            searches = parts[1:]
        elif parts[0] == "options":
            options.extend(parts[1:])
    return servers, searches, options


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _merge_options(base: list[str], extra: list[Any]) -> list[str]:
    merged: dict[str, str | None] = {}
    for opt in base:
        name, _, value = opt.partition(":")
        merged[name] = value or None
    for opt in extra:
        if not isinstance(opt, dict):
            continue
        name = str(opt.get("name") or "")
        if name:
            raw = opt.get("value")
            merged[name] = None if raw in (None, "") else str(raw)
    return [k if v is None else f"{k}:{v}" for k, v in merged.items()]


def dns_type(pod: Obj) -> str:
    """Upstream ``getPodDNSType``: "None", "Cluster" (ClusterFirst on a pod with its own
    network, ClusterFirstWithHostNet on any pod) or "Host" (Default, and ClusterFirst on a
    hostNetwork pod, which falls back to the node's settings)."""
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "None"
    if policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst"
                                                and not host_network(pod)):
        return "Cluster"
    return "Host"


def resolv_conf(
    pod: Obj, *, dns_ip: str, cluster_domain: str, host_resolv: Path = HOST_RESOLV
) -> str:
    spec = pod.get("spec") or {}
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    kind = dns_type(pod)
    cfg = spec.get("dnsConfig") or {}
    if kind == "None":
        servers: list[str] = []
        searches: list[str] = []
        options: list[str] = []
    elif kind == "Host" or not dns_ip:
        servers, searches, options = _host_resolv(host_resolv)
    else:
        servers = [dns_ip]
        searches = [f"{ns}.svc.{cluster_domain}", f"svc.{cluster_domain}", cluster_domain]
        options = ["ndots:5"]
    servers = _dedupe(servers + [str(s) for s in cfg.get("nameservers") or []])
    searches = _dedupe(searches + [str(s) for s in cfg.get("searches") or []])
    options = _merge_options(options, list(cfg.get("options") or []))
    lines = []
    if searches:
        lines.append("search " + " ".join(searches[:MAX_SEARCHES]))
    lines.extend(f"nameserver {s}" for s in servers[:MAX_NAMESERVERS])
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"
