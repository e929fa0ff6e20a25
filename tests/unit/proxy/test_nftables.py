"""nftables backend: the pure rule builder against golden files, and (as root) the real
kernel: transactions applied inside a throwaway network namespace (through ``nft -f`` and
through the libnftables binding), then real TCP/UDP traffic through the DNAT, reject and
firewall rules to servers inside that namespace, from the namespace itself (output hook)
and from a client namespace routed through it (prerouting hook)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from kubesvc import errors
from kubesvc.proxy.nftables import libnft
from kubesvc.proxy.nftables.backend import NftablesBackend
from kubesvc.proxy.nftables.libnft import LibNft
from kubesvc.proxy.nftables.nft import NftRunner, SubprocessNft, default_runner
from kubesvc.proxy.nftables.rules import BASE_CHAINS, NftConfig
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
    await backend.close()
    assert nft.applied[-1] == "add table ip kubesvc\ndelete table ip kubesvc\n"
    assert nft.closed


async def _healthz(port: int) -> tuple[str, dict[str, Any]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: node\r\n\r\n")
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split()[1].decode(), orjson.loads(body)


async def test_health_check_node_port_counts_ready_local_endpoints_only() -> None:
    """Upstream LocalReadyEndpoints: a node whose only local endpoint is terminating answers
    503 (so load balancers drain it) while its rules still send traffic there."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = ChangeTracker()
    t.service_changed(svc("lb", "10.96.0.22", [{"port": 443, "protocol": "TCP",
                                                "nodePort": 31443}],
                          type="LoadBalancer", externalTrafficPolicy="Local",
                          healthCheckNodePort=port), key="default/lb")

    def lb_slice(*, ready: bool) -> dict[str, Any]:
        sl = eslice("lb", 8443, ["10.244.0.3", "10.244.1.4"])
        sl["endpoints"][0]["conditions"] = {"ready": ready, "serving": True,
                                            "terminating": not ready}
        return sl

    nft = FakeNft()
    backend = NftablesBackend(nft, CFG, health_host="127.0.0.1")
    try:
        t.slice_changed(lb_slice(ready=True))
        await backend.sync(t.checkpoint())
        status, body = await _healthz(port)
        assert (status, body["localEndpoints"]) == ("200", 1)
        t.slice_changed(lb_slice(ready=False))
        await backend.sync(t.checkpoint())
        status, body = await _healthz(port)
        assert (status, body["localEndpoints"]) == ("503", 0)
        assert "dnat to 10.244.0.3:8443" in nft.applied[-1]  # still served (terminating)
    finally:
        await backend.close()


def test_only_nat_hooks_so_established_flows_skip_the_ruleset() -> None:
    hooks = {name: rules[0] for name, rules in BASE_CHAINS.items()
             if rules[0].startswith("type ")}
    assert sorted(hooks) == ["nat-output", "nat-postrouting", "nat-prerouting"]
    assert all(h.startswith("type nat hook ") for h in hooks.values())
    # Upstream's filter-chain checks (firewall, no endpoints) run in both DNAT hooks,
    # before the dispatch that would DNAT the packet.
    for base in ("nat-prerouting", "nat-output"):
        assert BASE_CHAINS[base][1:] == ["jump firewall-check", "jump services"]
    assert [r.split("vmap ")[-1] for r in BASE_CHAINS["services"][:2]] == [
        "@service-ips", "@no-endpoint-services"]


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


def test_policy_local_without_local_endpoints_drops_while_no_endpoints_rejects() -> None:
    """Upstream: a Service without endpoints rejects; one whose endpoints this node may not
    use (traffic policy Local, all of them elsewhere) drops."""
    from kubesvc.proxy.nftables.rules import service_rules
    t = ChangeTracker()
    t.service_changed(svc("far", "10.96.0.30", [{"port": 80, "protocol": "TCP",
                                                 "nodePort": 30090}],
                          type="NodePort", externalTrafficPolicy="Local",
                          internalTrafficPolicy="Local"), key="default/far")
    t.slice_changed(eslice("far", 8080, ["10.244.1.9"]))  # on node-b only
    st = t.checkpoint().state
    far = service_rules([(st.ports[s], st.endpoints[s]) for s in st.by_service["default/far"]],
                        CFG)
    assert far.elements == {"no-endpoint-services": {"10.96.0.30 . tcp . 80": "drop"},
                            "no-endpoint-nodeports": {"tcp . 30090": "drop"}}
    assert not far.chains


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
LIB_SKIP = "" if libnft.available() else f"{libnft.LIBRARY} does not load here"
needs_lib = pytest.mark.skipif(bool(LIB_SKIP), reason=LIB_SKIP or "ok")
RUNNERS = [pytest.param("subprocess"), pytest.param("libnft", marks=needs_lib)]


def make_runner(kind: str, netns: str) -> NftRunner:
    return LibNft(netns=netns) if kind == "libnft" else SubprocessNft(netns=netns)


