"""Scale-out in host network mode: a real etcd, two ``kubesvc server`` replicas and two
``kubesvc agent`` nodes as subprocesses, driven with the real ``kubectl``.

Shows: a Deployment of agnhost netexec pods spreads over both nodes and a NodePort Service
reaches pods on both; killing the leading server hands the controllers to the other replica
(scaling afterwards still moves the endpoints); killing an agent makes its pods' endpoints
not ready within the node grace period while traffic goes on to the other node; killing
everything (etcd too) and starting it again loses no acknowledged write. As root with
HAProxy, the leader's ingress controller serves an Ingress, and after the failover the new
leader's serves the old one and a new one. A second test runs
one server on a 3-member etcd cluster and kills a member under writes.

All addresses are random inside 127.0.0.0/8; every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubesvc.ingress.haproxy import find_haproxy
from kubesvc.runtime.process import proc_start_ticks

ROOT = Path(__file__).resolve().parents[2]
KUBESVC = [sys.executable, "-m", "kubesvc.cli.main"]
ETCD = shutil.which("etcd") or ("/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else None)
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
GRACE = 4  # --node-monitor-grace-period for these tests
# the servers' ingress controller (HAProxy on :80 of the address past the LB pool)
INGRESS = os.geteuid() == 0 and find_haproxy() is not None

pytestmark = [
    pytest.mark.skipif(ETCD is None, reason="etcd binary not installed (Debian etcd-server)"),
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl on PATH"),
]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def wait_for(pred: Callable[[], Any], *, timeout: float, what: str,
             logs: Callable[[], str] = lambda: "") -> Any:
    end = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < end:
        try:
            last = pred()
        except (AssertionError, subprocess.SubprocessError, OSError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out ({timeout}s) waiting for {what}: last={last!r}\n{logs()}")


@dataclass
class Proc:
    """A subprocess with its output in a log file; restartable with the same argv."""

    name: str
    argv: list[str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=ROOT)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def term(self, timeout: float = 10) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return ""
        return f"--- {self.name} ---\n" + "\n".join(lines)

    def wait_line(self, text: str, *, timeout: float = 20, after: int = 0) -> None:
        def seen() -> bool:
            if not self.alive():
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            return text in self.log_path.read_text(errors="replace")[after:]
        wait_for(seen, timeout=timeout, what=f"{self.name}: {text!r}", logs=self.tail)

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0


def etcd_member(work: Path, name: str, cluster: dict[str, tuple[int, int]]) -> Proc:
    client, peer = cluster[name]
    initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, (_c, p) in cluster.items())
    return Proc(f"etcd-{name}", [
        str(ETCD), "--name", name, "--data-dir", str(work / f"etcd-{name}"),
        "--listen-client-urls", f"http://127.0.0.1:{client}",
        "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", initial, "--initial-cluster-state", "new",
        "--log-level", "error", "--heartbeat-interval", "20", "--election-timeout", "200"],
        work / f"etcd-{name}.log")


def wait_etcd(client_port: int) -> None:
    def healthy() -> bool:
        with urllib.request.urlopen(f"http://127.0.0.1:{client_port}/health",
                                    timeout=0.5) as r:
            return bool(json.load(r).get("health") == "true")
    wait_for(healthy, timeout=15, what=f"etcd on {client_port}")


@dataclass
class Topology:
    work: Path
    store: str
    octet: int = field(default_factory=lambda: random.randint(20, 240))
    servers: list[Proc] = field(default_factory=list)
    agents: list[Proc] = field(default_factory=list)
    api: list[tuple[str, int]] = field(default_factory=list)
    etcd: list[Proc] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.work / "server"

    def node_ip(self, i: int) -> str:
        return f"127.{self.octet}.0.{i + 1}"

    def server_url(self, i: int) -> str:
        return f"https://{self.api[i][0]}:{self.api[i][1]}"

    def add_server(self, i: int) -> Proc:
        host = f"127.{self.octet}.1.{i + 1}"
        port = free_port(host)
        self.api.append((host, port))
        argv = [*KUBESVC, "server", "--data-dir", str(self.data_dir), "--api-host", host,
                "--api-port", str(port), "--dns-addr", f"{host}:{free_port(host)}",
                "--store", self.store, "--identity", f"server-{i}",
                "--service-cidr", f"127.{self.octet}.128.0/17",
                "--lb-pool", f"127.{self.octet}.2.0/24",
                "--node-monitor-grace-period", str(GRACE),
                "--leader-elect-lease-duration", "3", "--leader-elect-renew-deadline", "2",
                "--leader-elect-retry-period", "0.5", "--endpoint-lease-duration", "3",
                "--write-kubeconfig", str(self.work / f"kubeconfig-{i}")]
        if not INGRESS:
            argv.append("--no-ingress")
        for j in range(2):
            argv += ["--tls-san", f"127.{self.octet}.1.{j + 1}"]
        p = Proc(f"server-{i}", argv, self.work / f"server-{i}.log")
        self.servers.append(p)
        return p

    def add_agent(self, i: int, token_file: Path) -> Proc:
        argv = [*KUBESVC, "agent", "--token-file", str(token_file),
                "--ca-file", str(self.data_dir / "pki" / "ca.crt"),
                "--node-name", f"node-{i}", "--node-ip", self.node_ip(i),
                "--pod-cidr", f"127.{self.octet}.{16 + i}.0/24",
                "--data-dir", str(self.work / f"agent-{i}"),
                "--node-lease-duration-seconds", "2"]
        for j in range(len(self.api)):
            argv += ["--server", self.server_url(j)]
        p = Proc(f"agent-{i}", argv, self.work / f"agent-{i}.log")
        self.agents.append(p)
        return p

    def logs(self) -> str:
        return "\n".join(p.tail() for p in [*self.servers, *self.agents, *self.etcd])

    def kubectl(self, *args: str, via: int = 0, check: bool = True,
                timeout: float = 20) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.work / f"kubeconfig-{via}")}
        r = subprocess.run(["kubectl", "--request-timeout=10s", *args], capture_output=True,
                           text=True, env=env, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} (via server-{via}) failed:\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def json(self, *args: str, via: int = 0) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", via=via).stdout)

    def stop_all(self) -> None:
        for p in self.agents:
            p.term()
        for i in range(len(self.agents)):
            reap_pods(self.work / f"agent-{i}")
        for p in self.servers:
            p.term()
        for p in self.etcd:
            p.term()


@pytest.fixture
def work() -> Iterator[Path]:
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    d = Path(tempfile.mkdtemp(prefix="kubesvc-scaleout-", dir=base))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def reap_pods(agent_dir: Path) -> None:
    """Kill pod processes an agent killed with SIGKILL left behind (each runs in its own
    session; the agent records pid and start time per container)."""
    for rec_path in (agent_dir / "node" / "containers").glob("*.json"):
        try:
            rec = json.loads(rec_path.read_text())
            pid = int(rec.get("pid") or 0)
        except (OSError, ValueError):
            continue
        if pid > 0 and proc_start_ticks(pid) == rec.get("ticks"):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass


class Load(threading.Thread):
    """Sequential GETs round-robin over ``urls`` until stopped, at most ``max_requests``
    and ``max_seconds``; records (ok, answer) per request."""

    def __init__(self, urls: list[str], *, max_requests: int = 3000,
                 max_seconds: float = 40) -> None:
        super().__init__(daemon=True)
        self.urls = urls
        self.max_requests = max_requests
        self.deadline = time.monotonic() + max_seconds
        self.halt = threading.Event()
        self.results: list[str | None] = []

    def run(self) -> None:
        n = 0
        while (not self.halt.is_set() and n < self.max_requests
               and time.monotonic() < self.deadline):
            self.results.append(get_url(self.urls[n % len(self.urls)]))
            n += 1
            time.sleep(0.005)

    def finish(self) -> list[str | None]:
        self.halt.set()
        self.join(10)
        return self.results


def get_url(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return str(r.read().decode().strip())
    except (urllib.error.URLError, OSError):
        return None


def ready_endpoints(t: Topology, service: str, via: int) -> dict[str, bool]:
    """pod name -> ready, from the Service's EndpointSlices."""
    out: dict[str, bool] = {}
    slices = t.json("get", "endpointslices", "-l", f"kubernetes.io/service-name={service}",
                    via=via)
    for sl in slices["items"]:
        for ep in sl.get("endpoints") or []:
            name = (ep.get("targetRef") or {}).get("name", "")
            out[name] = bool((ep.get("conditions") or {}).get("ready"))
    return out


