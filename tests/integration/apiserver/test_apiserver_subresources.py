"""Subresources over HTTP: status, scale, binding, log; protobuf and metadata-only
representations."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.apiserver.harness import Http, Kubectl

PODS = "/api/v1/namespaces/default/pods"
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"


def pod(name: str, *containers: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": c, "image": "registry.k8s.io/pause"}
                                for c in containers or ("main",)]},
    }


def deployment(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": "img"}]}},
        },
    }


def test_status_subresource_only_changes_status(http: Http) -> None:
    code, obj = http.json("POST", PODS, pod("st"))
    assert code == 201
    obj["status"] = {"phase": "Running"}
    # Upstream's pod status strategy resets the spec and ownerReferences, and keeps
    # label/annotation changes.
    obj["metadata"]["labels"] = {"kept": "yes"}
    obj["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": "x",
                                           "uid": "u-1"}]
    obj["spec"]["restartPolicy"] = "Never"
    code, out = http.json("PUT", PODS + "/st/status", obj)
    assert code == 200, out
    assert out["status"]["phase"] == "Running"
    assert out["metadata"]["labels"] == {"kept": "yes"}
    assert "ownerReferences" not in out["metadata"]
    assert out["spec"]["restartPolicy"] == "Always"
    code, out = http.json("PATCH", PODS + "/st/status", {"status": {"phase": "Succeeded"}},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200 and out["status"]["phase"] == "Succeeded"
    code, out = http.json("GET", PODS + "/st/status")
    assert code == 200 and out["kind"] == "Pod"


def test_scale_subresource(http: Http, kubectl: Kubectl) -> None:
    assert http.json("POST", DEPLOY, deployment("sc"))[0] == 201
    code, scale = http.json("GET", DEPLOY + "/sc/scale")
    assert code == 200
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 1
    scale["spec"]["replicas"] = 4
    code, out = http.json("PUT", DEPLOY + "/sc/scale", scale)
    assert code == 200 and out["spec"]["replicas"] == 4
    code, out = http.json("PATCH", DEPLOY + "/sc/scale", {"spec": {"replicas": 2}},
                          headers={"Content-Type": "application/merge-patch+json"})
    assert code == 200 and out["spec"]["replicas"] == 2
    assert "scaled" in kubectl("scale", "deployment", "sc", "--replicas=5").stdout
    code, dep = http.json("GET", DEPLOY + "/sc")
    assert dep["spec"]["replicas"] == 5


def test_binding_subresource(http: Http) -> None:
    assert http.json("POST", PODS, pod("bind-me"))[0] == 201
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "bind-me"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}}
    code, out = http.json("POST", PODS + "/bind-me/binding", binding)
    assert code == 201
    assert out["kind"] == "Status" and out["status"] == "Success"
    code, got = http.json("GET", PODS + "/bind-me")
    assert got["spec"]["nodeName"] == "node-1"
    code, out = http.json("POST", PODS + "/bind-me/binding", binding)
    assert code == 409 and out["reason"] == "Conflict"


def test_log_subresource(http: Http, kubectl: Kubectl) -> None:
    assert http.json("POST", PODS, pod("logger"))[0] == 201
    code, headers, raw = http.request("GET", PODS + "/logger/log")
    assert code == 200 and headers["content-type"][0].startswith("text/plain")
    assert raw == b"".join(f"default/logger/main line {i}\n".encode() for i in range(3))
    code, _, raw = http.request("GET", PODS + "/logger/log?tailLines=1")
    assert raw == b"default/logger/main line 2\n"
    assert kubectl("logs", "logger", "--tail=2").stdout.splitlines() == [
        "default/logger/main line 1", "default/logger/main line 2"]
    assert http.json("POST", PODS, pod("two", "a", "b"))[0] == 201
    code, body = http.json("GET", PODS + "/two/log")
    assert code == 400
    assert body["message"] == "a container name must be specified for pod two, choose one of: [a b]"
    code, _, raw = http.request("GET", PODS + "/two/log?container=b")
    assert raw.startswith(b"default/two/b line 0")
    code, body = http.json("GET", PODS + "/two/log?container=zzz")
    assert code == 400 and body["message"] == "container zzz is not valid for pod two"
    code, body = http.json("GET", PODS + "/missing/log")
    assert code == 404 and body["message"] == 'pods "missing" not found'


def test_protobuf_accept_gets_json_and_metadata_lists(http: Http) -> None:
    code, headers, raw = http.request(
        "GET", PODS, headers={"Accept": "application/vnd.kubernetes.protobuf"})
    assert code == 200 and headers["content-type"] == ["application/json"]
    assert json.loads(raw)["kind"] == "PodList"
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    code, _, raw = http.request("GET", PODS, headers={"Accept": accept})
    body = json.loads(raw)
    assert body["kind"] == "PartialObjectMetadataList"
    assert body["items"] and all(i["kind"] == "PartialObjectMetadata" for i in body["items"])
    assert all("spec" not in i for i in body["items"])
