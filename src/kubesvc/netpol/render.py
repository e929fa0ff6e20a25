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
isolated for ingress, the peers its rules allow — pod addresses on single ports in hash
sets (``ingress-any-pods``: ``pod . peer``; ``ingress-ports-pods``: ``pod . peer .
protocol . port``), one lookup however many policies there are; ipBlocks and port ranges
in interval sets (``ingress-any``, ``ingress-ports``) — and egress the same with the
destination. Interval ranges are made disjoint here (except blocks subtracted, port
intervals split and merged), as the kernel's interval sets want. Named ports are
resolved against the pod that owns them (the local pod for ingress; each possible
destination pod for egress). :func:`transaction` turns the difference of two states into
element deletes and adds, so pods, labels, namespaces and policies change the kernel
incrementally; only a first sync (or one after a failure) writes the whole table.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from kubesvc.api.selectors import LabelSelector
from kubesvc.netpol.model import Namespace, Peer, Pod, Policy, Port, Rule

TABLE = "kubesvc-netpol"
# Addresses are handled as inclusive integer spans (lo, hi): merging and subtracting them
# is a sort and a walk, where ipaddress objects cost ~10 us each at 1,000 policies.
Span = tuple[int, int]
ANY: Span = (0, 2**32 - 1)

_PAIR = "type ipv4_addr . ipv4_addr;"
_QUAD = "type ipv4_addr . ipv4_addr . inet_proto . inet_service;"
SETS: dict[str, str] = {
    "ingress-isolated": "type ipv4_addr;",
    "egress-isolated": "type ipv4_addr;",
    # exact peers (pod addresses, single ports): hash sets, one lookup whatever their size
    "ingress-any-pods": _PAIR,
    "ingress-ports-pods": _QUAD,
    "egress-any-pods": _PAIR,
    "egress-ports-pods": _QUAD,
    # ipBlocks and port ranges: interval sets
    "ingress-any": _PAIR + " flags interval;",
    "ingress-ports": _QUAD + " flags interval;",
    "egress-any": _PAIR + " flags interval;",
    "egress-ports": _QUAD + " flags interval;",
}
_REJECT = "counter reject with icmp type admin-prohibited"
CHAINS: dict[str, list[str]] = {
    "egress": [
        "type filter hook forward priority -5; policy accept;",
        "ct state established,related accept",
        "ip saddr != @egress-isolated accept",
        "ip saddr . ip daddr @egress-any-pods accept",
        "ip saddr . ip daddr . meta l4proto . th dport @egress-ports-pods accept",
        "ip saddr . ip daddr @egress-any accept",
        "ip saddr . ip daddr . meta l4proto . th dport @egress-ports accept",
        _REJECT,
    ],
    "ingress": [
        "type filter hook forward priority 0; policy accept;",
        "ct state established,related accept",
        "ip daddr != @ingress-isolated accept",
        "ip daddr . ip saddr @ingress-any-pods accept",
        "ip daddr . ip saddr . meta l4proto . th dport @ingress-ports-pods accept",
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
    """Pods by namespace (and by exact label within it) and namespaces by name, for
    selector evaluation: a selector with ``key=value`` terms only looks at the pods that
    carry one of them."""

    def __init__(self, pods: Iterable[Pod], namespaces: Iterable[Namespace]) -> None:
        self.pods = list(pods)
        self.namespaces = {n.name: n for n in namespaces}
        self.by_ns: dict[str, list[Pod]] = {}
        self.by_label: dict[tuple[str, str, str], list[Pod]] = {}
        self.addr: dict[str, int] = {}
        self.memo: dict[tuple[str, Rule, bool], Peers] = {}
        for p in self.pods:
            self.addr[p.ip] = _ip(p.ip)
            self.by_ns.setdefault(p.namespace, []).append(p)
            for k, v in p.labels.items():
                self.by_label.setdefault((p.namespace, k, v), []).append(p)

    def _candidates(self, ns: str, sel: LabelSelector | None) -> list[Pod]:
        pairs = sel.exact_pairs if sel is not None else ()
        if not pairs:
            return self.by_ns.get(ns, [])
        return min((self.by_label.get((ns, k, v), []) for k, v in pairs), key=len)

    def peer_pods(self, peer: Peer, policy_ns: str) -> list[Pod]:
        if peer.namespace_selector is None:
            spaces = [policy_ns]
        else:
            sel = peer.namespace_selector
            spaces = [n.name for n in self.namespaces.values() if sel.matches(n.labels)]
        out: list[Pod] = []
        for ns in spaces:
            for p in self._candidates(ns, peer.pod_selector):
                if peer.pod_selector is None or peer.pod_selector.matches(p.labels):
                    out.append(p)
        return out

    def pods_in(self, spans: Sequence[Span]) -> list[Pod]:
        return [p for p in self.pods
                if any(lo <= self.addr[p.ip] <= hi for lo, hi in spans)]

    def span(self, pod: Pod) -> Span:
        a = self.addr[pod.ip]
        return (a, a)


def _ip(text: str) -> int:
    return int.from_bytes(socket.inet_aton(text), "big")


def _cidr(text: str) -> Span | None:
    try:
        n = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if n.version != 4:
        return None  # IPv6: the cluster is IPv4
    return int(n.network_address), int(n.broadcast_address)


def _block(peer: Peer) -> list[Span]:
    """An ipBlock as disjoint spans: ``cidr`` minus each ``except``."""
    first = _cidr(peer.cidr)
    if first is None:
        return []
    spans = [first]
    for exc in peer.except_:
        cut = _cidr(exc)
        if cut is None:
            continue
        nxt: list[Span] = []
        for lo, hi in spans:
            if cut[1] < lo or cut[0] > hi:
                nxt.append((lo, hi))
                continue
            if lo < cut[0]:
                nxt.append((lo, cut[0] - 1))
            if cut[1] < hi:
                nxt.append((cut[1] + 1, hi))
        spans = nxt
    return spans


def _merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, overlapping and adjacent spans joined."""
    out: list[Span] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


@dataclass(frozen=True, slots=True)
class Peers:
    """A rule's peers: address spans of its ipBlocks (everything for a rule without
    peers), the addresses of the pods its selectors pick, and (for named ports of egress
    rules) every pod among them."""

    blocks: list[Span]
    addrs: list[int]
    pods: list[Pod]


def _peer_nets(rule: Rule, policy: Policy, cluster: Cluster, *,
               with_pods: bool = False) -> Peers:
    """A rule's :class:`Peers`, remembered by the cluster (which is rebuilt when a pod or
    namespace changes), so a sync after a policy change evaluates only new rules."""
    key = (policy.namespace, rule, with_pods)
    hit = cluster.memo.get(key)
    if hit is None:
        hit = cluster.memo[key] = _peer_nets_uncached(rule, policy, cluster,
                                                      with_pods=with_pods)
    return hit


def _peer_nets_uncached(rule: Rule, policy: Policy, cluster: Cluster, *,
                        with_pods: bool) -> Peers:
    if not rule.peers:
        return Peers([ANY], [], cluster.pods if with_pods else [])
    blocks: list[Span] = []
    addrs: list[int] = []
    pods: list[Pod] = []
    for peer in rule.peers:
        if peer.cidr:
            block = _block(peer)
            blocks.extend(block)
            if with_pods:
                pods.extend(cluster.pods_in(block))
        else:
            found = cluster.peer_pods(peer, policy.namespace)
            pods.extend(found)
            addrs.extend(cluster.addr[p.ip] for p in found)
    return Peers(blocks, addrs, pods)


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
    """Allowed peers of one pod in one direction: exact (address, protocol, port) and
    addresses for the hash sets, (span, protocol, port range) and spans for the interval
    sets."""

    def __init__(self) -> None:
        self.any: list[Span] = []
        self.any_addrs: set[int] = set()
        self.ports: dict[str, list[tuple[Span, PortRange]]] = {}
        self.exact: set[tuple[int, str, int]] = set()

    def allow_any(self, peers: Peers) -> None:
        self.any.extend(peers.blocks)
        self.any_addrs.update(peers.addrs)

    def add(self, blocks: Iterable[Span], addrs: Iterable[int], proto: str,
            rng: PortRange) -> None:
        items = self.ports.setdefault(proto, [])
        items.extend((n, rng) for n in blocks)
        if rng[0] == rng[1]:
            self.exact.update((a, proto, rng[0]) for a in addrs)
        else:
            items.extend(((a, a), rng) for a in addrs)

    def elements(self, pod_ip: str) -> dict[str, list[str]]:
        """Elements by set-name suffix (``any``, ``ports``, ``any-pods``, ``ports-pods``)."""
        port_out: list[str] = []
        for proto, items in sorted(self.ports.items()):
            for rng, spans in _split_ports(items):
                port_out.extend(f"{pod_ip} . {_text(n)} . {proto} . {_rng(rng)}"
                                for n in spans)
        return {
            "any": [f"{pod_ip} . {_text(n)}" for n in _merge(self.any)],
            "ports": port_out,
            "any-pods": [f"{pod_ip} . {_addr(a)}" for a in sorted(self.any_addrs)],
            "ports-pods": [f"{pod_ip} . {_addr(a)} . {proto} . {port}"
                           for a, proto, port in sorted(self.exact)],
        }


def _addr(a: int) -> str:
    return socket.inet_ntoa(a.to_bytes(4, "big"))


def _split_ports(items: Sequence[tuple[Span, PortRange]]) -> list[tuple[PortRange, list[Span]]]:
    """Disjoint port intervals, each with the merged spans allowed on it; neighbours with
    the same spans merged."""
    cuts = sorted({lo for _, (lo, _hi) in items} | {hi + 1 for _, (_lo, hi) in items})
    out: list[tuple[PortRange, list[Span]]] = []
    for lo, nxt in itertools.pairwise(cuts):
        hi = nxt - 1
        spans = _merge(n for n, (a, b) in items if a <= lo and hi <= b)
        if not spans:
            continue
        if out and out[-1][0][1] == lo - 1 and out[-1][1] == spans:
            out[-1] = ((out[-1][0][0], hi), spans)
        else:
            out.append(((lo, hi), spans))
    return out


def _text(span: Span) -> str:
    """One address, a CIDR when the span is exactly one, else ``first-last``."""
    lo, hi = span
    a = socket.inet_ntoa(lo.to_bytes(4, "big"))
    if lo == hi:
        return a
    size = hi - lo + 1
    if size & (size - 1) == 0 and lo % size == 0:
        return f"{a}/{32 - size.bit_length() + 1}"
    return f"{a}-{socket.inet_ntoa(hi.to_bytes(4, 'big'))}"


def _rng(r: PortRange) -> str:
    return str(r[0]) if r[0] == r[1] else f"{r[0]}-{r[1]}"


def _ingress(pod: Pod, rules: Iterable[tuple[Policy, Rule]], cluster: Cluster) -> _Acc:
    acc = _Acc()
    for policy, rule in rules:
        peers = _peer_nets(rule, policy, cluster)
        if not rule.ports:
            acc.allow_any(peers)
            continue
        for port in rule.ports:
            rng = _port_range(port, pod)
            if rng is not None:
                acc.add(peers.blocks, peers.addrs, _PROTO.get(port.protocol, "tcp"), rng)
    return acc


def _egress(rules: Iterable[tuple[Policy, Rule]], cluster: Cluster) -> _Acc:
    acc = _Acc()
    for policy, rule in rules:
        named = any(isinstance(p.port, str) for p in rule.ports)
        peers = _peer_nets(rule, policy, cluster, with_pods=named)
        if not rule.ports:
            acc.allow_any(peers)
            continue
        for port in rule.ports:
            proto = _PROTO.get(port.protocol, "tcp")
            if isinstance(port.port, str):  # resolved per destination pod
                for dst in peers.pods:
                    rng = _port_range(port, dst)
                    if rng is not None:
                        acc.add((), [cluster.addr[dst.ip]], proto, rng)
                continue
            rng = _port_range(port, None)
            if rng is not None:
                acc.add(peers.blocks, peers.addrs, proto, rng)
    return acc


def render(policies: Iterable[Policy], pods: Iterable[Pod], namespaces: Iterable[Namespace],
           *, node_name: str) -> State:
    """The set contents for the pods of ``node_name`` (all pods when it is empty)."""
    return render_for(Cluster(pods, namespaces), policies, node_name=node_name)


def render_for(cluster: Cluster, policies: Iterable[Policy], *, node_name: str) -> State:
    """:func:`render` over a :class:`Cluster` the caller keeps while pods and namespaces
    stay as they are (its memo of rule peers carries over)."""
    if len(cluster.memo) > 20_000:  # rules of policies since replaced
        cluster.memo.clear()
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
            acc = _ingress(pod, ((p, r) for p in ingress for r in p.ingress or ()), cluster)
            for suffix, elems in acc.elements(pod.ip).items():
                st.sets[f"ingress-{suffix}"].update(elems)
        if egress:
            st.sets["egress-isolated"].add(pod.ip)
            acc = _egress(((p, r) for p in egress for r in p.egress or ()), cluster)
            for suffix, elems in acc.elements(pod.ip).items():
                st.sets[f"egress-{suffix}"].update(elems)
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
