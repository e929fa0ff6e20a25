"""NetworkPolicy validation and defaults as upstream's ``ValidateNetworkPolicy`` and
``SetDefaults_NetworkPolicy`` (v1.32): field paths, reasons and messages."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create, validate_update

KEY = "networkpolicies.networking.k8s.io"


def _np(spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "np", "namespace": "default"}, "spec": spec}


def _errors(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c.field, c.reason, c.message) for c in validate_create(KEY, _np(spec))]


def test_a_full_valid_policy_has_no_errors() -> None:
    assert _errors({
        "podSelector": {"matchExpressions": [{"key": "app", "operator": "In",
                                              "values": ["web"]}]},
        "ingress": [{"from": [{"podSelector": {}, "namespaceSelector": {}},
                              {"ipBlock": {"cidr": "10.0.0.0/8",
                                           "except": ["10.1.0.0/16", "10.2.0.1/32"]}}],
                     "ports": [{"protocol": "TCP", "port": 80, "endPort": 80},
                               {"protocol": "SCTP", "port": "metrics"}, {"protocol": "UDP"}]}],
        "egress": [{"to": [{"ipBlock": {"cidr": "fd00::/64", "except": ["fd00::/96"]}}]}],
        "policyTypes": ["Ingress", "Egress"],
    }) == []


@pytest.mark.parametrize(("port", "want"), [
    ({"port": 0}, ("spec.ingress[0].ports[0].port", "FieldValueInvalid",
                   "Invalid value: 0: must be between 1 and 65535, inclusive")),
    ({"port": "Web_1"}, ("spec.ingress[0].ports[0].port", "FieldValueInvalid",
                         'Invalid value: "Web_1": must contain only alpha-numeric characters '
                         "(a-z, 0-9), and hyphens (-)")),
    ({"port": 80, "endPort": 70000},
     ("spec.ingress[0].ports[0].endPort", "FieldValueInvalid",
      "Invalid value: 70000: must be between 1 and 65535, inclusive")),
    ({"endPort": 9}, ("spec.ingress[0].ports[0].endPort", "FieldValueInvalid",
                      "Invalid value: 9: may not be specified when `port` is not specified")),
    ({"protocol": "tcp"}, ("spec.ingress[0].ports[0].protocol", "FieldValueNotSupported",
                           'Unsupported value: "tcp": supported values: "TCP", "UDP", '
                           '"SCTP"')),
])
def test_port_errors(port: dict[str, Any], want: tuple[str, str, str]) -> None:
    errs = _errors({"podSelector": {}, "ingress": [{"ports": [port]}]})
    assert want in errs, errs


def test_peer_and_ip_block_errors() -> None:
    errs = _errors({"podSelector": {}, "egress": [{"to": [
        {"ipBlock": {"cidr": ""}},
        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.0.0.0/8", "bad"]}},
        {"namespaceSelector": {"matchLabels": {"bad key!": "x"}}},
    ]}]})
    fields = [(f, r) for f, r, _ in errs]
    assert ("spec.egress[0].to[0].ipBlock.cidr", "FieldValueRequired") in fields
    assert ("spec.egress[0].to[1].ipBlock.except[0]", "FieldValueInvalid") in fields
    assert ("spec.egress[0].to[1].ipBlock.except[1]", "FieldValueInvalid") in fields
    assert any(f.startswith("spec.egress[0].to[2].namespaceSelector.matchLabels")
               for f, _ in fields), fields


def test_policy_types() -> None:
    errs = _errors({"podSelector": {}, "policyTypes": ["Ingress", "Egress", "Ingress"]})
    assert [(f, m) for f, _, m in errs] == [
        ("spec.policyTypes", 'Invalid value: []networking.PolicyType{"Ingress", "Egress", '
                             '"Ingress"}: may not specify more than two policyTypes')]


def test_update_keeps_cidrs_the_old_object_held() -> None:
    old = _np({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "1.2.3.4"}}]}]})
    new = copy.deepcopy(old)
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"] = "1"
    assert [c.field for c in validate_update(KEY, new, old)] == []
    new["spec"]["ingress"][0]["from"].append({"ipBlock": {"cidr": "5.6.7.8"}})
    assert [c.field for c in validate_update(KEY, new, old)] == [
        "spec.ingress[0].from[1].ipBlock.cidr"]


@pytest.mark.parametrize(("spec", "types"), [
    ({}, ["Ingress"]),
    ({"egress": [{}]}, ["Ingress", "Egress"]),
    ({"egress": []}, ["Ingress"]),
    ({"policyTypes": ["Egress"]}, ["Egress"]),
])
def test_policy_types_default(spec: dict[str, Any], types: list[str]) -> None:
    obj = _np(spec)
    apply_defaults(KEY, obj)
    assert obj["spec"]["policyTypes"] == types
    assert obj["spec"]["podSelector"] == {}


def test_protocol_defaults_to_tcp() -> None:
    obj = _np({"ingress": [{"ports": [{"port": 80}, {"protocol": "UDP"}]}],
               "egress": [{"ports": [{}]}]})
    apply_defaults(KEY, obj)
    assert [p["protocol"] for p in obj["spec"]["ingress"][0]["ports"]] == ["TCP", "UDP"]
    assert obj["spec"]["egress"][0]["ports"] == [{"protocol": "TCP"}]
