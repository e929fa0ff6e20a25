"""Service defaulting: the five seed examples come out as kube-apiserver v1.32 stores them."""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults import apply_defaults, finish_service_defaults


def defaulted(spec: dict[str, Any], *, allocated_ip: str | None = "10.96.0.10") -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "my-app-service", "namespace": "default"},
        "spec": spec,
    }
    apply_defaults("services", obj)
    if allocated_ip and obj["spec"]["type"] != "ExternalName":
        obj["spec"]["clusterIP"] = allocated_ip
        obj["spec"]["clusterIPs"] = [allocated_ip]
    finish_service_defaults(obj)
    return obj


def test_seed_cluster_ip() -> None:
    obj = defaulted(
        {
            "type": "ClusterIP",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080}],
        }
    )
    assert obj["spec"] == {
        "type": "ClusterIP",
        "selector": {"app": "my-app"},
        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
        "sessionAffinity": "None",
        "internalTrafficPolicy": "Cluster",
        "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"],
        "ipFamilyPolicy": "SingleStack",
        "ipFamilies": ["IPv4"],
    }
    assert obj["status"] == {"loadBalancer": {}}


def test_seed_node_port() -> None:
    obj = defaulted(
        {
            "type": "NodePort",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080}],
        }
    )
    spec = obj["spec"]
    assert spec["ports"] == [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert "allocateLoadBalancerNodePorts" not in spec


def test_seed_load_balancer() -> None:
    spec = defaulted(
        {
            "type": "LoadBalancer",
            "selector": {"app": "my-app"},
            "ports": [{"port": 80, "targetPort": 8080}],
        }
    )["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["sessionAffinity"] == "None"
    assert spec["ipFamilyPolicy"] == "SingleStack" and spec["ipFamilies"] == ["IPv4"]


def test_seed_external_name() -> None:
    obj = defaulted({"type": "ExternalName", "externalName": "my.external-database.com"})
    assert obj["spec"] == {
        "type": "ExternalName",
        "externalName": "my.external-database.com",
        "sessionAffinity": "None",
    }


def test_seed_multi_port() -> None:
    spec = defaulted(
        {
            "selector": {"app": "my-app"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 8080},
                {"name": "https", "port": 443, "targetPort": 8443},
            ],
        }
    )["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["ports"] == [
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {"name": "https", "port": 443, "targetPort": 8443, "protocol": "TCP"},
    ]


def test_target_port_defaults_to_port() -> None:
    spec = defaulted({"ports": [{"port": 53, "protocol": "UDP"}, {"port": 54, "targetPort": 0}]})[
        "spec"
    ]
    assert [p["targetPort"] for p in spec["ports"]] == [53, 54]
    assert spec["ports"][0]["protocol"] == "UDP"


def test_client_ip_affinity_timeout_default() -> None:
    spec = defaulted({"sessionAffinity": "ClientIP", "ports": [{"port": 80}]})["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    kept = defaulted(
        {
            "sessionAffinity": "ClientIP",
            "ports": [{"port": 80}],
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        }
    )["spec"]
    assert kept["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 60}}
    dropped = defaulted(
        {
            "sessionAffinity": "None",
            "ports": [{"port": 80}],
            "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 60}},
        }
    )["spec"]
    assert "sessionAffinityConfig" not in dropped


def test_cluster_ip_with_external_ips_gets_external_traffic_policy() -> None:
    spec = defaulted({"ports": [{"port": 80}], "externalIPs": ["192.0.2.10"]})["spec"]
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_headless_service_families() -> None:
    spec = defaulted(
        {"clusterIP": "None", "clusterIPs": ["None"], "selector": {"a": "b"}}, allocated_ip=None
    )["spec"]
    assert spec["ipFamilyPolicy"] == "SingleStack"
    assert spec["ipFamilies"] == ["IPv4"]


def test_user_values_are_kept() -> None:
    spec = defaulted(
        {
            "type": "NodePort",
            "externalTrafficPolicy": "Local",
            "internalTrafficPolicy": "Local",
            "ports": [{"port": 80}],
        }
    )["spec"]
    assert spec["externalTrafficPolicy"] == "Local"
    assert spec["internalTrafficPolicy"] == "Local"
