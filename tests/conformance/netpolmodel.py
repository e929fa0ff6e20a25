"""Upstream's ``test/e2e/network/netpol`` machinery (model.go, reachability.go,
truthtable.go, probe.go), written anew for the NetworkPolicy cases of :mod:`.test_netpol`:
three namespaces x, y, z with pods a, b, c (labels ``pod=<name>``), each serving TCP and
UDP on ports 80 and 81 (containers ``cont-80``/``cont-81`` with ports ``serve-80-tcp``,
``serve-80-udp``, ``serve-81-tcp``, ``serve-81-udp``, as upstream names them);
:class:`Reachability` (the expected truth table, with upstream's ``Expect``,
``ExpectPeer``, ``ExpectAllIngress``/``ExpectAllEgress``) and :func:`probe_all` (every
pod to every pod, concurrently: one thread per source pod enters that pod's network
namespace with ``setns`` and opens real connections to the 9 pod IPs). Tables print as
upstream's ``PrettyPrint``: ``.`` reachable, ``X`` not.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from kubesvc.linuxns import setns
from tests.conformance.framework import AGNHOST
from tests.conformance.podfiles import pod_pid

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
PROBE_TIMEOUT = 1.0  # upstream: agnhost connect --timeout=1s (per try)


def pod_spec(name: str, node: str) -> dict[str, object]:
    """The model's pod: ``serve-hostname`` on TCP and UDP at 80 and 81."""
    containers = []
    for port in (80, 81):
        containers.append({
            "name": f"cont-{port}", "image": AGNHOST,
            "args": ["serve-hostname", "--tcp", "--udp", "--http=false",
                     "--port", str(port)],
            "ports": [{"name": f"serve-{port}-tcp", "containerPort": port, "protocol": "TCP"},
                      {"name": f"serve-{port}-udp", "containerPort": port,
                       "protocol": "UDP"}],
        })
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"pod": name}},
            "spec": {"containers": containers, "nodeName": node,
                     "terminationGracePeriodSeconds": 0}}


@dataclass(frozen=True)
class PodRef:
    namespace: str  # the real namespace name
    name: str
    ip: str
    pid: int

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Model:
    """The 9 pods, by namespace letter (x, y, z) -> the real namespace name."""

    namespaces: dict[str, str]
    pods: list[PodRef]

    def keys(self) -> list[str]:
        return [p.key for p in self.pods]

    def ns(self, letter: str) -> str:
        return self.namespaces[letter]


@dataclass
class Reachability:
    """The expected truth table, every pair reachable until told otherwise."""

    keys: list[str]
    values: dict[tuple[str, str], bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in self.keys:
            for t in self.keys:
                self.values.setdefault((f, t), True)

    def expect(self, frm: str, to: str, ok: bool) -> None:
        self.values[(frm, to)] = ok

    def expect_peer(self, frm: tuple[str, str], to: tuple[str, str], ok: bool) -> None:
        """``ExpectPeer``: (namespace, pod) with "" meaning any."""
        for f in self.keys:
            for t in self.keys:
                if _matches(f, frm) and _matches(t, to):
                    self.values[(f, t)] = ok

    def expect_all_ingress(self, to: str, ok: bool) -> None:
        for f in self.keys:
            self.values[(f, to)] = ok

    def expect_all_egress(self, frm: str, ok: bool) -> None:
        for t in self.keys:
            self.values[(frm, t)] = ok


def _matches(key: str, peer: tuple[str, str]) -> bool:
    ns, pod = key.split("/")
    return (not peer[0] or peer[0] == ns) and (not peer[1] or peer[1] == pod)


def pretty(keys: list[str], values: dict[tuple[str, str], bool]) -> str:
    """truthtable.go ``PrettyPrint``."""
    lines = ["\t".join(["-", *keys])]
    for f in keys:
        marks = []
        for t in keys:
            v = values.get((f, t))
            marks.append("?" if v is None else "." if v else "X")
        lines.append("\t".join([f, *marks]))
    return "\n".join(lines)


def _probe_one(ip: str, port: int, protocol: str) -> bool:
    if protocol == "UDP":
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(PROBE_TIMEOUT)
        try:
            s.connect((ip, port))
            s.send(b"hostname\n")
            return bool(s.recv(512))
        except OSError:
            return False
        finally:
            s.close()
    try:
        with socket.create_connection((ip, port), timeout=PROBE_TIMEOUT) as s:
            s.settimeout(PROBE_TIMEOUT)
            return bool(s.recv(512))  # serve-hostname --tcp answers, then closes
    except OSError:
        return False


def _from_pod(src: PodRef, targets: list[PodRef], port: int, protocol: str,
              out: dict[tuple[str, str], bool]) -> None:
    fd = os.open(f"/proc/{src.pid}/ns/net", os.O_RDONLY)
    try:
        setns(fd, src.key)  # this thread only; it ends with the probe
    finally:
        os.close(fd)
    # sockets made by this thread live in the pod's namespace; each source pod has a
    # thread of its own, so the sources probe in parallel
    for t in targets:
        out[(src.key, t.key)] = _probe_one(t.ip, port, protocol)


def probe_all(model: Model, port: int, protocol: str) -> dict[tuple[str, str], bool]:
    """Every pod to every pod on ``port``/``protocol``; sources in parallel."""
    out: dict[tuple[str, str], bool] = {}
    threads = [threading.Thread(target=_from_pod, args=(src, model.pods, port, protocol, out))
               for src in model.pods]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def validate(model: Model, want: Reachability, port: int, protocol: str = "TCP", *,
             timeout: float = 10.0) -> str:
    """``ValidateOrFail``: probe until the observed table equals ``want`` (policy changes
    take a moment to reach every node), then return the printed tables; on timeout
    fail with expected, observed and their comparison, as upstream prints them.
    Loopback pairs (a pod to itself) are not judged, as upstream's ``ignoreLoopback``."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe_all(model, port, protocol)
        wrong = [k for k, v in want.values.items() if k[0] != k[1] and got.get(k) != v]
        if not wrong or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    keys = want.keys
    text = (f"expected ({protocol} {port}):\n{pretty(keys, want.values)}\n\n"
            f"observed:\n{pretty(keys, got)}\n\ncomparison:\n"
            + pretty(keys, {k: got.get(k) == v or k[0] == k[1]
                            for k, v in want.values.items()}))
    print(text)
    assert not wrong, f"{len(wrong)} pairs wrong:\n{text}"
    return text


def refs(pods: Iterable[dict[str, object]]) -> list[PodRef]:
    out = []
    for p in pods:
        md = p["metadata"]
        st = p["status"]
        assert isinstance(md, dict) and isinstance(st, dict)
        out.append(PodRef(str(md["namespace"]), str(md["name"]), str(st["podIP"]),
                          pod_pid(p)))  # type: ignore[arg-type]
    return out
