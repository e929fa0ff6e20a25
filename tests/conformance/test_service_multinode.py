"""Upstream ``test/e2e/network/service.go`` (Kubernetes v1.32): the Services cases that need
two schedulable nodes - source pod IP through a ClusterIP, internalTrafficPolicy=Local from
pods (and hostNetwork pods) on the endpoint's node and on the other node, terminating and
unready endpoints with and without publishNotReadyAddresses, falling back to terminating
endpoints, and the health check node port with only terminating endpoints - written anew
against kubesvc.

They run on one 2-node netns-mode cluster shared by the module (``two_node_cluster`` in
conftest; root only, otherwise they skip and say why). Pods are pinned to nodes with
``spec.nodeName`` (upstream's ``e2epod.SetNodeSelection``); what upstream runs with
``kubectl exec`` in a pod runs here with ``nsenter`` into the pod's network namespace (a
hostNetwork pod's is its node's). Upstream's 5 rounds of checks 5 s apart are 3 rounds 1 s
apart, connections expected to fail give up after 2 s instead of 5, and readiness probes
run every second, so the module stays within about a minute and a half. Run by pytest;
uses :mod:`.framework` and :mod:`.multinode`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest

from tests.conformance.conftest import case_namespace
from tests.conformance.framework import AGNHOST, Api, ApiError, agnhost_pod, core, poll
from tests.conformance.multinode import (
    HTTP80,
    PROXY_LAG,
    Exec,
    Node,
    assert_host_network,
    create_pods,
    hostport,
    jig_service,
    pod_on,
    rounds,
    wait_for_endpoint_count,
    wait_not_ready,
    webserver_pod,
)
from tests.e2e.conftest import Cluster

# -- fixtures --------------------------------------------------------------------------


@pytest.fixture
def ns(two_node_api: Api, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of its own per case; afterwards its pods are deleted with grace period 0
    (the cases leave pods terminating for 100-300 s, as upstream's do), then it goes."""
    with case_namespace(two_node_api, request, _empty_at_once) as name:
        yield name


def _empty_at_once(api: Api, name: str) -> None:
    for path in (core(name, "services"), core(name, "pods")):
        for item in _list_quiet(api, path):
            try:
                api.delete(f"{path}/{item['metadata']['name']}", gracePeriodSeconds=0)
            except ApiError:
                pass
    poll(lambda: not api.list(core(name, "pods")), timeout=20, what=f"pods of {name} gone")


def _list_quiet(api: Api, path: str) -> list[dict[str, Any]]:
    try:
        return api.list(path)
    except ApiError:
        return []


@pytest.fixture
def nodes(two_node_api: Api, two_node_cluster: Cluster) -> tuple[Node, Node]:
    """``e2enode.GetBoundedReadySchedulableNodes(cs, 2)``: two Ready, schedulable nodes."""
    topo = json.loads((two_node_cluster.data_dir / "netns.json").read_text())
    netns = {n["name"]: n["netns"] for n in topo["nodes"]}

    def two_ready() -> list[Node]:
        out = []
        for n in two_node_api.list(core(None, "nodes")):
            conds = (n.get("status") or {}).get("conditions") or []
            ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)
            if not ready or (n.get("spec") or {}).get("unschedulable"):
                continue
            ips = [a["address"] for a in n["status"].get("addresses") or []
                   if a.get("type") == "InternalIP"]
            out.append(Node(n["metadata"]["name"], ips[0], netns[n["metadata"]["name"]]))
        out.sort(key=lambda n: n.name)
        assert len(out) >= 2, f"ready schedulable nodes: {[n.name for n in out]}"
        return out[:2]

    got = poll(two_ready, timeout=30, what="two Ready schedulable nodes")
    return got[0], got[1]


# -- source IP -----------------------------------------------------------------------------


