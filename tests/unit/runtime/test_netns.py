"""Netns mode (root only): each pod in its own network namespace behind a node bridge; two
pods bind the same port on 0.0.0.0 side by side; probes reach them from the node side;
resolv.conf carries the Kubernetes search path and ndots:5. Only addresses inside the
namespaces created here are used, and everything is torn down afterwards."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesvc.runtime.netns import ETC_NETNS, NetnsNetwork
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

ok, why = netns_usable()
pytestmark = pytest.mark.skipif(not ok, reason=why)

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


@pytest.fixture
def node_ns() -> Iterator[tuple[str, str]]:
    tag = secrets.token_hex(3)
    node, prefix = f"kst-node-{tag}", f"kst{tag}-"
    subprocess.run(["ip", "netns", "add", node], check=True)
    try:
        yield node, prefix
    finally:
        remove_netns(node, prefix)


async def _get(net: NetnsNetwork, ip: str, path: str) -> str:
    sb = next(iter(net._sandboxes.values()))
    reader, writer = await net.open_connection(sb, ip, 8080)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data.partition(b"\r\n\r\n")[2].decode()


async def test_pods_in_namespaces_bind_same_port(tmp_path: Path,
                                                 node_ns: tuple[str, str]) -> None:
    node, prefix = node_ns
    net = NetnsNetwork(pod_cidr="10.244.7.0/24", dns_ip="10.96.0.10", node_netns=node,
                       bridge="kstbr0", prefix=prefix)
    client = GracefulClient()
    agent = make_agent(client, tmp_path, network=net, probe_scale=0.05)
    assert agent.pod_cidr == "10.244.7.0/24"
    async with running(agent):
        for name in ("ns-a", "ns-b"):
            p = pod(name, ns="team", image=AGNHOST,
                    args=["netexec", "--http-port=8080", "--udp-port=-1"],
                    terminationGracePeriodSeconds=1)
            p["spec"]["containers"][0]["readinessProbe"] = {
                "httpGet": {"path": "/hostname", "port": 8080}, "periodSeconds": 1}
            await client.create("pods", p, namespace="team")
        await wait_for(lambda: all(_ready(client, n) for n in ("ns-a", "ns-b")), 15,
                       "both ready through probes from the node namespace")
        ips = {n: stored(client, n, "team")["status"]["podIP"]  # type: ignore[index]
               for n in ("ns-a", "ns-b")}
        assert all(ip.startswith("10.244.7.") for ip in ips.values())
        assert len(set(ips.values())) == 2
        for name, ip in ips.items():
            assert await _get(net, ip, "/hostname") == name
        sb = net.get(stored(client, "ns-a", "team")["metadata"]["uid"])  # type: ignore[index]
        assert sb is not None and sb.netns
        resolv = (ETC_NETNS / sb.netns / "resolv.conf").read_text()
        assert resolv == ("search team.svc.cluster.local svc.cluster.local cluster.local\n"
                          "nameserver 10.96.0.10\noptions ndots:5\n")
        seen = subprocess.run(["ip", "netns", "exec", sb.netns, "cat", "/etc/resolv.conf"],
                              capture_output=True, text=True, check=True).stdout
        assert seen == resolv
        for name in ("ns-a", "ns-b"):
            await client.delete("pods", name, namespace="team")
        await wait_for(lambda: stored(client, "ns-a", "team") is None
                       and stored(client, "ns-b", "team") is None, 10, "deleted")
        left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert prefix not in left  # pod namespaces torn down with the pods


def _ready(client: GracefulClient, name: str) -> bool:
    obj = stored(client, name, "team") or {}
    for s in (obj.get("status") or {}).get("containerStatuses") or []:
        return bool(s.get("ready"))
    return False


