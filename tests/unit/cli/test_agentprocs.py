"""NetnsAgents: the command line it starts each node's agent with is one ``kubesvc agent``
accepts (and says what the node needs), and node tokens are issued once and reused while
the server still accepts them."""

from __future__ import annotations

from pathlib import Path

from kubesvc.apiserver.http.auth import TokenFile
from kubesvc.cli.agent import AgentOptions
from kubesvc.cli.agentprocs import NetnsAgents, node_token
from kubesvc.cli.commands import build_parser
from kubesvc.cli.netns import CLUSTER_POD_CIDR, Topology, pod_netns_prefix


def test_agent_command_lines_parse(tmp_path: Path) -> None:
    topo = Topology.plan(tmp_path, 2)
    tokens = TokenFile.load_or_create(tmp_path / "tokens.csv")
    agents = NetnsAgents(topo, data_dir=tmp_path / "nodes", server="http://172.20.0.1:6443",
                         tokens=tokens, dns_cluster_ip="10.96.0.10",
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
        assert o.token_file is not None
        assert o.token_file.read_text().strip() in tokens.tokens()


def test_node_token_reused_while_accepted(tmp_path: Path) -> None:
    tokens = TokenFile.load_or_create(tmp_path / "tokens.csv")
    path = node_token(tokens, "node-1", tmp_path / "n1" / "token")
    first = path.read_text().strip()
    user = tokens.tokens()[first]
    assert user.name == "system:node:node-1" and "system:nodes" in user.groups
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert node_token(tokens, "node-1", path).read_text().strip() == first
    fresh = TokenFile.load_or_create(tmp_path / "other.csv")  # a server that forgot it
    assert node_token(fresh, "node-1", path).read_text().strip() != first
