"""The defaults of the flags ``kubesvc up``, ``server`` and ``agent`` share.

One place for them: :mod:`.commands` uses them as the argparse defaults (and in the help
texts), and the options dataclasses of :mod:`.up`, :mod:`.server` and :mod:`.agent` as their
field defaults and to fill what a flag left unset. No I/O.
"""

from __future__ import annotations

from pathlib import Path

DATA_DIR = Path(".kubesvc")
API_HOST = "127.0.0.1"
API_PORT = 6443
DNS_ADDR: tuple[str, int] = ("127.0.0.1", 10053)
# kube-proxy's and CoreDNS's metrics ports
PROXY_METRICS_ADDR: tuple[str, int] = ("127.0.0.1", 10249)
DNS_METRICS_PORT = 9153


def dns_metrics_addr(a: object, dns_addr: tuple[str, int]) -> tuple[str, int] | None:
    """``--dns-metrics-addr`` of the parsed flags ``a``: as given (None: off), or when
    absent port 9153 on the DNS host."""
    given: tuple[str, int] | str | None = getattr(a, "dns_metrics_addr", "default")
    if isinstance(given, str):
        return dns_addr[0], DNS_METRICS_PORT
    return given
CLUSTER_DOMAIN = "cluster.local"
DNS_TTL = 5
NODE_IP = "127.0.0.1"
NODE_PORT_RANGE: tuple[int, int] = (30000, 32767)  # upstream --service-node-port-range
HOST_SERVICE_CIDR = "127.96.0.0/16"
NETNS_SERVICE_CIDR = "10.96.0.0/12"  # upstream's default --service-cluster-ip-range
HOST_LB_POOL = "127.100.0.0/24"
HOST_POD_CIDR = "127.1.0.0/16"
NODE_MONITOR_GRACE_PERIOD = 40.0  # upstream kube-controller-manager's default


def service_cidr(network: str) -> str:
    """The ClusterIP range when ``--service-cidr`` is not given."""
    return NETNS_SERVICE_CIDR if network == "netns" else HOST_SERVICE_CIDR
