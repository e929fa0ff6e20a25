"""Raw HTTP behaviour of the API server: auth, discovery, OpenAPI, health, content types,
bad input (each a 4xx metav1.Status, the store unchanged), field validation, dry run,
deletecollection, watch streaming/timeouts/Gone, Table output."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.integration.apiserver.harness import Http, ServerThread

SVC = "/api/v1/namespaces/default/services"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def svc(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}],
                 **spec},
    }


def assert_status(body: Any, code: int, reason: str) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code and body["reason"] == reason


def names(http: Http, path: str = SVC) -> set[str]:
    code, body = http.json("GET", path)
    assert code == 200
    return {i["metadata"]["name"] for i in body["items"]}


# -- auth, health, version


def test_unauthenticated_is_401_status(http: Http) -> None:
    code, body = http.json("GET", SVC, token="wrong")
    assert code == 401
    assert_status(body, 401, "Unauthorized")
    assert body["message"] == "Unauthorized"


def test_anonymous_is_403_as_upstream(http: Http) -> None:
    """No credentials at all: system:anonymous, which RBAC does not let list Services
    (kube-apiserver's default --anonymous-auth=true answers exactly this)."""
    code, body = http.json("GET", SVC, token="")
    assert code == 403
    assert_status(body, 403, "Forbidden")
    assert body["message"] == ('services is forbidden: User "system:anonymous" cannot list '
                               'resource "services" in API group "" in the namespace '
                               '"default"')


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/version"])
def test_public_endpoints_need_no_token(http: Http, path: str) -> None:
    code, _, raw = http.request("GET", path, token="")
    assert code == 200
    if path == "/version":
        v = json.loads(raw)
        assert v["major"] == "1" and v["minor"] == "32"
        assert v["gitVersion"].startswith("v1.32.")
    else:
        assert raw == b"ok"


def test_readyz_follows_readiness(http: Http, server: ServerThread) -> None:
    server.ready["dns"] = False
    try:
        code, _, raw = http.request("GET", "/readyz")
        assert code == 500
        assert b"[-]dns failed: reason withheld" in raw
        assert raw.rstrip().endswith(b"readyz check failed")
        code, _, raw = http.request("GET", "/readyz?exclude=dns")
        assert code == 200
    finally:
        server.ready["dns"] = True
    code, _, raw = http.request("GET", "/readyz?verbose")
    assert code == 200
    assert b"[+]ping ok" in raw and b"[+]dns ok" in raw
    assert raw.rstrip().endswith(b"readyz check passed")


# -- discovery and openapi


def test_legacy_discovery(http: Http) -> None:
    code, body = http.json("GET", "/api")
    assert code == 200 and body["kind"] == "APIVersions" and body["versions"] == ["v1"]
    code, body = http.json("GET", "/api/v1")
    assert body["kind"] == "APIResourceList" and body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["services"]["shortNames"] == ["svc"]
    assert by_name["services"]["categories"] == ["all"]
    assert by_name["services"]["namespaced"] is True
    assert "services/status" in by_name and "pods/log" in by_name
    assert by_name["services/proxy"]["kind"] == "ServiceProxyOptions"
    assert by_name["pods/proxy"]["kind"] == "PodProxyOptions"
    assert by_name["pods/proxy"]["verbs"] == ["create", "delete", "get", "patch", "update"]
    assert by_name["endpoints"]["shortNames"] == ["ep"]
    code, body = http.json("GET", "/apis")
    groups = {g["name"] for g in body["groups"]}
    assert {"apps", "discovery.k8s.io", "coordination.k8s.io", "events.k8s.io"} <= groups
    code, body = http.json("GET", "/apis/apps/v1")
    by_name = {r["name"]: r for r in body["resources"]}
    assert by_name["deployments"]["shortNames"] == ["deploy"]
    assert by_name["deployments/scale"]["kind"] == "Scale"
    assert by_name["deployments/scale"]["group"] == "autoscaling"
    code, body = http.json("GET", "/apis/nope/v1")
    assert code == 404
    assert_status(body, 404, "NotFound")


def test_aggregated_discovery(http: Http) -> None:
    accept = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json")
    code, headers, raw = http.request("GET", "/apis", headers={"Accept": accept})
    assert code == 200
    ctype = headers["content-type"][0]
    assert "as=APIGroupDiscoveryList" in ctype and "v=v2" in ctype
    body = json.loads(raw)
    assert body["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in body["items"] if i["metadata"].get("name") == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deploy["scope"] == "Namespaced" and "deploy" in deploy["shortNames"]
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}


def test_openapi_v3(http: Http) -> None:
    code, index = http.json("GET", "/openapi/v3")
    assert code == 200
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    code, headers, raw = http.request("GET", url)
    assert code == 200
    assert headers["cache-control"] == ["public, immutable"]
    doc = json.loads(raw)
    assert doc["openapi"].startswith("3.")
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/services/{name}"]["patch"]
    assert "fieldValidation" in {p["name"] for p in patch["parameters"]}
    code, _, _ = http.request("GET", "/openapi/v3/apis/nope/v1")
    assert code == 404


# -- create/update bodies


def test_create_json_and_yaml_and_status_codes(http: Http) -> None:
    code, body = http.json("POST", SVC, svc("h-json"))
    assert code == 201 and body["metadata"]["name"] == "h-json"
    assert body["spec"]["clusterIP"]
    raw = yaml.safe_dump(svc("h-yaml")).encode()
    code, _, out = http.request("POST", SVC, raw, headers={"Content-Type": "application/yaml"})
    assert code == 201 and json.loads(out)["metadata"]["name"] == "h-yaml"
    code, _, out = http.request("GET", SVC + "/h-yaml", headers={"Accept": "application/yaml"})
    assert code == 200 and yaml.safe_load(out)["metadata"]["name"] == "h-yaml"


@pytest.mark.parametrize(
    ("body", "ctype", "code", "reason", "fragment"),
    [
        (b'{"apiVersion": "v1", "kind": ', "application/json", 400, "BadRequest",
         "the object provided is unrecognized (must be of type Service)"),
        (b"apiVersion: v1\nkind: Service\nmetadata: [a, b\n", "application/yaml", 400,
         "BadRequest", "error converting YAML to JSON"),
        (json.dumps({**svc("h-kind"), "kind": "Pod"}).encode(), "application/json", 400,
         "BadRequest", 'Pod in version "v1" cannot be handled as a Service'),
        (json.dumps({**svc("h-av"), "apiVersion": "apps/v1"}).encode(), "application/json",
         400, "BadRequest",
         "the API version in the data (apps/v1) does not match the expected API version (v1)"),
        (json.dumps({**svc("h-ns"), "metadata": {"name": "h-ns", "namespace": "other"}})
         .encode(), "application/json", 400, "BadRequest",
         "the namespace of the provided object does not match the namespace sent on the "
         "request"),
        (json.dumps(svc("Bad_Name")).encode(), "application/json", 422, "Invalid",
         'Service "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'),
        (b"\x00\x01", "application/vnd.kubernetes.protobuf", 400, "BadRequest",
         "protobuf"),
        (b"<xml/>", "text/xml", 415, "UnsupportedMediaType",
         "the body of the request was in an unknown format"),
    ],
)
def test_bad_create_bodies(
    http: Http, body: bytes, ctype: str, code: int, reason: str, fragment: str
) -> None:
    before = names(http)
    got, _, raw = http.request("POST", SVC, body, headers={"Content-Type": ctype})
    status = json.loads(raw)
    assert got == code
    assert_status(status, code, reason)
    assert fragment in status["message"]
    assert names(http) == before


def test_oversized_body_is_413(http: Http) -> None:
    big = svc("h-big")
    big["metadata"]["annotations"] = {"a": "x" * (3 * 1024 * 1024)}
    code, body = http.json("POST", SVC, big)
    assert code == 413
    assert_status(body, 413, "RequestEntityTooLarge")
    assert body["message"] == "Request entity too large: limit is 3145728"
    assert "h-big" not in names(http)


def test_update_name_mismatch(http: Http) -> None:
    code, obj = http.json("POST", SVC, svc("h-upd"))
    assert code == 201
    obj["metadata"]["name"] = "other"
    code, body = http.json("PUT", SVC + "/h-upd", obj)
    assert code == 400
    assert body["message"] == (
        "the name of the object (other) does not match the name on the URL (h-upd)"
    )


def test_field_validation(http: Http) -> None:
    bad = svc("h-strict")
    bad["spec"]["foo"] = 1
    code, body = http.json("POST", SVC + "?fieldValidation=Strict", bad)
    assert code == 400
    assert_status(body, 400, "BadRequest")
    assert 'strict decoding error: unknown field "spec.foo"' in body["message"]
    code, headers, _ = http.request("POST", SVC, bad)  # default: Warn
    assert code == 201
    assert headers["warning"] == ['299 - "unknown field \\"spec.foo\\""']
    ign = svc("h-ignore")
    ign["spec"]["foo"] = 1
    code, headers, _ = http.request("POST", SVC + "?fieldValidation=Ignore", ign)
    assert code == 201 and "warning" not in headers
    code, body = http.json("POST", SVC + "?fieldValidation=Loose", svc("h-loose"))
    assert code == 422
    assert_status(body, 422, "Invalid")
    assert body["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: '
        '"Loose": supported values: "Ignore", "Strict", "Warn"')


def test_warn_mode_drops_unknown_fields(http: Http) -> None:
    bad = svc("h-warn-drop")
    bad["spec"]["foo"] = 1
    code, body = http.json("POST", SVC, bad)
    assert code == 201
    assert "foo" not in body["spec"]


def test_patch_content_types(http: Http) -> None:
    http.json("POST", SVC, svc("h-patch"))
    path = SVC + "/h-patch"
    checks: list[tuple[str, Any, Callable[[dict[str, Any]], bool]]] = [
        ("application/merge-patch+json", {"metadata": {"labels": {"m": "1"}}},
         lambda o: o["metadata"]["labels"]["m"] == "1"),
        ("application/json-patch+json",
         [{"op": "add", "path": "/metadata/annotations", "value": {"j": "1"}}],
         lambda o: o["metadata"]["annotations"]["j"] == "1"),
        ("application/strategic-merge-patch+json",
         {"spec": {"ports": [{"port": 80, "name": "a"}, {"port": 81, "targetPort": 8081,
                                                         "name": "b"}]}},
         lambda o: sorted(p["port"] for p in o["spec"]["ports"]) == [80, 81]),
    ]
    for ctype, patch, check in checks:
        code, _, raw = http.request("PATCH", path, json.dumps(patch).encode(),
                                    headers={"Content-Type": ctype})
        assert code == 200, raw
        assert check(json.loads(raw))
    code, _, raw = http.request("PATCH", path, b"{}", headers={"Content-Type": "text/plain"})
    assert code == 415
    code, _, raw = http.request("PATCH", path, b"{not json",
                                headers={"Content-Type": "application/merge-patch+json"})
    assert code == 400


def test_dry_run_changes_nothing(http: Http) -> None:
    code, body = http.json("POST", SVC + "?dryRun=All", svc("h-dry"))
    assert code == 201 and body["metadata"]["name"] == "h-dry"
    assert "h-dry" not in names(http)
    http.json("POST", SVC, svc("h-dry2"))
    code, _ = http.json("DELETE", SVC + "/h-dry2?dryRun=All")
    assert code == 200
    assert "h-dry2" in names(http)
    code, body = http.json("POST", SVC + "?dryRun=Some", svc("h-dry3"))
    assert code == 422
    assert "dryRun: Unsupported value" in body["message"]


def test_delete_options_and_deletecollection(http: Http) -> None:
    http.json("POST", "/api/v1/namespaces", {"metadata": {"name": "h-dc"}})
    base = "/api/v1/namespaces/h-dc/services"
    for i, grp in enumerate(["x", "x", "y"]):
        s = svc(f"dc{i}")
        s["metadata"]["labels"] = {"g": grp}
        assert http.json("POST", base, s)[0] == 201
    code, body = http.json("DELETE", base + "/dc0", {
        "kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": {"uid": "not-the-uid"}})
    assert code == 409
    assert_status(body, 409, "Conflict")
    code, body = http.json("DELETE", base + "/dc0?propagationPolicy=Sideways")
    assert code == 422
    assert body["message"] == (
        'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
        '"Sideways": supported values: "Foreground", "Background", "Orphan", "nil"')
    code, body = http.json("DELETE", base + "?labelSelector=g%3Dx")
    assert code == 200
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["dc0", "dc1"]
    assert names(http, base) == {"dc2"}
    code, body = http.json("DELETE", "/api/v1/services")
    assert code == 405


def test_unknown_paths_and_methods(http: Http) -> None:
    for path in ["/nope", "/api/v2", "/api/v1/widgets", "/apis/apps/v1/namespaces/x/pods",
                 "/api/v1/namespaces/default/services/a/b/c/d"]:
        code, body = http.json("GET", path)
        assert code == 404, path
        assert_status(body, 404, "NotFound")
    code, body = http.json("GET", SVC + "/missing")
    assert code == 404
    assert body["message"] == 'services "missing" not found'
    assert body["details"]["name"] == "missing" and body["details"]["kind"] == "services"
    code, body = http.json("POST", SVC + "/named", svc("named"))
    assert code == 405
    assert_status(body, 405, "MethodNotAllowed")


# -- reads: tables, lists, watch


def test_table_output(http: Http) -> None:
    http.json("POST", SVC, svc("h-table"))
    code, headers, raw = http.request("GET", SVC, headers={"Accept": TABLE})
    assert code == 200
    assert "as=Table" in headers["content-type"][0]
    table = json.loads(raw)
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    cols = [c["name"] for c in table["columnDefinitions"]]
    assert cols[:6] == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == "h-table")
    assert row["object"]["kind"] == "PartialObjectMetadata"
    code, _, raw = http.request("GET", SVC + "/h-table?includeObject=Object",
                                headers={"Accept": TABLE})
    one = json.loads(raw)
    assert len(one["rows"]) == 1 and one["rows"][0]["object"]["kind"] == "Service"
    code, _, raw = http.request("GET", SVC, headers={"Accept": "application/foo"})
    assert code == 406


