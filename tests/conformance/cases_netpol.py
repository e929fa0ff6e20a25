"""The upstream cases (Kubernetes v1.32) of ``test/e2e/network/netpol/network_policy.go``:
"Netpol NetworkPolicy between server and client" over TCP, UDP and SCTP, each tagged
[Feature:NetworkPolicy] (none is [Conformance]). Ported cases run in :mod:`.test_netpol` on
the 9-pod x/y/z model; the rest are listed as not ported yet. Joined into
:data:`tests.conformance.cases.CASES`; pure data.
"""

from __future__ import annotations

from tests.conformance.cases import NOT_PORTED, Case

NETPOL = "test/e2e/network/netpol/network_policy.go"
T = "test_netpol.py::test_"
F = ("Feature:NetworkPolicy",)
LF = ("LinuxOnly", "Feature:NetworkPolicy")
SF = ("Feature:SCTPConnectivity", *LF)
SCTP_NOTE = ("kubesvc's agnhost serve-hostname has no SCTP mode, so SCTP connectivity is "
             "not probed (SCTP rules are rendered and unit-tested)")
_TCP = "[sig-network] Netpol NetworkPolicy between server and client "
_UDP = "[sig-network] Netpol [LinuxOnly] NetworkPolicy between server and client using UDP "
_SCTP = ("[sig-network] Netpol [Feature:SCTPConnectivity] [LinuxOnly] NetworkPolicy between "
         "server and client using SCTP ")


def _case(prefix: str, it: str, tags: tuple[str, ...], test: str = "",
          not_ported: str = "") -> Case:
    if test:
        return Case(f"{prefix}{it} [Feature:NetworkPolicy]", NETPOL, tags, test=T + test)
    return Case(f"{prefix}{it} [Feature:NetworkPolicy]", NETPOL, tags,
                not_ported=not_ported or NOT_PORTED)


