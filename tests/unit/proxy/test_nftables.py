"""nftables backend: the pure rule builder against golden files, and (as root) the real
kernel: transactions applied inside a throwaway network namespace, then real TCP traffic
through the DNAT rules to servers inside that namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc.proxy.nftables.backend import NftablesBackend
from kubesvc.proxy.nftables.nft import SubprocessNft
from kubesvc.proxy.nftables.rules import NftConfig
from kubesvc.proxy.tracker import ChangeTracker
from tests.fakes.nft import FakeNft

GOLDEN = Path(__file__).parent / "golden"
CFG = NftConfig(table="kubesvc", node_name="node-a", pod_cidr="10.244.0.0/16")


def svc(name: str, ip: str, ports: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    status = spec.pop("status", {})
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"clusterIP": ip, "clusterIPs": [ip], "ports": ports, **spec},
            "status": status}


def eslice(name: str, port: int, ips: list[str], *, node: str = "node-a",
           pname: str = "") -> dict[str, Any]:
    return {"metadata": {"name": f"{name}-1", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": name}},
            "ports": [{"name": pname, "port": port, "protocol": "TCP"}],
            # Addresses in 10.244.1.0/24 live on node-b, the rest on ``node``.
            "endpoints": [{"addresses": [ip],
                           "nodeName": "node-b" if ip.startswith("10.244.1.") else node,
                           "conditions": {"ready": True}}
                          for ip in ips]}


def sample_tracker() -> ChangeTracker:
    t = ChangeTracker()
    t.service_changed(svc("web", "10.96.0.20", [{"port": 80, "protocol": "TCP"}]),
                      key="default/web")
    t.slice_changed(eslice("web", 8080, ["10.244.0.2", "10.244.0.3", "10.244.1.4"]))
    t.service_changed(svc("sticky", "10.96.0.21",
                          [{"name": "http", "port": 80, "protocol": "TCP", "nodePort": 30080}],
                          type="NodePort", sessionAffinity="ClientIP",
                          sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
                      key="default/sticky")
    t.slice_changed(eslice("sticky", 8080, ["10.244.0.2"], pname="http"))
    t.service_changed(svc("lb", "10.96.0.22", [{"port": 443, "protocol": "TCP",
                                                "nodePort": 31443}],
                          type="LoadBalancer", externalTrafficPolicy="Local",
                          loadBalancerSourceRanges=["192.0.2.0/24"], healthCheckNodePort=32000,
                          status={"loadBalancer": {"ingress": [{"ip": "10.250.0.1"}]}}),
                      key="default/lb")
    t.slice_changed(eslice("lb", 8443, ["10.244.0.3", "10.244.1.4"]))
    t.service_changed(svc("empty", "10.96.0.23", [{"port": 80, "protocol": "TCP"}]),
                      key="default/empty")
    return t


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs; rerun with UPDATE_GOLDEN=1 if intended"


async def test_full_and_incremental_transactions_match_golden() -> None:
    nft = FakeNft()
    backend = NftablesBackend(nft, CFG)
    t = sample_tracker()
    await backend.sync(t.checkpoint())
    check_golden("full.nft", nft.applied[-1])
    # Scale web from 3 endpoints to 1: only web's chains and elements change.
    t.slice_changed(eslice("web", 8080, ["10.244.0.2"]))
    req = t.checkpoint()
    assert req.changed == {"default/web"} and not req.full
    await backend.sync(req)
    check_golden("scale-down.nft", nft.applied[-1])
    assert "sticky" not in nft.applied[-1]
    # Delete a Service: its elements and chains go.
    t.service_changed(None, key="default/sticky")
    await backend.sync(t.checkpoint())
    check_golden("delete.nft", nft.applied[-1])


async def test_failed_sync_retries_with_full_rewrite() -> None:
    nft = FakeNft()
    backend = NftablesBackend(nft, CFG)
    t = sample_tracker()
    await backend.sync(t.checkpoint())
    nft.fail_next = True
    t.slice_changed(eslice("web", 8080, ["10.244.0.2"]))
    with pytest.raises(RuntimeError):
        await backend.sync(t.checkpoint())
    t.request_full_resync()
    req = t.checkpoint()
    assert req.full
    await backend.sync(req)
    assert nft.applied[-1].startswith("add table ip kubesvc\ndelete table ip kubesvc\n")


def test_rules_structure() -> None:
    t = sample_tracker()
    req = t.checkpoint()
    from kubesvc.proxy.nftables.rules import service_rules
    web = service_rules([(req.state.ports[s], req.state.endpoints[s])
                         for s in req.state.by_service["default/web"]], CFG)
    (svc_chain,) = [c for c in web.chains if c.startswith("service-")]
    assert web.chains[svc_chain][-1].startswith("numgen random mod 3 vmap")
    assert web.elements["service-ips"] == {"10.96.0.20 . tcp . 80": f"goto {svc_chain}"}
    empty = service_rules([(req.state.ports[s], req.state.endpoints[s])
                           for s in req.state.by_service["default/empty"]], CFG)
    assert empty.elements == {"no-endpoint-services": {"10.96.0.23 . tcp . 80":
                                                       "goto reject-chain"}}
    lb = service_rules([(req.state.ports[s], req.state.endpoints[s])
                        for s in req.state.by_service["default/lb"]], CFG)
    (ext,) = [c for c in lb.chains if c.startswith("external-")]
    # externalTrafficPolicy Local: only node-a's endpoint, no masquerade.
    assert lb.chains[ext] == [f"goto {c}" for c in lb.chains
                              if c.startswith("endpoint-") and "10.244.0.3" in c]
    assert lb.elements["firewall-ips"]


# -- real kernel (root) -----------------------------------------------------------------

def _can_netns() -> str:
    if os.geteuid() != 0:
        return "needs root to create network namespaces and load nftables rules"
    if not shutil.which("nft") or not shutil.which("ip"):
        return "needs the nft and ip commands (nftables, iproute2)"
    name = f"kst-probe-{uuid.uuid4().hex[:6]}"
    r = subprocess.run(["ip", "netns", "add", name], capture_output=True)
    if r.returncode != 0:
        return f"cannot create a network namespace here: {r.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return ""


NETNS_SKIP = _can_netns()
needs_netns = pytest.mark.skipif(bool(NETNS_SKIP), reason=NETNS_SKIP or "ok")


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"kst-nft-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ex = ["ip", "netns", "exec", name]
        subprocess.run([*ex, "ip", "link", "set", "lo", "up"], check=True)
        # Endpoint addresses on lo; Service addresses routed out of a veth so that the
        # output hook sees them (nothing here can leave the namespace).
        subprocess.run([*ex, "ip", "link", "add", "svc0", "type", "veth", "peer", "name",
                        "svc1"], check=True)
        subprocess.run([*ex, "ip", "link", "set", "svc0", "up"], check=True)
        subprocess.run([*ex, "ip", "link", "set", "svc1", "up"], check=True)
        for ip in ("10.244.0.2", "10.244.0.3", "10.244.1.4"):
            subprocess.run([*ex, "ip", "addr", "add", f"{ip}/32", "dev", "lo"], check=True)
        subprocess.run([*ex, "ip", "route", "add", "10.96.0.0/12", "dev", "svc0"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8080)); s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.recv(100); c.sendall(sys.argv[1].encode()); c.close()
"""

