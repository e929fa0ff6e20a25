"""Upstream ``test/e2e/network/service.go`` (Kubernetes v1.32): the untagged Services cases
that a one-node kubesvc can run, written anew (the [Conformance] ones are in
:mod:`.test_service`, :mod:`.test_service_affinity` and :mod:`.test_service_api`).

Checks run from the node, as in :mod:`.test_service`. Run by pytest; uses
:mod:`.framework` and :mod:`.probes`.
"""

from __future__ import annotations

import ipaddress
import json
import random
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conformance.framework import (
    Api,
    ApiError,
    agnhost_pod,
    core,
    create_pod_sync,
    delete_pod_and_wait,
    hostname_via,
    http_get,
    node_internal_ip,
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
from tests.e2e.conftest import Cluster

NODE_PORT_RANGE = range(30000, 32768)


def _labels(name: str) -> dict[str, str]:
    return {"testid": unique(name)}


def _serve_hostname_service(api: Api, ns: str, name: str, replicas: int, *,
                            labels: dict[str, str] | None = None) -> tuple[list[str], str]:
    """``StartServeHostnameService``: Service port 80 -> 9376 over ``replicas`` pods."""
    api.create(core(ns, "services"), {
        **service(name, selector={"name": name},
                  ports=[{"port": 80, "targetPort": 9376, "protocol": "TCP"}]),
        "metadata": {"name": name, "labels": labels or {}}})
    pods = serve_hostname_pods(api, ns, name, replicas)
    ip = api.get(core(ns, "services", name))["spec"]["clusterIP"]
    assert ip, f"service IP is blank for {name}"
    return pods, str(ip)


def _stop_serve_hostname_service(api: Api, ns: str, name: str, pods: list[str]) -> None:
    for pod in pods:
        delete_pod_and_wait(api, ns, pod)
    api.delete(core(ns, "services", name))


def _verify_up(ip: str, port: int, pods: list[str], *, timeout: float = 20) -> None:
    """``verifyServeHostnameServiceUp``: every expected pod answers through the Service."""
    seen: set[str] = set()

    def all_seen() -> bool:
        for _ in range(50 * len(pods)):
            try:
                seen.add(hostname_via(ip, port, path="/", timeout=1))
            except (AssertionError, OSError):
                pass
            if seen >= set(pods):
                return True
        return False

    poll(all_seen, timeout=timeout,
         what=f"{ip}:{port} to reach {sorted(pods)} (seen {sorted(seen)})")


def _verify_down(ip: str, port: int, *, timeout: float = 20, why: str = "") -> None:
    """``verifyServeHostnameServiceDown``: a request with a 2 s connect timeout fails."""
    def down() -> bool:
        try:
            http_get(ip, port, "/", timeout=2)
        except OSError:
            return True
        return False

    poll(down, timeout=timeout, what=f"{ip}:{port} to stop answering{why}")


def test_should_be_updated_after_adding_or_deleting_ports(
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be updated after adding or deleting ports"""
    name = "edit-port-test"
    labels = _labels(name)
    port1 = {"name": "portname1", "port": 80, "targetPort": "svc1", "protocol": "TCP"}
    port2 = {"name": "portname2", "port": 81, "targetPort": "svc2", "protocol": "TCP"}
    api.create(core(ns, "services"), service(name, selector=labels, ports=[port1]))
    validate_endpoints_ports(api, ns, name, {})
    create_pod_sync(api, ns, agnhost_pod("pod1", "netexec", "--http-port", "100",
                                         labels=labels,
                                         ports=[{"name": "svc1", "containerPort": 100}]))
    validate_endpoints_ports(api, ns, name, {"pod1": [100]})
    check_service_reachability(api, dnsc, api.get(core(ns, "services", name)))

    svc = update_service(api, ns, name, lambda s: s["spec"].__setitem__("ports",
                                                                       [port1, port2]))
    create_pod_sync(api, ns, agnhost_pod("pod2", "netexec", "--http-port", "101",
                                         labels=labels,
                                         ports=[{"name": "svc2", "containerPort": 101}]))
    validate_endpoints_ports(api, ns, name, {"pod1": [100], "pod2": [101]})
    check_service_reachability(api, dnsc, svc)

    svc = update_service(api, ns, name, lambda s: s["spec"].__setitem__("ports", [port1]))
    validate_endpoints_ports(api, ns, name, {"pod1": [100]})
    check_service_reachability(api, dnsc, svc)


def test_should_allow_pods_to_hairpin_back_to_themselves_through_services(
        api: Api, ns: str) -> None:
    """[sig-network] Services should allow pods to hairpin back to themselves through
    services"""
    name = "hairpin-test"
    labels = _labels(name)
    svc = api.create(core(ns, "services"), service(name, selector=labels,
                                                   ports=[{"port": 8080, "protocol": "TCP"}]))
    pod = create_pod_sync(api, ns, agnhost_pod("hairpin", "netexec", "--http-port", "8080",
                                               labels=labels))
    validate_endpoints_ports(api, ns, name, {"hairpin": [8080]})
    cluster_ip, pod_ip = svc["spec"]["clusterIP"], pod["status"]["podIP"]
    query = urlencode({"host": cluster_ip, "port": 8080, "request": "hostname",
                       "protocol": "http", "tries": 1})

    def via_itself() -> bool:
        status, body = http_get(pod_ip, 8080, f"/dial?{query}", timeout=5)
        assert status == 200, (status, body)
        assert json.loads(body).get("responses") == ["hairpin"], body
        return True

    poll(via_itself, what="the pod to reach itself through its Service")


def test_should_be_able_to_up_and_down_services(api: Api, ns: str) -> None:
    """[sig-network] Services should be able to up and down services"""
    pods1, ip1 = _serve_hostname_service(api, ns, "up-down-1", 3)
    pods2, ip2 = _serve_hostname_service(api, ns, "up-down-2", 3)
    _verify_up(ip1, 80, pods1)
    _verify_up(ip2, 80, pods2)

    _stop_serve_hostname_service(api, ns, "up-down-1", pods1)
    _verify_down(ip1, 80)
    _verify_up(ip2, 80, pods2)

    pods3, ip3 = _serve_hostname_service(api, ns, "up-down-3", 3)
    assert ip2 != ip3, f"service IPs conflict: {ip2}"
    _verify_up(ip2, 80, pods2)
    _verify_up(ip3, 80, pods3)


def test_should_work_after_the_service_has_been_recreated(api: Api, ns: str) -> None:
    """[sig-network] Services should work after the service has been recreated"""
    name = "service-deletion"
    pods, ip = _serve_hostname_service(api, ns, name, 1)
    _verify_up(ip, 80, pods)
    api.delete(core(ns, "services", name))

    def gone() -> bool:
        try:
            api.get(core(ns, "services", name))
        except ApiError as exc:
            return exc.status == 404
        return False

    poll(gone, what=f"service {ns}/{name} to disappear")
    svc = api.create(core(ns, "services"), service(
        name, selector={"name": name},
        ports=[{"port": 80, "targetPort": 9376, "protocol": "TCP"}]))
    _verify_up(svc["spec"]["clusterIP"], 80, pods)


def test_should_be_possible_to_connect_to_a_service_via_externalip_when_the_external_ip_is_not_assigned_to_a_node(  # noqa: E501
        api: Api, dnsc: Dns, cluster: Cluster, ns: str) -> None:
    """[sig-network] Services should be possible to connect to a service via ExternalIP when
    the external IP is not assigned to a node"""
    # Upstream uses 203.0.113.250 (TEST-NET-3); traffic must stay on loopback here, so the
    # external IP is an unassigned loopback address outside the node IP, the Service range
    # and the LoadBalancer pool.
    external_ip = "127.203.0.250"
    assert ipaddress.ip_address(external_ip) not in ipaddress.ip_network(cluster.service_cidr)
    assert external_ip != node_internal_ip(api)
    name = "externalip-test"
    labels = _labels(name)
    svc = api.create(core(ns, "services"), service(
        name, selector=labels, type="ClusterIP", externalIPs=[external_ip],
        ports=[{"port": 80, "name": "http", "protocol": "TCP", "targetPort": 9376}]))
    serve_hostname_pods(api, ns, name, 2, labels=labels)
    check_service_reachability(api, dnsc, svc)
    # ...and it is that address which is served, not every loopback address.
    assert tcp_connect_result("127.203.0.251", 80) == "REFUSED"


def test_should_be_able_to_update_service_type_to_nodeport_listening_on_same_port_number_but_different_protocols(  # noqa: E501
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should be able to update service type to NodePort listening on
    same port number but different protocols"""
    name = "nodeport-update-service"
    labels = _labels(name)
    api.create(core(ns, "services"), service(name, selector=labels,
                                             ports=[{"port": 80, "protocol": "TCP"}]))
    tcp = {"name": "tcp-port", "port": 80, "protocol": "TCP", "targetPort": 9376}
    udp = {"name": "udp-port", "port": 80, "protocol": "UDP", "targetPort": 9376}

    def to_nodeport(ports: list[dict[str, Any]]) -> Any:
        def mutate(s: dict[str, Any]) -> None:
            s["spec"]["type"] = "NodePort"
            s["spec"]["ports"] = ports
        return mutate

    svc = update_service(api, ns, name, to_nodeport([tcp]))
    serve_hostname_pods(api, ns, name, 2, labels=labels)
    check_service_reachability(api, dnsc, svc)

    svc = update_service(api, ns, name, to_nodeport([tcp, udp]))
    check_service_reachability(api, dnsc, svc)
    ports = svc["spec"]["ports"]
    assert len(ports) == 2, f"updated service should have two Ports but found {ports}"
    for port in ports:
        assert port.get("nodePort"), f"NodePort service failed to allocate NodePort: {port}"


def _server_test_service(name: str, **spec: Any) -> dict[str, Any]:
    """``ServerTest.BuildServiceSpec``: port 80 -> 80, of type NodePort here."""
    return service(name, selector={"server-test": name}, type="NodePort",
                   ports=[{"port": 80, "targetPort": 80, "protocol": "TCP", **spec}])


def test_should_prevent_nodeport_collisions(api: Api, ns: str) -> None:
    """[sig-network] Services should prevent NodePort collisions"""
    first = api.create(core(ns, "services"), _server_test_service("nodeport-collision-1"))
    assert first["spec"]["type"] == "NodePort" and len(first["spec"]["ports"]) == 1, first
    node_port = first["spec"]["ports"][0].get("nodePort")
    assert node_port, f"got unexpected Spec.Ports[0].NodePort for new service: {first}"
    second = _server_test_service("nodeport-collision-2", nodePort=node_port)
    with pytest.raises(ApiError) as err:
        api.create(core(ns, "services"), second)
    assert re.search(f"{node_port}.*port is already allocated", str(err.value)), err.value
    api.delete(core(ns, "services", "nodeport-collision-1"))
    api.create(core(ns, "services"), second)


def test_should_check_nodeport_out_of_range(api: Api, ns: str) -> None:
    """[sig-network] Services should check NodePort out-of-range"""
    name = "nodeport-range-test"
    svc = api.create(core(ns, "services"), _server_test_service(name))
    node_port = svc["spec"]["ports"][0].get("nodePort")
    assert node_port in NODE_PORT_RANGE, f"unexpected (out-of-range) port: {svc['spec']}"
    bad = random.choice([p for p in range(1, 65536) if p not in NODE_PORT_RANGE])
    expected = f"{bad}.*port is not in the valid range"
    with pytest.raises(ApiError) as err:
        update_service(api, ns, name,
                       lambda s: s["spec"]["ports"][0].__setitem__("nodePort", bad))
    assert re.search(expected, str(err.value)), err.value
    api.delete(core(ns, "services", name))
    with pytest.raises(ApiError) as err:
        api.create(core(ns, "services"), _server_test_service(name, nodePort=bad))
    assert re.search(expected, str(err.value)), err.value


def _listening(port: int) -> bool:
    """Whether any TCP socket on this host listens on ``port`` (``ss -ant 'sport = :N'``)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                return True
    return False


def test_should_release_nodeports_on_delete(api: Api, ns: str) -> None:
    """[sig-network] Services should release NodePorts on delete"""
    name = "nodeport-reuse"
    svc = api.create(core(ns, "services"), _server_test_service(name))
    node_port = svc["spec"]["ports"][0].get("nodePort")
    assert node_port in NODE_PORT_RANGE, svc["spec"]
    api.delete(core(ns, "services", name))
    poll(lambda: not _listening(node_port),
         what=f"node port {node_port} to not be in use after the delete")
    api.create(core(ns, "services"), _server_test_service(name, nodePort=node_port))


def _proxy_label_case(api: Api, ns: str, label: dict[str, str], prefix: str) -> None:
    """The shared shape of the service-proxy-name and headless-label cases: a Service
    created with ``label`` is never served; toggling it on another Service takes that one
    down and back up."""
    _, disabled_ip = _serve_hostname_service(api, ns, f"{prefix}", 3, labels=label)
    toggled = f"{prefix}-toggled"
    pods, toggled_ip = _serve_hostname_service(api, ns, toggled, 3)
    _verify_up(toggled_ip, 80, pods)
    labelled = f" (Service {prefix} carries {label}, so the proxy must ignore it)"
    _verify_down(disabled_ip, 80, why=labelled)
    update_service(api, ns, toggled, lambda s: s["metadata"].__setitem__("labels", label))
    _verify_down(toggled_ip, 80, why=f" (label {label} added to Service {toggled})")
    update_service(api, ns, toggled, lambda s: s["metadata"].__setitem__("labels", {}))
    _verify_up(toggled_ip, 80, pods)
    _verify_down(disabled_ip, 80, why=labelled)


def test_should_implement_service_kubernetes_io_service_proxy_name(api: Api, ns: str) -> None:
    """[sig-network] Services should implement service.kubernetes.io/service-proxy-name"""
    _proxy_label_case(api, ns, {"service.kubernetes.io/service-proxy-name": "foo-bar"},
                      "service-proxy-disabled")


def test_should_implement_service_kubernetes_io_headless(api: Api, ns: str) -> None:
    """[sig-network] Services should implement service.kubernetes.io/headless"""
    _proxy_label_case(api, ns, {"service.kubernetes.io/headless": ""}, "service-headless")


def test_should_serve_endpoints_on_same_port_and_different_protocol_for_internal_traffic_on_type_loadbalancer(  # noqa: E501
        api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should serve endpoints on same port and different protocol for
    internal traffic on Type LoadBalancer"""
    name = "multiprotocol-lb-test"
    labels = _labels(name)
    svc = api.create(core(ns, "services"), service(name, selector=labels, type="LoadBalancer",
                                                   ports=[
        {"name": "portname1", "port": 80, "targetPort": "svc1", "protocol": "TCP"},
        {"name": "portname2", "port": 80, "targetPort": "svc2", "protocol": "UDP"}]))
    assert svc["spec"].get("clusterIP"), f"no ClusterIP: {svc['spec']}"
    pod = create_pod_sync(api, ns, agnhost_pod(
        "pod1", "netexec", "--http-port", "100", "--udp-port", "100", labels=labels,
        ports=[{"name": "svc1", "containerPort": 100, "protocol": "TCP"},
               {"name": "svc2", "containerPort": 100, "protocol": "UDP"}]))
    uid = pod["metadata"]["uid"]

    def both() -> bool:
        ep = api.get(core(ns, "endpoints", name))
        got = sorted((p["protocol"], p["port"]) for s in ep.get("subsets") or []
                     if any((a.get("targetRef") or {}).get("uid") == uid
                            for a in s.get("addresses") or [])
                     for p in s.get("ports") or [])
        assert got == [("TCP", 100), ("UDP", 100)], got
        return True

    poll(both, what=f"Endpoints of {name} with TCP and UDP 100")
    check_service_reachability(api, dnsc, svc, udp=True)
    assert udp_request(svc["spec"]["clusterIP"], 80, "hostname") == "pod1"


def test_should_allow_creating_a_basic_sctp_service_with_pod_and_endpoints(
        api: Api, ns: str) -> None:
    """[sig-network] Services should allow creating a basic SCTP service with pod and
    endpoints [LinuxOnly] [Serial]"""
    name = "sctp-endpoint-test"
    labels = _labels(name)
    api.create(core(ns, "services"), service(name, selector=labels,
                                             ports=[{"port": 5060, "protocol": "SCTP"}]))
    poll(lambda: api.get(core(ns, "services", name)), what=f"service {name}")
    validate_endpoints_ports(api, ns, name, {})
    create_pod_sync(api, ns, agnhost_pod("pod1", labels=labels,
                                         ports=[{"containerPort": 5060, "protocol": "SCTP"}]))
    validate_endpoints_ports(api, ns, name, {"pod1": [5060]})
    delete_pod_and_wait(api, ns, "pod1")
    validate_endpoints_ports(api, ns, name, {})


def test_should_create_endpoints_for_unready_pods(api: Api, dnsc: Dns, ns: str) -> None:
    """[sig-network] Services should create endpoints for unready pods"""
    name = "tolerate-unready"
    labels = {"server-test": name}
    terminate_seconds = 100
    api.create(core(ns, "services"), service(
        name, selector=labels, publishNotReadyAddresses=True,
        ports=[{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}]))
    pod = agnhost_pod("slow-terminating-unready-pod", "netexec", "--http-port=80",
                      labels=labels, ports=[{"containerPort": 80, "protocol": "TCP"}])
    container = pod["spec"]["containers"][0]
    container["readinessProbe"] = {"exec": {"command": ["/bin/false"]}}
    container["lifecycle"] = {"preStop": {"exec": {
        "command": ["/bin/sleep", str(terminate_seconds)]}}}
    pod["spec"]["terminationGracePeriodSeconds"] = terminate_seconds
    api.create(core(ns, "pods"), pod)
    pod_name = pod["metadata"]["name"]

    def running_unready() -> bool:
        p = api.get(core(ns, "pods", pod_name))
        return (p.get("status") or {}).get("phase") == "Running"

    poll(running_unready, timeout=30, what=f"pod {pod_name} Running")
    fqdn = f"{name}.{ns}.svc.{DOMAIN}"

    def serves() -> bool:
        (ip,) = dnsc.values(fqdn, "A")
        status, _ = http_get(ip, 80, "/", timeout=2)
        return status == 200

    def refuses() -> bool:
        try:
            return not serves()
        except (OSError, AssertionError, ValueError):
            return True

    try:
        poll(serves, what=f"the unready endpoint to serve http://{fqdn}:80/")
        api.delete(core(ns, "pods", pod_name))  # upstream: scale the RC to zero
        update_service(api, ns, name,
                       lambda s: s["spec"].__setitem__("publishNotReadyAddresses", False))
        poll(refuses, what=f"http://{fqdn}:80/ to stop answering without the unready pod")
        update_service(api, ns, name,
                       lambda s: s["spec"].__setitem__("publishNotReadyAddresses", True))
        poll(serves, what=f"the terminating pod to be available through http://{fqdn}:80/")
    finally:
        try:
            api.delete(core(ns, "pods", pod_name), gracePeriodSeconds=0)
        except ApiError:
            pass
