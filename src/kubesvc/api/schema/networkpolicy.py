"""Structural schema of networking.k8s.io/v1 (v1.32) NetworkPolicy: spec only (the status
field was removed in 1.28; its protobuf tag 3 stays reserved). Imported by
``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, IOS, M, S, arr, defn, ref

NET = "io.k8s.api.networking.v1."

defn(
    NET + "NetworkPolicy",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(NET + "NetworkPolicySpec"),
    },
)
defn(
    NET + "NetworkPolicySpec",
    {
        "egress": arr(ref(NET + "NetworkPolicyEgressRule"), list_type="atomic"),
        "ingress": arr(ref(NET + "NetworkPolicyIngressRule"), list_type="atomic"),
        "podSelector": ref(M + "LabelSelector"),
        "policyTypes": arr(S, list_type="atomic"),
    },
)
defn(
    NET + "NetworkPolicyIngressRule",
    {
        "from": arr(ref(NET + "NetworkPolicyPeer"), list_type="atomic"),
        "ports": arr(ref(NET + "NetworkPolicyPort"), list_type="atomic"),
    },
)
defn(
    NET + "NetworkPolicyEgressRule",
    {
        "ports": arr(ref(NET + "NetworkPolicyPort"), list_type="atomic"),
        "to": arr(ref(NET + "NetworkPolicyPeer"), list_type="atomic"),
    },
)
defn(NET + "NetworkPolicyPort", {"endPort": I32, "port": IOS, "protocol": S})
defn(
    NET + "NetworkPolicyPeer",
    {
        "ipBlock": ref(NET + "IPBlock"),
        "namespaceSelector": ref(M + "LabelSelector"),
        "podSelector": ref(M + "LabelSelector"),
    },
)
defn(
    NET + "IPBlock",
    {"cidr": S, "except": arr(S, list_type="atomic")},
    required=("cidr",),
)