def test_should_preserve_source_pod_ip_for_traffic_thru_service_cluster_ip(
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should preserve source pod IP for traffic thru service cluster
    IP [LinuxOnly]"""
    api, ex = two_node_api, Exec(nodes)
    port = 8080
    svc, labels = jig_service(api, ns, "sourceip-test",
                              ports=[{"port": port, "protocol": "TCP", "targetPort": port}])
    create_pods(api, ns, agnhost_pod("echo-sourceip", "netexec", "--http-port", str(port),
                                     labels=labels))
    wait_for_endpoint_count(api, ns, "sourceip-test", 1)
    # Upstream: a pause-pod Deployment spread over the nodes by anti-affinity; here one
    # pause pod bound to each node.
    pause = create_pods(api, ns, *(pod_on(f"pause-pod-{i}", n) for i, n in enumerate(nodes)))
    assert pause[0]["spec"]["nodeName"] != pause[1]["spec"]["nodeName"]
    addr = hostport(svc["spec"]["clusterIP"], port)
    for pod in pause:
        # execSourceIPTest: curl <svc>/clientip from the pod, keep the host part.
        got = poll(partial(ex.answer, pod, f"{addr}/clientip"), timeout=PROXY_LAG,
                   what=f"{addr}/clientip from {pod['metadata']['name']}")
        source_ip = got.rsplit(":", 1)[0]
        assert source_ip == pod["status"]["podIP"], (
            f"expected preserved source IP is {pod['status']['podIP']} "
            f"({pod['spec']['nodeName']}), got {got}: internal pod traffic is masqueraded")


# -- publishNotReadyAddresses with a terminating, unready endpoint -------------------------


def _unready_webserver(node: Node, labels: dict[str, str]) -> dict[str, Any]:
    """The cases' webserver: netexec on port 80 that delays its shutdown by 300 s, readiness
    on ``/readyz`` (503 once SIGTERM arrived), liveness on ``/healthz``."""
    grace = 300
    pod = pod_on("webserver-pod", node, labels=labels)
    pod["spec"]["containers"] = [{
        "name": "agnhost", "image": AGNHOST,
        "args": ["netexec", "--http-port=80", f"--delay-shutdown={grace}"],
        "ports": [{"containerPort": 80}],
        # periodSeconds 1 (upstream: the default 10) so that unreadiness shows soon.
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 80, "scheme": "HTTP"},
                           "periodSeconds": 1},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"}},
    }]
    pod["spec"]["terminationGracePeriodSeconds"] = grace
    return pod


def _terminating_unready_case(api: Api, ns: str, nodes: tuple[Node, Node], *, name: str,
                              publish: bool) -> tuple[Exec, dict[str, Any], list[str]]:
    """Both cases' set-up: a NodePort Service, its webserver on node 0 deleted (so
    terminating) and unready, a pause pod on node 1. Returns the exec helper, the pause pod
    and the addresses to try (ClusterIP, NodePort on node 0, on node 1)."""
    node0, node1 = nodes
    svc, labels = jig_service(api, ns, name, ports=HTTP80, type="NodePort",
                              publishNotReadyAddresses=publish)
    create_pods(api, ns, _unready_webserver(node0, labels))
    wait_for_endpoint_count(api, ns, name, 1)
    (pause1,) = create_pods(api, ns, pod_on("pause-pod-1", node1))
    api.delete(core(ns, "pods", "webserver-pod"))
    wait_not_ready(api, ns, "webserver-pod")
    node_port = int(svc["spec"]["ports"][0]["nodePort"])
    addrs = [hostport(svc["spec"]["clusterIP"], 80), hostport(node0.ip, node_port),
             hostport(node1.ip, node_port)]
    return Exec(nodes), pause1, addrs


def test_should_be_able_to_connect_to_terminating_and_unready_endpoints_if_publishnotreadyaddresses_is_true(  # noqa: E501
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should be able to connect to terminating and unready endpoints
    if PublishNotReadyAddresses is true"""
    ex, pause1, addrs = _terminating_unready_case(two_node_api, ns, nodes,
                                                  name="svc-tolerate-unready", publish=True)
    for _ in rounds():
        for addr in addrs:  # ClusterIP, node 0's NodePort, node 1's NodePort
            ex.hostname_test(pause1, addr, "webserver-pod")


