"""The node agent's pod admission (upstream kubelet ``lifecycle/predicate.go``): before a
pod bound to this node starts, its host ports must be free among the pods already admitted
here — the NodePorts check the kubelet runs again for pods that bypassed the scheduler
(``spec.nodeName`` set directly). A rejected pod ends ``Failed`` with upstream's reason and
message, and a controller that owns it replaces it.

Pure; called by :mod:`kubesvc.runtime.containers`.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubesvc.api.objects import Obj

HostPort = tuple[str, str, int]  # (protocol, host IP, port)

NODE_PORTS_REASON = "NodePorts"
NODE_PORTS_MESSAGE = ("Pod was rejected: Predicate NodePorts failed: node(s) didn't have free "
                      "ports for the requested pod ports")
REJECTED_PREFIX = "Pod was rejected:"


def host_ports(pod: Obj) -> frozenset[HostPort]:
    spec = pod.get("spec") or {}
    out: set[HostPort] = set()
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or ():
            for p in c.get("ports") or ():
                port = int(p.get("hostPort") or 0)
                if port:
                    out.add((str(p.get("protocol") or "TCP"), str(p.get("hostIP") or "0.0.0.0"),
                             port))
    return frozenset(out)


def _clash(a: HostPort, b: HostPort) -> bool:
    any_ip = "0.0.0.0"
    return a[0] == b[0] and a[2] == b[2] and (a[1] == b[1] or any_ip in (a[1], b[1]))


def ports_conflict(wanted: frozenset[HostPort], admitted: Iterable[frozenset[HostPort]]) -> bool:
    return any(_clash(w, h) for used in admitted for h in used for w in wanted)


def rejected(pod: Obj) -> bool:
    """A pod this node (or an earlier run of its agent) turned away."""
    st = pod.get("status") or {}
    return st.get("phase") == "Failed" and str(st.get("message") or "").startswith(
        REJECTED_PREFIX)
