"""Structural schemas: references resolve, every served kind is described, patch tags match
upstream's types.go, and field lists match the kubernetes client's models (v1.32 fields)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kubesvc.api import resources
from kubesvc.api import schema as sch


def _all_refs(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str):
            out.append(target)
        for v in node.values():
            out.extend(_all_refs(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_all_refs(v))
    return out


def test_every_reference_resolves() -> None:
    refs = _all_refs(sch.COMPONENTS)
    assert refs
    missing = {r for r in refs if r.removeprefix("#/components/schemas/") not in sch.COMPONENTS}
    assert missing == set()


@pytest.mark.parametrize("r", resources.RESOURCES, ids=lambda r: r.key)
def test_every_served_kind_has_a_schema_with_gvk(r: resources.ResourceInfo) -> None:
    s = sch.schema_for(r.api_version, r.kind)
    assert s[sch.GVK] == [{"group": r.group, "kind": r.kind, "version": r.version}]
    for field in ("apiVersion", "kind", "metadata"):
        assert field in s["properties"]
    if "list" not in r.verbs:  # the create-only reviews have no List kind, as upstream
        assert sch.schema_name(r.api_version, r.list_kind) not in sch.COMPONENTS
        return
    lst = sch.schema_for(r.api_version, r.list_kind)
    assert lst[sch.GVK] == [{"group": r.group, "kind": r.list_kind, "version": r.version}]
    assert lst["required"] == ["items"]


def test_schema_name_and_unknown_kind() -> None:
    assert sch.schema_name("v1", "Service") == "io.k8s.api.core.v1.Service"
    assert sch.schema_name("discovery.k8s.io/v1", "EndpointSlice") == (
        "io.k8s.api.discovery.v1.EndpointSlice"
    )
    assert sch.schema_name("events.k8s.io/v1", "Event") == "io.k8s.api.events.v1.Event"
    assert sch.schema_name("autoscaling/v1", "Scale") == "io.k8s.api.autoscaling.v1.Scale"
    with pytest.raises(KeyError):
        sch.schema_name("v1", "Widget")
    with pytest.raises(KeyError):
        sch.schema_name("batch/v1", "Widget")


def test_schema_for_returns_a_copy() -> None:
    s = sch.schema_for("v1", "Service")
    s["properties"].clear()
    assert "spec" in sch.schema_for("v1", "Service")["properties"]


def _tags(api_version: str, kind: str, path: str) -> dict[str, Any]:
    s = sch.sub_schema(api_version, kind, path)
    assert s is not None, path
    return {k: v for k, v in s.items() if k.startswith("x-kubernetes-")}


POD_SPEC = "spec.template.spec"


@pytest.mark.parametrize(
    ("api_version", "kind", "path", "expected"),
    [
        (
            "v1",
            "Service",
            "spec.ports",
            {
                "x-kubernetes-patch-merge-key": "port",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
            },
        ),
        (
            "v1",
            "Service",
            "metadata.ownerReferences",
            {
                "x-kubernetes-patch-merge-key": "uid",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"],
            },
        ),
        (
            "v1",
            "Service",
            "metadata.finalizers",
            {"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"},
        ),
        ("v1", "Service", "spec.clusterIPs", {"x-kubernetes-list-type": "atomic"}),
        (
            "v1",
            "Service",
            "status.conditions",
            {
                "x-kubernetes-patch-merge-key": "type",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        ),
        (
            "v1",
            "Pod",
            "spec.containers",
            {
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
        (
            "v1",
            "Pod",
            "spec.containers[0].env",
            {
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
        (
            "v1",
            "Pod",
            "spec.containers[0].ports",
            {
                "x-kubernetes-patch-merge-key": "containerPort",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
            },
        ),
        (
            "v1",
            "Pod",
            "spec.containers[0].volumeMounts",
            {
                "x-kubernetes-patch-merge-key": "mountPath",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["mountPath"],
            },
        ),
        (
            "v1",
            "Pod",
            "spec.volumes",
            {
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge,retainKeys",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
        ("v1", "Pod", "spec.tolerations", {"x-kubernetes-list-type": "atomic"}),
        (
            "v1",
            "Pod",
            "status.podIPs",
            {
                "x-kubernetes-patch-merge-key": "ip",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["ip"],
            },
        ),
        (
            "v1",
            "Node",
            "status.addresses",
            {
                "x-kubernetes-patch-merge-key": "type",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        ),
        (
            "v1",
            "Node",
            "spec.podCIDRs",
            {"x-kubernetes-patch-strategy": "merge", "x-kubernetes-list-type": "set"},
        ),
        ("v1", "Endpoints", "subsets", {"x-kubernetes-list-type": "atomic"}),
        ("discovery.k8s.io/v1", "EndpointSlice", "endpoints", {"x-kubernetes-list-type": "atomic"}),
        (
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "endpoints[0].addresses",
            {"x-kubernetes-list-type": "set"},
        ),
        (
            "apps/v1",
            "Deployment",
            f"{POD_SPEC}.containers",
            {
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            },
        ),
        (
            "apps/v1",
            "Deployment",
            "status.conditions",
            {
                "x-kubernetes-patch-merge-key": "type",
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
            },
        ),
    ],
)
def test_patch_tags_as_upstream(
    api_version: str, kind: str, path: str, expected: dict[str, Any]
) -> None:
    assert _tags(api_version, kind, path) == expected


def test_retain_keys_on_deployment_strategy_field() -> None:
    spec = sch.COMPONENTS["io.k8s.api.apps.v1.DeploymentSpec"]
    assert spec["properties"]["strategy"]["x-kubernetes-patch-strategy"] == "retainKeys"


def test_service_selector_is_an_atomic_string_map() -> None:
    sel = sch.sub_schema("v1", "Service", "spec.selector")
    assert sel is not None
    assert sel["type"] == "object"
    assert sel["additionalProperties"]["type"] == "string"
    assert sel["x-kubernetes-map-type"] == "atomic"


def test_sub_schema_paths() -> None:
    port = sch.sub_schema("v1", "Service", ".spec.ports[0]")
    assert port is not None and port["required"] == ["port"]
    port_field = sch.sub_schema("v1", "Service", ["spec", "ports", 0, "port"])
    assert port_field is not None
    assert (port_field["type"], port_field["format"]) == ("integer", "int32")
    assert port_field["description"]  # kubectl explain's text (issue 24)
    target = sch.sub_schema("v1", "Service", "spec.ports[*].targetPort")
    # kube-openapi's v3 IntOrString: no type of its own, so kubectl says <IntOrString>
    assert target is not None and target["format"] == "int-or-string"
    assert target["oneOf"] == [{"type": "integer"}, {"type": "string"}] and "type" not in target
    assert sch.sub_schema("v1", "Service", "spec.nope") is None
    assert sch.sub_schema("v1", "ConfigMap", "data.anykey") == {"type": "string", "default": ""}
    limits = sch.sub_schema("v1", "Pod", "spec.containers[0].resources.limits.cpu")
    assert limits == {"type": "string"}  # Quantity


# Fields the kubernetes client models know but Kubernetes v1.32 does not serve (added later).
NEWER_THAN_1_32 = {
    ("TokenRequestSpec", "attestations"),
    ("JobSpec", "scheduling"),
    ("PodSpec", "hostnameOverride"),
    ("PodSpec", "schedulingGroup"),
    ("PodSpec", "evictionResponders"),
    ("PodSpec", "workloadRef"),
    ("PodStatus", "observedGeneration"),
    ("PodCondition", "observedGeneration"),
    ("PodStatus", "allocatedResources"),
    ("PodStatus", "resources"),
    ("PodStatus", "nodeAllocatableResourceClaimStatuses"),
    ("PodStatus", "volumeHealth"),
    ("PodStatus", "extendedResourceClaimStatus"),
    ("Lifecycle", "stopSignal"),
    ("ContainerStatus", "stopSignal"),
    ("Container", "restartPolicyRules"),
    ("EphemeralContainer", "restartPolicyRules"),
    ("EnvVarSource", "fileKeyRef"),
    ("DeploymentStatus", "terminatingReplicas"),
    ("ReplicaSetStatus", "terminatingReplicas"),
    ("EndpointHints", "forNodes"),
    ("NodeStatus", "declaredFeatures"),
    ("NodeSpec", "podPreemptionPolicy"),
    ("EmptyDirVolumeSource", "mode"),
    ("ClusterTrustBundleProjection", "user"),
    ("ServiceAccountTokenProjection", "user"),
    ("VolumeMountStatus", "volumeStatus"),
    ("VolumeProjection", "podCertificate"),
    ("VolumeMount", "bindMountOptions"),
    ("PersistentVolumeClaimStatus", "healthStatus"),
}


def _client_class(name: str) -> Any:
    client = pytest.importorskip("kubernetes.client")
    short = name.rsplit(".", 1)[1]
    group = name.split(".")[3] if name.startswith("io.k8s.api.") else "meta"
    candidates = {
        ("core", "Event"): "CoreV1Event",
        ("core", "EventSeries"): "CoreV1EventSeries",
        ("core", "EndpointPort"): "CoreV1EndpointPort",
        ("discovery", "EndpointPort"): "DiscoveryV1EndpointPort",
        ("events", "Event"): "EventsV1Event",
        ("events", "EventSeries"): "EventsV1EventSeries",
    }
    cls_name = candidates.get((group, short), "V1" + short)
    return getattr(client, cls_name, None)


def test_fields_match_the_kubernetes_client_models() -> None:
    """Every field the official client knows (minus post-1.32 additions) is declared, and we
    declare nothing it does not know: the schemas are complete, not hand-picked."""
    checked = 0
    for name, comp in sch.COMPONENTS.items():
        if not name.startswith("io.k8s.api.") or name.endswith("List"):
            continue
        cls = _client_class(name)
        if cls is None or "properties" not in comp:
            continue
        short = name.rsplit(".", 1)[1]
        theirs = {v for v in cls.attribute_map.values()} - {
            f for (k, f) in NEWER_THAN_1_32 if k == short
        }
        ours = set(comp["properties"])
        assert ours == theirs, (name, sorted(ours ^ theirs))
        checked += 1
    assert checked > 150


def test_int_or_string_fields() -> None:
    for path in ("spec.ports[0].targetPort",):
        s = sch.COMPONENTS["io.k8s.api.core.v1.ServicePort"]["properties"]["targetPort"]
        assert sch.ref_name(s) == "io.k8s.apimachinery.pkg.util.intstr.IntOrString", path
    probe = sch.COMPONENTS["io.k8s.api.core.v1.HTTPGetAction"]["properties"]["port"]
    assert sch.ref_name(probe) == "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    rolling = sch.COMPONENTS["io.k8s.api.apps.v1.RollingUpdateDeployment"]["properties"]
    assert {sch.ref_name(rolling[k]) for k in ("maxSurge", "maxUnavailable")} == {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
    }


def test_names_follow_upstream_prefixes() -> None:
    pattern = re.compile(
        r"^io\.k8s\.(api\.(core|apps|discovery|events|coordination|autoscaling"
        r"|authentication|authorization|rbac|certificates|batch|policy"
        r"|storage|networking)\.v1"
        r"|apimachinery\.pkg\.(apis\.meta\.v1|api\.resource|util\.intstr)"
        r"|apiextensions-apiserver\.pkg\.apis\.apiextensions\.v1"
        r"|kube-aggregator\.pkg\.apis\.apiregistration\.v1)\.[A-Z]\w+$"
    )
    bad = [n for n in sch.COMPONENTS if not pattern.match(n)]
    assert bad == []
