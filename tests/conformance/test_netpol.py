"""Upstream ``test/e2e/network/netpol/network_policy.go`` (Kubernetes v1.32): the
"Netpol NetworkPolicy between server and client" cases, written anew against kubesvc's
enforcement (each netns-mode node agent programs nftables; :mod:`kubesvc.netpol`).

As upstream: three namespaces x, y, z with pods a, b, c each (:mod:`.netpolmodel`), a
policy per case, then the whole 9x9 truth table probed with real TCP/UDP connections
from inside each pod's network namespace and compared with the expected one (printed as
upstream prints it). Unlike upstream, the namespaces and the 9 pods are made once for the
module on one 2-node cluster (pods a and c on node-1, b on node-2, so traffic crosses
nodes and stays on one), and each case deletes its policies (and label changes) after
itself; the 9x9 probes run concurrently, one thread per source pod. Root only (netns);
elsewhere the cases skip and say why. Also here, beyond upstream's list: a port range
(``endPort``) and Service traffic (ClusterIP from a pod, NodePort from outside) judged
after DNAT.
"""

from __future__ import annotations

import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.framework import Api, ApiError, core, is_ready, poll
from tests.conformance.netpolmodel import (
    NAMESPACES,
    PODS,
    Model,
    Reachability,
    pod_spec,
    refs,
    validate,
)
from tests.e2e.conftest import Cluster

NP = "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"
NAME_LABEL = "kubernetes.io/metadata.name"
NODE_OF = {"a": "node-1", "b": "node-2", "c": "node-1"}


@pytest.fixture(scope="module")
def api(two_node_api: Api) -> Api:
    return two_node_api


