"""The system Services' Endpoints/EndpointSlices: one subset and slice per port, distinct
sorted addresses, node names carried, the writer in the kube-dns slices' managed-by."""

from __future__ import annotations

from kubesvc.api import sysendpoints as se


def test_kubernetes_one_port_group_per_port() -> None:
    eps, slices = se.build(se.KUBERNETES, [se.Backend("127.0.0.2", 6443),
                                           se.Backend("127.0.0.1", 6443),
                                           se.Backend("127.0.0.1", 6443),
                                           se.Backend("::1", 7443)])
    assert eps["metadata"] == {"name": "kubernetes", "namespace": "default",
                               "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}
    assert eps["subsets"] == [
        {"addresses": [{"ip": "127.0.0.1"}, {"ip": "127.0.0.2"}],
         "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]},
        {"addresses": [{"ip": "::1"}],
         "ports": [{"name": "https", "port": 7443, "protocol": "TCP"}]}]
    assert [s["metadata"]["name"] for s in slices] == ["kubernetes", "kubernetes-7443"]
    assert [s["addressType"] for s in slices] == ["IPv4", "IPv6"]
    assert slices[0]["metadata"]["labels"] == {"kubernetes.io/service-name": "kubernetes"}
    assert slices[0]["endpoints"] == [
        {"addresses": ["127.0.0.1"], "conditions": {"ready": True}},
        {"addresses": ["127.0.0.2"], "conditions": {"ready": True}}]


def test_kube_dns_node_names_and_writer() -> None:
    eps, slices = se.build(se.kube_dns(managed_by="kubesvc.io-up"),
                           [se.Backend("10.0.0.1", 53, "node-1")])
    assert eps["metadata"]["namespace"] == "kube-system"
    assert eps["subsets"][0]["addresses"] == [{"ip": "10.0.0.1", "nodeName": "node-1"}]
    assert [p["protocol"] for p in eps["subsets"][0]["ports"]] == ["UDP", "TCP"]
    (sl,) = slices
    assert sl["metadata"]["name"] == "kube-dns-kubesvc"
    assert sl["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "kubesvc.io-up"
    assert sl["endpoints"] == [{"addresses": ["10.0.0.1"], "nodeName": "node-1",
                                "conditions": {"ready": True, "serving": True,
                                               "terminating": False}}]


def test_no_backends_no_slices() -> None:
    eps, slices = se.build(se.KUBERNETES, [])
    assert eps["subsets"] == [] and slices == []
