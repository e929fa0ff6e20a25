"""hostNetwork pods. Pure parts: their DNS policy (ClusterFirst falls back to the node's
resolv.conf, ClusterFirstWithHostNet keeps cluster DNS), their hosts file (the node's plus
hostAliases), HOSTNAME from the sandbox, and host mode leaving them as they were (a loopback
IP each). Netns mode (root only): such a pod runs in the node's network namespace with the
node's IP as its pod IP and the node name as its hostname, keeps per-pod resolv.conf/hosts,
and two of them on one node conflict on a port; deleting them leaves the node's namespace
intact. Only addresses inside the namespaces created here are used."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc.runtime import poddns
from kubesvc.runtime.envvars import container_env
from kubesvc.runtime.netns import ETC_NETNS, RUN_NETNS, NetnsNetwork
from kubesvc.runtime.network import HostNetwork
from tests.unit.runtime.helpers import (
    GracefulClient,
    make_agent,
    netns_usable,
    pod,
    remove_netns,
    running,
    stored,
    wait_for,
)

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
NODE_IP = "10.250.9.2"
DNS_IP = "10.96.0.10"


def _hpod(**spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "h", "namespace": "shop"},
            "spec": {"hostNetwork": True, "nodeName": "node-1", **spec}}


# -- pure ------------------------------------------------------------------------------


def test_dns_policy_of_host_network_pods(tmp_path: Path) -> None:
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 192.0.2.53\nsearch corp.example\n")
    node_like = "search corp.example\nnameserver 192.0.2.53\n"
    cluster = ("search shop.svc.cluster.local svc.cluster.local cluster.local\n"
               f"nameserver {DNS_IP}\noptions ndots:5\n")

    def resolv(p: dict[str, Any]) -> str:
        return poddns.resolv_conf(p, dns_ip=DNS_IP, cluster_domain="cluster.local",
                                  host_resolv=host)

    assert poddns.dns_type(_hpod()) == "Host"
    assert resolv(_hpod()) == node_like  # ClusterFirst (the default) falls back to Default
    assert resolv(_hpod(dnsPolicy="ClusterFirst")) == node_like
    assert poddns.dns_type(_hpod(dnsPolicy="ClusterFirstWithHostNet")) == "Cluster"
    assert resolv(_hpod(dnsPolicy="ClusterFirstWithHostNet")) == cluster
    assert resolv(_hpod(dnsPolicy="None", dnsConfig={"nameservers": ["1.2.3.4"]})) == \
        "nameserver 1.2.3.4\n"
    own = {"metadata": {"name": "p", "namespace": "shop"}, "spec": {}}
    assert resolv(own) == cluster
    assert resolv({**own, "spec": {"dnsPolicy": "ClusterFirstWithHostNet"}}) == cluster


def test_hosts_file_of_host_network_pods(tmp_path: Path) -> None:
    node_hosts = tmp_path / "hosts"
    node_hosts.write_text("127.0.0.1\tlocalhost\n192.0.2.7\tbuild-box\n")
    plain = poddns.node_hosts_file(_hpod(hostname="ignored"), host_hosts=node_hosts)
    assert plain == ("# Kubernetes-managed hosts file (host network).\n"
                     "127.0.0.1\tlocalhost\n192.0.2.7\tbuild-box\n")
    aliased = poddns.node_hosts_file(
        _hpod(hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo", "bar"]}]),
        host_hosts=node_hosts)
    assert aliased == plain + "\n# Entries added by HostAliases.\n10.1.2.3\tfoo\tbar\n"
    assert poddns.host_network_hostname("node-1") == "node-1"
    assert poddns.host_network_hostname("n" * 62 + ".x") == "n" * 62


async def test_hostname_env_follows_the_sandbox() -> None:
    p = {"metadata": {"name": "web", "namespace": "ns"},
         "spec": {"hostname": "web-0", "hostNetwork": True},
         "status": {"podIP": NODE_IP, "hostIP": NODE_IP}}

    async def getter(resource: str, ns: str, name: str) -> dict[str, Any]:
        raise AssertionError("not used")

    env = await container_env(p, {}, services=[], getter=getter, bind_address="0.0.0.0",
                              hostname="node-1")
    assert env["HOSTNAME"] == "node-1" and env["POD_IP"] == NODE_IP
    env = await container_env(p, {}, services=[], getter=getter, bind_address="0.0.0.0")
    assert env["HOSTNAME"] == "web-0"  # no sandbox hostname (host mode): as before
    # a name cut at 63 characters loses a trailing '-' or '.', as the pod's hostname does
    p["spec"] = {"hostname": "h" * 62 + "-x"}
    env = await container_env(p, {}, services=[], getter=getter, bind_address="0.0.0.0")
    assert env["HOSTNAME"] == "h" * 62 == poddns.pod_hostname(p)


async def test_host_mode_keeps_a_loopback_ip_per_host_network_pod() -> None:
    net = HostNetwork("127.251.0.0/24")
    a = await net.setup("uid-a", namespace="ns", name="a", pod=_hpod(), host_ip="127.0.0.1")
    b = await net.setup("uid-b", namespace="ns", name="b", pod=_hpod(), host_ip="127.0.0.1")
    assert a.ip != b.ip and a.ip.startswith("127.251.0.")
    assert a.netns is None and a.bind_address == a.ip and a.hostname == ""


# -- netns mode (root) ------------------------------------------------------------------

ok, why = netns_usable()
needs_netns = pytest.mark.skipif(not ok, reason=why)


@pytest.fixture
def node_ns() -> Iterator[tuple[str, str]]:
    """A node namespace with the node IP (on ``eth0``, one end of a veth pair whose other
    end stays in it too)."""
    tag = secrets.token_hex(3)
    node, prefix = f"kst-hnode-{tag}", f"ksh{tag}-"
    subprocess.run(["ip", "netns", "add", node], check=True)
    try:
        for argv in (["link", "set", "lo", "up"],
                     ["link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"],
                     ["link", "set", "eth0p", "up"],
                     ["addr", "add", f"{NODE_IP}/24", "dev", "eth0"],
                     ["link", "set", "eth0", "up"]):
            subprocess.run(["ip", "-n", node, *argv], check=True)
        yield node, prefix
    finally:
        remove_netns(node, prefix)


def _netexec(name: str, *, port: int = 8080, **spec: Any) -> dict[str, Any]:
    p = pod(name, ns="team", image=AGNHOST,
            args=["netexec", f"--http-port={port}", "--udp-port=-1"],
            terminationGracePeriodSeconds=1, **spec)
    p["spec"]["containers"][0]["readinessProbe"] = {
        "httpGet": {"path": "/hostname", "port": port}, "periodSeconds": 1}
    return p


def _status(client: GracefulClient, name: str) -> dict[str, Any]:
    return dict((stored(client, name, "team") or {}).get("status") or {})


def _ready(client: GracefulClient, name: str) -> bool:
    return any(s.get("ready") for s in _status(client, name).get("containerStatuses") or [])


async def _get(net: NetnsNetwork, ip: str, port: int, path: str) -> str:
    sb = next(iter(net._sandboxes.values()))
    reader, writer = await net.open_connection(sb, ip, port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.partition(b"\r\n\r\n")[2].decode()


def _in(pid: int, flag: str, *argv: str) -> str:
    return subprocess.run(["nsenter", "-t", str(pid), flag, "--", *argv], capture_output=True,
                          text=True, check=True).stdout


@needs_netns
async def test_host_network_pods_share_the_node_namespace(
        tmp_path: Path, node_ns: tuple[str, str]) -> None:
    node, prefix = node_ns
    net = NetnsNetwork(pod_cidr="10.244.9.0/24", dns_ip=DNS_IP, node_netns=node,
                       bridge="kshbr0", prefix=prefix)
    client = GracefulClient()
    agent = make_agent(client, tmp_path, network=net, node_ip=NODE_IP, probe_scale=0.05)
    async with running(agent):
        await client.create("pods", _netexec("host-a", hostNetwork=True, hostname="ignored"),
                            namespace="team")
        await client.create("pods", _netexec("own-b"), namespace="team")
        dns_pod = pod("host-dns", ns="team", image=AGNHOST, args=["pause"], hostNetwork=True,
                      dnsPolicy="ClusterFirstWithHostNet", terminationGracePeriodSeconds=1)
        await client.create("pods", dns_pod, namespace="team")
        await wait_for(lambda: _ready(client, "host-a") and _ready(client, "own-b")
                       and _ready(client, "host-dns"), 20, "pods ready")
        st = _status(client, "host-a")
        assert st["podIP"] == NODE_IP and st["podIPs"] == [{"ip": NODE_IP}]
        assert st["hostIP"] == NODE_IP
        own_ip = _status(client, "own-b")["podIP"]
        assert own_ip.startswith("10.244.9.")
        # Both listen on 8080: one in the node's namespace, one in its own.
        assert await _get(net, NODE_IP, 8080, "/hostname") == "node-1"
        assert await _get(net, own_ip, 8080, "/hostname") == "own-b"

        state = agent.pod_state("team", "host-a")
        assert state is not None and state.records["main"].current is not None
        pid = state.records["main"].current.pid
        assert pid is not None
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(RUN_NETNS / node).st_ino
        assert _in(pid, "-u", "hostname").strip() == "node-1"
        assert _in(pid, "-m", "cat", "/etc/hosts").startswith(
            "# Kubernetes-managed hosts file (host network).\n")
        resolv = _in(pid, "-m", "cat", "/etc/resolv.conf")
        assert "ndots:5" not in resolv  # ClusterFirst on the host network: the node's DNS
        dns_obj = stored(client, "host-dns", "team")
        assert dns_obj is not None
        dns_sb = net.get(str(dns_obj["metadata"]["uid"]))
        assert dns_sb is not None and dns_sb.netns
        assert (ETC_NETNS / dns_sb.netns / "resolv.conf").read_text().endswith(
            f"nameserver {DNS_IP}\noptions ndots:5\n")

        # A second hostNetwork pod on the node cannot have the same port.
        clash = _netexec("host-c", hostNetwork=True, restartPolicy="Never")
        await client.create("pods", clash, namespace="team")
        await wait_for(lambda: _status(client, "host-c").get("phase") == "Failed", 20,
                       "the port clash fails host-c")
        clash_state = agent.pod_state("team", "host-c")
        assert clash_state is not None and clash_state.records["main"].current is not None
        log = Path(clash_state.records["main"].current.log_path).read_text()
        assert "address already in use" in log
        assert await _get(net, NODE_IP, 8080, "/hostname") == "node-1"

        for name in ("host-a", "own-b", "host-dns", "host-c"):
            await client.delete("pods", name, namespace="team")
        await wait_for(lambda: all(stored(client, n, "team") is None
                                   for n in ("host-a", "own-b", "host-dns", "host-c")),
                       15, "deleted")
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert prefix not in left  # the pods' names are gone ...
    addrs = subprocess.run(["ip", "-n", node, "-o", "addr", "show", "dev", "eth0"],
                           capture_output=True, text=True, check=True).stdout
    assert f" {NODE_IP}/" in addrs  # ... and the node's namespace is still whole
