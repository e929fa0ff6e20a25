"""Strategic merge patch: the patches ``kubectl apply`` / ``kubectl patch`` send against the
seed Service manifests, and upstream's directive semantics."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.patch import REJECTED_MESSAGE, strategic_merge_patch

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def smp(
    doc: dict[str, Any], patch: dict[str, Any], api_version: str = "v1", kind: str = "Service"
) -> dict[str, Any]:
    before = copy.deepcopy(doc), copy.deepcopy(patch)
    out = strategic_merge_patch(doc, patch, api_version=api_version, kind=kind)
    assert (doc, patch) == before, "inputs must not be mutated"
    return out


def live_service(
    svc_type: str = "ClusterIP", ports: list[dict[str, Any]] | None = None, **spec: Any
) -> dict[str, Any]:
    """A Service as the API server stores it after defaulting/allocation."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "my-app-service",
            "namespace": "default",
            "uid": "u1",
            "resourceVersion": "7",
            "annotations": {LAST_APPLIED: "{}"},
        },
        "spec": {
            "type": svc_type,
            "selector": {"app": "my-app"},
            "clusterIP": "10.96.0.10",
            "clusterIPs": ["10.96.0.10"],
            "ports": ports
            if ports is not None
            else [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
            "sessionAffinity": "None",
            **spec,
        },
        "status": {"loadBalancer": {}},
    }


def test_apply_adds_a_port_and_changes_another_merging_by_port() -> None:
    live = live_service()
    patch = {
        "metadata": {"annotations": {LAST_APPLIED: '{"new": true}'}},
        "spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [
                {"port": 80, "targetPort": 9090},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
            ],
        },
    }
    out = smp(live, patch)
    assert out["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "protocol": "TCP"},
        {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443},
    ]
    assert out["metadata"]["annotations"][LAST_APPLIED] == '{"new": true}'
    assert out["spec"]["clusterIP"] == "10.96.0.10"  # server-set fields survive
    assert "$setElementOrder/ports" not in out["spec"]


def test_nodeport_allocated_value_survives_a_target_port_change() -> None:
    live = live_service(
        "NodePort", [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]
    )
    out = smp(
        live,
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 80}],
                "ports": [{"port": 80, "targetPort": 8081}],
            }
        },
    )
    assert out["spec"]["ports"] == [
        {"port": 80, "targetPort": 8081, "nodePort": 30080, "protocol": "TCP"}
    ]


def test_apply_removes_a_port_with_delete_directive() -> None:
    live = live_service(
        ports=[
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "https", "port": 443, "protocol": "TCP"},
        ]
    )
    out = smp(
        live,
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 80}],
                "ports": [{"$patch": "delete", "port": 443}],
            }
        },
    )
    assert out["spec"]["ports"] == [{"name": "http", "port": 80, "protocol": "TCP"}]


def test_multi_port_services_merge_by_port_not_by_name() -> None:
    live = live_service(
        ports=[
            {"name": "http", "port": 80, "targetPort": 8080},
            {"name": "https", "port": 443, "targetPort": 8443},
        ]
    )
    out = smp(live, {"spec": {"ports": [{"name": "web", "port": 80}]}})
    assert out["spec"]["ports"] == [
        {"name": "web", "port": 80, "targetPort": 8080},
        {"name": "https", "port": 443, "targetPort": 8443},
    ]


def test_set_element_order_alone_reorders() -> None:
    live = live_service(ports=[{"port": 80}, {"port": 443}, {"port": 8080}])
    out = smp(
        live, {"spec": {"$setElementOrder/ports": [{"port": 443}, {"port": 80}, {"port": 8080}]}}
    )
    assert [p["port"] for p in out["spec"]["ports"]] == [443, 80, 8080]


def test_server_only_items_keep_their_place() -> None:
    live = live_service(ports=[{"port": 1}, {"port": 2}, {"port": 3}])
    out = smp(
        live,
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 3}, {"port": 1}],
                "ports": [{"port": 3, "name": "c"}],
            }
        },
    )
    # Upstream's mergeSortedSlice: server-only 2 goes before the first patch item that came
    # after it in the live list (3), so it leads.
    assert [p["port"] for p in out["spec"]["ports"]] == [2, 3, 1]


