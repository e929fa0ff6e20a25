"""Argument parsing for the ``kubesvc`` command and dispatch to the subcommands.

``up`` runs the all-in-one cluster (:mod:`.up`); ``server`` a control-plane replica
(:mod:`.server`), ``agent`` one node (:mod:`.agent`), ``token create`` a bootstrap token for
agents (:mod:`.token`); ``version`` prints the version. Flags are
named as upstream's components name them where one exists (``--service-cluster-ip-range``
is spelled ``--service-cidr`` as the issues do, ``--service-node-port-range``,
``--cluster-domain``, ``--nodeport-addresses``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from kubesvc import __version__
from kubesvc.cli import defaults, serving


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def _metrics_addr(value: str) -> tuple[str, int] | None:
    """HOST:PORT, or "" (or "0") to serve no metrics."""
    return None if value in ("", "0") else _host_port(value)


def _add_metrics_flags(p: argparse.ArgumentParser, *, proxy: bool, dns: bool) -> None:
    if proxy:
        p.add_argument("--metrics-bind-address", type=_metrics_addr,
                       default=defaults.PROXY_METRICS_ADDR,
                       help="the proxy's Prometheus /metrics, as kube-proxy's (default "
                            "127.0.0.1:10249; '' for none)")
    if dns:
        # absent (SUPPRESS) means the default, which depends on --dns-addr
        p.add_argument("--dns-metrics-addr", type=_metrics_addr, default=argparse.SUPPRESS,
                       help="cluster DNS's Prometheus /metrics, as CoreDNS's :9153 (default "
                            "the DNS host, port 9153; '' for none)")


def _port_range(value: str) -> tuple[int, int]:
    lo, sep, hi = value.partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit() or int(lo) > int(hi):
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH (e.g. 30000-32767), got {value!r}")
    return int(lo), int(hi)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kubesvc", description=__doc__)
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run an all-in-one cluster in the foreground")
    up.add_argument("--data-dir", type=Path, default=defaults.DATA_DIR,
                    help="state, certificates, kubeconfig and pod logs (default ./.kubesvc)")
    up.add_argument("--api-host", default=defaults.API_HOST)
    up.add_argument("--api-port", type=int, default=defaults.API_PORT)
    serving.add_flags(up)
    up.add_argument("--dns-addr", type=_host_port, default=None,
                    help="where cluster DNS listens (default 127.0.0.1:10053 in host mode)")
    up.add_argument("--dns-upstream", action="append", type=_host_port, default=[],
                    help="resolver for names outside the cluster zone (repeatable)")
    _add_metrics_flags(up, proxy=True, dns=True)
    up.add_argument("--cluster-domain", default=defaults.CLUSTER_DOMAIN)
    up.add_argument("--dns-ttl", type=int, default=defaults.DNS_TTL)
    up.add_argument("--network", choices=["host", "netns"], default="host")
    up.add_argument("--runtime", choices=["process", "simulated"], default="process")
    up.add_argument("--proxy", choices=["userspace", "nftables", "none"], default=None,
                    help="data plane (default: userspace in host mode, nftables in netns)")
    up.add_argument("--store", default="",
                    help="memory://, sqlite:///path (default DATA_DIR/state.db) or "
                         "etcd://host:port[,host:port]")
    up.add_argument("--service-cidr", default=None,
                    help="ClusterIP range (default 127.96.0.0/16 in host mode, "
                         "10.96.0.0/12 in netns mode)")
    up.add_argument("--service-node-port-range", type=_port_range,
                    default=defaults.NODE_PORT_RANGE)
    up.add_argument("--lb-pool", action="append", default=[],
                    help="LoadBalancer IP pool CIDR (repeatable; default 127.100.0.0/24 "
                         "in host mode)")
    up.add_argument("--node-name", default="kubesvc-node")
    up.add_argument("--node-ip", default=defaults.NODE_IP)
    up.add_argument("--nodes", type=int, default=1,
                    help="number of nodes (netns mode; host mode runs one node)")
    up.add_argument("--pod-cidr", default=None,
                    help="pod addresses of the host-mode node (default 127.1.0.0/16)")
    up.add_argument("--max-pods", type=_positive_int, default=None,
                    help="pods the host-mode node accepts, as the kubelet's --max-pods "
                         "(default 110; 10000 with --runtime simulated)")
    up.add_argument("--nodeport-addresses", action="append", default=[],
                    help="addresses NodePorts listen on (default: the node IP)")
    up.add_argument("--image-map", type=Path, default=None,
                    help="YAML file mapping image patterns to host commands")
    up.add_argument("--ingress", action=argparse.BooleanOptionalAction, default=True,
                    help="run the ingress controller (class kubesvc, HAProxy; host mode "
                         "only). Without haproxy installed it only reports, by Events, that "
                         "Ingresses are not served")
    up.add_argument("--ingress-address", default="",
                    help="address HAProxy listens on (:80, :443) and Ingress status reports "
                         "(default: the address just past the first LB pool, e.g. "
                         "127.100.1.1)")
    _add_security(up)
    up.add_argument("--node-monitor-grace-period", type=float,
                    default=defaults.NODE_MONITOR_GRACE_PERIOD,
                    help="seconds without a node heartbeat before its node is NotReady and "
                         "its pods' endpoints not ready (default 40; netns-mode agents "
                         "renew their Lease every quarter of it)")
    up.add_argument("--cronjob-clock-rate", type=float, default=1.0,
                    help="testing knob: the CronJob controller's clock runs this many times "
                         "faster than real time (default 1)")

    ex = sub.add_parser("exec", help="run a command inside a node or the client namespace "
                                     "of a netns cluster")
    ex.add_argument("--data-dir", type=Path, default=defaults.DATA_DIR,
                    help="the data dir of `kubesvc up --network netns` (default ./.kubesvc)")
    ex.add_argument("node", help="client, node-N or N")
    ex.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")

    _add_server(sub)
    _add_agent(sub)
    token = sub.add_parser("token", help="manage bootstrap tokens for agents")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a bootstrap token and print it")
    create.add_argument("--data-dir", type=Path, default=defaults.DATA_DIR,
                        help="the server's data dir (its admin kubeconfig; default ./.kubesvc)")
    create.add_argument("--kubeconfig", type=Path, default=None,
                        help="admin kubeconfig to create the token Secret with "
                             "(default DATA_DIR/kubeconfig)")
    create.add_argument("--ttl", default="24h",
                        help="how long the token is valid (e.g. 24h, 30m; 0 = never)")

    sub.add_parser("version", help="print the version")
    return p


def _add_server(sub: Any) -> None:
    s = sub.add_parser("server", help="run a control-plane replica (API server, "
                                      "controllers while leader, DNS)")
    s.add_argument("--data-dir", type=Path, default=defaults.DATA_DIR,
                   help="CA, tokens and kubeconfig; replicas on one machine may share it")
    s.add_argument("--api-host", "--bind-address", dest="api_host", default=defaults.API_HOST)
    s.add_argument("--api-port", "--secure-port", dest="api_port", type=int,
                   default=defaults.API_PORT)
    serving.add_flags(s)
    s.add_argument("--advertise-address", default="",
                   help="address put in the kubernetes Service endpoints (default: the "
                        "bind address, or 127.0.0.1 when it is a wildcard)")
    s.add_argument("--tls-san", action="append", default=[],
                   help="extra subject alternative name of the serving certificate")
    s.add_argument("--dns-addr", type=_host_port, default=None,
                   help="where cluster DNS listens (default 127.0.0.1:10053)")
    s.add_argument("--dns-upstream", action="append", type=_host_port, default=[])
    _add_metrics_flags(s, proxy=False, dns=True)
    s.add_argument("--cluster-domain", default=defaults.CLUSTER_DOMAIN)
    s.add_argument("--dns-ttl", type=int, default=defaults.DNS_TTL)
    s.add_argument("--network", choices=["host", "netns"], default="host")
    s.add_argument("--store", default="",
                   help="etcd://host:port[,host:port] (shared by replicas), or sqlite:///path "
                        "(default DATA_DIR/state.db, one replica only)")
    s.add_argument("--service-cidr", default=None)
    s.add_argument("--service-node-port-range", type=_port_range,
                   default=defaults.NODE_PORT_RANGE)
    s.add_argument("--lb-pool", action="append", default=[])
    s.add_argument("--node-monitor-grace-period", type=float,
                   default=defaults.NODE_MONITOR_GRACE_PERIOD,
                   help="seconds without a node heartbeat before its node is NotReady and "
                        "its pods' endpoints not ready (default 40)")
    s.add_argument("--leader-elect", action=argparse.BooleanOptionalAction, default=True)
    s.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    s.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    s.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    s.add_argument("--endpoint-lease-duration", type=int, default=15,
                   help="seconds after which a silent replica leaves the kubernetes endpoints")
    s.add_argument("--identity", default="", help="leader election identity "
                   "(default HOSTNAME_UUID)")
    s.add_argument("--write-kubeconfig", type=Path, default=None,
                   help="admin kubeconfig to write (default DATA_DIR/kubeconfig)")
    s.add_argument("--ingress", action=argparse.BooleanOptionalAction, default=True,
                   help="run the ingress controller while leader (class kubesvc, HAProxy; "
                        "host mode only; one per cluster, under the leader election)")
    s.add_argument("--ingress-address", default="",
                   help="address HAProxy listens on (:80, :443) and Ingress status reports "
                        "(default: the address just past the first LB pool)")
    _add_security(s)


def _add_security(p: argparse.ArgumentParser) -> None:
    """Flags of kube-apiserver's that ``up`` and ``server`` share."""
    p.add_argument("--encryption-provider-config", type=Path, default=None,
                   help="EncryptionConfiguration file (apiserver.config.k8s.io/v1): encrypt "
                        "these resources at rest (aesgcm, aescbc, secretbox, identity)")
    p.add_argument("--audit-log-path", type=Path, default=None,
                   help="write an audit.k8s.io/v1 Event JSON line per mutating request here")
    p.add_argument("--audit-policy-file", type=Path, default=None,
                   help="audit Policy (audit.k8s.io/v1 rules: None, Metadata, Request, "
                        "RequestResponse); without it every mutating request is logged "
                        "at Metadata")


