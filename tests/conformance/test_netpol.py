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
elsewhere the cases skip and say why. Beyond upstream's list, ``tests/e2e/test_netpol.py``
checks a port range (``endPort``) and Service traffic (ClusterIP from a pod, NodePort from
outside) judged after DNAT.
"""

from __future__ import annotations

from tests.conformance import netpolfixtures as fx
from tests.conformance.framework import Api, core
from tests.conformance.netpolfixtures import NAME_LABEL, NP, P, R, match, ns_is, policy
from tests.conformance.netpolmodel import Model, validate

# the module's fixtures (shared with tests/e2e/test_netpol.py)
api = fx.api
model = fx.model
k8s = fx.k8s

# -- the cases ---------------------------------------------------------------------------


def test_should_support_a_default_deny_ingress_policy(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should support a
    'default-deny-ingress' policy [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-ingress", {}, ingress=[])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)


def test_should_support_a_default_deny_all_policy(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should support a
    'default-deny-all' policy [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-all", {}, ingress=[], egress=[])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    validate(k8s, r, 80)


def test_should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_podselector(  # noqa: E501
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should enforce policy to
    allow traffic from pods within server namespace based on PodSelector [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "x-a-allows-x-b", match(pod="a"),
           ingress=[{"from": [{"podSelector": match(pod="b")}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    r.expect(P(k8s, "x", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r, 80)


def test_should_enforce_policy_to_allow_traffic_only_from_a_different_namespace_based_on_namespaceselector(  # noqa: E501
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should enforce policy to
    allow traffic only from a different namespace, based on NamespaceSelector
    [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-client-a-via-ns-selector", match(pod="a"),
           ingress=[{"from": [ns_is(k8s.ns("y"))]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), (k8s.ns("x"), "a"), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 80)


def test_should_enforce_policy_based_on_podselector_and_namespaceselector(
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should enforce policy based
    on PodSelector and NamespaceSelector [Feature:NetworkPolicy]"""
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
    """[sig-network] Netpol NetworkPolicy between server and client should enforce policy based
    on Ports [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-client-a-via-ns-selector", match(pod="a"),
           ingress=[{"from": [ns_is(k8s.ns("y"))],
                     "ports": [{"port": 81, "protocol": "TCP"}]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), (k8s.ns("x"), "a"), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 81)


def test_should_allow_ingress_access_on_one_named_port(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should allow ingress access
    on one named port [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-all", {}, ingress=[{"ports": [{"port": "serve-81-tcp"}]}])
    validate(k8s, R(k8s), 81)
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)


def test_should_allow_egress_access_on_one_named_port(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should allow egress access
    on one named port [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-egress", {}, egress=[{"ports": [{"port": "serve-80-tcp"}]}])
    validate(k8s, R(k8s), 80)
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    validate(k8s, r, 81)


def test_should_allow_ingress_access_from_updated_pod(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should allow ingress access
    from updated pod [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-client-a-via-pod-selector", match(pod="a"),
           ingress=[{"from": [{"podSelector": match(pod="b", pod2="updated")}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    validate(k8s, r, 80)
    api.patch(core(k8s.ns("x"), "pods", "b"), {"metadata": {"labels": {"pod2": "updated"}}})
    r.expect(P(k8s, "x", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r, 80)


def test_should_allow_ingress_access_from_updated_namespace(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should allow ingress access
    from updated namespace [Feature:NetworkPolicy]"""
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
    """[sig-network] Netpol NetworkPolicy between server and client should deny egress from pods
    based on PodSelector [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-egress-pod-a", match(pod="a"), egress=[])
    r = R(k8s)
    r.expect_all_egress(P(k8s, "x", "a"), False)
    validate(k8s, r, 80)


def test_should_enforce_except_clause_while_egress_access_to_server_in_cidr_block(
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should enforce except clause
    while egress access to server in CIDR block [Feature:NetworkPolicy]"""
    b_ip = next(p.ip for p in k8s.pods if p.key == P(k8s, "x", "b"))
    large = f"{b_ip.split('.')[0]}.0.0.0/8"  # upstream's makeLargeCIDRForIP
    policy(api, k8s.ns("x"), "allow-client-a-via-cidr-egress-rule", match(pod="a"),
           egress=[{"to": [{"ipBlock": {"cidr": large, "except": [f"{b_ip}/32"]}}]}])
    r = R(k8s)
    r.expect(P(k8s, "x", "a"), P(k8s, "x", "b"), False)
    validate(k8s, r, 80)