def test_type_change_to_load_balancer_and_external_name() -> None:
    live = live_service()
    lb = smp(live, {"spec": {"type": "LoadBalancer"}})
    assert lb["spec"]["type"] == "LoadBalancer"
    assert lb["spec"]["ports"] == live["spec"]["ports"]
    ext = smp(
        live,
        {
            "spec": {
                "type": "ExternalName",
                "externalName": "db.example.com",
                "selector": None,
                "ports": None,
                "clusterIP": None,
                "clusterIPs": None,
            }
        },
    )
    assert ext["spec"] == {
        "type": "ExternalName",
        "externalName": "db.example.com",
        "sessionAffinity": "None",
    }


def test_nulls_delete_and_unmatched_nulls_are_dropped() -> None:
    live = live_service()
    out = smp(
        live,
        {
            "metadata": {"labels": {"a": None, "b": "1"}, "annotations": {LAST_APPLIED: None}},
            "spec": {"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": None}}},
        },
    )
    assert out["metadata"]["labels"] == {"b": "1"}
    assert out["metadata"]["annotations"] == {}
    assert out["spec"]["sessionAffinityConfig"] == {"clientIP": {}}


def test_selector_map_merges_key_by_key() -> None:
    out = smp(live_service(), {"spec": {"selector": {"tier": "web"}}})
    assert out["spec"]["selector"] == {"app": "my-app", "tier": "web"}


def test_replace_and_delete_directives_in_maps() -> None:
    live = live_service()
    live["metadata"]["labels"] = {"a": "1", "b": "2"}
    out = smp(live, {"metadata": {"labels": {"$patch": "replace", "c": "3"}}})
    assert out["metadata"]["labels"] == {"c": "3"}
    out = smp(live, {"spec": {"sessionAffinityConfig": {"$patch": "delete"}}})
    assert "sessionAffinityConfig" in out["spec"]
    assert out["spec"]["sessionAffinityConfig"] == {}


def test_replace_directive_in_a_merging_list() -> None:
    live = live_service(ports=[{"port": 80}, {"port": 443}])
    out = smp(live, {"spec": {"ports": [{"port": 9000}, {"$patch": "replace"}]}})
    assert out["spec"]["ports"] == [{"port": 9000}]


def test_primitive_set_merge_and_delete_from_primitive_list() -> None:
    live = live_service()
    live["metadata"]["finalizers"] = ["a", "b"]
    out = smp(live, {"metadata": {"finalizers": ["c", "a"]}})
    assert out["metadata"]["finalizers"] == ["c", "a", "b"]
    out = smp(live, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == ["b"]
    out = smp(
        live,
        {
            "metadata": {
                "$setElementOrder/finalizers": ["b", "c"],
                "$deleteFromPrimitiveList/finalizers": ["a"],
                "finalizers": ["c"],
            }
        },
    )
    assert out["metadata"]["finalizers"] == ["b", "c"]


def test_atomic_lists_are_replaced() -> None:
    live = live_service(externalIPs=["1.2.3.4", "5.6.7.8"])
    out = smp(live, {"spec": {"externalIPs": ["9.9.9.9"]}})
    assert out["spec"]["externalIPs"] == ["9.9.9.9"]


def test_owner_references_merge_by_uid() -> None:
    live = live_service()
    live["metadata"]["ownerReferences"] = [
        {"apiVersion": "v1", "kind": "X", "name": "x", "uid": "1"}
    ]
    out = smp(
        live,
        {
            "metadata": {
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Y", "name": "y", "uid": "2"},
                    {"uid": "1", "controller": True},
                ]
            }
        },
    )
    refs = {r["uid"]: r for r in out["metadata"]["ownerReferences"]}
    assert refs["1"] == {
        "apiVersion": "v1",
        "kind": "X",
        "name": "x",
        "uid": "1",
        "controller": True,
    }
    assert refs["2"]["name"] == "y"


DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
        },
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "image": "nginx:1",
                        "ports": [{"containerPort": 80}],
                        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    },
                    {"name": "side", "image": "busybox"},
                ],
                "volumes": [{"name": "data", "emptyDir": {}}],
            },
        },
    },
}


def deploy(patch: dict[str, Any]) -> dict[str, Any]:
    return smp(DEPLOYMENT, patch, "apps/v1", "Deployment")