def pods_by_node(t: Topology, via: int) -> dict[str, str]:
    pods = t.json("get", "pods", "-l", "app=web", via=via)
    return {p["metadata"]["name"]: p["spec"].get("nodeName", "") for p in pods["items"]
            if not p["metadata"].get("deletionTimestamp")}


def test_two_servers_two_agents_survive_failures(work: Path) -> None:
    cport, pport = free_port(), free_port()
    t = Topology(work, f"etcd://127.0.0.1:{cport}")
    t.etcd.append(etcd_member(work, "e0", {"e0": (cport, pport)}).start())
    try:
        _scenario(t, cport)
    finally:
        t.stop_all()


def _scenario(t: Topology, etcd_port: int) -> None:
    wait_etcd(etcd_port)
    s0 = t.add_server(0).start()
    s0.wait_line("is ready")
    s1 = t.add_server(1).start()
    s1.wait_line("is ready")
    token = subprocess.run([*KUBESVC, "token", "create", "--kubeconfig",
                            str(t.work / "kubeconfig-0"), "--ttl", "1h"],
                           capture_output=True, text=True, check=True,
                           cwd=ROOT, timeout=20).stdout.strip()
    assert token
    token_file = t.work / "token"
    token_file.write_text(token + "\n")
    # Both servers accept the new token (its Secret is in the shared store).
    for url in (t.server_url(0), t.server_url(1)):
        assert not _token_works(url, "not-a-token", t.data_dir)
        wait_for(lambda url=url: _token_works(url, token, t.data_dir),  # type: ignore[misc]
                 timeout=10, what=f"{url} accepting the bootstrap token", logs=t.logs)
    for i in range(2):
        t.add_agent(i, token_file).start()
    for a in t.agents:
        a.wait_line("is ready")

    # The kubernetes Service lists both servers.
    def both_api_endpoints(via: int) -> bool:
        eps = t.json("get", "endpoints", "kubernetes", "-n", "default", via=via)
        have = {(a["ip"], p["port"]) for s in eps.get("subsets") or []
                for a in s["addresses"] for p in s["ports"]}
        return have == set(t.api)
    wait_for(lambda: both_api_endpoints(1), timeout=10, what="kubernetes endpoints",
             logs=t.logs)
    lease = t.json("get", "lease", "-n", "kube-system", "kubesvc-controller-manager")
    leader = lease["spec"]["holderIdentity"]
    assert leader in ("server-0", "server-1")
    assert lease["spec"]["leaseDurationSeconds"] == 3

    # A Deployment spreads over both nodes; a NodePort Service reaches pods on both.
    t.kubectl("create", "deployment", "web", f"--image={AGNHOST}", "--replicas=4", "--",
              "/agnhost", "netexec", "--http-port=8080", via=1)
    t.kubectl("expose", "deployment", "web", "--port=80", "--target-port=8080",
              "--type=NodePort", via=0)
    node_port = t.json("get", "svc", "web")["spec"]["ports"][0]["nodePort"]
    wait_for(lambda: sum(ready_endpoints(t, "web", 0).values()) == 4, timeout=30,
             what="4 ready web endpoints", logs=t.logs)
    placement = pods_by_node(t, 0)
    assert set(placement.values()) == {"node-0", "node-1"}, placement
    seen: set[str] = set()
    answers: list[str | None] = []

    def reached_both() -> bool:
        for n in range(10):  # bounded: 10 requests a round, rounds bounded by wait_for
            name = get_url(f"http://{t.node_ip(n % 2)}:{node_port}/hostname")
            answers.append(name)
            if name:
                seen.add(name)
        return {placement.get(p) for p in seen} == {"node-0", "node-1"}
    wait_for(reached_both, timeout=10, what="answers from pods on both nodes",
             logs=lambda: f"{answers[-20:]} {placement}\n{t.logs()}")
    if INGRESS:  # the leader's ingress controller serves an Ingress (one per cluster)
        _ingress_routes(t, "web-a.test", via=0)

    # Kill the leading server: the other takes over, and the controllers keep working.
    lead, other = (0, 1) if leader == "server-0" else (1, 0)
    load = Load([f"http://{t.node_ip(i)}:{node_port}/hostname" for i in range(2)])
    load.start()
    t.servers[lead].kill()
    wait_for(lambda: t.json("get", "lease", "-n", "kube-system", "kubesvc-controller-manager",
                            via=other)["spec"]["holderIdentity"] == f"server-{other}",
             timeout=15, what="the other server to lead", logs=t.logs)
    lease2 = t.json("get", "lease", "-n", "kube-system", "kubesvc-controller-manager",
                    via=other)
    assert lease2["spec"]["leaseTransitions"] == lease["spec"]["leaseTransitions"] + 1
    t.kubectl("scale", "deployment", "web", "--replicas=6", via=other)
    wait_for(lambda: sum(ready_endpoints(t, "web", other).values()) == 6, timeout=30,
             what="6 ready endpoints after scaling on the new leader", logs=t.logs)
    wait_for(lambda: [(a["ip"]) for s in t.json("get", "endpoints", "kubernetes", "-n",
                                                 "default", via=other)["subsets"]
                      for a in s["addresses"]] == [t.api[other][0]],
             timeout=10, what="the dead server out of the kubernetes endpoints",
             logs=t.logs)
    results = load.finish()
    # The data plane does not depend on a control-plane replica: no request failed.
    assert len(results) > 10 and None not in results, results
    if INGRESS:  # the new leader runs the ingress controller: a new Ingress is served
        _ingress_routes(t, "web-b.test", via=other)
        _ingress_routes(t, "web-a.test", via=other, create=False)


    # Kill agent 1: its pods' endpoints go not ready within the grace period (plus a
    # heartbeat), traffic goes on through node 0 to node 0's pods.
    placement = pods_by_node(t, other)
    load = Load([f"http://{t.node_ip(0)}:{node_port}/hostname"])
    load.start()
    t.agents[1].kill()
    killed_at = time.monotonic()
    wait_for(lambda: all(not ready for pod, ready in ready_endpoints(t, "web", other).items()
                         if placement.get(pod) == "node-1"),
             timeout=GRACE + 10, what="node-1 endpoints not ready", logs=t.logs)
    assert time.monotonic() - killed_at < GRACE + 10
    eps = ready_endpoints(t, "web", other)
    assert {p for p, r in eps.items() if r} == {p for p, n in placement.items()
                                                 if n == "node-0"}
    results = load.finish()
    assert len(results) > 10 and None not in results, results  # traffic went on
    served: list[str | None] = []
    for _ in range(30):  # bounded
        served.append(get_url(f"http://{t.node_ip(0)}:{node_port}/hostname"))
    assert None not in served
    assert {placement[s] for s in served if s} == {"node-0"}

    # Acknowledged writes, then kill everything (etcd too) and start it all again.
    acked = []
    for i in range(10):
        r = t.kubectl("create", "configmap", f"ack-{i}", f"--from-literal=i={i}",
                      via=other, check=False)
        if r.returncode == 0:
            acked.append(f"ack-{i}")
    assert len(acked) == 10
    for p in [*t.agents, *t.servers, *t.etcd]:
        p.kill()
    for p in t.etcd:
        p.start()
    wait_etcd(etcd_port)
    for p in t.servers:
        size = p.log_size()
        p.start()
        p.wait_line("is ready", after=size)
    for p in t.agents:
        size = p.log_size()
        p.start()
        p.wait_line("is ready", after=size)
    names = {c["metadata"]["name"] for c in t.json("get", "configmaps", via=lead)["items"]}
    assert set(acked) <= names
    assert t.json("get", "deployment", "web", via=lead)["spec"]["replicas"] == 6
    wait_for(lambda: sum(ready_endpoints(t, "web", lead).values()) == 6, timeout=30,
             what="all 6 endpoints ready after the restart", logs=t.logs)
    assert get_url(f"http://{t.node_ip(1)}:{node_port}/hostname") in pods_by_node(t, lead)


