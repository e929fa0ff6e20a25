"""Pod, Deployment and ReplicaSet validation."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create, validate_status_update, validate_update


def pod(containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": copy.deepcopy(containers), **spec},
    }
    apply_defaults("pods", obj)
    return obj


def pairs(key: str, obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c.field, c.message) for c in validate_create(key, obj)]


OK = [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80, "name": "http"}]}]


def test_valid_pod() -> None:
    assert pairs("pods", pod(OK)) == []


def test_containers_required() -> None:
    assert pairs("pods", pod([])) == [("spec.containers", "Required value")]


def test_container_names() -> None:
    got = pairs(
        "pods",
        pod(
            [
                {"name": "a", "image": "x:1"},
                {"name": "a", "image": "x:1"},
                {"name": "", "image": "x:1"},
                {"name": "Bad", "image": "x:1"},
            ]
        ),
    )
    assert got[0] == ("spec.containers[1].name", 'Duplicate value: "a"')
    assert got[1] == ("spec.containers[2].name", "Required value")
    assert got[2][0] == "spec.containers[3].name"
    assert got[2][1].startswith('Invalid value: "Bad": a lowercase RFC 1123 label')


def test_image_required_and_trimmed() -> None:
    assert pairs("pods", pod([{"name": "c"}])) == [("spec.containers[0].image", "Required value")]
    assert pairs("pods", pod([{"name": "c", "image": " x"}])) == [
        (
            "spec.containers[0].image",
            'Invalid value: " x": must not have leading or trailing whitespace',
        )
    ]


def test_container_ports() -> None:
    got = pairs(
        "pods",
        pod(
            [
                {
                    "name": "c",
                    "image": "x:1",
                    "ports": [
                        {"containerPort": 0},
                        {"containerPort": 70000},
                        {"containerPort": 80, "protocol": "ICMP"},
                        {"containerPort": 81, "name": "p"},
                        {"containerPort": 82, "name": "p"},
                    ],
                }
            ]
        ),
    )
    assert got == [
        ("spec.containers[0].ports[0].containerPort", "Required value"),
        (
            "spec.containers[0].ports[1].containerPort",
            "Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "spec.containers[0].ports[2].protocol",
            'Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"',
        ),
        ("spec.containers[0].ports[4].name", 'Duplicate value: "p"'),
    ]


def test_probes() -> None:
    got = pairs(
        "pods",
        pod(
            [
                {
                    "name": "c",
                    "image": "x:1",
                    "livenessProbe": {"periodSeconds": -1},
                    "readinessProbe": {"httpGet": {"port": "web"}, "exec": {"command": ["x"]}},
                    "startupProbe": {"tcpSocket": {"port": 0}, "successThreshold": 2},
                }
            ]
        ),
    )
    assert got == [
        ("spec.containers[0].livenessProbe", "Required value: must specify a handler type"),
        (
            "spec.containers[0].livenessProbe.periodSeconds",
            "Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            "spec.containers[0].readinessProbe.httpGet",
            "Forbidden: may not specify more than 1 handler type",
        ),
        (
            "spec.containers[0].startupProbe.tcpSocket.port",
            "Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        ("spec.containers[0].startupProbe.successThreshold", "Invalid value: 2: must be 1"),
    ]


def test_restart_and_dns_policy() -> None:
    got = pairs("pods", pod(OK, restartPolicy="Sometimes", dnsPolicy="Google"))
    assert got == [
        (
            "spec.restartPolicy",
            'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
        ),
        (
            "spec.dnsPolicy",
            'Unsupported value: "Google": supported values: '
            '"ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
        ),
    ]


def test_volume_mount_must_name_a_volume() -> None:
    got = pairs(
        "pods",
        pod([{"name": "c", "image": "x:1", "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]),
    )
    assert got == [("spec.containers[0].volumeMounts[0].name", 'Not found: "data"')]


def test_env_names() -> None:
    got = pairs(
        "pods", pod([{"name": "c", "image": "x:1", "env": [{"name": "A=B"}, {"name": "ok.1"}]}])
    )
    assert got == [
        (
            "spec.containers[0].env[0].name",
            'Invalid value: "A=B": a valid environment '
            "variable name must consist only of printable ASCII characters other than '='",
        )
    ]


def test_pod_update_only_image_changes() -> None:
    old = pod(OK)
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["containers"][0]["image"] = "nginx:1.26"
    assert validate_update("pods", new, old) == []
    new["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    causes = validate_update("pods", new, old)
    assert [c.field for c in causes] == ["spec"]
    assert causes[0].message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    )


def test_pod_status_update() -> None:
    old = pod(OK)
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["status"] = {
        "phase": "Running",
        "podIP": "10.244.0.5",
        "podIPs": [{"ip": "10.244.0.5"}],
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.2"}],
    }
    got = [(c.field, c.message) for c in validate_status_update("pods", new, old)]
    assert got == [
        ("status.hostIPs[0].ip", 'Invalid value: "127.0.0.2": must be equal to `hostIP`')
    ]


def deployment(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    }
    base.update(spec)
    obj: dict[str, Any] = {"metadata": {"name": "web", "namespace": "default"}, "spec": base}
    apply_defaults("deployments.apps", obj)
    return obj


def test_valid_deployment() -> None:
    assert pairs("deployments.apps", deployment()) == []


def test_selector_must_match_template() -> None:
    d = deployment(selector={"matchLabels": {"app": "other"}})
    assert pairs("deployments.apps", d) == [
        (
            "spec.template.metadata.labels",
            'Invalid value: map[string]string{"app":"web"}: `selector` does not match template '
            "`labels`",
        )
    ]


def test_selector_required_and_replicas_nonnegative() -> None:
    d = deployment(replicas=-1)
    del d["spec"]["selector"]
    assert pairs("deployments.apps", d) == [
        ("spec.replicas", "Invalid value: -1: must be greater than or equal to 0"),
        ("spec.selector", "Required value"),
    ]


def test_template_restart_policy_always() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert pairs("deployments.apps", d) == [
        (
            "spec.template.spec.restartPolicy",
            'Unsupported value: "Never": supported values: "Always"',
        )
    ]


def test_rolling_update_bounds() -> None:
    d = deployment(
        strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "0%"}}
    )
    assert pairs("deployments.apps", d) == [
        (
            "spec.strategy.rollingUpdate.maxUnavailable",
            "Invalid value: 0: may not be 0 when `maxSurge` is 0",
        )
    ]
    d = deployment(
        strategy={
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": "150%", "maxSurge": "x"},
        }
    )
    got = pairs("deployments.apps", d)
    assert (
        "spec.strategy.rollingUpdate.maxUnavailable",
        'Invalid value: "150%": must not be greater than 100%',
    ) in got
    assert got[0][0] == "spec.strategy.rollingUpdate.maxSurge"


def test_progress_deadline() -> None:
    d = deployment(minReadySeconds=600)
    assert pairs("deployments.apps", d) == [
        ("spec.progressDeadlineSeconds", "Invalid value: 600: must be greater than minReadySeconds")
    ]


def test_deployment_selector_immutable() -> None:
    old = deployment()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "v": "2"}}
    new["spec"]["template"]["metadata"]["labels"]["v"] = "2"
    got = [(c.field, c.message) for c in validate_update("deployments.apps", new, old)]
    assert len(got) == 1 and got[0][0] == "spec.selector"
    assert got[0][1].endswith(": field is immutable")
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    assert validate_update("deployments.apps", scaled, old) == []


@pytest.mark.parametrize("key", ["replicasets.apps"])
def test_replicaset(key: str) -> None:
    rs: dict[str, Any] = {
        "metadata": {"name": "web-abc", "namespace": "default"},
        "spec": {
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            },
        },
    }
    apply_defaults(key, rs)
    assert pairs(key, rs) == []
    rs["spec"]["selector"]["matchExpressions"][0]["operator"] = "Near"
    assert pairs(key, rs)[0] == (
        "spec.selector.matchExpressions[0].operator",
        'Invalid value: "Near": not a valid selector operator',
    )


def test_workload_status() -> None:
    old = deployment()
    old["metadata"]["resourceVersion"] = "1"
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 1, "readyReplicas": 2, "availableReplicas": 1}
    got = [(c.field, c.message) for c in validate_status_update("deployments.apps", new, old)]
    assert got == [
        ("status.readyReplicas", "Invalid value: 2: cannot be greater than status.replicas")
    ]


def test_template_image_required() -> None:
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["image"] = ""
    assert pairs("deployments.apps", d) == [
        ("spec.template.spec.containers[0].image", "Required value")
    ]