def test_should_enforce_ingress_policy_allowing_any_port_traffic_to_a_server_on_a_specific_protocol(
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should enforce ingress
    policy allowing any port traffic to a server on a specific protocol [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-ingress-by-proto", match(pod="a"),
           ingress=[{"ports": [{"protocol": "TCP"}]}])
    validate(k8s, R(k8s), 80, "TCP")
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 80, "UDP")


def test_should_stop_enforcing_policies_after_they_are_deleted(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should stop enforcing
    policies after they are deleted [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-all", {}, ingress=[], egress=[])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)
    api.delete(NP.format(ns=k8s.ns("x")) + "/deny-all")
    validate(k8s, R(k8s), 80)


def test_should_not_allow_access_by_tcp_when_a_policy_specifies_only_udp(
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should not allow access by
    TCP when a policy specifies only UDP [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-only-udp-ingress-on-port-81", match(pod="a"),
           ingress=[{"ports": [{"port": 81, "protocol": "UDP"}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    validate(k8s, r, 81)


def test_udp_should_support_a_default_deny_ingress_policy(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol [LinuxOnly] NetworkPolicy between server and client using UDP should
    support a 'default-deny-ingress' policy [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-all", {}, ingress=[])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80, "UDP")


def test_udp_should_enforce_policy_based_on_ports(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol [LinuxOnly] NetworkPolicy between server and client using UDP should
    enforce policy based on Ports [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-ingress-on-port-81-ns-x", match(pod="a"),
           ingress=[{"from": [ns_is(k8s.ns("y"))],
                     "ports": [{"port": 81, "protocol": "UDP"}]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), (k8s.ns("x"), "a"), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), "a"), False)
    validate(k8s, r, 81, "UDP")




def test_should_deny_ingress_from_pods_on_other_namespaces(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should deny ingress from
    pods on other namespaces [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-empty-policy", {}, ingress=[{"from": [{"podSelector": {}}]}])
    r = R(k8s)
    r.expect_peer((k8s.ns("y"), ""), (k8s.ns("x"), ""), False)
    r.expect_peer((k8s.ns("z"), ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 80)


def test_should_deny_egress_from_all_pods_in_a_namespace(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should deny egress from
    all pods in a namespace [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-egress-ns-x", {}, egress=[])
    r = R(k8s)
    r.expect_peer((k8s.ns("x"), ""), ("", ""), False)
    validate(k8s, r, 80)


def test_should_work_with_ingress_egress_specified_together(api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should work with
    Ingress, Egress specified together [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-client-a-via-pod-selector", match(pod="a"),
           ingress=[{"from": [{"podSelector": match(pod="b")}]}],
           egress=[{"ports": [{"port": 80}]}], types=["Egress", "Ingress"])
    r80 = R(k8s)
    r80.expect_all_ingress(P(k8s, "x", "a"), False)
    r80.expect(P(k8s, "x", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r80, 80)
    r81 = R(k8s)
    r81.expect_all_ingress(P(k8s, "x", "a"), False)
    r81.expect_all_egress(P(k8s, "x", "a"), False)
    r81.expect(P(k8s, "x", "b"), P(k8s, "x", "a"), True)
    validate(k8s, r81, 81)


def test_should_not_mistakenly_treat_protocol_sctp_as_protocol_tcp_even_if_the_plugin_doesnt_support_sctp(  # noqa: E501
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should not mistakenly
    treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP
    [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "deny-ingress", {}, ingress=[])
    policy(api, k8s.ns("x"), "allow-only-sctp-ingress-on-port-81", match(pod="a"),
           ingress=[{"ports": [{"port": 81, "protocol": "SCTP"}]}])
    r = R(k8s)
    r.expect_peer(("", ""), (k8s.ns("x"), ""), False)
    validate(k8s, r, 81)


def test_should_properly_isolate_pods_that_are_selected_by_a_policy_allowing_sctp_even_if_the_plugin_doesnt_support_sctp(  # noqa: E501
        api: Api, k8s: Model) -> None:
    """[sig-network] Netpol NetworkPolicy between server and client should properly isolate
    pods that are selected by a policy allowing SCTP, even if the plugin doesn't support
    SCTP [Feature:NetworkPolicy]"""
    policy(api, k8s.ns("x"), "allow-only-sctp-ingress-on-port-80", match(pod="a"),
           ingress=[{"ports": [{"port": 80, "protocol": "SCTP"}]}])
    r = R(k8s)
    r.expect_all_ingress(P(k8s, "x", "a"), False)
    validate(k8s, r, 81)