NETPOL_CASES: tuple[Case, ...] = (
    _case(_TCP, "should support a 'default-deny-ingress' policy", F,
          test='should_support_a_default_deny_ingress_policy'),
    _case(_TCP, "should support a 'default-deny-all' policy", F,
          test='should_support_a_default_deny_all_policy'),
    _case(_TCP, "should enforce policy to allow traffic from pods within server namespace based "
          "on PodSelector", F,
          test='should_enforce_policy_to_allow_traffic_from_pods_within_server_namespace_based_on_podselector'),
    _case(_TCP, "should enforce policy to allow ingress traffic for a target", F),
    _case(_TCP, "should enforce policy to allow ingress traffic from pods in all namespaces", F),
    _case(_TCP, "should enforce policy to allow traffic only from a different namespace, based on"
          " NamespaceSelector", F,
          test='should_enforce_policy_to_allow_traffic_only_from_a_different_namespace_based_on_namespaceselector'),
    _case(_TCP, "should enforce policy based on PodSelector with MatchExpressions", F),
    _case(_TCP, "should enforce policy based on NamespaceSelector with MatchExpressions", F),
    _case(_TCP, "should enforce policy based on PodSelector or NamespaceSelector", F),
    _case(_TCP, "should enforce policy based on PodSelector and NamespaceSelector", F,
          test='should_enforce_policy_based_on_podselector_and_namespaceselector'),
    _case(_TCP, "should enforce policy based on Multiple PodSelectors and NamespaceSelectors", F),
    _case(_TCP, "should enforce policy based on any PodSelectors", F),
    _case(_TCP, "should enforce policy to allow traffic only from a pod in a different namespace "
          "based on PodSelector and NamespaceSelector", F),
    _case(_TCP, "should enforce policy based on Ports", F,
          test='should_enforce_policy_based_on_ports'),
    _case(_TCP, "should enforce multiple, stacked policies with overlapping podSelectors", F),
    _case(_TCP, "should support allow-all policy", F),
    _case(_TCP, "should allow ingress access on one named port", F,
          test='should_allow_ingress_access_on_one_named_port'),
    _case(_TCP, "should allow ingress access from namespace on one named port", F),
    _case(_TCP, "should allow egress access on one named port", F,
          test='should_allow_egress_access_on_one_named_port'),
    _case(_TCP, "should enforce updated policy", F),
    _case(_TCP, "should allow ingress access from updated namespace", F,
          test='should_allow_ingress_access_from_updated_namespace'),
    _case(_TCP, "should allow ingress access from updated pod", F,
          test='should_allow_ingress_access_from_updated_pod'),
    _case(_TCP, "should deny ingress from pods on other namespaces", F,
          test="should_deny_ingress_from_pods_on_other_namespaces"),
    _case(_TCP, "should deny ingress access to updated pod", F),
    _case(_TCP, "should deny egress from pods based on PodSelector", F,
          test='should_deny_egress_from_pods_based_on_podselector'),
    _case(_TCP, "should deny egress from all pods in a namespace", F,
          test="should_deny_egress_from_all_pods_in_a_namespace"),
    _case(_TCP, "should work with Ingress, Egress specified together", F,
          test="should_work_with_ingress_egress_specified_together"),
    _case(_TCP, "should support denying of egress traffic on the client side (even if the server "
          "explicitly allows this traffic)", F),
    _case(_TCP, "should enforce egress policy allowing traffic to a server in a different "
          "namespace based on PodSelector and NamespaceSelector", F),
    _case(_TCP, "should enforce ingress policy allowing any port traffic to a server on a "
          "specific protocol", F,
          test='should_enforce_ingress_policy_allowing_any_port_traffic_to_a_server_on_a_specific_protocol'),
    _case(_TCP, "should enforce multiple ingress policies with ingress allow-all policy taking "
          "precedence", F),
    _case(_TCP, "should enforce multiple egress policies with egress allow-all policy taking "
          "precedence", F),
    _case(_TCP, "should stop enforcing policies after they are deleted", F,
          test='should_stop_enforcing_policies_after_they_are_deleted'),
    _case(_TCP, "should allow egress access to server in CIDR block", F),
    _case(_TCP, "should enforce except clause while egress access to server in CIDR block", F,
          test='should_enforce_except_clause_while_egress_access_to_server_in_cidr_block'),
    _case(_TCP, "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is "
          "allowed", F),
    _case(_TCP, "should enforce policies to check ingress and egress policies can be controlled "
          "independently based on PodSelector", F),
    _case(_TCP, "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the "
          "plugin doesn't support SCTP", F,
          test="should_not_mistakenly_treat_protocol_sctp_as_protocol_tcp_even_if_the_plugin_"
               "doesnt_support_sctp"),
    _case(_TCP, "should properly isolate pods that are selected by a policy allowing SCTP, even "
          "if the plugin doesn't support SCTP", F,
          test="should_properly_isolate_pods_that_are_selected_by_a_policy_allowing_sctp_even_"
               "if_the_plugin_doesnt_support_sctp"),
    _case(_TCP, "should not allow access by TCP when a policy specifies only UDP", F,
          test='should_not_allow_access_by_tcp_when_a_policy_specifies_only_udp'),
    _case(_TCP, "should enforce policy to allow traffic based on NamespaceSelector with "
          "MatchLabels using default ns label", F),
    _case(_TCP, "should enforce policy based on NamespaceSelector with MatchExpressions using "
          "default ns label", F),
    _case(_UDP, "should support a 'default-deny-ingress' policy", LF,
          test='udp_should_support_a_default_deny_ingress_policy'),
    _case(_UDP, "should enforce policy based on Ports", LF,
          test='udp_should_enforce_policy_based_on_ports'),
    _case(_UDP, "should enforce policy to allow traffic only from a pod in a different namespace "
          "based on PodSelector and NamespaceSelector", LF),
    _case(_SCTP, "should support a 'default-deny-ingress' policy", SF,
          not_ported=SCTP_NOTE),
    _case(_SCTP, "should enforce policy based on Ports", SF,
          not_ported=SCTP_NOTE),
    _case(_SCTP, "should enforce policy to allow traffic only from a pod in a different namespace "
          "based on PodSelector and NamespaceSelector", SF,
          not_ported=SCTP_NOTE),
)
