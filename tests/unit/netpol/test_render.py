"""NetworkPolicy rule building (:mod:`kubesvc.netpol.render`): golden ``nft -f`` text for
a cluster that uses every kind of rule (pod, namespace and combined selectors, ipBlock
with except, port ranges, named ports on both ends, UDP and SCTP, default deny, egress),
element-only transactions for label, pod and policy changes, the sets judged against a
direct reading of the policies for every (source, port) of interest, and the kernel
accepting the text (in a namespace of its own; root only)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from kubesvc.netpol.model import Namespace, Pod, Policy, namespace_from, pod_from, policy_from
from kubesvc.netpol.render import State, render, transaction

GOLDEN = Path(__file__).parent / "golden"
NODE = "node-1"


def check_golden(name: str, text: str) -> None:
    p = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        p.write_text(text)
    assert text == p.read_text(), f"{name} differs; rerun with UPDATE_GOLDEN=1 if intended"


def _pod(ns: str, name: str, ip: str, node: str = NODE, *, host: bool = False,
         ports: tuple[tuple[str, str, int], ...] = (), **labels: str) -> dict[str, object]:
    return {"metadata": {"namespace": ns, "name": name, "labels": labels},
            "spec": {"nodeName": node, "hostNetwork": host, "containers": [
                {"name": "c", "ports": [{"name": n, "protocol": pr, "containerPort": num}
                                        for n, pr, num in ports]}]},
            "status": {"podIP": ip, "phase": "Running"}}


def _np(ns: str, name: str, spec: dict[str, object]) -> dict[str, object]:
    return {"metadata": {"namespace": ns, "name": name}, "spec": spec}


WEB_PORTS = (("http", "TCP", 8080), ("dns", "UDP", 53))
PODS = [
    _pod("prod", "web", "10.244.1.10", ports=WEB_PORTS, app="web"),
    _pod("prod", "db", "10.244.1.11", app="db"),
    _pod("prod", "web-2", "10.244.2.10", "node-2", ports=WEB_PORTS, app="web"),
    _pod("dev", "client", "10.244.1.20", app="client"),
    _pod("dev", "tool", "10.244.2.21", "node-2", app="tool"),
    _pod("prod", "hostnet", "172.20.0.11", host=True, app="web"),
    {**_pod("prod", "pending", "", app="web")},
]
NAMESPACES = [
    {"metadata": {"name": "prod", "labels": {"env": "prod"}}},
    {"metadata": {"name": "dev", "labels": {"env": "dev"}}},
]
POLICIES = [
    # web: from pods app=client in namespaces env=dev, on a port range and a named port
    _np("prod", "web-ingress", {
        "podSelector": {"matchLabels": {"app": "web"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": [{"namespaceSelector": {"matchLabels": {"env": "dev"}},
                       "podSelector": {"matchLabels": {"app": "client"}}}],
             "ports": [{"protocol": "TCP", "port": 80, "endPort": 90},
                       {"protocol": "TCP", "port": "http"},
                       {"protocol": "UDP", "port": "dns"},
                       {"protocol": "SCTP", "port": 9000}]},
            # and from an ipBlock with a hole, on any port of UDP and 85-100 of TCP
            {"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.244.2.0/24"]}}],
             "ports": [{"protocol": "TCP", "port": 85, "endPort": 100},
                       {"protocol": "UDP"}]},
        ]}),
    # db: default deny both ways, then egress to web's named port in any namespace
    _np("prod", "db-deny", {"podSelector": {"matchLabels": {"app": "db"}},
                            "policyTypes": ["Ingress", "Egress"]}),
    _np("prod", "db-egress", {
        "podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels":
                                                                      {"app": "web"}}}],
                    "ports": [{"protocol": "TCP", "port": "http"}]},
                   {"to": [{"ipBlock": {"cidr": "10.96.0.10/32"}}]}]}),
    # dev: pods of the same namespace on every port
    _np("dev", "same-ns", {"podSelector": {}, "policyTypes": ["Ingress"],
                           "ingress": [{"from": [{"podSelector": {}}]}]}),
]


def _inputs(pods: list[dict[str, object]] = PODS, nss: list[dict[str, object]] = NAMESPACES,
            pols: list[dict[str, object]] = POLICIES
            ) -> tuple[list[Policy], list[Pod], list[Namespace]]:
    return ([policy_from(p) for p in pols],
            [p for p in (pod_from(o) for o in pods) if p is not None],
            [namespace_from(n) for n in nss])


def _state(**kw: list[dict[str, object]]) -> State:
    pols, pods, nss = _inputs(**kw)
    return render(pols, pods, nss, node_name=NODE)


def test_full_transaction_matches_golden() -> None:
    check_golden("full.nft", transaction(None, _state()))


def test_label_change_is_element_updates_only() -> None:
    before = _state()
    moved = [dict(p) for p in PODS]
    moved[4] = _pod("dev", "tool", "10.244.2.21", "node-2", app="client")  # now a client
    after = _state(pods=moved)
    text = transaction(before, after)
    check_golden("label-change.nft", text)
    assert "table" not in text and "chain" not in text
    assert transaction(after, after) == ""


def test_deleting_every_policy_empties_the_sets() -> None:
    text = transaction(_state(), _state(pols=[]))
    assert text and all(line.startswith("delete element") for line in text.splitlines())
    assert _state(pols=[]).count() == 0


# -- the sets against a direct reading of the policies --------------------------------

def _spans(text: str) -> tuple[int, int]:
    if "-" in text:
        a, b = text.split("-")
        return int(ipaddress.IPv4Address(a)), int(ipaddress.IPv4Address(b))
    n = ipaddress.ip_network(text, strict=False)
    return int(n.network_address), int(n.broadcast_address)


def _allowed(st: State, direction: str, pod: str, peer: str, proto: str, port: int) -> bool:
    if pod not in st.sets[f"{direction}-isolated"]:
        return True
    p = int(ipaddress.IPv4Address(peer))
    for e in st.sets[f"{direction}-any"] | st.sets[f"{direction}-any-pods"]:
        d, s = e.split(" . ")
        lo, hi = _spans(s)
        if d == pod and lo <= p <= hi:
            return True
    for e in st.sets[f"{direction}-ports"] | st.sets[f"{direction}-ports-pods"]:
        d, s, pr, pt = e.split(" . ")
        lo, hi = _spans(s)
        plo, phi = (int(x) for x in (pt.split("-") if "-" in pt else (pt, pt)))
        if d == pod and pr == proto and lo <= p <= hi and plo <= port <= phi:
            return True
    return False


@pytest.mark.parametrize(("src", "proto", "port", "want"), [
    ("10.244.1.20", "tcp", 80, True),    # dev/client: range 80-90
    ("10.244.1.20", "tcp", 90, True),
    ("10.244.1.20", "tcp", 91, True),    # ... and 85-100 from 10/8 (client is in it)
    ("10.244.1.20", "tcp", 101, False),
    ("10.244.1.20", "tcp", 8080, True),  # named port http
    ("10.244.1.20", "udp", 53, True),    # named port dns (any UDP from 10/8 too)
    ("10.244.1.20", "sctp", 9000, True),
    ("10.244.1.20", "sctp", 9001, False),
    ("10.244.2.21", "tcp", 85, False),   # dev/tool: not a client, and in the except hole
    ("10.244.2.21", "udp", 5000, False),
    ("10.9.9.9", "tcp", 95, True),       # ipBlock
    ("10.9.9.9", "tcp", 80, False),
    ("10.9.9.9", "udp", 5000, True),
    ("11.0.0.1", "udp", 5000, False),    # outside the block
    ("10.244.1.11", "tcp", 8080, False), # prod/db is no client
])
def test_web_ingress_as_the_policies_say(src: str, proto: str, port: int, want: bool) -> None:
    assert _allowed(_state(), "ingress", "10.244.1.10", src, proto, port) is want


def test_db_egress_named_port_resolves_on_destination_pods() -> None:
    st = _state()
    assert _allowed(st, "egress", "10.244.1.11", "10.244.1.10", "tcp", 8080)
    assert _allowed(st, "egress", "10.244.1.11", "10.244.2.10", "tcp", 8080)  # other node
    assert not _allowed(st, "egress", "10.244.1.11", "10.244.1.10", "tcp", 80)
    assert not _allowed(st, "egress", "10.244.1.11", "10.244.1.20", "tcp", 8080)  # no port
    assert _allowed(st, "egress", "10.244.1.11", "10.96.0.10", "udp", 53)  # ipBlock, any
    assert not _allowed(st, "ingress", "10.244.1.11", "10.244.1.10", "tcp", 5432)  # deny


def test_only_local_pods_with_an_ip_and_own_network_are_judged() -> None:
    st = _state()
    assert st.sets["ingress-isolated"] == {"10.244.1.10", "10.244.1.11", "10.244.1.20"}
    assert st.sets["egress-isolated"] == {"10.244.1.11"}
    assert not any("172.20.0.11" in e for s in st.sets.values() for e in s)


def test_elements_of_one_pod_never_overlap() -> None:
    """The kernel's interval sets refuse overlapping elements: ranges are split here."""
    st = _state()
    seen: dict[tuple[str, str], list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    for e in st.sets["ingress-ports"]:
        d, s, pr, pt = e.split(" . ")
        plo, phi = (int(x) for x in (pt.split("-") if "-" in pt else (pt, pt)))
        box = (_spans(s), (plo, phi))
        for other in seen.setdefault((d, pr), []):
            overlap = (box[0][0] <= other[0][1] and other[0][0] <= box[0][1]
                       and box[1][0] <= other[1][1] and other[1][0] <= box[1][1])
            assert not overlap, (e, other)
        seen[(d, pr)].append(box)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("nft") or not shutil.which("ip"),
                    reason="needs root, nft and ip to load the table in a namespace")
def test_the_kernel_accepts_full_and_incremental_transactions() -> None:
    name = f"netpol-unit-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        def nft(text: str) -> None:
            subprocess.run(["ip", "netns", "exec", name, "nft", "-f", "-"], input=text,
                           text=True, check=True)
        before = _state()
        nft(transaction(None, before))
        moved = [dict(p) for p in PODS]
        moved[4] = _pod("dev", "tool", "10.244.2.21", "node-2", app="client")
        nft(transaction(before, _state(pods=moved)))
        nft(transaction(_state(pods=moved), _state(pols=[])))
        out = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "set", "ip",
                              "kubesvc-netpol", "ingress-ports"], capture_output=True,
                             text=True, check=True).stdout
        assert "elements" not in out
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
