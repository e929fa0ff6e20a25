"""Namespace, Node, ConfigMap, Secret, Lease, ServiceAccount, Event validation."""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create, validate_status_update, validate_update


def pairs(key: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validate_create(key, obj)]


def test_namespace_names_are_dns_labels() -> None:
    assert pairs("namespaces", {"metadata": {"name": "team-a"}}) == []
    got = pairs("namespaces", {"metadata": {"name": "team.a"}})
    assert got == [("metadata.name", 'Invalid value: "team.a": must not contain dots')]
    got = pairs("namespaces", {"metadata": {"name": "ok", "namespace": "x"}})
    assert got == [("metadata.namespace", "Forbidden: not allowed on this type")]


def test_namespace_finalizers_and_status() -> None:
    ns: dict[str, Any] = {
        "metadata": {"name": "a"},
        "spec": {"finalizers": ["kubernetes", "custom"]},
    }
    assert pairs("namespaces", ns) == [
        (
            "spec.finalizers",
            'Invalid value: "custom": name is '
            "neither a standard finalizer name nor is it fully qualified",
        )
    ]
    old: dict[str, Any] = {
        "metadata": {"name": "a", "resourceVersion": "1"},
        "status": {"phase": "Active"},
    }
    new = copy.deepcopy(old)
    new["status"]["phase"] = "Terminating"
    got = [(c.field, c.message) for c in validate_status_update("namespaces", new, old)]
    assert got == [
        (
            "status.Phase",
            "Invalid value: \"Terminating\": may only be 'Active' if `deletionTimestamp` is empty",
        )
    ]


def test_node() -> None:
    node: dict[str, Any] = {
        "metadata": {"name": "node-1.example"},
        "spec": {
            "podCIDRs": ["10.244.1.0/24", "10.244.2.0/24"],
            "taints": [{"key": "k", "effect": "NoSchedule"}, {"key": "k", "effect": "NoSchedule"}],
        },
    }
    got = pairs("nodes", node)
    assert got[0] == (
        "metadata.taints[1]",
        'Duplicate value: core.Taint{Key:"k", Value:"", Effect:"NoSchedule", '
        "TimeAdded:<nil>}: taints must be unique by key and effect pair",
    )
    assert got[1] == (
        "spec.podCIDRs",
        'Invalid value: []string{"10.244.1.0/24", "10.244.2.0/24"}: '
        "may specify no more than one CIDR for each IP family",
    )
    old: dict[str, Any] = {
        "metadata": {"name": "n", "resourceVersion": "1"},
        "spec": {"podCIDRs": ["10.244.1.0/24"], "providerID": "p1"},
    }
    new = copy.deepcopy(old)
    new["spec"]["podCIDRs"] = ["10.244.9.0/24"]
    got = [(c.field, c.message) for c in validate_update("nodes", new, old)]
    assert got == [
        ("spec.podCIDRs", 'Forbidden: node updates may not change podCIDR except from "" to valid')
    ]


def test_configmap_keys_and_immutable() -> None:
    cm: dict[str, Any] = {
        "metadata": {"name": "cfg", "namespace": "default"},
        "data": {"good.key": "v", "bad key": "v", "..x": "v"},
    }
    got = pairs("configmaps", cm)
    assert [g[0] for g in got] == ["data[bad key]", "data[..x]"]
    assert got[1][1] == "Invalid value: \"..x\": must not start with '..'"
    old: dict[str, Any] = {
        "metadata": {"name": "cfg", "namespace": "d", "resourceVersion": "1"},
        "immutable": True,
        "data": {"a": "1"},
    }
    new = copy.deepcopy(old)
    new["data"]["a"] = "2"
    got = [(c.field, c.message) for c in validate_update("configmaps", new, old)]
    assert got == [("data", "Forbidden: field is immutable when `immutable` is set")]


def test_secret_type_rules() -> None:
    s: dict[str, Any] = {
        "metadata": {"name": "tls", "namespace": "default"},
        "type": "kubernetes.io/tls",
        "data": {"tls.crt": "eA=="},
    }
    assert pairs("secrets", s) == [("data[tls.key]", "Required value")]
    opaque: dict[str, Any] = {
        "metadata": {"name": "s", "namespace": "default"},
        "data": {"k": "dg=="},
    }
    apply_defaults("secrets", opaque)
    assert pairs("secrets", opaque) == []
    old: dict[str, Any] = {
        **copy.deepcopy(opaque),
        "metadata": {"name": "s", "namespace": "default", "resourceVersion": "1"},
    }
    new = copy.deepcopy(old)
    new["type"] = "kubernetes.io/basic-auth"
    new["data"] = {"username": "dQ=="}
    got = [(c.field, c.message) for c in validate_update("secrets", new, old)]
    assert got == [("type", 'Invalid value: "kubernetes.io/basic-auth": field is immutable')]


def test_lease() -> None:
    lease: dict[str, Any] = {
        "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 0, "leaseTransitions": -1},
    }
    assert pairs("leases.coordination.k8s.io", lease) == [
        ("spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"),
        ("spec.leaseTransitions", "Invalid value: -1: must be greater than or equal to 0"),
    ]


def test_service_account_and_event() -> None:
    assert pairs("serviceaccounts", {"metadata": {"name": "default", "namespace": "x"}}) == []
    ev: dict[str, Any] = {
        "metadata": {"name": "web.1", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "p", "namespace": "other"},
    }
    assert pairs("events", ev) == [
        ("involvedObject.namespace", 'Invalid value: "other": does not match event.namespace')
    ]
