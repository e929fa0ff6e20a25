"""Protobuf field tables of networking.k8s.io/v1 Ingress, IngressClass and NetworkPolicy,
written by hand from upstream's ``k8s.io/api/networking/v1/generated.proto`` (same shape
as the generated :mod:`.schema`). An empty JSON name marks an embedded message whose
fields JSON inlines (IngressRule's ``ingressRuleValue``)."""

from __future__ import annotations

_N = "k8s.io.api.networking.v1."
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."

ROOTS: dict[tuple[str, str], str] = {
    ("networking.k8s.io/v1", "Ingress"): _N + "Ingress",
    ("networking.k8s.io/v1", "IngressClass"): _N + "IngressClass",
    ("networking.k8s.io/v1", "NetworkPolicy"): _N + "NetworkPolicy",
}

MESSAGES: dict[str, dict[int, tuple[str, str, int]]] = {
    _N + "Ingress": {
        1: ("metadata", _META + "ObjectMeta", 0),
        2: ("spec", _N + "IngressSpec", 0),
        3: ("status", _N + "IngressStatus", 0),
    },
    _N + "IngressSpec": {
        1: ("defaultBackend", _N + "IngressBackend", 0),
        2: ("tls", _N + "IngressTLS", 1),
        3: ("rules", _N + "IngressRule", 1),
        4: ("ingressClassName", "string", 0),
    },
    _N + "IngressBackend": {
        3: ("resource", "k8s.io.api.core.v1.TypedLocalObjectReference", 0),
        4: ("service", _N + "IngressServiceBackend", 0),
    },
    _N + "IngressServiceBackend": {
        1: ("name", "string", 0),
        2: ("port", _N + "ServiceBackendPort", 0),
    },
    _N + "ServiceBackendPort": {
        1: ("name", "string", 0),
        2: ("number", "int32", 0),
    },
    _N + "IngressTLS": {
        1: ("hosts", "string", 1),
        2: ("secretName", "string", 0),
    },
    _N + "IngressRule": {
        1: ("host", "string", 0),
        2: ("", _N + "IngressRuleValue", 0),
    },
    _N + "IngressRuleValue": {
        1: ("http", _N + "HTTPIngressRuleValue", 0),
    },
    _N + "HTTPIngressRuleValue": {
        1: ("paths", _N + "HTTPIngressPath", 1),
    },
    _N + "HTTPIngressPath": {
        1: ("path", "string", 0),
        2: ("backend", _N + "IngressBackend", 0),
        3: ("pathType", "string", 0),
    },
    _N + "IngressStatus": {
        1: ("loadBalancer", _N + "IngressLoadBalancerStatus", 0),
    },
    _N + "IngressLoadBalancerStatus": {
        1: ("ingress", _N + "IngressLoadBalancerIngress", 1),
    },
    _N + "IngressLoadBalancerIngress": {
        1: ("ip", "string", 0),
        2: ("hostname", "string", 0),
        4: ("ports", _N + "IngressPortStatus", 1),
    },
    _N + "IngressPortStatus": {
        1: ("port", "int32", 0),
        2: ("protocol", "string", 0),
        3: ("error", "string", 0),
    },
    _N + "IngressClass": {
        1: ("metadata", _META + "ObjectMeta", 0),
        2: ("spec", _N + "IngressClassSpec", 0),
    },
    _N + "IngressClassSpec": {
        1: ("controller", "string", 0),
        2: ("parameters", _N + "IngressClassParametersReference", 0),
    },
    _N + "IngressClassParametersReference": {
        1: ("apiGroup", "string", 0),
        2: ("kind", "string", 0),
        3: ("name", "string", 0),
        4: ("scope", "string", 0),
        5: ("namespace", "string", 0),
    },
    # -- NetworkPolicy (issue 23); tag 3 of NetworkPolicy (the old status) stays reserved
    _N + "NetworkPolicy": {
        1: ("metadata", _META + "ObjectMeta", 0),
        2: ("spec", _N + "NetworkPolicySpec", 0),
    },
    _N + "NetworkPolicySpec": {
        1: ("podSelector", _META + "LabelSelector", 0),
        2: ("ingress", _N + "NetworkPolicyIngressRule", 1),
        3: ("egress", _N + "NetworkPolicyEgressRule", 1),
        4: ("policyTypes", "string", 1),
    },
    _N + "NetworkPolicyIngressRule": {
        1: ("ports", _N + "NetworkPolicyPort", 1),
        2: ("from", _N + "NetworkPolicyPeer", 1),
    },
    _N + "NetworkPolicyEgressRule": {
        1: ("ports", _N + "NetworkPolicyPort", 1),
        2: ("to", _N + "NetworkPolicyPeer", 1),
    },
    _N + "NetworkPolicyPort": {
        1: ("protocol", "string", 0),
        2: ("port", "k8s.io.apimachinery.pkg.util.intstr.IntOrString", 0),
        3: ("endPort", "int32", 0),
    },
    _N + "NetworkPolicyPeer": {
        1: ("podSelector", _META + "LabelSelector", 0),
        2: ("namespaceSelector", _META + "LabelSelector", 0),
        3: ("ipBlock", _N + "IPBlock", 0),
    },
    _N + "IPBlock": {
        1: ("cidr", "string", 0),
        2: ("except", "string", 1),
    },
}
