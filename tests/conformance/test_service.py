"""Upstream ``test/e2e/network/service.go`` (Kubernetes v1.32), [sig-network] Services: the
[Conformance] cases about endpoints, reachability and type changes, plus the untagged
"should be rejected when no endpoints exist", written anew against kubesvc.

Each test is named after its upstream case; its docstring holds the full upstream name.
Reachability is checked from the node (the test process), where upstream checks from an
exec pod: in host mode pods share the node's network namespace, so both stand in the same
place. Run by pytest (``tests/conformance``); uses :mod:`.framework` and :mod:`.probes`.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.framework import (
    Api,
    agnhost_pod,
    core,
    create_pod_sync,
    delete_pod_and_wait,
    poll,
    serve_hostname_pods,
    service,
    tcp_connect_result,
    udp_request,
    unique,
    update_service,
    validate_endpoints_ports,
)
from tests.conformance.probes import DOMAIN, Dns, check_service_reachability


def _jig_labels(name: str) -> dict[str, str]:
    """``e2eservice.NewTestJig``: a selector unique to this jig."""
    return {"testid": unique(name)}


def _create(api: Api, ns: str, obj: dict[str, Any]) -> dict[str, Any]:
    return dict(api.create(core(ns, "services"), obj))


def test_should_provide_secure_master_service(api: Api) -> None:
    """[sig-network] Services should provide secure master service [Conformance]"""
    svc = api.get(core("default", "services", "kubernetes"))
    assert svc["metadata"]["name"] == "kubernetes"


def test_should_serve_a_basic_endpoint_from_pods(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should serve a basic endpoint from pods [Conformance]"""
    name = "endpoint-test2"
    labels = _jig_labels(name)
    svc = _create(api, ns, service(name, selector=labels,
                                   ports=[{"port": 80, "protocol": "TCP"}]))
    validate_endpoints_ports(api, ns, name, {})

    def pod(pod_name: str) -> dict[str, Any]:
        return agnhost_pod(pod_name, "netexec", "--http-port", "80", labels=labels,
                           ports=[{"containerPort": 80}])

    create_pod_sync(api, ns, pod("pod1"))
    validate_endpoints_ports(api, ns, name, {"pod1": [80]})
    check_service_reachability(api, dnsc, svc)

    create_pod_sync(api, ns, pod("pod2"))
    validate_endpoints_ports(api, ns, name, {"pod1": [80], "pod2": [80]})
    check_service_reachability(api, dnsc, svc)

    delete_pod_and_wait(api, ns, "pod1")
    validate_endpoints_ports(api, ns, name, {"pod2": [80]})
    check_service_reachability(api, dnsc, svc)

    delete_pod_and_wait(api, ns, "pod2")
    validate_endpoints_ports(api, ns, name, {})


