"""Service updates: immutable clusterIP(s), type transitions through the strategy helpers,
status updates."""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.defaults.service import finish_service_defaults, prepare_service_update
from kubesvc.api.validation import validate_create, validate_status_update, validate_update


def stored(
    spec: dict[str, Any], *, ip: str = "10.96.0.10", node_ports: tuple[int, ...] = ()
) -> dict[str, Any]:
    """A Service as the registry would have stored it (defaulted + allocated)."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "5",
            "creationTimestamp": "2026-11-23T12:00:00Z",
        },
        "spec": copy.deepcopy(spec),
    }
    apply_defaults("services", obj)
    if obj["spec"]["type"] != "ExternalName":
        obj["spec"]["clusterIP"] = ip
        obj["spec"]["clusterIPs"] = [ip]
    for p, np in zip(obj["spec"].get("ports") or [], node_ports, strict=False):
        p["nodePort"] = np
    finish_service_defaults(obj)
    assert validate_create("services", obj) == []
    return obj


def update(old: dict[str, Any], mutate: Any) -> list[tuple[str, str]]:
    new = copy.deepcopy(old)
    mutate(new)
    apply_defaults("services", new)
    prepare_service_update(new, old)
    return [(c.field, c.message) for c in validate_update("services", new, old)]


PORTS = {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}


def test_cluster_ip_cannot_change() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        n["spec"]["clusterIP"] = "10.96.0.99"

    assert update(old, change) == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"10.96.0.99"}: may not change once set')
    ]


def test_both_cluster_ip_fields_changed() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        n["spec"]["clusterIP"] = "10.96.0.99"
        n["spec"]["clusterIPs"] = ["10.96.0.99"]

    assert update(old, change) == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"10.96.0.99"}: may not change once set')
    ]


def test_omitted_cluster_ip_keeps_the_allocated_one() -> None:
    old = stored(PORTS)
    new = copy.deepcopy(old)
    del new["spec"]["clusterIP"], new["spec"]["clusterIPs"]
    apply_defaults("services", new)
    prepare_service_update(new, old)
    assert new["spec"]["clusterIPs"] == ["10.96.0.10"]
    assert validate_update("services", new, old) == []


def test_cannot_clear_cluster_ip_while_staying_cluster_ip_via_plural() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        n["spec"]["clusterIP"] = "None"
        n["spec"]["clusterIPs"] = ["None"]

    assert update(old, change) == [
        ("spec.clusterIPs[0]", 'Invalid value: []string{"None"}: may not change once set')
    ]


def test_cluster_ip_to_external_name_drops_ip_fields() -> None:
    old = stored(PORTS)
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ExternalName"
    new["spec"]["externalName"] = "db.example.com"
    apply_defaults("services", new)
    prepare_service_update(new, old)
    for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
        assert k not in new["spec"]
    assert validate_update("services", new, old) == []


def test_to_external_name_with_changed_cluster_ip_is_rejected() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        n["spec"].update(
            type="ExternalName",
            externalName="db.example.com",
            clusterIP="10.96.0.50",
            clusterIPs=["10.96.0.50"],
        )

    got = update(old, change)
    assert ("spec.clusterIPs", "Forbidden: may not be set for ExternalName services") in got


def test_external_name_to_cluster_ip() -> None:
    old = stored({"type": "ExternalName", "externalName": "db.example.com"})

    def change(n: dict[str, Any]) -> None:
        n["spec"] = {"type": "ClusterIP", "selector": {"app": "web"}, "ports": [{"port": 80}]}

    assert update(old, change) == []


def test_node_port_to_cluster_ip_drops_node_ports_and_etp() -> None:
    old = stored({"type": "NodePort", **PORTS}, node_ports=(30080,))
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    apply_defaults("services", new)
    prepare_service_update(new, old)
    assert "nodePort" not in new["spec"]["ports"][0]
    assert "externalTrafficPolicy" not in new["spec"]
    assert validate_update("services", new, old) == []


def test_load_balancer_to_cluster_ip() -> None:
    old = stored({"type": "LoadBalancer", **PORTS}, node_ports=(31000,))
    old["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.100.1", "ipMode": "VIP"}]}}
    new = copy.deepcopy(old)
    new["spec"]["type"] = "ClusterIP"
    apply_defaults("services", new)
    prepare_service_update(new, old)
    assert "allocateLoadBalancerNodePorts" not in new["spec"]
    assert new["status"] == {"loadBalancer": {}}
    assert validate_update("services", new, old) == []


def test_cluster_ip_to_node_port_keeps_ip() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        n["spec"]["type"] = "NodePort"

    assert update(old, change) == []


def test_node_ports_kept_when_omitted_on_update() -> None:
    old = stored({"type": "NodePort", **PORTS}, node_ports=(30080,))
    new = copy.deepcopy(old)
    del new["spec"]["ports"][0]["nodePort"]
    prepare_service_update(new, old)
    assert new["spec"]["ports"][0]["nodePort"] == 30080


def test_update_requires_resource_version_and_keeps_uid() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        del n["metadata"]["resourceVersion"]
        n["metadata"]["uid"] = "other"

    assert update(old, change) == [
        ("metadata.resourceVersion", 'Invalid value: "": must be specified for an update'),
        ("metadata.uid", 'Invalid value: "other": field is immutable'),
    ]


def test_ip_families_cannot_change() -> None:
    old = stored(PORTS)

    def change(n: dict[str, Any]) -> None:
        n["spec"]["ipFamilies"] = ["IPv6"]

    got = update(old, change)
    assert got[0] == (
        "spec.ipFamilies[0]",
        'Invalid value: []core.IPFamily{"IPv6"}: may not change once set',
    )


def test_status_update_load_balancer_ingress() -> None:
    old = stored({"type": "LoadBalancer", **PORTS}, node_ports=(31000,))
    new = copy.deepcopy(old)
    new["status"] = {"loadBalancer": {"ingress": [{"ip": "127.0.100.1"}]}}
    apply_defaults("services", new)  # ipMode defaults to VIP
    assert new["status"]["loadBalancer"]["ingress"][0]["ipMode"] == "VIP"
    assert validate_status_update("services", new, old) == []
    new["status"]["loadBalancer"]["ingress"][0]["ip"] = "not-an-ip"
    assert [c.field for c in validate_status_update("services", new, old)] == [
        "status.loadBalancer.ingress[0].ip"
    ]
    cip = stored(PORTS)
    bad = copy.deepcopy(cip)
    bad["status"] = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4", "ipMode": "VIP"}]}}
    assert [(c.field, c.message) for c in validate_status_update("services", bad, cip)] == [
        (
            "status.loadBalancer.ingress",
            "Forbidden: may only be used when `spec.type` is 'LoadBalancer'",
        )
    ]
