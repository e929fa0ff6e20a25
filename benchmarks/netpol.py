"""Benchmark ``netpol``: NetworkPolicy enforcement (issue 23) in the kernel data plane.

Data plane: two identical node namespaces (the cluster's shape: a client pod and a
backend pod, each in its own namespace, on two pod bridges of a node namespace). Node
``policies`` holds kubesvc's ``kubesvc-netpol`` table rendered by
:mod:`kubesvc.netpol.render` for 1,000 NetworkPolicies that all select the backend pod
(each allowing a different source: 999 from pod selectors matching 2,000 other pods and
ipBlocks, the client allowed by the last one); node ``none`` holds the same table for a
cluster without policies (empty sets: what every netns node runs). Both have conntrack on.
wrk (keep-alive: request rate; ``Connection: close``: new-connection rate) runs against
each node in interleaved rounds; the ratio is the median of per-round ratios. Target:
>= 0.95x.

Programming latency: an in-process API server registry, informers and the real
:class:`~kubesvc.netpol.controller.NetpolController` programming a namespace through
libnftables, with the same 1,000 policies and 2,000 pods in place; then policies are
created one at a time, each timed from the create call to the kernel having committed
the transaction that holds it. Target: p99 < 100 ms. Root only; every namespace is
deleted afterwards. Called by :mod:`benchmarks.run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

from benchmarks import wrk
from benchmarks.common import run_cmd, start
from benchmarks.proxy_nftables import CT_FLUSH, DIRECT_RULES
from benchmarks.proxy_userspace import haproxy_backends_cfg
from kubesvc.netpol.model import namespace_from, pod_from, policy_from
from kubesvc.netpol.render import render, transaction

NAME = "netpol"
BACKEND = "10.244.0.2"
CLIENT = "10.244.1.10"
PORT = 8080
POLICIES = 1000
OTHER_PODS = 2000
MODES = ("keepalive", "close")
PATHS = ("none", "policies")


def _sh(*argv: str, data: bytes | None = None) -> None:
    r = subprocess.run(list(argv), capture_output=True, input=data)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])}: {r.stderr.decode().strip()}")


# -- the cluster the rules are rendered for ------------------------------------------------

def _pod(name: str, ip: str, node: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "bench", "name": name, "labels": labels},
            "spec": {"nodeName": node, "containers": [
                {"name": "c", "ports": [{"name": "http", "containerPort": PORT}]}]},
            "status": {"podIP": ip, "phase": "Running"}}


def cluster_objects() -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                               list[dict[str, Any]]]:
    """(policies, pods, namespaces): 1,000 policies selecting ``app=web``, each allowing
    one group of other pods (2 each), every 10th an ipBlock; the last allows the client."""
    pods = [_pod("web", BACKEND, "bench", app="web"),
            _pod("client", CLIENT, "other", app="client")]
    for i in range(OTHER_PODS):
        pods.append(_pod(f"p{i}", f"10.245.{i // 250}.{i % 250 + 1}", "other",
                         group=f"g{i // 2}"))
    pols: list[dict[str, Any]] = []
    for i in range(POLICIES - 1):
        peer: dict[str, Any] = ({"ipBlock": {"cidr": f"192.168.{i % 250}.0/24"}}
                                if i % 10 == 9 else
                                {"podSelector": {"matchLabels": {"group": f"g{i}"}}})
        pols.append(policy_obj(f"np-{i}", peer, port=PORT if i % 2 else None))
    pols.append(policy_obj("allow-client", {"podSelector": {"matchLabels":
                                                            {"app": "client"}}}, port=PORT))
    return pols, pods, [{"metadata": {"name": "bench", "labels": {"team": "bench"}}}]


def policy_obj(name: str, peer: dict[str, Any], *, port: int | None) -> dict[str, Any]:
    rule: dict[str, Any] = {"from": [peer]}
    if port is not None:
        rule["ports"] = [{"protocol": "TCP", "port": port}]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"namespace": "bench", "name": name},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                     "policyTypes": ["Ingress"], "ingress": [rule]}}


def ruleset(with_policies: bool) -> tuple[str, float, int]:
    """The table for node ``bench``, the time to render it, and its element count."""
    pols, pods, nss = cluster_objects()
    t0 = time.perf_counter()
    st = render([policy_from(p) for p in pols] if with_policies else [],
                [p for p in (pod_from(o) for o in pods) if p is not None],
                [namespace_from(n) for n in nss], node_name="bench")
    took = time.perf_counter() - t0
    return transaction(None, st), took, st.count()


# -- data plane ----------------------------------------------------------------------------

@contextlib.contextmanager
def _nodes(tag: str) -> Iterator[dict[str, tuple[str, str, str]]]:
    """Per path: (node, client, pods) namespaces, built and torn down."""
    nodes = {p: (f"knp-{p[0]}n-{tag}", f"knp-{p[0]}c-{tag}", f"knp-{p[0]}p-{tag}")
             for p in PATHS}
    procs = []
    with tempfile.NamedTemporaryFile("w", prefix="kubesvc-bench-", suffix=".cfg") as cfg:
        cfg.write(haproxy_backends_cfg([BACKEND], PORT))
        cfg.flush()
        try:
            for path, (node, client, pods) in nodes.items():
                for name in (node, client, pods):
                    _sh("ip", "netns", "add", name)
                _sh("ip", "netns", "exec", node, "sh", "-c",
                    "echo 1 > /proc/sys/net/ipv4/ip_forward")
                for br, gw, name, addr in (("br0", "10.244.0.1", pods, BACKEND),
                                           ("br1", "10.244.1.1", client, CLIENT)):
                    _sh("ip", "-n", node, "link", "add", br, "type", "bridge")
                    _sh("ip", "-n", node, "addr", "add", f"{gw}/24", "dev", br)
                    _sh("ip", "-n", node, "link", "set", br, "up")
                    _sh("ip", "-n", node, "link", "add", "p" + br, "type", "veth", "peer",
                        "name", "eth0", "netns", name)
                    _sh("ip", "-n", node, "link", "set", "p" + br, "master", br, "up")
                    _sh("ip", "-n", name, "link", "set", "lo", "up")
                    _sh("ip", "-n", name, "addr", "add", f"{addr}/24", "dev", "eth0")
                    _sh("ip", "-n", name, "link", "set", "eth0", "up")
                    _sh("ip", "-n", name, "route", "add", "default", "via", gw)
                _sh("ip", "netns", "exec", node, "nft", "-f", "-",
                    data=DIRECT_RULES.encode())
                text, _, _ = ruleset(path == "policies")
                _sh("ip", "netns", "exec", node, "nft", "-f", "-", data=text.encode())
                procs.append(start(["ip", "netns", "exec", pods, "haproxy", "-db", "-f",
                                    cfg.name], name=f"netpol-backend-{path}", quiet=True))
                run_cmd(["ip", "netns", "exec", client, "sh", "-c",
                         f"for i in $(seq 50); do curl -s -m1 http://{BACKEND}:{PORT}/ "
                         "&& exit 0; sleep 0.1; done; exit 1"], timeout=15).check_returncode()
            yield nodes
        finally:
            for p in procs:
                p.stop()
            for names in nodes.values():
                for name in names:
                    subprocess.run(["ip", "netns", "del", name], capture_output=True)


def _wrk(node: str, client: str, *, seconds: int, close: bool) -> dict[str, Any]:
    _sh("ip", "netns", "exec", node, "python3", "-c", CT_FLUSH)
    argv = ["ip", "netns", "exec", client,
            *wrk.wrk_argv(f"http://{BACKEND}:{PORT}/", seconds=seconds, close=close)]
    res = wrk.parse(run_cmd(argv, timeout=seconds + 30).stdout)
    res["command"] = " ".join(argv)
    return res


def _denied(node: str, client: str) -> bool:
    """A client the policies do not allow is refused on the policies node (the rules
    are live): curl from a second address of the client pod."""
    _sh("ip", "-n", client, "addr", "add", "10.244.1.99/24", "dev", "eth0")
    r = subprocess.run(["ip", "netns", "exec", client, "curl", "-s", "-m2", "--interface",
                        "10.244.1.99", f"http://{BACKEND}:{PORT}/"], capture_output=True)
    return r.returncode != 0


# -- programming latency -------------------------------------------------------------------

async def _programming(samples: int) -> dict[str, Any]:
    from kubesvc.apiserver.registry.core import Registry
    from kubesvc.informers import Informer
    from kubesvc.netpol.controller import POLICIES as KEY
    from kubesvc.netpol.controller import NetpolController
    from kubesvc.proxy.nftables.nft import default_runner
    from kubesvc.storage.memory import MemoryStore

    ns_name = f"knp-prog-{uuid.uuid4().hex[:6]}"
    _sh("ip", "netns", "add", ns_name)
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    try:
        pols, pods, _ = cluster_objects()
        await reg.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": "bench"}})
        for p in pods:
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": p["metadata"],
                    "spec": {**p["spec"], "containers": [
                        {"name": "c", "image": "x", "ports": p["spec"]["containers"][0]
                         ["ports"]}]}}
            created = await reg.create("pods", body, namespace="bench")
            created["status"] = p["status"]
            await reg.update("pods", created, namespace="bench", subresource="status")
        for p in pols:
            await reg.create(KEY, p, namespace="bench")
        infs = [Informer(reg, KEY), Informer(reg, "pods"), Informer(reg, "namespaces")]
        runner = default_runner(netns=ns_name)
        ctl = NetpolController(runner, node_name="bench", policies=infs[0], pods=infs[1],
                               namespaces=infs[2])
        seen: dict[str, float] = {}  # policy name -> when its watch event arrived
        infs[0].add_handler(on_add=lambda o: seen.setdefault(o["metadata"]["name"],
                                                             time.monotonic()))
        tasks = [asyncio.create_task(i.run(stop)) for i in infs]
        tasks.append(asyncio.create_task(ctl.run(stop)))
        t0 = time.monotonic()
        while not ctl.synced():
            await asyncio.sleep(0.005)
        first_sync = time.monotonic() - t0
        lat: list[float] = []
        to_event: list[float] = []
        for i in range(samples):
            # never adjacent to an earlier one (adjacent spans would merge into one element)
            cidr = f"172.{16 + i // 100}.{(i % 100) * 2}.0/24"
            applied_before = ctl.syncs
            start_t = time.monotonic()
            await reg.create(KEY, policy_obj(f"new-{i}", {"ipBlock": {"cidr": cidr}},
                                             port=None), namespace="bench")
            want = f"{BACKEND} . {cidr}"
            while not (ctl.syncs > applied_before and want in ctl.last_transaction):
                await asyncio.sleep(0.0005)
            lat.append((ctl.applied_at - start_t) * 1000)
            to_event.append((seen[f"new-{i}"] - start_t) * 1000)
            await asyncio.sleep(0.02)
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return {"samples": samples, "first_full_sync_ms": first_sync * 1000,
                "p50_ms": statistics.median(lat), "p99_ms": p99, "max_ms": lat[-1],
                "create_to_watch_event_p50_ms": statistics.median(to_event),
                "runner": type(runner).__name__}
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await reg.stop()
        subprocess.run(["ip", "netns", "del", ns_name], capture_output=True)


def run(quick: bool) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {"skipped": "needs root (network namespaces and nftables)"}
    for tool in ("ip", "nft", "haproxy", "wrk", "curl"):
        if not shutil.which(tool):
            return {"skipped": f"needs {tool}"}
    seconds, rounds = (1, 3) if quick else (2, 10)
    _, render_s, elements = ruleset(True)
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        m: {p: [] for p in PATHS} for m in MODES}
    with _nodes(uuid.uuid4().hex[:6]) as nodes:
        for m in MODES:  # warm-up
            for p in PATHS:
                _wrk(nodes[p][0], nodes[p][1], seconds=1, close=m == "close")
        for r in range(rounds):
            for m in MODES if r % 2 else MODES[::-1]:
                for p in PATHS[::-1] if r % 2 else PATHS:
                    samples[m][p].append(_wrk(nodes[p][0], nodes[p][1], seconds=seconds,
                                              close=m == "close"))
        denied = _denied(nodes["policies"][0], nodes["policies"][1])
    prog = asyncio.run(_programming(20 if quick else 100))
    return _summary(samples, prog, denied=denied, render_ms=render_s * 1000,
                    elements=elements, seconds=seconds, rounds=rounds)


def _summary(samples: dict[str, dict[str, list[dict[str, Any]]]], prog: dict[str, Any], *,
             denied: bool, render_ms: float, elements: int, seconds: int,
             rounds: int) -> dict[str, Any]:
    rows: list[list[Any]] = []
    ratios: dict[str, float | None] = {}
    for m in MODES:
        by = samples[m]
        per = [a["rps"] / b["rps"] for a, b in zip(by["policies"], by["none"], strict=False)
               if a.get("rps") and b.get("rps")]
        ratios[m] = statistics.median(per) if per else None
        for p in PATHS:
            rps = [x["rps"] for x in by[p] if x.get("rps")]
            p99 = [x["p99_ms"] for x in by[p] if "p99_ms" in x]
            rows.append([m, p, statistics.median(rps) if rps else None,
                         statistics.median(p99) if p99 else None,
                         ratios[m] if p == "policies" else "",
                         f"{min(per):.2f}-{max(per):.2f}" if per and p == "policies" else ""])
    rows.append(["programming", f"create -> kernel ({prog['samples']} policies)",
                 f"p50 {prog['p50_ms']:.1f} ms", f"p99 {prog['p99_ms']:.1f} ms", "", ""])
    notes = [
        f"Node `policies`: the kubesvc-netpol table for {POLICIES} NetworkPolicies selecting "
        f"the backend pod {BACKEND} ({elements} set elements, rendered in {render_ms:.0f} ms) "
        f"among {OTHER_PODS} other pods; node `none`: the same table with no policy. Client "
        f"{CLIENT} allowed by the last policy; a source no policy allows is "
        + ("refused" if denied else "NOT refused (the rules are not live!)") + ".",
        f"wrk -c50 -t2, {seconds} s per run, {rounds} rounds, paths interleaved and order "
        "reversed every round, conntrack flushed before each run; ratio = median of per-round "
        "ratios (policies / none). Target >= 0.95x for both request rate (keep-alive) and "
        "new-connection rate (close).",
        "Programming: in-process registry + informers + NetpolController with "
        f"{prog['runner']} on a namespace of its own, {POLICIES} policies and "
        f"{OTHER_PODS + 2} pods in place (first full sync {prog['first_full_sync_ms']:.0f} "
        f"ms); each new policy timed from the create call to the commit of the transaction "
        f"holding it: p50 {prog['p50_ms']:.1f} ms, p99 {prog['p99_ms']:.1f} ms, max "
        f"{prog['max_ms']:.1f} ms (of which create -> the informer's watch event p50 "
        f"{prog['create_to_watch_event_p50_ms']:.1f} ms). Target p99 < 100 ms.",
    ]
    met = {m: bool((v or 0) >= 0.95) for m, v in ratios.items()}
    met["programming_p99"] = prog["p99_ms"] < 100
    met["denied"] = denied
    return {
        "ratios": ratios, "programming": prog, "render_ms": render_ms, "elements": elements,
        "policies": POLICIES, "seconds": seconds, "rounds": rounds, "notes": notes,
        "head": ["mode", "path", "req/s (median)", "p99 ms (median)", "ratio policies/none",
                 "ratio spread"],
        "rows": rows,
        "commands": [samples["keepalive"]["policies"][0]["command"],
                     samples["close"]["policies"][0]["command"]],
        "plot": {"title": "NetworkPolicy: 1,000 policies vs none (req/s, median)",
                 "ylabel": "req/s", "series": "req/s",
                 "bars": {f"{r[0]} {r[1]}": float(r[2] or 0) for r in rows
                          if r[0] in MODES}},
        "targets": {"ratio_min": 0.95, "programming_p99_ms": 100},
        "met": met,
    }