def _ingress_routes(t: Topology, host: str, *, via: int, create: bool = True) -> None:
    """An Ingress for ``host`` to Service web reaches a web pod through the ingress
    address (127.O.3.1, just past the LB pool) and gets that address in its status."""
    address = f"127.{t.octet}.3.1"
    name = host.split(".")[0]
    if create:
        t.kubectl("create", "ingress", name, f"--rule={host}/*=web:80", via=via)

    def routed() -> bool:
        st = t.json("get", "ingress", name, via=via).get("status") or {}
        if [e.get("ip") for e in st.get("loadBalancer", {}).get("ingress") or []] != [address]:
            return False
        req = urllib.request.Request(f"http://{address}/hostname", headers={"Host": host})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                return r.read().decode().startswith("web-")
        except (urllib.error.URLError, OSError):
            return False
    wait_for(routed, timeout=20, what=f"Ingress {host} routed by the leader", logs=t.logs)


def _token_works(url: str, token: str, data_dir: Path) -> bool:
    import ssl

    ctx = ssl.create_default_context(cafile=str(data_dir / "pki" / "ca.crt"))
    req = urllib.request.Request(f"{url}/api/v1/namespaces/default",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
            return bool(r.status == 200)
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return False
        raise


def test_three_member_etcd_keeps_taking_writes_when_one_dies(work: Path) -> None:
    members = {f"e{i}": (free_port(), free_port()) for i in range(3)}
    store = "etcd://" + ",".join(f"127.0.0.1:{c}" for c, _p in members.values())
    t = Topology(work, store)
    t.etcd = [etcd_member(work, n, members).start() for n in members]
    try:
        for c, _p in members.values():
            wait_etcd(c)
        s = t.add_server(0).start()
        s.wait_line("is ready")
        for i in range(5):
            t.kubectl("create", "configmap", f"before-{i}")
        t.etcd[0].kill()  # the first endpoint: the server's client is connected to it
        acked: list[str] = []
        for i in range(10):  # bounded: each write retried at most 5 times
            for _attempt in range(5):
                r = t.kubectl("create", "configmap", f"after-{i}", check=False)
                if r.returncode == 0 or "AlreadyExists" in r.stderr:
                    acked.append(f"after-{i}")
                    break
                time.sleep(0.3)
        assert len(acked) == 10, t.logs()
        names = {c["metadata"]["name"] for c in t.json("get", "configmaps")["items"]}
        assert {f"before-{i}" for i in range(5)} | set(acked) <= names
    finally:
        t.stop_all()