def test_containers_merge_by_name_and_env_by_name() -> None:
    out = deploy(
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "nginx:2",
                                "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                            }
                        ]
                    }
                }
            }
        }
    )
    c = out["spec"]["template"]["spec"]["containers"]
    assert [x["name"] for x in c] == ["web", "side"]
    assert c[0]["image"] == "nginx:2"
    assert c[0]["ports"] == [{"containerPort": 80}]
    assert {e["name"]: e["value"] for e in c[0]["env"]} == {"A": "1", "B": "3", "C": "4"}


def test_container_ports_merge_by_container_port() -> None:
    out = deploy(
        {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "ports": [
                                    {"containerPort": 80, "name": "http"},
                                    {"containerPort": 443},
                                ],
                            }
                        ]
                    }
                }
            }
        }
    )
    ports = out["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports == [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]


def test_delete_a_container_by_patch_directive() -> None:
    out = deploy(
        {"spec": {"template": {"spec": {"containers": [{"$patch": "delete", "name": "side"}]}}}}
    )
    assert [x["name"] for x in out["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_retain_keys_switches_strategy_type() -> None:
    out = deploy({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}})
    assert out["spec"]["strategy"] == {"type": "Recreate"}
    out = deploy(
        {
            "spec": {
                "template": {
                    "spec": {
                        "volumes": [
                            {
                                "name": "data",
                                "$retainKeys": ["name", "configMap"],
                                "configMap": {"name": "cm"},
                            }
                        ]
                    }
                }
            }
        }
    )
    assert out["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "configMap": {"name": "cm"}}
    ]


def test_retain_keys_must_cover_the_patch() -> None:
    with pytest.raises(errors.BadRequest, match="invalid patch format of retainKeys"):
        deploy(
            {
                "spec": {
                    "strategy": {
                        "$retainKeys": ["type"],
                        "type": "Recreate",
                        "rollingUpdate": {"maxSurge": 1},
                    }
                }
            }
        )


def test_new_subtree_is_cleaned_of_directives_and_nulls() -> None:
    out = deploy(
        {
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [{"name": "init", "image": "x", "args": None}],
                        "$setElementOrder/initContainers": [{"name": "init"}],
                    }
                }
            }
        }
    )
    assert out["spec"]["template"]["spec"]["initContainers"] == [{"name": "init", "image": "x"}]
    fresh = smp(
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}},
        {
            "spec": {
                "$setElementOrder/ports": [{"port": 80}],
                "ports": [{"port": 80}],
                "selector": {"app": None, "x": "y"},
            }
        },
    )
    assert fresh["spec"] == {"ports": [{"port": 80}], "selector": {"x": "y"}}


def test_json_roundtrip_of_result() -> None:
    out = deploy({"spec": {"replicas": 3}})
    assert json.loads(json.dumps(out))["spec"]["replicas"] == 3
    assert out["spec"]["template"] == DEPLOYMENT["spec"]["template"]
    out["spec"]["template"]["spec"]["containers"].clear()
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"]  # no shared structure


def test_errors() -> None:
    with pytest.raises(errors.BadRequest, match="does not contain declared merge key: name"):
        deploy({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})
    with pytest.raises(errors.BadRequest, match="unknown patch type: frob"):
        deploy({"spec": {"strategy": {"$patch": "frob"}}})
    with pytest.raises(errors.BadRequest, match="invalid patch format of setElementOrder"):
        smp(live_service(), {"spec": {"$setElementOrder/ports": "x"}})
    with pytest.raises(errors.BadRequest, match="invalid JSON document"):
        strategic_merge_patch(live_service(), [], api_version="v1", kind="Service")
    live = live_service()
    live["metadata"]["finalizers"] = ["a"]
    with pytest.raises(errors.Invalid) as info:
        smp(live, {"metadata": {"finalizers": [["x"]]}})
    assert info.value.message == REJECTED_MESSAGE
    assert info.value.causes[0].message == "lists of lists are not supported"


def test_unknown_kind_merges_maps_and_replaces_lists() -> None:
    out = strategic_merge_patch(
        {"a": {"b": 1}, "l": [1, 2]},
        {"a": {"c": 2}, "l": [3]},
        api_version="example.com/v1",
        kind="Widget",
    )
    assert out == {"a": {"b": 1, "c": 2}, "l": [3]}
