"""Defaulting for pods, workloads and the smaller kinds."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc.api.defaults import apply_defaults, pod_qos_class, prepare_namespace_create
from kubesvc.api.defaults.pod import image_tag


def pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": containers, **spec},
    }
    apply_defaults("pods", obj)
    return obj


def test_pod_spec_defaults() -> None:
    spec = pod([{"name": "c", "image": "nginx:1.25"}])["spec"]
    assert spec["restartPolicy"] == "Always"
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    assert spec["securityContext"] == {}
    assert spec["enableServiceLinks"] is True
    c = spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    assert c["resources"] == {}


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.25", "IfNotPresent"),
        ("localhost:5000/app", "Always"),
        ("localhost:5000/app:v1", "IfNotPresent"),
        ("registry.k8s.io/pause@sha256:abc", "IfNotPresent"),
    ],
)
def test_image_pull_policy(image: str, policy: str) -> None:
    c = pod([{"name": "c", "image": image}])["spec"]["containers"][0]
    assert c["imagePullPolicy"] == policy


def test_image_tag_parsing() -> None:
    assert image_tag("a/b:c@sha256:x") == "c"
    assert image_tag("") == ""


def test_probe_and_port_defaults() -> None:
    c = pod(
        [
            {
                "name": "c",
                "image": "x:1",
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"port": 8080}},
                "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 5},
            }
        ]
    )["spec"]["containers"][0]
    assert c["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert c["readinessProbe"] == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }
    assert c["livenessProbe"]["periodSeconds"] == 5


def test_host_network_host_ports_and_requests_from_limits() -> None:
    spec = pod(
        [
            {
                "name": "c",
                "image": "x:1",
                "ports": [{"containerPort": 80}],
                "resources": {"limits": {"cpu": "1"}},
            }
        ],
        hostNetwork=True,
    )["spec"]
    c = spec["containers"][0]
    assert c["ports"][0]["hostPort"] == 80
    assert c["resources"]["requests"] == {"cpu": "1"}


def test_volume_defaults() -> None:
    spec = pod(
        [{"name": "c", "image": "x:1"}],
        volumes=[{"name": "scratch"}, {"name": "cfg", "configMap": {"name": "x"}}],
    )["spec"]
    assert spec["volumes"][0]["emptyDir"] == {}
    assert spec["volumes"][1]["configMap"]["defaultMode"] == 420


def test_deployment_defaults() -> None:
    obj: dict[str, Any] = {
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    apply_defaults("deployments.apps", obj)
    spec = obj["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["restartPolicy"] == "Always"
    assert "enableServiceLinks" not in tspec  # Pod-only default
    assert tspec["containers"][0]["imagePullPolicy"] == "Always"


def test_recreate_strategy_gets_no_rolling_update() -> None:
    obj: dict[str, Any] = {"spec": {"strategy": {"type": "Recreate"}, "replicas": 0}}
    apply_defaults("deployments.apps", obj)
    assert obj["spec"]["strategy"] == {"type": "Recreate"}
    assert obj["spec"]["replicas"] == 0


def test_replicaset_defaults() -> None:
    obj: dict[str, Any] = {
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1"}]}}}
    }
    apply_defaults("replicasets.apps", obj)
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_endpoints_and_slices() -> None:
    ep: dict[str, Any] = {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]}
    apply_defaults("endpoints", ep)
    assert ep["subsets"][0]["ports"][0]["protocol"] == "TCP"
    eps: dict[str, Any] = {"addressType": "IPv4", "ports": [{"port": 80}]}
    apply_defaults("endpointslices.discovery.k8s.io", eps)
    assert eps["ports"] == [{"port": 80, "name": "", "protocol": "TCP"}]


def test_namespace_and_secret() -> None:
    ns: dict[str, Any] = {"metadata": {"name": "team-a"}}
    apply_defaults("namespaces", ns)
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}
    assert ns["status"] == {"phase": "Active"}
    prepare_namespace_create(ns)
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    finalized: dict[str, Any] = {
        "metadata": {"name": "team-a"},
        "spec": {"finalizers": []},
        "status": {"phase": "Terminating"},
    }
    apply_defaults("namespaces", finalized)
    assert finalized["spec"]["finalizers"] == []  # defaulting never re-adds it
    secret: dict[str, Any] = {"metadata": {"name": "s"}}
    apply_defaults("secrets", secret)
    assert secret["type"] == "Opaque"


def test_unknown_kinds_untouched() -> None:
    lease: dict[str, Any] = {"spec": {}}
    apply_defaults("leases.coordination.k8s.io", lease)
    assert lease == {"spec": {}}


def test_qos_class() -> None:
    assert pod_qos_class(pod([{"name": "c", "image": "x:1"}])) == "BestEffort"
    g = pod([{"name": "c", "image": "x:1", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}])
    assert pod_qos_class(g) == "Guaranteed"
    b = pod([{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": "100m"}}}])
    assert pod_qos_class(b) == "Burstable"