def _add_agent(sub: Any) -> None:
    a = sub.add_parser("agent", help="run one node (node agent + proxy) against servers")
    a.add_argument("--server", action="append", default=[],
                   help="API server URL (repeatable: one per server replica)")
    a.add_argument("--token-file", type=Path, default=None,
                   help="file holding a bootstrap token (kubesvc token create)")
    a.add_argument("--ca-file", type=Path, default=None,
                   help="cluster CA certificate (the servers' DATA_DIR/pki/ca.crt)")
    a.add_argument("--kubeconfig", type=Path, default=None)
    a.add_argument("--node-name", required=True)
    a.add_argument("--node-ip", default=defaults.NODE_IP)
    a.add_argument("--pod-cidr", default=defaults.HOST_POD_CIDR,
                   help="pod IPs of this node (in host mode: a distinct range in 127/8 "
                        "per agent on a machine)")
    a.add_argument("--nodeport-addresses", action="append", default=[],
                   help="addresses NodePorts listen on (default: the node IP)")
    a.add_argument("--data-dir", type=Path, default=None,
                   help="pod state and logs (default ./.kubesvc-agent-NODE)")
    a.add_argument("--network", choices=["host", "netns"], default="host",
                   help="netns: pods in their own network namespaces behind a bridge in "
                        "this node's namespace (root)")
    a.add_argument("--netns", default="",
                   help="enter this named network namespace first (/run/netns/NAME)")
    a.add_argument("--pod-netns-prefix", default="kubesvc-pod-",
                   help="name prefix of the pods' network namespaces (netns network)")
    a.add_argument("--cluster-cidr", default="",
                   help="the cluster's pod CIDR (nftables proxy: masquerade what comes "
                        "from outside it)")
    a.add_argument("--log-socket", type=Path, default=None,
                   help="serve pod logs on this unix socket (the kubelet's containerLogs)")
    a.add_argument("--streaming-port", type=int, default=10250,
                   help="port of the HTTPS streaming server on the node IP (exec, attach, "
                        "port-forward, logs for the API server; 0: any free port), "
                        "published in the Node's status.daemonEndpoints")
    a.add_argument("--client-ca-file", type=Path, default=None,
                   help="CA whose client certificates the streaming server accepts (the "
                        "API server's kube-apiserver-kubelet-client; default --ca-file)")
    a.add_argument("--lb-announce-interface", default="",
                   help="announce LoadBalancer IPs this node is elected for on this "
                        "interface (address + gratuitous ARP)")
    a.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    a.add_argument("--runtime", choices=["process", "simulated"], default="process")
    a.add_argument("--proxy", choices=["userspace", "nftables", "none"], default="userspace")
    _add_metrics_flags(a, proxy=True, dns=False)
    a.add_argument("--cluster-dns", default="",
                   help="DNS server IP for pods (default: the kube-dns Service's ClusterIP)")
    a.add_argument("--cluster-domain", default=defaults.CLUSTER_DOMAIN)
    a.add_argument("--node-lease-duration-seconds", type=int, default=40,
                   help="the node Lease duration; it is renewed every quarter of it")
    a.add_argument("--image-map", type=Path, default=None)


def _positive_int(raw: str) -> int:
    """argparse type for counts such as --max-pods: a clear message instead of a trace."""
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.command == "version":
        print(f"kubesvc {__version__}")
        return 0
    if args.command == "up":
        from kubesvc.cli.up import UpOptions, run_up

        return run_up(UpOptions.from_args(args))
    if args.command == "server":
        from kubesvc.cli.server import ServerOptions, run_server

        return run_server(ServerOptions.from_args(args))
    if args.command == "agent":
        from kubesvc.cli.agent import AgentOptions, run_agent

        return run_agent(AgentOptions.from_args(args))
    if args.command == "exec":
        from kubesvc.cli.nodeexec import run_exec

        return run_exec(args.data_dir.resolve(), args.node, list(args.cmd))
    if args.command == "token":
        from kubesvc.cli.token import run_token_create

        return run_token_create(args.data_dir, args.ttl, kubeconfig=args.kubeconfig)
    raise AssertionError(args.command)
