"""Benchmark ``proxy_nftables``: HTTP through the kubesvc nftables data plane (a ClusterIP
DNAT through the ``service-ips`` verdict map holding 1,000 Services) vs direct to the same
backend, with the cluster's shape: a client pod and a backend pod, each in its own network
namespace, on two pod bridges of a node namespace that holds the ruleset. Direct traffic is
routed through the same node and conntrack, so the ratio is the cost of the DNAT itself
(the comparison DESIGN.md asks for). Root only; the namespaces are deleted afterwards and
no address exists outside them.

Backends: one HAProxy process answering ``200 ok`` on three pod addresses; the Service
10.96.0.20:80 balances over them. Load: ``wrk`` in the client pod, keep-alive and one
connection per request. Target (issue 6): at least 0.95x direct. Called by
:mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from typing import Any

from benchmarks import wrk
from benchmarks.common import ratio, run_cmd, start
from benchmarks.proxy_userspace import haproxy_backends_cfg
from kubesvc.proxy.nftables.backend import NftablesBackend
from kubesvc.proxy.nftables.nft import SubprocessNft
from kubesvc.proxy.nftables.rules import NftConfig
from kubesvc.proxy.tracker import ChangeTracker

NAME = "proxy_nftables"
BACKENDS = ["10.244.0.2", "10.244.0.3", "10.244.0.4"]
# Each path gets backend addresses of its own (the same HAProxy process): a connection's
# conntrack entry lingers in TIME_WAIT, and a DNAT whose reply tuple collides with the
# previous run's entries must hunt for a free source port, which would bias the result.
DIRECT = "10.244.0.5"
FLOOR = "10.244.0.6"
PORT = 8080
CLUSTER_IP = "10.96.0.20"

# The floor of kernel NAT: the kubesvc table swapped for one bare DNAT rule.
FLOOR_RULES = f"""delete table ip kubesvc
table ip floor {{
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {CLUSTER_IP} tcp dport 80 dnat to {FLOOR}:{PORT}
  }}
  chain post {{
    type nat hook postrouting priority srcnat; policy accept;
  }}
}}
"""


def _sh(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True)


def _service(name: str, ip: str, endpoints: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    svc = {"metadata": {"name": name, "namespace": "default"},
           "spec": {"clusterIP": ip, "clusterIPs": [ip],
                    "ports": [{"port": 80, "protocol": "TCP", "targetPort": PORT}]}}
    sl = {"metadata": {"name": f"{name}-1", "namespace": "default",
                       "labels": {"kubernetes.io/service-name": name}},
          "ports": [{"port": PORT, "protocol": "TCP"}],
          "endpoints": [{"addresses": [e], "conditions": {"ready": True}} for e in endpoints]}
    return svc, sl


async def _program(ns: str, services: int) -> None:
    tracker = ChangeTracker()
    svc, sl = _service("web", CLUSTER_IP, BACKENDS)
    tracker.service_changed(svc, key="default/web")
    tracker.slice_changed(sl)
    for i in range(services - 1):  # fill the verdict map like a busy cluster
        ip = f"10.97.{i // 250}.{i % 250 + 1}"
        s, e = _service(f"filler-{i}", ip, [f"10.245.{i // 250}.{i % 250 + 1}"])
        tracker.service_changed(s, key=f"default/filler-{i}")
        tracker.slice_changed(e)
    backend = NftablesBackend(SubprocessNft(netns=ns),
                              NftConfig(node_name="bench", pod_cidr="10.244.0.0/16"))
    await backend.sync(tracker.checkpoint())


def run(quick: bool) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {"skipped": "needs root (network namespace and nftables)"}
    for tool in ("ip", "nft", "haproxy", "wrk"):
        if not shutil.which(tool):
            return {"skipped": f"needs {tool}"}
    seconds = 3 if quick else 8
    services = 1000
    tag = uuid.uuid4().hex[:6]
    ns, client, pods = f"kbench-nft-{tag}", f"kbench-cli-{tag}", f"kbench-pod-{tag}"
    ex = ["ip", "netns", "exec", client]
    for name in (ns, client, pods):
        _sh("ip", "netns", "add", name)
    try:
        for key in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"):
            _sh("ip", "netns", "exec", ns, "sh", "-c",
                f"[ ! -e /proc/sys/{key} ] || echo 1 > /proc/sys/{key}")
        # Two pod subnets on the node, so direct traffic is routed through the node just
        # like Service traffic and the two paths differ only by the DNAT.
        for br, gw, name, addrs in (("br0", "10.244.0.1", pods, [*BACKENDS, DIRECT, FLOOR]),
                                    ("br1", "10.244.1.1", client, ["10.244.1.10"])):
            _sh("ip", "-n", ns, "link", "add", br, "type", "bridge")
            _sh("ip", "-n", ns, "addr", "add", f"{gw}/24", "dev", br)
            _sh("ip", "-n", ns, "link", "set", br, "up")
            port = "p" + br
            _sh("ip", "-n", ns, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                "netns", name)
            _sh("ip", "-n", ns, "link", "set", port, "master", br, "up")
            _sh("ip", "-n", name, "link", "set", "lo", "up")
            for a in addrs:
                _sh("ip", "-n", name, "addr", "add", f"{a}/24", "dev", "eth0")
            _sh("ip", "-n", name, "link", "set", "eth0", "up")
            _sh("ip", "-n", name, "route", "add", "default", "via", gw)
        asyncio.run(_program(ns, services))
        cfg = f"/tmp/kubesvc-bench-{ns}.cfg"
        with open(cfg, "w") as fh:
            fh.write(haproxy_backends_cfg([*BACKENDS, DIRECT, FLOOR], PORT))
        backends = start(["ip", "netns", "exec", pods, "haproxy", "-db", "-f", cfg],
                         name="nft-backends", quiet=True)
        try:
            run_cmd([*ex, "sh", "-c", f"for i in $(seq 50); do curl -s -m1 "
                     f"http://{BACKENDS[0]}:{PORT}/ && exit 0; sleep 0.1; done; exit 1"],
                    timeout=15)
            runs: dict[str, dict[str, Any]] = {"keepalive": {}, "close": {}}

            def measure(label: str, url: str) -> None:
                for mode, close in (("keepalive", False), ("close", True)):
                    argv = [*ex, *wrk.wrk_argv(url, seconds=seconds, close=close)]
                    done = run_cmd(argv, timeout=seconds + 30)
                    res = wrk.parse(done.stdout)
                    res["command"] = " ".join(argv)
                    runs[mode][label] = res

            measure("direct", f"http://{DIRECT}:{PORT}/")
            measure("kubesvc-nftables", f"http://{CLUSTER_IP}/")
            # The floor of kernel NAT: the kubesvc table swapped for one bare DNAT rule
            # to the same backend (a second peer, same run, same topology).
            subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], check=True,
                           capture_output=True, input=FLOOR_RULES.encode())
            measure("single dnat rule", f"http://{CLUSTER_IP}/")
        finally:
            backends.stop()
            os.unlink(cfg)
    finally:
        for name in (ns, client, pods):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
    ratios = {m: ratio(by["kubesvc-nftables"].get("rps"), by["direct"].get("rps"))
              for m, by in runs.items()}
    floor = {m: ratio(by["kubesvc-nftables"].get("rps"), by["single dnat rule"].get("rps"))
             for m, by in runs.items()}
    rows = []
    for mode, by in runs.items():
        for label, res in by.items():
            rows.append([mode, label, res.get("rps"), res.get("p99_ms"),
                         res.get("socket_errors"),
                         ratio(res.get("rps"), by["direct"].get("rps"))
                         if label != "direct" else ""])
    met = {m: bool((v or 0) >= 0.95) for m, v in ratios.items()}
    return {
        "runs": runs, "ratios": ratios, "vs_single_dnat_rule": floor,
        "services": services,
        "notes": [
            f"A node namespace with the nftables ruleset of {services} Services and two pod "
            "bridges: a backend pod (HAProxy `200 ok` on 10.244.0.2-4) on one, a client pod "
            "10.244.1.10 on the other; all deleted afterwards. Both paths are routed by the "
            "node: direct = client -> 10.244.0.5:8080, Service = client -> 10.96.0.20:80 "
            f"(DNAT in the node). wrk -c50 -t2 for {seconds} s in the client pod.",
            "Ratio = req/s / direct req/s. Target: kubesvc >= 0.95x direct. The third path "
            "replaces the whole kubesvc table with one bare `dnat to` rule: the floor of "
            "kernel NAT on this machine, so kubesvc/single-rule isolates what the ruleset "
            "itself costs: "
            + ", ".join(f"{m} {v:.2f}x" for m, v in floor.items() if v is not None) + ".",
        ],
        "head": ["mode", "path", "req/s", "p99 ms", "socket errors", "ratio vs direct"],
        "rows": rows,
        "commands": [runs["keepalive"]["kubesvc-nftables"]["command"],
                     runs["close"]["kubesvc-nftables"]["command"]],
        "plot": {"title": "nftables data plane vs direct (req/s)", "ylabel": "req/s",
                 "series": "req/s",
                 "bars": {f"{m} {lb}": float(res.get("rps") or 0)
                          for m, by in runs.items() for lb, res in by.items()}},
        "targets": {"ratio_min": 0.95},
        "met": met,
    }
