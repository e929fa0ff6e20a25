"""The node agents of a netns cluster: ``kubesvc up --network netns`` starts one ``kubesvc
agent`` process per node, inside the node's network namespace, as a kubelet + kube-proxy
run on each node of a real cluster.

Each agent reaches the API server over the cluster network (``https://172.20.0.1:6443``,
relayed to the ApiServer's TLS unix socket by :mod:`.apirelay`) and joins as a node does
with kubeadm: with a bootstrap token (``DATA_DIR/nodes/bootstrap-token``, made by
:mod:`.up` at each start) it gets its own client certificate for ``system:node:<name>``
through a CertificateSigningRequest (TLS bootstrapping, :mod:`.nodecert`), kept in
``DATA_DIR/nodes/<node>/pki`` and reused on the next start. It keeps its pods, their
logs and its records under ``DATA_DIR/nodes/<node>/``, serves pod logs on
``DATA_DIR/nodes/<node>/logs.sock`` (:mod:`.podlogs`), programs nftables in its namespace
and announces the LoadBalancer IPs it is elected for on ``eth0``.

An agent's output is relayed to this process's stderr, prefixed with the node name; its
"ready" line marks it ready. An agent that dies is reported and not restarted (as a dead
kubelet is not): its Node goes NotReady after the node-monitor grace period and its pods'
endpoints with it; the LoadBalancer IPs it announced are withdrawn from its interface at
once (an announcement lives as long as its announcer), so that only the node taking them
over answers for them. On stop the agents get SIGTERM (they stop their pods), then SIGKILL.
Called by :mod:`.up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from kubesvc.cli import netns as topology
from kubesvc.runtime import cgroups
from kubesvc.runtime.process import die_with_parent

log = logging.getLogger("kubesvc.up")
READY_MARK = b" is ready in "


PROXY_METRICS_PORT = 10249  # kube-proxy's


@dataclass(slots=True)
class AgentProcess:
    node: topology.NodeNet
    data_dir: Path
    argv: list[str]
    proc: asyncio.subprocess.Process | None = None
    ready: bool = False
    exit_code: int | None = None

    @property
    def log_socket(self) -> Path:
        return self.data_dir / "logs.sock"


def write_bootstrap_token(token: str, path: Path) -> Path:
    """The agents' join token, in a 0600 file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return path


class NetnsAgents:
    def __init__(
        self,
        topo: topology.Topology,
        *,
        data_dir: Path,
        server: str,
        bootstrap_token: Path,
        ca_file: Path,
        dns_cluster_ip: str,
        cluster_domain: str,
        runtime: str,
        proxy: str,
        lease_duration: int,
        image_map: Path | None = None,
        log_level: str = "info",
        client_ca: Path | None = None,
    ) -> None:
        """``client_ca``: the cluster CA (the API server's ``pki/ca.crt``), whose
        ``kube-apiserver-kubelet-client`` certificate the agents' streaming servers
        accept."""
        self.agents: list[AgentProcess] = []
        self._stopping = False
        for node in topo.nodes:
            d = data_dir / node.name
            argv = [
                sys.executable, "-m", "kubesvc.cli.main", "--log-level", log_level, "agent",
                "--server", server, "--token-file", str(bootstrap_token),
                "--ca-file", str(ca_file),
                "--node-name", node.name, "--node-ip", node.ip, "--pod-cidr", node.pod_cidr,
                "--network", "netns", "--netns", node.netns,
                "--pod-netns-prefix", topology.pod_netns_prefix(topo, node),
                "--proxy", proxy, "--cluster-cidr", topology.CLUSTER_POD_CIDR,
                "--cluster-dns", dns_cluster_ip, "--cluster-domain", cluster_domain,
                "--runtime", runtime, "--data-dir", str(d),
                "--node-lease-duration-seconds", str(lease_duration),
                "--log-socket", str(d / "logs.sock"),
                "--streaming-port", "10250",
                "--lb-announce-interface", "eth0", "--exit-with-parent",
                # on the node's address, so that `kubesvc up` can scrape it for the UI
                "--metrics-bind-address", f"{node.ip}:{PROXY_METRICS_PORT}",
            ]
            if image_map is not None:
                argv += ["--image-map", str(image_map)]
            if client_ca is not None:
                argv += ["--client-ca-file", str(client_ca)]
            self.agents.append(AgentProcess(node, d, argv))

    def synced(self) -> bool:
        return all(a.ready for a in self.agents)

    async def start(self) -> None:
        for a in self.agents:
            a.data_dir.mkdir(parents=True, exist_ok=True)
            a.proc = await asyncio.create_subprocess_exec(
                *a.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                # An agent (and, through it, its pods) dies with this process, even kill -9.
                preexec_fn=partial(die_with_parent, os.getpid()))

    async def run(self, stop: asyncio.Event) -> None:
        """Relay the agents' output and report deaths until ``stop``; then stop them."""
        watchers = [asyncio.create_task(self._watch(a), name=f"agent-watch {a.node.name}")
                    for a in self.agents]
        try:
            await stop.wait()
        finally:
            self._stopping = True
            await self.terminate()
            await asyncio.gather(*watchers, return_exceptions=True)

    async def _watch(self, a: AgentProcess) -> None:
        assert a.proc is not None
        relay = asyncio.create_task(self._relay(a), name=f"agent-relay {a.node.name}")
        try:
            a.exit_code = await a.proc.wait()
            # Pods may hold the output pipe open (their processes inherit stray fds), so
            # the agent's exit, not EOF, ends the relay; let it drain the last lines.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(relay), 0.5)
        finally:
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
        if not self._stopping:
            log.error("the agent of %s exited (code %s) and is not restarted: its Node "
                      "goes NotReady after the node-monitor grace period", a.node.name,
                      a.exit_code)
            await withdraw_announcements(a.node.netns)


    async def _relay(self, a: AgentProcess) -> None:
        assert a.proc is not None and a.proc.stdout is not None
        prefix = f"[{a.node.name}] ".encode()
        out = sys.stderr.buffer
        while line := await a.proc.stdout.readline():
            if not a.ready and READY_MARK in line:
                a.ready = True
            out.write(prefix + line)
            out.flush()

    async def terminate(self, *, grace: float = 10.0) -> None:
        running = [a.proc for a in self.agents
                   if a.proc is not None and a.proc.returncode is None]
        for p in running:
            with contextlib.suppress(ProcessLookupError):
                p.send_signal(signal.SIGTERM)
        if running:
            _, pending = await asyncio.wait(
                [asyncio.ensure_future(p.wait()) for p in running], timeout=grace)
            for p in running:
                if p.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.kill()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        # An agent that died (kill -9, a crash) left its containers' cgroups (and what is
        # in them): the cluster is going away, so they go too.
        for a in self.agents:
            await asyncio.to_thread(cgroups.purge, a.data_dir / "node")


async def withdraw_announcements(netns: str, interface: str = "eth0") -> None:
    """Drop the LoadBalancer IPs (the ``/32``s) a dead agent left on its node's interface:
    an announcement lives as long as its announcer, as a MetalLB speaker's ARP answers do,
    so the node that takes the IP over is the only one answering for it."""
    async def ip(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            "ip", "-n", netns, *args, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        out, _ = await proc.communicate()
        return out.decode()

    for line in (await ip("-o", "-4", "addr", "show", "dev", interface)).splitlines():
        parts = line.split()
        if "inet" in parts and parts[parts.index("inet") + 1].endswith("/32"):
            addr = parts[parts.index("inet") + 1]
            await ip("addr", "del", addr, "dev", interface)
            log.info("withdrew %s from %s (its announcer is gone)", addr, netns)
