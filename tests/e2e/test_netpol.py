"""NetworkPolicy in the kernel data plane beyond upstream's netpol cases (those are in
``tests/conformance/test_netpol.py``, on the same x/y/z model): a port range
(``endPort``) that grows, and Service traffic judged after DNAT — a ClusterIP reached
from a pod, and a NodePort reached from the ``client`` namespace outside the cluster
(SNATed by the node it entered when the pod lives on another). One 2-node netns-mode
cluster for the module; root only, otherwise skipped with the reason."""

from __future__ import annotations

import json
import subprocess

from tests.conformance import conftest as cconf
from tests.conformance import netpolfixtures as fx
from tests.conformance.framework import Api, core, poll
from tests.conformance.netpolfixtures import NP, P, R, match, ns_is, policy
from tests.conformance.netpolmodel import Model, validate
from tests.e2e.conftest import Cluster

two_node_cluster = cconf.two_node_cluster
two_node_api = cconf.two_node_api
api = fx.api
model = fx.model
k8s = fx.k8s


def test_port_range_with_end_port(api: Api, k8s: Model) -> None:
    """``endPort``: egress from x/a allowed to 79-80 only; 81 is outside the range."""
    policy(api, k8s.ns("x"), "egress-range", match(pod="a"),
           egress=[{"ports": [{"port": 79, "endPort": 80}]}])
    validate(k8s, R(k8s), 80)
    r = R(k8s)
    r.expect_all_egress(P(k8s, "x", "a"), False)
    validate(k8s, r, 81)
    api.patch(NP.format(ns=k8s.ns("x")) + "/egress-range",
              {"spec": {"egress": [{"ports": [{"port": 79, "endPort": 81}]}]}})
    validate(k8s, R(k8s), 81)


def _curl_code(argv: list[str]) -> int:
    return subprocess.run(argv, capture_output=True, timeout=15).returncode


def test_service_traffic_is_judged_after_dnat(api: Api, k8s: Model,
                                              two_node_cluster: Cluster) -> None:
    """A ClusterIP reached from a pod, and a NodePort reached from the client namespace
    (outside the cluster), are allowed or denied as the endpoint pod's policies say."""
    ns = k8s.ns("x")
    svc = api.create(core(ns, "services"), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "to-a"},
        "spec": {"type": "NodePort", "selector": {"pod": "a"},
                 "ports": [{"port": 8080, "targetPort": 80, "protocol": "TCP"}]}})
    try:
        cluster_ip = svc["spec"]["clusterIP"]
        node_port = svc["spec"]["ports"][0]["nodePort"]
        topo = json.loads((two_node_cluster.data_dir / "netns.json").read_text())
        client_ns = topo["client_netns"]
        node_ip = topo["nodes"][1]["ip"]  # node-2: a's traffic crosses the bridge
        y_a = next(p for p in k8s.pods if p.key == P(k8s, "y", "a"))

        def from_y_a() -> bool:
            r = subprocess.run(["nsenter", "-t", str(y_a.pid), "-n", "--", "python3", "-c",
                                "import socket,sys; s=socket.create_connection("
                                f"('{cluster_ip}', 8080), timeout=1); s.recv(64)"],
                               capture_output=True, timeout=10)
            return r.returncode == 0

        def from_client() -> bool:
            r = subprocess.run(["ip", "netns", "exec", client_ns, "python3", "-c",
                                "import socket; s=socket.create_connection("
                                f"('{node_ip}', {node_port}), timeout=1); s.recv(64)"],
                               capture_output=True, timeout=10)
            return r.returncode == 0

        poll(lambda: from_y_a() and from_client(), timeout=15,
             what="the Service reachable before any policy")
        policy(api, ns, "only-from-z", match(pod="a"),
               ingress=[{"from": [ns_is(k8s.ns("z"))]}])
        poll(lambda: not from_y_a() and not from_client(), timeout=10,
             what="ClusterIP and NodePort traffic to x/a denied")
        # the client's address is still the source where a lives? node-2 SNATs it for a
        # pod on node-1, so allow the nodes' subnet as upstream's cluster policy would see it
        api.patch(NP.format(ns=ns) + "/only-from-z", {"spec": {"ingress": [
            {"from": [ns_is(k8s.ns("z")), ns_is(k8s.ns("y")),
                      {"ipBlock": {"cidr": "172.20.0.0/24"}}]}]}})
        poll(lambda: from_y_a() and from_client(), timeout=10,
             what="ClusterIP from y and NodePort from the node subnet allowed again")
    finally:
        api.delete(core(ns, "services", "to-a"))