CLIENT = """
import socket, sys, time
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    c = socket.create_connection((ip, port), timeout=2)
    c.sendall(b"x"); print(c.recv(100).decode(), flush=True); c.close()
"""


@needs_netns
async def test_real_nftables_dnat_and_reject_in_netns(netns: str) -> None:
    nft = SubprocessNft(netns=netns)
    backend = NftablesBackend(nft, CFG)
    t = sample_tracker()
    await backend.sync(t.checkpoint())
    listing = await nft.run("list", "table", "ip", "kubesvc")
    assert "map service-ips" in listing
    assert "10.96.0.20 . tcp . 80 : goto service-" in listing
    assert "numgen random mod 3" in listing
    servers = [subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", SERVER, ip],
                                stdout=subprocess.PIPE)
               for ip in ("10.244.0.2", "10.244.0.3", "10.244.1.4")]
    try:
        for s in servers:
            assert s.stdout is not None and s.stdout.readline().strip() == b"ready"
        out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT,
                              "10.96.0.20", "80", "150"], capture_output=True, timeout=30,
                             check=True).stdout.decode().split()
        counts = Counter(out)
        assert set(counts) == {"10.244.0.2", "10.244.0.3", "10.244.1.4"}, counts
        # A Service without endpoints is rejected at once (connection refused).
        r = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT,
                            "10.96.0.23", "80", "1"], capture_output=True, timeout=10)
        assert r.returncode != 0 and b"ConnectionRefusedError" in r.stderr
        # ClientIP affinity (timed sets): every connection from this client lands on one
        # of the three endpoints.
        t.slice_changed(eslice("sticky", 8080, ["10.244.0.2", "10.244.0.3", "10.244.1.4"],
                               pname="http"))
        await backend.sync(t.checkpoint())
        out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT,
                              "10.96.0.21", "80", "30"], capture_output=True, timeout=30,
                             check=True).stdout.decode().split()
        assert len(out) == 30 and len(set(out)) == 1, Counter(out)
        # Incremental change: scale web to one endpoint.
        t.slice_changed(eslice("web", 8080, ["10.244.1.4"]))
        await backend.sync(t.checkpoint())
        out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", CLIENT,
                              "10.96.0.20", "80", "20"], capture_output=True, timeout=30,
                             check=True).stdout.decode().split()
        assert set(out) == {"10.244.1.4"}
    finally:
        for s in servers:
            s.kill()
            s.wait()
            if s.stdout is not None:
                s.stdout.close()
        await backend.close()
    listing = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "ruleset"],
                             capture_output=True, check=True).stdout.decode()
    assert "kubesvc" not in listing