def test_should_serve_multiport_endpoints_from_pods(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should serve multiport endpoints from pods [Conformance]"""
    name = "multi-endpoint-test"
    labels = _jig_labels(name)
    svc = _create(api, ns, service(name, selector=labels, ports=[
        {"name": "portname1", "port": 80, "targetPort": "svc1", "protocol": "TCP"},
        {"name": "portname2", "port": 81, "targetPort": "svc2", "protocol": "TCP"},
    ]))
    validate_endpoints_ports(api, ns, name, {})
    create_pod_sync(api, ns, agnhost_pod("pod1", "netexec", "--http-port", "100",
                                         labels=labels,
                                         ports=[{"name": "svc1", "containerPort": 100}]))
    validate_endpoints_ports(api, ns, name, {"pod1": [100]})
    create_pod_sync(api, ns, agnhost_pod("pod2", "netexec", "--http-port", "101",
                                         labels=labels,
                                         ports=[{"name": "svc2", "containerPort": 101}]))
    validate_endpoints_ports(api, ns, name, {"pod1": [100], "pod2": [101]})
    check_service_reachability(api, dnsc, svc)

    delete_pod_and_wait(api, ns, "pod1")
    validate_endpoints_ports(api, ns, name, {"pod2": [101]})
    delete_pod_and_wait(api, ns, "pod2")
    validate_endpoints_ports(api, ns, name, {})


def test_should_be_able_to_create_a_functioning_nodeport_service(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to create a functioning NodePort service
    [Conformance]"""
    name = "nodeport-test"
    labels = _jig_labels(name)
    svc = _create(api, ns, service(name, selector=labels, type="NodePort", ports=[
        {"port": 80, "name": "http", "protocol": "TCP", "targetPort": 9376}]))
    assert svc["spec"]["ports"][0].get("nodePort"), f"no nodePort allocated: {svc['spec']}"
    serve_hostname_pods(api, ns, name, 2, labels=labels)
    check_service_reachability(api, dnsc, svc)


def _external_name_service(api: Api, ns: str, name: str, labels: dict[str, str]) -> None:
    """``jig.CreateExternalNameService``: no ClusterIP may be assigned."""
    svc = _create(api, ns, service(name, selector=labels, type="ExternalName",
                                   externalName="foo.example.com",
                                   ports=[{"port": 80, "protocol": "TCP"}]))
    assert not svc["spec"].get("clusterIP"), (
        f"ExternalName service got a ClusterIP: {svc['spec'].get('clusterIP')}")


def _to_type(new_type: str) -> Any:
    def mutate(s: dict[str, Any]) -> None:
        s["spec"]["type"] = new_type
        s["spec"]["externalName"] = ""
        s["spec"]["ports"] = [{"port": 80, "name": "http", "protocol": "TCP",
                               "targetPort": 9376}]
    return mutate


def test_should_be_able_to_change_the_type_from_externalname_to_clusterip(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to change the type from ExternalName to
    ClusterIP [Conformance]"""
    name = "externalname-service"
    labels = _jig_labels(name)
    _external_name_service(api, ns, name, labels)
    svc = update_service(api, ns, name, _to_type("ClusterIP"))
    assert svc["spec"].get("clusterIP"), f"no ClusterIP assigned on update: {svc['spec']}"
    serve_hostname_pods(api, ns, name, 2, labels=labels)
    check_service_reachability(api, dnsc, svc)


def test_should_be_able_to_change_the_type_from_externalname_to_nodeport(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to change the type from ExternalName to
    NodePort [Conformance]"""
    name = "externalname-service"
    labels = _jig_labels(name)
    _external_name_service(api, ns, name, labels)
    svc = update_service(api, ns, name, _to_type("NodePort"))
    assert svc["spec"].get("clusterIP"), f"no ClusterIP assigned on update: {svc['spec']}"
    assert svc["spec"]["ports"][0].get("nodePort"), f"no nodePort allocated: {svc['spec']}"
    serve_hostname_pods(api, ns, name, 2, labels=labels)
    check_service_reachability(api, dnsc, svc)


def _external_service_fqdn(api: Api, ns: str, name: str) -> str:
    """``createAndGetExternalServiceFQDN``: a serve-hostname Service with two pods."""
    _create(api, ns, service(name, selector={"name": name}, ports=[
        {"port": 80, "targetPort": 9376, "protocol": "TCP"}]))
    serve_hostname_pods(api, ns, name, 2)
    return f"{name}.{ns}.svc.{DOMAIN}"


def _to_external_name(fqdn: str) -> Any:
    def mutate(s: dict[str, Any]) -> None:
        s["spec"]["type"] = "ExternalName"
        s["spec"]["externalName"] = fqdn
    return mutate


def test_should_be_able_to_change_the_type_from_clusterip_to_externalname(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to change the type from ClusterIP to
    ExternalName [Conformance]"""
    name = "clusterip-service"
    _create(api, ns, service(name, selector=_jig_labels(name),
                             ports=[{"port": 80, "protocol": "TCP"}]))
    fqdn = _external_service_fqdn(api, ns, "externalsvc")
    svc = update_service(api, ns, name, _to_external_name(fqdn))
    assert not svc["spec"].get("clusterIP"), (
        f"Spec.ClusterIP was not cleared: {svc['spec'].get('clusterIP')}")
    check_service_reachability(api, dnsc, svc)


def test_should_be_able_to_change_the_type_from_nodeport_to_externalname(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to change the type from NodePort to
    ExternalName [Conformance]"""
    name = "nodeport-service"
    created = _create(api, ns, service(name, selector=_jig_labels(name), type="NodePort",
                                       ports=[{"port": 80, "protocol": "TCP"}]))
    assert created["spec"]["ports"][0].get("nodePort"), f"no nodePort: {created['spec']}"
    fqdn = _external_service_fqdn(api, ns, "externalsvc")
    svc = update_service(api, ns, name, _to_external_name(fqdn))
    assert not svc["spec"].get("clusterIP"), (
        f"Spec.ClusterIP was not cleared: {svc['spec'].get('clusterIP')}")
    assert not any(p.get("nodePort") for p in svc["spec"].get("ports") or []), (
        f"NodePort not released: {svc['spec'].get('ports')}")
    check_service_reachability(api, dnsc, svc)


def test_should_serve_endpoints_on_same_port_and_different_protocols(
        api: Api, ns: str) -> None:
    """[sig-network] Services should serve endpoints on same port and different protocols
    [Conformance]"""
    name = "multiprotocol-test"
    labels = {"app": "multiport"}
    tcp_port = {"name": "tcp-port", "port": 80, "targetPort": 80, "protocol": "TCP"}
    udp_port = {"name": "udp-port", "port": 80, "targetPort": 80, "protocol": "UDP"}
    svc = _create(api, ns, {**service(name, selector=labels, type="ClusterIP",
                                      ports=[tcp_port, udp_port]),
                            "metadata": {"name": name, "labels": labels}})
    pod = create_pod_sync(api, ns, agnhost_pod(
        "pod1", "netexec", "--http-port", "80", "--udp-port", "80", labels=labels,
        ports=[{"name": "tcp-port", "containerPort": 80, "protocol": "TCP"},
               {"name": "udp-port", "containerPort": 80, "protocol": "UDP"}]))
    uid = pod["metadata"]["uid"]

    def both_protocols() -> bool:
        ep = api.get(core(ns, "endpoints", name))
        got = sorted((p["protocol"], p["port"]) for s in ep.get("subsets") or []
                     for a in s.get("addresses") or []
                     if (a.get("targetRef") or {}).get("uid") == uid
                     for p in s.get("ports") or [])
        assert got == [("TCP", 80), ("UDP", 80)], f"Endpoints ports {got}"
        return True

    poll(both_protocols, what=f"Endpoints of {ns}/{name} with TCP and UDP 80")
    ip = svc["spec"]["clusterIP"]

    def tcp_ok() -> bool:
        return tcp_connect_result(ip, 80) == "ok"

    def udp_ok() -> bool:
        return udp_request(ip, 80, "hostname") == "pod1"

    poll(tcp_ok, what=f"TCP {ip}:80")
    poll(udp_ok, what=f"UDP {ip}:80")

    update_service(api, ns, name, lambda s: s["spec"].__setitem__("ports", [tcp_port]))
    poll(tcp_ok, what=f"TCP {ip}:80 after dropping the UDP port")
    poll(lambda: not udp_ok(), timeout=30, what=f"UDP {ip}:80 to stop forwarding")

    update_service(api, ns, name, lambda s: s["spec"].__setitem__("ports", [udp_port]))
    poll(udp_ok, what=f"UDP {ip}:80 after dropping the TCP port")
    poll(lambda: not tcp_ok(), timeout=30, what=f"TCP {ip}:80 to stop forwarding")


def test_should_be_rejected_when_no_endpoints_exist(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be rejected when no endpoints exist"""
    name = "no-pods"
    svc = _create(api, ns, service(name, selector=_jig_labels(name),
                                   ports=[{"port": 80, "protocol": "TCP"}]))
    fqdn = f"{name}.{ns}.svc.{DOMAIN}"
    ip = poll(lambda: (dnsc.values(fqdn, "A") or [""])[0], what=f"{fqdn} to resolve")
    assert ip == svc["spec"]["clusterIP"]
    results: list[str] = []

    def refused() -> bool:
        results.append(tcp_connect_result(ip, 80, timeout=3))
        if results[-1] == "ok":
            pytest.fail(f"expected connect call to fail: {name}:80 ({ip}) accepted the "
                        "connection with no endpoints")
        return results[-1] == "REFUSED"

    poll(refused, timeout=20, what=f"connect to {name}:80 ({ip}) to be REFUSED")
