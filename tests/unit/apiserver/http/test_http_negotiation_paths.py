"""Unit tests of the HTTP layer's pure parts: Accept negotiation, body decoding, REST path
parsing, discovery documents."""

from __future__ import annotations

import pytest

from kubesvc import errors
from kubesvc.apiserver.http import discovery, paths
from kubesvc.apiserver.http.negotiation import decode_object, decode_patch, negotiate


@pytest.mark.parametrize(
    ("accept", "kind", "version"),
    [
        ("", "json", "v1"),
        ("application/json", "json", "v1"),
        ("*/*", "json", "v1"),
        ("application/json;as=Table;v=v1;g=meta.k8s.io,application/json", "table", "v1"),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", "table", "v1beta1"),
        ("application/vnd.kubernetes.protobuf,application/json", "json", "v1"),
        ("application/vnd.kubernetes.protobuf", "json", "v1"),
        ("application/yaml", "yaml", "v1"),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", "metadata", "v1"),
        ("application/json;q=0.5,application/yaml", "yaml", "v1"),
        ("application/json;as=Table;v=v9;g=meta.k8s.io,application/json", "json", "v1"),
    ],
)
def test_negotiate(accept: str, kind: str, version: str) -> None:
    neg = negotiate(accept)
    assert (neg.kind, neg.version) == (kind, version)


def test_negotiate_not_acceptable() -> None:
    with pytest.raises(errors.NotAcceptable):
        negotiate("text/html")


def test_decode_object_and_patch() -> None:
    assert decode_object(b'{"a": 1}', "application/json; charset=utf-8") == {"a": 1}
    assert decode_object(b"a: 1\n", "application/yaml") == {"a": 1}
    with pytest.raises(errors.BadRequest):
        decode_object(b"[1]", "application/json")
    with pytest.raises(errors.UnsupportedMediaType):
        decode_object(b"x", "text/plain")
    assert decode_patch(b"[]", "application/json-patch+json") == ("json", [])
    assert decode_patch(b"{}", "application/merge-patch+json") == ("merge", {})
    assert decode_patch(b"a: b", "application/apply-patch+yaml") == ("apply", {"a": "b"})
    with pytest.raises(errors.BadRequest):
        decode_patch(b"{}", "application/json-patch+json")


@pytest.mark.parametrize(
    ("path", "key", "ns", "name", "sub", "legacy"),
    [
        ("/api/v1/services", "services", None, "", "", False),
        ("/api/v1/namespaces/default/services", "services", "default", "", "", False),
        ("/api/v1/namespaces/default/services/web/status", "services", "default", "web",
         "status", False),
        ("/api/v1/namespaces/kube-system", "namespaces", None, "kube-system", "", False),
        ("/api/v1/namespaces/foo/status", "namespaces", None, "foo", "status", False),
        ("/api/v1/namespaces/foo/finalize", "namespaces", None, "foo", "finalize", False),
        ("/api/v1/nodes/n1", "nodes", None, "n1", "", False),
        ("/apis/apps/v1/namespaces/d/deployments/x/scale", "deployments.apps", "d", "x",
         "scale", False),
        ("/api/v1/watch/namespaces/default/services", "services", "default", "", "", True),
        ("/apis/discovery.k8s.io/v1/endpointslices", "endpointslices.discovery.k8s.io", None,
         "", "", False),
    ],
)
def test_parse_paths(
    path: str, key: str, ns: str | None, name: str, sub: str, legacy: bool
) -> None:
    t = paths.parse(path)
    assert t is not None
    assert (t.info.key, t.namespace, t.name, t.subresource, t.legacy_watch) == (
        key, ns, name, sub, legacy)


@pytest.mark.parametrize("path", [
    "/api/v2/services", "/api/v1/widgets", "/api/v1/services/x",  # namespaced, no ns
    "/api/v1/namespaces/d/nodes", "/api/v1/namespaces/d/services/x/scale",
    "/apis/apps/v1/namespaces/d/deployments/x/y/z", "/api", "/apis/apps",
])
def test_parse_rejects(path: str) -> None:
    assert paths.parse(path) is None


def test_discovery_documents() -> None:
    doc = discovery.api_resource_list("", "v1")
    assert doc is not None
    svc = next(r for r in doc["resources"] if r["name"] == "services")
    assert svc["shortNames"] == ["svc"] and svc["categories"] == ["all"]
    assert set(svc["verbs"]) >= {"create", "get", "list", "watch", "deletecollection"}
    assert discovery.api_resource_list("nope", "v1") is None
    agg = discovery.aggregated(core=True)
    assert agg["items"][0]["versions"][0]["version"] == "v1"
    assert discovery.wants_aggregated(
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json") == "v2"
    assert discovery.wants_aggregated("application/json") == ""


def test_yaml_timestamps_stay_strings() -> None:
    obj = decode_object(b"a: 2024-01-01T00:00:00Z\nb: 2024-01-01\nc: 7\n", "application/yaml")
    assert obj == {"a": "2024-01-01T00:00:00Z", "b": "2024-01-01", "c": 7}