def test_should_not_be_able_to_connect_to_terminating_and_unready_endpoints_if_publishnotreadyaddresses_is_false(  # noqa: E501
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should not be able to connect to terminating and unready
    endpoints if PublishNotReadyAddresses is false"""
    ex, pause1, addrs = _terminating_unready_case(two_node_api, ns, nodes,
                                                  name="svc-not-tolerate-unready",
                                                  publish=False)
    cluster_ip, np0, np1 = addrs
    ex.until_fails(pause1, np0, "the NodePort of node 0")  # the change reached both nodes
    ex.until_fails(pause1, np1, "the NodePort of node 1")
    for _ in rounds():
        tries = [(ex.fails(pause1, cluster_ip), "cluster IP"),
                 (ex.fails(pause1, np0), "NodePort address of node 0"),
                 (ex.fails(pause1, np1), "NodePort address of node 1")]
        with ex.reaped(*(p for p, _ in tries)):
            for p, what in tries:
                ex.assert_failed(p, what)


# -- internalTrafficPolicy=Local -----------------------------------------------------------


def _itp_local_checks(ex: Exec, local: dict[str, Any], remote: dict[str, Any], addr: str,
                      want: str) -> None:
    """Each round: ``local`` (on the endpoint's node) reaches ``want`` through ``addr``;
    ``remote`` (on the other node) gets a connection error every time."""
    for _ in rounds():
        failing = ex.fails(remote, addr)
        with ex.reaped(failing):
            ex.hostname_test(local, addr, want)
            ex.assert_failed(failing, f"cluster IP from {remote['metadata']['name']}")


def test_should_respect_internaltrafficpolicy_local_pod_to_pod(
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should respect internalTrafficPolicy=Local Pod to Pod"""
    api, (node0, node1) = two_node_api, nodes
    svc, labels = jig_service(api, ns, "svc-itp", ports=HTTP80, internalTrafficPolicy="Local")
    create_pods(api, ns, pod_on("echo-hostname-0", node0, "netexec", "--http-port", "80",
                                labels=labels))
    wait_for_endpoint_count(api, ns, "svc-itp", 1)
    pause0, pause1 = create_pods(api, ns, pod_on("pause-pod-0", node0),
                                 pod_on("pause-pod-1", node1))
    _itp_local_checks(Exec(nodes), pause0, pause1, hostport(svc["spec"]["clusterIP"], 80),
                      "echo-hostname-0")


def test_should_respect_internaltrafficpolicy_local_pod_hostnetwork_true_to_pod(
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should respect internalTrafficPolicy=Local Pod (hostNetwork:
    true) to Pod"""
    api, (node0, node1) = two_node_api, nodes
    port = 8000
    svc, labels = jig_service(api, ns, "svc-itp",
                              ports=[{"port": port, "name": "http", "protocol": "TCP",
                                      "targetPort": port}],
                              internalTrafficPolicy="Local")
    create_pods(api, ns, pod_on("echo-hostname-0", node0, "netexec", "--http-port",
                                str(port), labels=labels))
    wait_for_endpoint_count(api, ns, "svc-itp", 1)
    pause0, pause1 = create_pods(api, ns, pod_on("pause-pod-0", node0, hostNetwork=True),
                                 pod_on("pause-pod-1", node1, hostNetwork=True))
    assert_host_network(pause0, node0)
    assert_host_network(pause1, node1)
    _itp_local_checks(Exec(nodes), pause0, pause1, hostport(svc["spec"]["clusterIP"], port),
                      "echo-hostname-0")


def test_should_respect_internaltrafficpolicy_local_pod_and_node_to_pod_hostnetwork_true(
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should respect internalTrafficPolicy=Local Pod and Node, to Pod
    (hostNetwork: true)"""
    api, (node0, node1) = two_node_api, nodes
    endpoint_port = 10180
    svc, labels = jig_service(api, ns, "svc-itp",
                              ports=[{"port": 80, "name": "http", "protocol": "TCP",
                                      "targetPort": endpoint_port}],
                              internalTrafficPolicy="Local")
    (web,) = create_pods(api, ns, pod_on("echo-hostname-0", node0, "netexec", "--http-port",
                                         str(endpoint_port), "--udp-port", str(endpoint_port),
                                         labels=labels, hostNetwork=True))
    assert_host_network(web, node0)
    wait_for_endpoint_count(api, ns, "svc-itp", 1)
    addr = hostport(svc["spec"]["clusterIP"], 80)
    ex = Exec(nodes)
    pause0, pause1 = create_pods(api, ns, pod_on("pause-pod-0", node0),
                                 pod_on("pause-pod-1", node1))
    # The backend is on the host network: it answers with its node's hostname.
    _itp_local_checks(ex, pause0, pause1, addr, node0.name)
    pause2, pause3 = create_pods(api, ns, pod_on("pause-pod-2", node0, hostNetwork=True),
                                 pod_on("pause-pod-3", node1, hostNetwork=True))
    assert_host_network(pause2, node0)
    assert_host_network(pause3, node1)
    _itp_local_checks(ex, pause2, pause3, addr, node0.name)


# -- terminating endpoints -----------------------------------------------------------------


def _terminating_case(api: Api, ns: str, nodes: tuple[Node, Node],
                      **spec: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The fallback cases' set-up: Service ``svc-proxy-terminating`` (``spec`` on top of
    port 80), its only endpoint ``echo-hostname-0`` on node 0 (netexec delaying its
    shutdown by 100 s), pause pods on node 0 and node 1, then the endpoint deleted (so
    terminating, still serving). Returns the Service and the two pause pods."""
    node0, node1 = nodes
    svc, labels = jig_service(api, ns, "svc-proxy-terminating", ports=HTTP80, **spec)
    (web,) = create_pods(api, ns, webserver_pod("echo-hostname-0", node0, 80, labels=labels,
                                                grace=100))
    wait_for_endpoint_count(api, ns, "svc-proxy-terminating", 1)
    pause0, pause1 = create_pods(api, ns, pod_on("pause-pod-0", node0),
                                 pod_on("pause-pod-1", node1))
    # Not upstream's: make sure the endpoint serves before it starts terminating, so that a
    # failure below is about the terminating endpoint.
    Exec(nodes).hostname_test(pause0, f"{web['status']['podIP']}:80", "echo-hostname-0")
    api.delete(core(ns, "pods", "echo-hostname-0"))
    return svc, pause0, pause1


def test_should_fail_health_check_node_port_if_there_are_only_terminating_endpoints(
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should fail health check node port if there are only
    terminating endpoints"""
    api, (node0, _) = two_node_api, nodes
    ex = Exec(nodes)
    svc, labels = jig_service(api, ns, "svc-proxy-terminating", ports=HTTP80,
                              type="LoadBalancer", externalTrafficPolicy="Local")
    create_pods(api, ns, webserver_pod("echo-hostname-0", node0, 80, labels=labels, grace=100))
    wait_for_endpoint_count(api, ns, "svc-proxy-terminating", 1)
    (pause0,) = create_pods(api, ns, pod_on("pause-pod-0", node0))
    hc = f"http://{hostport(node0.ip, int(svc['spec']['healthCheckNodePort']))}/healthz"

    def health(want: str) -> bool:
        _, out = ex.run(pause0, hc, connect_timeout=5, max_time=5,
                        extra=("-o", "/dev/null", "-w", "%{http_code}"))
        assert out == want, f"health check node port {hc}: got {out!r}, want {want}"
        return True

    poll(lambda: health("200"), timeout=PROXY_LAG, interval=1,
         what="the health check node port to answer 200 with a ready endpoint")
    api.delete(core(ns, "pods", "echo-hostname-0"))
    poll(lambda: health("503"), timeout=PROXY_LAG, interval=1,
         what="the health check node port to answer 503 with only a terminating endpoint")
    # While it says 503, the terminating endpoint still serves through the NodePort.
    ex.hostname_test(pause0, hostport(node0.ip, int(svc["spec"]["ports"][0]["nodePort"])),
                     "echo-hostname-0")


def test_should_fallback_to_terminating_endpoints_when_there_are_no_ready_endpoints_with_internaltrafficpolicy_cluster(  # noqa: E501
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should fallback to terminating endpoints when there are no
    ready endpoints with internalTrafficPolicy=Cluster"""
    svc, pause0, pause1 = _terminating_case(two_node_api, ns, nodes)
    addr = hostport(svc["spec"]["clusterIP"], 80)
    ex = Exec(nodes)
    for _ in rounds():  # both nodes reach the terminating endpoint: the policy is Cluster
        ex.hostname_test(pause0, addr, "echo-hostname-0")
        ex.hostname_test(pause1, addr, "echo-hostname-0")


def test_should_fallback_to_local_terminating_endpoints_when_there_are_no_ready_endpoints_with_internaltrafficpolicy_local(  # noqa: E501
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should fallback to local terminating endpoints when there are
    no ready endpoints with internalTrafficPolicy=Local"""
    svc, pause0, pause1 = _terminating_case(two_node_api, ns, nodes,
                                            internalTrafficPolicy="Local")
    # node 0 reaches its local terminating endpoint; node 1 has none: connection error.
    _itp_local_checks(Exec(nodes), pause0, pause1, hostport(svc["spec"]["clusterIP"], 80),
                      "echo-hostname-0")


def test_should_fallback_to_terminating_endpoints_when_there_are_no_ready_endpoints_with_externalltrafficpolicy_cluster(  # noqa: E501
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should fallback to terminating endpoints when there are no
    ready endpoints with externallTrafficPolicy=Cluster"""
    svc, pause0, pause1 = _terminating_case(two_node_api, ns, nodes, type="NodePort")
    addr = hostport(nodes[0].ip, int(svc["spec"]["ports"][0]["nodePort"]))
    ex = Exec(nodes)
    for _ in rounds():  # node 0's NodePort, from both nodes: the policy is Cluster
        ex.hostname_test(pause0, addr, "echo-hostname-0")
        ex.hostname_test(pause1, addr, "echo-hostname-0")


def test_should_fallback_to_local_terminating_endpoints_when_there_are_no_ready_endpoints_with_externaltrafficpolicy_local(  # noqa: E501
        two_node_api: Api, ns: str, nodes: tuple[Node, Node]) -> None:
    """[sig-network] Services should fallback to local terminating endpoints when there are
    no ready endpoints with externalTrafficPolicy=Local"""
    node0, node1 = nodes
    svc, pause0, pause1 = _terminating_case(two_node_api, ns, nodes, type="NodePort",
                                            externalTrafficPolicy="Local")
    node_port = int(svc["spec"]["ports"][0]["nodePort"])
    np0, np1 = hostport(node0.ip, node_port), hostport(node1.ip, node_port)
    ex = Exec(nodes)
    for _ in rounds():
        # pause 0 -> node 1's NodePort is external traffic to a node with no local
        # endpoint: it fails. Node 0's NodePort serves its local terminating endpoint to
        # both. (pause 1 -> node 1 is not checked, as upstream: implementations differ.)
        failing = ex.fails(pause0, np1)
        with ex.reaped(failing):
            ex.hostname_test(pause0, np0, "echo-hostname-0")
            ex.hostname_test(pause1, np0, "echo-hostname-0")
            ex.assert_failed(failing, "node 1's NodePort from pause-pod-0")
