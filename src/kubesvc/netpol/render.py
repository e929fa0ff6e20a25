"""Pure rule building for NetworkPolicy enforcement: no I/O.

The table (:func:`base_ruleset`) is fixed: two filter chains on the ``forward`` hook of
the node's namespace, ``egress`` (priority -5) then ``ingress`` (priority 0). Each accepts
packets of established flows (return traffic) and packets of pods that no policy isolates
in its direction, then looks the new flow up in two sets, and rejects the rest (ICMP
admin-prohibited, so a denied client fails at once instead of timing out). An ``accept``
ends one base chain only, so a flow must pass both. Forwarded packets are seen after
prerouting's DNAT, so traffic to a Service is judged against the endpoint it was sent to;
NodePort/LoadBalancer traffic from outside is judged with the client's address (SNAT
comes later, at postrouting). Traffic the node itself sends (probes, host-network pods)
does not cross ``forward``: it is always allowed, as the API says of the local node.

Everything that varies lives in set elements (:func:`render`): for each local pod
isolated for ingress, ``ingress-any`` holds ``pod . source-range`` for rules without
ports and ``ingress-ports`` holds ``pod . source-range . protocol . port-range``; egress
the same with the destination. Ranges are made disjoint here (except blocks subtracted,
port intervals split and merged), as the kernel's interval sets want. Named ports are
resolved against the pod that owns them (the local pod for ingress; each possible
destination pod for egress). :func:`transaction` turns the difference of two states into
element deletes and adds, so pods, labels, namespaces and policies change the kernel
incrementally; only a first sync (or one after a failure) writes the whole table.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kubesvc.netpol.model import Namespace, Peer, Pod, Policy, Port, Rule

TABLE = "kubesvc-netpol"
ANY = ipaddress.IPv4Network("0.0.0.0/0")
Net = ipaddress.IPv4Network

SETS: dict[str, str] = {
    "ingress-isolated": "type ipv4_addr;",
    "egress-isolated": "type ipv4_addr;",
    "ingress-any": "type ipv4_addr . ipv4_addr; flags interval;",
    "ingress-ports": "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags interval;",
    "egress-any": "type ipv4_addr . ipv4_addr; flags interval;",
    "egress-ports": "type ipv4_addr . ipv4_addr . inet_proto . inet_service; flags interval;",
}
_REJECT = "counter reject with icmp type admin-prohibited"
CHAINS: dict[str, list[str]] = {
    "egress": [
        "type filter hook forward priority -5; policy accept;",
        "ct state established,related accept",
        "ip saddr != @egress-isolated accept",
        "ip saddr . ip daddr @egress-any accept",
        "ip saddr . ip daddr . meta l4proto . th dport @egress-ports accept",
        _REJECT,
    ],
    "ingress": [
        "type filter hook forward priority 0; policy accept;",
        "ct state established,related accept",
        "ip daddr != @ingress-isolated accept",
        "ip daddr . ip saddr @ingress-any accept",
        "ip daddr . ip saddr . meta l4proto . th dport @ingress-ports accept",
        _REJECT,
    ],
}


@dataclass(slots=True)
class State:
    """The contents of every set of the table (element text, as ``nft`` takes it)."""

    sets: dict[str, set[str]] = field(default_factory=lambda: {n: set() for n in SETS})

    def count(self) -> int:
        return sum(len(v) for v in self.sets.values())


def base_ruleset(table: str = TABLE) -> str:
    """The fixed table in ``nft -f`` block syntax (sets empty)."""
    out = [f"table ip {table} {{\n", '\tcomment "kubesvc NetworkPolicy enforcement"\n']
    for name, body in SETS.items():
        out.append(f"\tset {name} {{\n\t\t{body}\n\t}}\n")
    for name, rules in CHAINS.items():
        out.append(f"\tchain {name} {{\n" + "".join(f"\t\t{r}\n" for r in rules) + "\t}\n")
    out.append("}\n")
    return "".join(out)


# -- selection -----------------------------------------------------------------------------

class Cluster:
    """Pods by namespace and namespaces by name, for selector evaluation."""

    def __init__(self, pods: Iterable[Pod], namespaces: Iterable[Namespace]) -> None:
        self.pods = list(pods)
        self.namespaces = {n.name: n for n in namespaces}
        self.by_ns: dict[str, list[Pod]] = {}
        for p in self.pods:
            self.by_ns.setdefault(p.namespace, []).append(p)

    def peer_pods(self, peer: Peer, policy_ns: str) -> list[Pod]:
        if peer.namespace_selector is None:
            spaces = [policy_ns]
        else:
            sel = peer.namespace_selector
            spaces = [n.name for n in self.namespaces.values() if sel.matches(n.labels)]
        out: list[Pod] = []
        for ns in spaces:
            for p in self.by_ns.get(ns, ()):
                if peer.pod_selector is None or peer.pod_selector.matches(p.labels):
                    out.append(p)
        return out


def _block(peer: Peer) -> list[Net]:
    """An ipBlock as disjoint networks: ``cidr`` minus each ``except``."""
    try:
        first = ipaddress.ip_network(peer.cidr, strict=False)
    except ValueError:
        return []
    if not isinstance(first, Net):
        return []  # IPv6: the cluster is IPv4
    nets = [first]
    for exc in peer.except_:
        try:
            cut = ipaddress.ip_network(exc, strict=False)
        except ValueError:
            continue
        if not isinstance(cut, Net):
            continue
        nxt: list[Net] = []
        for n in nets:
            if cut.subnet_of(n):
                nxt.extend(n.address_exclude(cut))
            elif not n.subnet_of(cut):
                nxt.append(n)
        nets = nxt
    return nets


def _peer_nets(rule: Rule, policy: Policy, cluster: Cluster) -> tuple[list[Net], list[Pod]]:
    """The peers of a rule as networks, and the pods among them (for named ports)."""
    if not rule.peers:
        return [ANY], cluster.pods
    nets: list[Net] = []
    pods: list[Pod] = []
    for peer in rule.peers:
        if peer.cidr:
            block = _block(peer)
            nets.extend(block)
            pods.extend(p for p in cluster.pods
                        if any(ipaddress.IPv4Address(p.ip) in b for b in block))
        else:
            found = cluster.peer_pods(peer, policy.namespace)
            pods.extend(found)
            nets.extend(Net(p.ip) for p in found)
    return nets, pods


# -- flattening ----------------------------------------------------------------------------

_PROTO = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}
PortRange = tuple[int, int]


def _port_range(port: Port, owner: Pod | None) -> PortRange | None:
    if port.port is None:
        return (0, 65535)
    if isinstance(port.port, int):
        return (port.port, port.end_port if port.end_port is not None else port.port)
    if owner is None:
        return None
    n = owner.port_named(port.port, port.protocol)
    return (n, n) if n is not None else None


class _Acc:
    """Allowed (peer network, protocol, port range) of one pod in one direction."""

    def __init__(self) -> None:
        self.any: list[Net] = []
        self.ports: dict[str, list[tuple[Net, PortRange]]] = {}

    def add(self, nets: Iterable[Net], proto: str, rng: PortRange) -> None:
        self.ports.setdefault(proto, []).extend((n, rng) for n in nets)

    def elements(self, pod_ip: str) -> tuple[list[str], list[str]]:
        any_out = [f"{pod_ip} . {n}" for n in _spans(self.any)]
        port_out: list[str] = []
        for proto, items in sorted(self.ports.items()):
            for rng, nets in _split_ports(items):
                port_out.extend(f"{pod_ip} . {n} . {proto} . {_rng(rng)}"
                                for n in _spans(nets))
        return any_out, port_out


def _split_ports(items: Sequence[tuple[Net, PortRange]]) -> list[tuple[PortRange, list[Net]]]:
    """Disjoint port intervals, each with the collapsed networks allowed on it; neighbours
    with the same networks merged."""
    cuts = sorted({lo for _, (lo, _hi) in items} | {hi + 1 for _, (_lo, hi) in items})
    out: list[tuple[PortRange, list[Net]]] = []
    for lo, nxt in itertools.pairwise(cuts):
        hi = nxt - 1
        nets = list(ipaddress.collapse_addresses(
            n for n, (a, b) in items if a <= lo and hi <= b))
        if not nets:
            continue
        if out and out[-1][0][1] == lo - 1 and out[-1][1] == nets:
            out[-1] = ((out[-1][0][0], hi), nets)
        else:
            out.append(((lo, hi), nets))
    return out


def _spans(nets: Sequence[Net]) -> list[str]:
    """Collapsed networks as address spans: one address, a CIDR, or ``first-last`` when
    neighbours join (``0.0.0.0/0`` minus an except is two spans, not two dozen CIDRs)."""
    out: list[tuple[int, int]] = []
    for n in sorted(ipaddress.collapse_addresses(nets)):
        lo, hi = int(n.network_address), int(n.broadcast_address)
        if out and out[-1][1] + 1 == lo:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    text = []
    for lo, hi in out:
        a, b = ipaddress.IPv4Address(lo), ipaddress.IPv4Address(hi)
        if lo == hi:
            text.append(str(a))
        else:
            cidrs = list(ipaddress.summarize_address_range(a, b))
            text.append(str(cidrs[0]) if len(cidrs) == 1 else f"{a}-{b}")
    return text


def _rng(r: PortRange) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def _ingress(pod: Pod, rules: Iterable[tuple[Policy, Rule]], cluster: Cluster) -> _Acc:
    acc = _Acc()
    for policy, rule in rules:
        nets, _ = _peer_nets(rule, policy, cluster)
        if not rule.ports:
            acc.any.extend(nets)
            continue
        for port in rule.ports:
            rng = _port_range(port, pod)
            if rng is not None:
                acc.add(nets, _PROTO.get(port.protocol, "tcp"), rng)
    return acc


def _egress(rules: Iterable[tuple[Policy, Rule]], cluster: Cluster) -> _Acc:
    acc = _Acc()
    for policy, rule in rules:
        nets, pods = _peer_nets(rule, policy, cluster)
        if not rule.ports:
            acc.any.extend(nets)
            continue
        for port in rule.ports:
            proto = _PROTO.get(port.protocol, "tcp")
            if isinstance(port.port, str):  # resolved per destination pod
                for dst in pods:
                    rng = _port_range(port, dst)
                    if rng is not None:
                        acc.add([Net(dst.ip)], proto, rng)
                continue
            rng = _port_range(port, None)
            if rng is not None:
                acc.add(nets, proto, rng)
    return acc


def render(policies: Iterable[Policy], pods: Iterable[Pod], namespaces: Iterable[Namespace],
           *, node_name: str) -> State:
    """The set contents for the pods of ``node_name`` (all pods when it is empty)."""
    cluster = Cluster(pods, namespaces)
    by_ns: dict[str, list[Policy]] = {}
    for pol in policies:
        by_ns.setdefault(pol.namespace, []).append(pol)
    st = State()
    for pod in cluster.pods:
        if node_name and pod.node != node_name:
            continue
        selecting = [p for p in by_ns.get(pod.namespace, ()) if p.pod_selector.matches(pod.labels)]
        ingress = [p for p in selecting if p.ingress is not None]
        egress = [p for p in selecting if p.egress is not None]
        if ingress:
            st.sets["ingress-isolated"].add(pod.ip)
            any_e, port_e = _ingress(
                pod, ((p, r) for p in ingress for r in p.ingress or ()), cluster
            ).elements(pod.ip)
            st.sets["ingress-any"].update(any_e)
            st.sets["ingress-ports"].update(port_e)
        if egress:
            st.sets["egress-isolated"].add(pod.ip)
            any_e, port_e = _egress(
                ((p, r) for p in egress for r in p.egress or ()), cluster).elements(pod.ip)
            st.sets["egress-any"].update(any_e)
            st.sets["egress-ports"].update(port_e)
    return st


def _chunks(items: Sequence[str], n: int = 500) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def transaction(prev: State | None, cur: State, *, table: str = TABLE) -> str:
    """One atomic ``nft -f`` input from ``prev`` (None: unknown, write the whole table) to
    ``cur``: deletes of elements gone, then adds of new ones."""
    t = f"ip {table}"
    lines: list[str] = []
    if prev is None:
        lines += [f"add table {t}", f"delete table {t}", base_ruleset(table).rstrip("\n")]
        prev = State()
    for name in SETS:
        gone = sorted(prev.sets[name] - cur.sets[name])
        for chunk in _chunks(gone):
            lines.append(f"delete element {t} {name} {{ {', '.join(chunk)} }}")
    for name in SETS:
        new = sorted(cur.sets[name] - prev.sets[name])
        for chunk in _chunks(new):
            lines.append(f"add element {t} {name} {{ {', '.join(chunk)} }}")
    return "\n".join(lines) + "\n" if lines else ""


def state_of(sets: Mapping[str, Iterable[str]]) -> State:
    st = State()
    for k, v in sets.items():
        st.sets[k] = set(v)
    return st
