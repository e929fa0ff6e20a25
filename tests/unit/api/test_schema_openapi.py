"""OpenAPI v3 documents and index: upstream's shape, and what kubectl v1.32 looks for
(a PATCH operation with the kind's x-kubernetes-group-version-kind and an operation-level
``fieldValidation`` parameter)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from kubesvc.api import resources
from kubesvc.api.schema import openapi

GVS = openapi.served_group_versions()


def _refs(node: Any) -> list[str]:
    out: list[str] = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append(node["$ref"])
        for v in node.values():
            out.extend(_refs(v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_refs(v))
    return out


@pytest.mark.parametrize(("group", "version"), GVS)
def test_document_is_self_contained(group: str, version: str) -> None:
    doc = openapi.openapi_v3_document(group, version)
    assert doc["openapi"].startswith("3.0")
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


# Group versions with a stored kind (the reviews' groups have only create-only kinds).
STORED_GVS = sorted({(r.group, r.version) for r in resources.RESOURCES if r.stored})


@pytest.mark.parametrize(("group", "version"), STORED_GVS)
def test_every_patch_operation_declares_field_validation(group: str, version: str) -> None:
    doc = openapi.openapi_v3_document(group, version)
    patches = [(p, item["patch"]) for p, item in doc["paths"].items() if "patch" in item]
    assert patches
    for path, op in patches:
        names = {p["name"] for p in op["parameters"]}
        assert {"dryRun", "fieldManager", "fieldValidation", "force"} <= names, path
        assert set(op["requestBody"]["content"]) == {
            "application/apply-patch+yaml",
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        }
        assert op["x-kubernetes-action"] == "patch"
        gvk = op["x-kubernetes-group-version-kind"]
        assert set(gvk) == {"group", "kind", "version"}


def _served_patch_gvks(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    out = set()
    for item in doc["paths"].values():
        op = item.get("patch")
        if op:
            g = op["x-kubernetes-group-version-kind"]
            out.add((g["group"], g["version"], g["kind"]))
    return out


def test_each_kind_is_patchable_in_its_document() -> None:
    for r in resources.RESOURCES:
        doc = openapi.openapi_v3_document(r.group, r.version)
        # The create-only reviews are not: their one path has only a POST.
        assert ((r.group, r.version, r.kind) in _served_patch_gvks(doc)) == r.stored
        comp = doc["components"]["schemas"]
        name = next(
            n
            for n, s in comp.items()
            if {"group": r.group, "kind": r.kind, "version": r.version}
            in s.get("x-kubernetes-group-version-kind", [])
        )
        assert name.endswith("." + r.kind)


def test_service_paths_as_upstream() -> None:
    doc = openapi.openapi_v3_document("", "v1")
    paths = doc["paths"]
    coll = paths["/api/v1/namespaces/{namespace}/services"]
    assert set(coll) == {"get", "post", "delete", "parameters"}
    assert coll["get"]["operationId"] == "listCoreV1NamespacedService"
    assert coll["post"]["operationId"] == "createCoreV1NamespacedService"
    assert coll["delete"]["operationId"] == "deleteCoreV1CollectionNamespacedService"
    item = paths["/api/v1/namespaces/{namespace}/services/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    assert item["patch"]["operationId"] == "patchCoreV1NamespacedService"
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/io.k8s.api.core.v1.Service"
    }
    status = paths["/api/v1/namespaces/{namespace}/services/{name}/status"]
    assert status["patch"]["operationId"] == "patchCoreV1NamespacedServiceStatus"
    assert paths["/api/v1/services"]["get"]["operationId"] == ("listCoreV1ServiceForAllNamespaces")
    assert (
        paths["/api/v1/watch/namespaces/{namespace}/services/{name}"]["get"]["x-kubernetes-action"]
        == "watch"
    )
    assert paths["/api/v1/watch/services"]["get"]["x-kubernetes-action"] == "watchlist"
    ports = doc["components"]["schemas"]["io.k8s.api.core.v1.ServiceSpec"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "port"


def test_cluster_scoped_paths_have_no_namespace() -> None:
    paths = openapi.openapi_v3_document("", "v1")["paths"]
    node = paths["/api/v1/nodes/{name}"]
    assert [p["name"] for p in node["parameters"]] == ["name", "pretty"]
    assert node["patch"]["operationId"] == "patchCoreV1Node"
    assert "/api/v1/namespaces/{name}/finalize" in paths
    assert not any(p.startswith("/api/v1/namespaces/{namespace}/nodes") for p in paths)


def test_scale_subresource_has_autoscaling_gvk() -> None:
    doc = openapi.openapi_v3_document("apps", "v1")
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    assert scale["patch"]["operationId"] == "patchAppsV1NamespacedDeploymentScale"
    assert "io.k8s.api.autoscaling.v1.Scale" in doc["components"]["schemas"]
    assert "io.k8s.api.core.v1.Service" not in doc["components"]["schemas"]


def test_index_and_hashes() -> None:
    index = openapi.openapi_v3_index()
    assert set(index["paths"]) == {
        "api/v1",
        "apis/apps/v1",
        "apis/discovery.k8s.io/v1",
        "apis/coordination.k8s.io/v1",
        "apis/events.k8s.io/v1",
        "apis/authentication.k8s.io/v1",
        "apis/authorization.k8s.io/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/certificates.k8s.io/v1",
        "apis/networking.k8s.io/v1",
        "apis/storage.k8s.io/v1",
        "apis/batch/v1",
        "apis/policy/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/apiregistration.k8s.io/v1",  # issue 24
    }
    url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
    body = openapi.openapi_v3_json("apps", "v1")
    assert url == "/openapi/v3/apis/apps/v1?hash=" + hashlib.sha512(body).hexdigest().upper()
    assert json.loads(body) == openapi.openapi_v3_document("apps", "v1")
    assert openapi.openapi_v3_index() == index  # stable


def test_gv_paths() -> None:
    assert openapi.gv_path("", "v1") == "api/v1"
    assert openapi.parse_gv_path("apis/discovery.k8s.io/v1") == ("discovery.k8s.io", "v1")
    assert openapi.parse_gv_path("/api/v1") == ("", "v1")
    with pytest.raises(KeyError):
        openapi.parse_gv_path("apis/flowcontrol.apiserver.k8s.io/v1")
    with pytest.raises(KeyError):
        openapi.openapi_v3_document("flowcontrol.apiserver.k8s.io", "v1")


def test_pod_binding_and_log_subresources() -> None:
    paths = openapi.openapi_v3_document("", "v1")["paths"]
    binding = paths["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"]
    assert binding["operationId"] == "createCoreV1NamespacedPodBinding"
    assert binding["x-kubernetes-group-version-kind"] == {
        "group": "",
        "kind": "Binding",
        "version": "v1",
    }
    log = paths["/api/v1/namespaces/{namespace}/pods/{name}/log"]["get"]
    assert log["operationId"] == "readCoreV1NamespacedPodLog"
    assert {p["name"] for p in log["parameters"]} >= {"container", "follow", "tailLines"}