def _ex(ns: str, *argv: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, *argv], check=True)


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"kst-nft-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        _ex(name, "ip", "link", "set", "lo", "up")
        # Endpoint addresses on lo; Service addresses routed out of a veth so that the
        # output hook sees them (nothing here can leave the namespace).
        _ex(name, "ip", "link", "add", "svc0", "type", "veth", "peer", "name", "svc1")
        _ex(name, "ip", "link", "set", "svc0", "up")
        _ex(name, "ip", "link", "set", "svc1", "up")
        for ip in ("10.244.0.2", "10.244.0.3", "10.244.1.4"):
            _ex(name, "ip", "addr", "add", f"{ip}/32", "dev", "lo")
        _ex(name, "ip", "route", "add", "10.96.0.0/12", "dev", "svc0")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def client_netns(netns: str) -> Iterator[str]:
    """A second namespace routed through ``netns`` (its node): 10.250.9.2 and 192.0.2.10
    on a veth whose node end is 10.250.9.1, so its traffic crosses the prerouting hook."""
    name = f"kst-cli-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        _ex(netns, "ip", "link", "add", "cli0", "type", "veth", "peer", "name", "eth0",
            "netns", name)
        _ex(netns, "ip", "addr", "add", "10.250.9.1/24", "dev", "cli0")
        _ex(netns, "ip", "link", "set", "cli0", "up")
        _ex(netns, "ip", "route", "add", "192.0.2.0/24", "dev", "cli0")
        _ex(name, "ip", "link", "set", "lo", "up")
        _ex(name, "ip", "addr", "add", "10.250.9.2/24", "dev", "eth0")
        _ex(name, "ip", "addr", "add", "192.0.2.10/32", "dev", "eth0")
        _ex(name, "ip", "link", "set", "eth0", "up")
        _ex(name, "ip", "route", "add", "default", "via", "10.250.9.1", "src", "10.250.9.2")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8080)); s.listen(64)
print("ready", flush=True)
while True:
    c, _ = s.accept(); c.recv(100); c.sendall(sys.argv[1].encode()); c.close()
"""

CLIENT = """
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
src = (sys.argv[4], 0) if len(sys.argv) > 4 else None
for _ in range(n):
    c = socket.create_connection((ip, port), timeout=2, source_address=src)
    c.sendall(b"x"); print(c.recv(100).decode(), flush=True); c.close()
"""

UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2]))); s.send(b"x"); s.recv(100)
"""


class Servers:
    """TCP servers inside a namespace, one per (address, port); killed on exit."""

    def __init__(self, ns: str, addrs: list[tuple[str, int]]) -> None:
        self.procs = [subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c",
                                        SERVER, ip, str(port)], stdout=subprocess.PIPE)
                      for ip, port in addrs]

    def __enter__(self) -> Servers:
        for s in self.procs:
            assert s.stdout is not None and s.stdout.readline().strip() == b"ready"
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self.procs:
            s.kill()
            s.wait()
            if s.stdout is not None:
                s.stdout.close()


def connect(ns: str, ip: str, port: int, n: int, *, src: str = "", timeout: float = 30
            ) -> subprocess.CompletedProcess[bytes]:
    argv = ["ip", "netns", "exec", ns, sys.executable, "-c", CLIENT, ip, str(port), str(n)]
    return subprocess.run([*argv, src] if src else argv, capture_output=True, timeout=timeout)


def replies(ns: str, ip: str, port: int, n: int, *, src: str = "") -> list[str]:
    r = connect(ns, ip, port, n, src=src)
    assert r.returncode == 0, r.stderr.decode()[-300:]
    return r.stdout.decode().split()


@needs_netns
@pytest.mark.parametrize("kind", RUNNERS)
async def test_real_nftables_dnat_and_reject_in_netns(netns: str, kind: str) -> None:
    nft = make_runner(kind, netns)
    backend = NftablesBackend(nft, CFG)
    t = sample_tracker()
    await backend.sync(t.checkpoint())
    listing = await nft.run("list", "table", "ip", "kubesvc")
    assert "map service-ips" in listing
    assert "10.96.0.20 . tcp . 80 : goto service-" in listing
    assert "numgen random mod 3" in listing
    try:
        with Servers(netns, [(ip, 8080) for ip in ("10.244.0.2", "10.244.0.3",
                                                   "10.244.1.4")]):
            counts = Counter(replies(netns, "10.96.0.20", 80, 150))
            assert set(counts) == {"10.244.0.2", "10.244.0.3", "10.244.1.4"}, counts
            # The endpoint chains' counters: one packet per new connection, per endpoint.
            await backend.refresh_stats()
            seen = {ep.split(":")[0]: c.connections
                    for (svc, ep), c in backend.stats.by_endpoint.items()
                    if svc.startswith("default/web")}
            assert seen == dict(counts), (seen, counts)
            # A Service without endpoints is rejected at once (connection refused).
            r = connect(netns, "10.96.0.23", 80, 1, timeout=10)
            assert r.returncode != 0 and b"ConnectionRefusedError" in r.stderr
            # ClientIP affinity (timed sets): every connection from this client lands on
            # one of the three endpoints.
            t.slice_changed(eslice("sticky", 8080, ["10.244.0.2", "10.244.0.3",
                                                    "10.244.1.4"], pname="http"))
            await backend.sync(t.checkpoint())
            out = replies(netns, "10.96.0.21", 80, 30)
            assert len(out) == 30 and len(set(out)) == 1, Counter(out)
            # Incremental change: scale web to one endpoint.
            t.slice_changed(eslice("web", 8080, ["10.244.1.4"]))
            await backend.sync(t.checkpoint())
            assert set(replies(netns, "10.96.0.20", 80, 20)) == {"10.244.1.4"}
    finally:
        await backend.close()
    listing = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "ruleset"],
                             capture_output=True, check=True).stdout.decode()
    assert "kubesvc" not in listing