@pytest.fixture(scope="module")
def model(api: Api) -> Iterator[Model]:
    """``initializeResources``: namespaces x, y, z and their pods a, b, c, made once."""
    root = f"netpol-{uuid.uuid4().hex[:5]}"
    names = {n: f"{root}-{n}" for n in NAMESPACES}
    for name in names.values():
        api.create(core(None, "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                              "metadata": {"name": name}})
    try:
        for name in names.values():
            for pod in PODS:
                api.create(core(name, "pods"), pod_spec(pod, NODE_OF[pod]))

        def all_ready() -> list[dict[str, Any]] | None:
            pods = [api.get(core(ns, "pods", p)) for ns in names.values() for p in PODS]
            ok = all(is_ready(p) and p["status"].get("podIP") for p in pods)
            return pods if ok else None

        pods = poll(all_ready, timeout=60, what="the 9 model pods Ready")
        yield Model(namespaces=names, pods=refs(pods))
    finally:
        for name in names.values():
            try:
                api.delete(core(name, "pods"), gracePeriodSeconds=0)
            except ApiError:
                pass
            try:
                api.delete(core(None, "namespaces", name))
            except ApiError:
                pass


@pytest.fixture
def k8s(api: Api, model: Model) -> Iterator[Model]:
    """The model for one case; its policies, and pod and namespace labels it changed,
    are put back afterwards (``cleanNetworkPolicies``, ``ResetPodLabels``)."""
    yield model
    for ns in model.namespaces.values():
        for item in api.list(NP.format(ns=ns)):
            try:
                api.delete(NP.format(ns=ns) + "/" + item["metadata"]["name"])
            except ApiError:
                pass
        api.patch(core(None, "namespaces", ns),
                  {"metadata": {"labels": {"ns2": None}}})
        for pod in PODS:
            api.patch(core(ns, "pods", pod),
                      {"metadata": {"labels": {"pod": pod, "pod2": None,
                                               "target": None}}})


def policy(api: Api, ns: str, name: str, pod_selector: dict[str, Any], *,
           ingress: list[dict[str, Any]] | None = None,
           egress: list[dict[str, Any]] | None = None,
           types: list[str] | None = None) -> None:
    """``GenNetworkPolicyWithNameAndPodSelector`` + ``SetSpecIngressRules``/``Egress``:
    a None rule list is absent; ``[]`` sets the policy type with no rule (deny)."""
    spec: dict[str, Any] = {"podSelector": pod_selector}
    t = list(types or [])
    if ingress is not None:
        spec["ingress"] = ingress
        t = t or []
        if "Ingress" not in t:
            t.append("Ingress")
    if egress is not None:
        spec["egress"] = egress
        if "Egress" not in t:
            t.append("Egress")
    spec["policyTypes"] = t
    api.create(NP.format(ns=ns), {"apiVersion": "networking.k8s.io/v1",
                                  "kind": "NetworkPolicy",
                                  "metadata": {"name": name}, "spec": spec})


def match(**labels: str) -> dict[str, Any]:
    return {"matchLabels": labels}


def ns_is(name: str) -> dict[str, Any]:
    return {"namespaceSelector": match(**{NAME_LABEL: name})}


def R(k8s: Model) -> Reachability:
    return Reachability(k8s.keys())


def P(k8s: Model, ns: str, pod: str) -> str:
    return f"{k8s.ns(ns)}/{pod}"


# -- the cases ---------------------------------------------------------------------------


def test_should_support_a_default_deny_ingress_policy(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "deny-ingress", {}, ingress=[])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)


def test_should_support_a_default_deny_all_policy(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "deny-all", {}, ingress=[], egress=[])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    validate(k8s, r, 80)


def test_should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_podselector(  # noqa: E501
        api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "x-a-allows-x-b", match(pod="a"),
           ingress=[{"from": [{"podSelector": match(pod="b")}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    r.expect(P(k8s, "x", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r, 80)


def test_should_enforce_policy_to_allow_traffic_only_from_a_different_namespace_based_on_namespaceselector(  # noqa: E501
        api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-client-a-via-ns-selector", match(pod="a"),
           ingress=[{"from": [ns_is(k8s.ns("y"))]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), (k8s.ns("x"), "a"), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 80)


def test_should_enforce_policy_based_on_podselector_and_namespaceselector(
        api: Api, k8s: Model) -> None:
    not_x = {"matchExpressions": [{"key": NAME_LABEL, "operator": "NotIn",
                                   "values": [k8s.ns("x")]}]}
    policy(api, k8s.ns("x"), "allow-ns-y-podselector-and-nsselector", match(pod="a"),
           ingress=[{"from": [{"namespaceSelector": not_x, "podSelector": match(pod="b")}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    r.expect(P(k8s, "y", "b"), P(k8s, "x", "a"), True)
    r.expect(P(k8s, "z", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r, 80)


def test_should_enforce_policy_based_on_ports(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-client-a-via-ns-selector", match(pod="a"),
           ingress=[{"from": [ns_is(k8s.ns("y"))],
                     "ports": [{"port": 81, "protocol": "TCP"}]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), (k8s.ns("x"), "a"), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 81)


def test_should_allow_ingress_access_on_one_named_port(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-all", {}, ingress=[{"ports": [{"port": "serve-81-tcp"}]}])
    validate(k8s, R(k8s), 81)
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)


def test_should_allow_egress_access_on_one_named_port(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-egress", {}, egress=[{"ports": [{"port": "serve-80-tcp"}]}])
    validate(k8s, R(k8s), 80)
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    validate(k8s, r, 81)


def test_should_allow_ingress_access_from_updated_pod(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-client-a-via-pod-selector", match(pod="a"),
           ingress=[{"from": [{"podSelector": match(pod="b", pod2="updated")}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    validate(k8s, r, 80)
    api.patch(core(k8s.ns("x"), "pods", "b"), {"metadata": {"labels": {"pod2": "updated"}}})
    r.expect(P(k8s, "x", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r, 80)


def test_should_allow_ingress_access_from_updated_namespace(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-client-a-via-ns-selector", match(pod="a"),
           ingress=[{"from": [{"namespaceSelector": match(ns2="updated")}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    validate(k8s, r, 80)
    api.patch(core(None, "namespaces", k8s.ns("y")),
              {"metadata": {"labels": {"ns2": "updated"}}})
    r.expect_peer((k8s.ns("y"), ""), ("", ""), True)
    validate(k8s, r, 80)


def test_should_deny_egress_from_pods_based_on_podselector(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "deny-egress-pod-a", match(pod="a"), egress=[])
    r = R(k8s)
    r.expect_all_egress(P(k8s, "x", "a"), False)
    validate(k8s, r, 80)


def test_should_enforce_except_clause_while_egress_access_to_server_in_cidr_block(
        api: Api, k8s: Model) -> None:
    b_ip = next(p.ip for p in k8s.pods if p.key == P(k8s, "x", "b"))
    large = f"{b_ip.split('.')[0]}.0.0.0/8"  # upstream's makeLargeCIDRForIP
    policy(api, k8s.ns("x"), "allow-client-a-via-cidr-egress-rule", match(pod="a"),
           egress=[{"to": [{"ipBlock": {"cidr": large, "except": [f"{b_ip}/32"]}}]}])
    r = R(k8s)
    r.expect(P(k8s, "x", "a"), P(k8s, "x", "b"), False)
    validate(k8s, r, 80)


def test_should_enforce_ingress_policy_allowing_any_port_traffic_to_a_server_on_a_specific_protocol(
        api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-ingress-by-proto", match(pod="a"),
           ingress=[{"ports": [{"protocol": "TCP"}]}])
    validate(k8s, R(k8s), 80, "TCP")
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 80, "UDP")


def test_should_stop_enforcing_policies_after_they_are_deleted(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "deny-all", {}, ingress=[], egress=[])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)
    api.delete(NP.format(ns=k8s.ns("x")) + "/deny-all")
    validate(k8s, R(k8s), 80)


def test_should_not_allow_access_by_tcp_when_a_policy_specifies_only_udp(
        api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-only-udp-ingress-on-port-81", match(pod="a"),
           ingress=[{"ports": [{"port": 81, "protocol": "UDP"}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    validate(k8s, r, 81)


def test_udp_should_support_a_default_deny_ingress_policy(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "deny-all", {}, ingress=[])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80, "UDP")


def test_udp_should_enforce_policy_based_on_ports(api: Api, k8s: Model) -> None:
    policy(api, k8s.ns("x"), "allow-ingress-on-port-81-ns-x", match(pod="a"),
           ingress=[{"from": [ns_is(k8s.ns("y"))],
                     "ports": [{"port": 81, "protocol": "UDP"}]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), (k8s.ns("x"), "a"), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 81, "UDP")


# -- beyond upstream's list ---------------------------------------------------------------


def test_port_range_with_end_port(api: Api, k8s: Model) -> None:
    """``endPort``: egress from x/a allowed to 79-80 only; 81 is outside the range."""
    policy(api, k8s.ns("x"), "egress-range", match(pod="a"),
           egress=[{"ports": [{"port": 79, "endPort": 80}]}])
    validate(k8s, R(k8s), 80)
    r = R(k8s)
    r.expect_all_egress(P(k8s, "x", "a"), False)
    validate(k8s, r, 81)
    api.patch(NP.format(ns=k8s.ns("x")) + "/egress-range",
              {"spec": {"egress": [{"ports": [{"port": 79, "endPort": 81}]}]}})
    validate(k8s, R(k8s), 81)


def _curl_code(argv: list[str]) -> int:
    return subprocess.run(argv, capture_output=True, timeout=15).returncode


def test_service_traffic_is_judged_after_dnat(api: Api, k8s: Model,
                                              two_node_cluster: Cluster) -> None:
    """A ClusterIP reached from a pod, and a NodePort reached from the client namespace
    (outside the cluster), are allowed or denied as the endpoint pod's policies say."""
    ns = k8s.ns("x")
    svc = api.create(core(ns, "services"), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "to-a"},
        "spec": {"type": "NodePort", "selector": {"pod": "a"},
                 "ports": [{"port": 8080, "targetPort": 80, "protocol": "TCP"}]}})
    try:
        cluster_ip = svc["spec"]["clusterIP"]
        node_port = svc["spec"]["ports"][0]["nodePort"]
        topo = json.loads((two_node_cluster.data_dir / "netns.json").read_text())
        client_ns = topo["client_netns"]
        node_ip = topo["nodes"][1]["ip"]  # node-2: a's traffic crosses the bridge
        y_a = next(p for p in k8s.pods if p.key == P(k8s, "y", "a"))

        def from_y_a() -> bool:
            r = subprocess.run(["nsenter", "-t", str(y_a.pid), "-n", "--", "python3", "-c",
                                "import socket,sys; s=socket.create_connection("
                                f"('{cluster_ip}', 8080), timeout=1); s.recv(64)"],
                               capture_output=True, timeout=10)
            return r.returncode == 0

        def from_client() -> bool:
            r = subprocess.run(["ip", "netns", "exec", client_ns, "python3", "-c",
                                "import socket; s=socket.create_connection("
                                f"('{node_ip}', {node_port}), timeout=1); s.recv(64)"],
                               capture_output=True, timeout=10)
            return r.returncode == 0

        poll(lambda: from_y_a() and from_client(), timeout=15,
             what="the Service reachable before any policy")
        policy(api, ns, "only-from-z", match(pod="a"),
               ingress=[{"from": [ns_is(k8s.ns("z"))]}])
        poll(lambda: not from_y_a() and not from_client(), timeout=10,
             what="ClusterIP and NodePort traffic to x/a denied")
        # the client's address is still the source where a lives? node-2 SNATs it for a
        # pod on node-1, so allow the nodes' subnet as upstream's cluster policy would see it
        api.patch(NP.format(ns=ns) + "/only-from-z", {"spec": {"ingress": [
            {"from": [ns_is(k8s.ns("z")), ns_is(k8s.ns("y")),
                      {"ipBlock": {"cidr": "172.20.0.0/24"}}]}]}})
        poll(lambda: from_y_a() and from_client(), timeout=10,
             what="ClusterIP from y and NodePort from the node subnet allowed again")
    finally:
        api.delete(core(ns, "services", "to-a"))


def test_probe_socket_module_sanity() -> None:
    """The prober's UDP path reports a closed port as unreachable, not as open."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    from tests.conformance.netpolmodel import _probe_one
    assert _probe_one("127.0.0.1", port, "UDP") is False