def test_watch_stream_and_timeout(http: Http, server: ServerThread) -> None:
    code, lst = http.json("GET", SVC)
    rv = lst["metadata"]["resourceVersion"]
    http.json("POST", SVC, svc("h-watch"))
    http.json("DELETE", SVC + "/h-watch")
    code, _, raw = http.request(
        "GET", f"{SVC}?watch=true&resourceVersion={rv}&timeoutSeconds=1", timeout=10)
    assert code == 200
    events = [json.loads(line) for line in raw.splitlines() if line]
    mine = [(e["type"], e["object"]["metadata"]["name"]) for e in events
            if e["object"]["metadata"]["name"] == "h-watch"]
    assert mine == [("ADDED", "h-watch"), ("DELETED", "h-watch")]
    # Legacy /watch/ prefix, one object.
    code, _, raw = http.request(
        "GET", f"/api/v1/watch/namespaces/default/services/kubernetes?resourceVersion={rv}"
        "&timeoutSeconds=1", timeout=10)
    assert code == 200 and raw == b""


def test_watch_too_old_resource_version_is_410(http: Http, server: ServerThread) -> None:
    assert http.json("POST", SVC, svc("h-gone"))[0] == 201

    async def compact() -> None:
        store = server.registry.store
        await store.compact(await store.revision())

    server.run(compact())
    code, _, raw = http.request("GET", f"{SVC}?watch=true&resourceVersion=1&timeoutSeconds=2")
    assert code in (200, 410)
    if code == 200:
        ev = json.loads(raw.splitlines()[0])
        assert ev["type"] == "ERROR"
        status = ev["object"]
    else:
        status = json.loads(raw)
    assert_status(status, 410, "Expired")


def test_delete_with_finalizer_is_graceful(http: Http) -> None:
    cms = "/api/v1/namespaces/default/configmaps"
    for name in ("fin-a", "fin-b"):
        cm = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": name, "finalizers": ["example.com/hold"]}}
        assert http.json("POST", cms, cm)[0] == 201
    # Upstream: 202 only when the object lives on and orphanDependents=false was asked.
    code, body = http.json("DELETE", cms + "/fin-a", {"orphanDependents": False})
    assert code == 202
    assert body["metadata"]["deletionTimestamp"]
    code, body = http.json("DELETE", cms + "/fin-b")
    assert code == 200 and body["metadata"]["deletionTimestamp"]
    for name in ("fin-a", "fin-b"):
        code, body = http.json("PATCH", f"{cms}/{name}", {"metadata": {"finalizers": None}},
                               headers={"Content-Type": "application/merge-patch+json"})
        assert code == 200
        assert http.json("GET", f"{cms}/{name}")[0] == 404