@needs_netns
async def test_routed_traffic_dnat_reject_nodeport_and_source_ranges(
        netns: str, client_netns: str) -> None:
    """From another namespace through the node's prerouting hook: DNAT, NodePort on the
    node's address, reject (TCP and UDP) for Services and NodePorts without endpoints, and
    loadBalancerSourceRanges dropping clients outside the range."""
    backend = NftablesBackend(default_runner(netns=netns), CFG)
    t = sample_tracker()
    t.service_changed(svc("np-empty", "10.96.0.24", [
        {"port": 80, "protocol": "TCP", "nodePort": 30090},
        {"name": "dns", "port": 53, "protocol": "UDP"}], type="NodePort"),
        key="default/np-empty")
    await backend.sync(t.checkpoint())
    cli = client_netns
    try:
        with Servers(netns, [("10.244.0.2", 8080), ("10.244.0.3", 8080),
                             ("10.244.1.4", 8080), ("10.244.0.3", 8443)]):
            assert len(set(replies(cli, "10.96.0.20", 80, 60))) == 3
            assert set(replies(cli, "10.250.9.1", 30080, 3)) == {"10.244.0.2"}  # NodePort
            for ip, port in (("10.96.0.23", 80), ("10.250.9.1", 30090)):
                r = connect(cli, ip, port, 1, timeout=10)
                assert b"ConnectionRefusedError" in r.stderr, (ip, port, r.stderr[-300:])
            r = subprocess.run(["ip", "netns", "exec", cli, sys.executable, "-c", UDP_CLIENT,
                                "10.96.0.24", "53"], capture_output=True, timeout=10)
            assert b"ConnectionRefusedError" in r.stderr, r.stderr[-300:]
            # The LoadBalancer IP admits 192.0.2.0/24 only (externalTrafficPolicy Local:
            # node-a's endpoint 10.244.0.3:8443).
            assert replies(cli, "10.250.0.1", 443, 2, src="192.0.2.10") == ["10.244.0.3"] * 2
            r = connect(cli, "10.250.0.1", 443, 1, src="10.250.9.2", timeout=10)
            assert b"TimeoutError" in r.stderr, r.stderr[-300:]
            # Endpoints appear for the NodePort: the same port now answers.
            t.slice_changed(eslice("np-empty", 8080, ["10.244.0.2"]))
            await backend.sync(t.checkpoint())
            assert set(replies(cli, "10.250.9.1", 30090, 2)) == {"10.244.0.2"}
    finally:
        await backend.close()


# -- the libnftables binding --------------------------------------------------------------

@needs_netns
@needs_lib
async def test_libnft_programs_its_netns_only_and_maps_errors(netns: str) -> None:
    own_ns = os.readlink("/proc/self/ns/net")
    table = f"kst_{uuid.uuid4().hex[:8]}"
    nft = LibNft(netns=netns)
    try:
        await nft.apply(f"add table ip {table}\nadd chain ip {table} c\n")
        assert "chain c" in await nft.run("list", "table", "ip", table)
        with pytest.raises(errors.InternalError, match="No such file or directory"):
            await nft.apply(f"add rule ip {table} missing-chain accept\n")
        with pytest.raises(errors.InternalError, match="syntax error"):
            await nft.run("list", "nonsense")
        # The worker thread moved; this thread (and the host's ruleset) did not.
        assert os.readlink("/proc/self/ns/net") == own_ns
        host = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
        assert table not in host.stdout
        inside = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "tables"],
                                capture_output=True, text=True, check=True)
        assert f"table ip {table}" in inside.stdout
    finally:
        await nft.close()
    await nft.close()  # idempotent
    with pytest.raises(errors.InternalError, match="closed"):
        await nft.apply(f"add table ip {table}\n")


@needs_lib
async def test_libnft_unknown_netns_fails_every_call() -> None:
    nft = LibNft(netns=f"kst-missing-{uuid.uuid4().hex[:6]}")
    try:
        for _ in range(2):
            with pytest.raises(errors.InternalError, match="No such file or directory"):
                await nft.apply("add table ip t\n")
    finally:
        await nft.close()


def test_default_runner_falls_back_without_the_library(monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    assert not libnft.available("libnftables-kst-missing.so.9")
    with pytest.raises(OSError):
        LibNft(library="libnftables-kst-missing.so.9")
    monkeypatch.setattr(libnft, "available", lambda path=libnft.LIBRARY: False)
    runner = default_runner(netns="x")
    assert isinstance(runner, SubprocessNft) and runner.netns == "x"
