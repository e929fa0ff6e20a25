"""Defaults of networking.k8s.io/v1 NetworkPolicy (upstream ``pkg/apis/networking/v1``
``SetDefaults_NetworkPolicy`` / ``SetDefaults_NetworkPolicyPort``, v1.32): every port's
``protocol`` is TCP unless given; without ``policyTypes`` a policy is an Ingress policy,
and an Egress one too when it has egress rules. ``spec.podSelector`` is always written
(upstream's field has no omitempty). Called through :mod:`kubesvc.api.defaults`."""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults._util import dicts


def apply_network_policy_defaults(obj: dict[str, Any]) -> None:
    spec = obj.get("spec")
    if spec is None:
        spec = obj["spec"] = {}
    if not isinstance(spec, dict):
        return
    if spec.get("podSelector") is None:
        spec["podSelector"] = {}
    for direction in ("ingress", "egress"):
        for rule in dicts(spec.get(direction)):
            for port in dicts(rule.get("ports")):
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types
