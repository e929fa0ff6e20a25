"""NetnsAgents: the command line it starts each node's agent with is one ``kubesvc agent``
accepts (and says what the node needs), and the nodes join with the bootstrap token over
HTTPS with the cluster CA (TLS bootstrapping), not with static node tokens."""

from __future__ import annotations

from pathlib import Path

from kubesvc.cli.agent import AgentOptions, bootstrap_token
from kubesvc.cli.agentprocs import NetnsAgents, write_bootstrap_token
from kubesvc.cli.commands import build_parser
from kubesvc.cli.netns import CLUSTER_POD_CIDR, Topology, pod_netns_prefix

TOKEN = "abcdef.0123456789abcdef"


def test_agent_command_lines_parse(tmp_path: Path) -> None:
    topo = Topology.plan(tmp_path, 2)
    join = write_bootstrap_token(TOKEN, tmp_path / "nodes" / "bootstrap-token")
    assert oct(join.stat().st_mode & 0o777) == "0o600"
    agents = NetnsAgents(topo, data_dir=tmp_path / "nodes", server="https://172.20.0.1:6443",
                         bootstrap_token=join, ca_file=tmp_path / "pki" / "ca.crt",
                         dns_cluster_ip="10.96.0.10",
                         cluster_domain="cluster.local", runtime="process", proxy="nftables",
                         lease_duration=3)
    for a, node in zip(agents.agents, topo.nodes, strict=True):
        args = build_parser().parse_args(a.argv[3:])  # past "python -m kubesvc.cli.main"
        o = AgentOptions.from_args(args)
        assert (o.node_name, o.node_ip, o.pod_cidr) == (node.name, node.ip, node.pod_cidr)
        assert (o.network, o.netns, o.proxy) == ("netns", node.netns, "nftables")
        assert o.pod_netns_prefix == pod_netns_prefix(topo, node)
        assert o.cluster_cidr == CLUSTER_POD_CIDR and o.cluster_dns == "10.96.0.10"
        assert o.node_lease_duration == 3 and o.exit_with_parent
        assert o.log_socket == a.log_socket and o.lb_announce_interface == "eth0"
        assert o.ca_file == tmp_path / "pki" / "ca.crt"
        assert bootstrap_token(o) == TOKEN  # so the agent TLS-bootstraps


def test_plain_http_or_static_tokens_do_not_bootstrap(tmp_path: Path) -> None:
    tok = tmp_path / "t"
    tok.write_text("not-a-bootstrap-token\n")
    o = AgentOptions(node_name="n", data_dir=tmp_path, servers=("https://127.0.0.1:1",),
                     token_file=tok)
    assert bootstrap_token(o) is None
    tok.write_text(TOKEN + "\n")
    assert bootstrap_token(o) == TOKEN
    o.servers = ("http://127.0.0.1:1",)  # no TLS: no client certificates
    assert bootstrap_token(o) is None
