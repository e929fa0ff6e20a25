"""Ports of upstream's CustomResourceDefinition [Conformance] cases (Kubernetes v1.32:
``test/e2e/apimachinery/custom_resource_definition.go``, ``crd_publish_openapi.go``,
``crd_watch.go`` and the CRD cases of ``field_validation.go``) against a real
``kubesvc up``, through its REST API and the real kubectl. Each CRD gets a random group
(upstream's ``e2e-test-<random>-crd-publish-openapi-test-<x>.example.com`` style) so the
cases stay independent, and is deleted afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conformance.framework import Api, ApiError, poll, unique
from tests.e2e.conftest import Cluster

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
PRESERVE = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _crd(kind: str = "Noxu", *, group: str = "", scope: str = "Namespaced",
         versions: list[dict[str, Any]] | None = None, schema: dict[str, Any] | None = None,
         labels: dict[str, str] | None = None) -> dict[str, Any]:
    group = group or f"{unique('e2e-test').lower()}.example.com"
    plural = f"{kind.lower()}s"
    vs = versions or [{"name": "v1", "served": True, "storage": True,
                       "schema": {"openAPIV3Schema": schema or PRESERVE}}]
    md: dict[str, Any] = {"name": f"{plural}.{group}"}
    if labels:
        md["labels"] = labels
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": md,
            "spec": {"group": group, "scope": scope, "versions": vs,
                     "names": {"plural": plural, "singular": kind.lower(), "kind": kind,
                               "listKind": f"{kind}List"}}}


def _established(api: Api, name: str) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        crd = api.get(f"{CRDS}/{name}")
        conds = {c["type"]: c["status"] for c in crd["status"].get("conditions") or []}
        return crd if conds.get("Established") == "True" else None

    return poll(ok, timeout=10, what=f"CRD {name} to be established")


def _gone(api: Api, name: str) -> None:
    def gone() -> bool:
        try:
            api.get(f"{CRDS}/{name}")
        except ApiError as exc:
            return exc.status == 404
        return False

    poll(gone, timeout=20, what=f"CRD {name} to be deleted")


@pytest.fixture
def made(api: Api) -> Iterator[list[str]]:
    """The CRDs a case creates, deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        try:
            api.delete(f"{CRDS}/{name}")
        except ApiError:
            pass


def _create(api: Api, made: list[str], crd: dict[str, Any]) -> dict[str, Any]:
    api.create(CRDS, crd)
    made.append(crd["metadata"]["name"])
    return _established(api, crd["metadata"]["name"])


def _path(crd: dict[str, Any], version: str, ns: str | None = None, name: str = "") -> str:
    spec = crd["spec"]
    base = f"/apis/{spec['group']}/{version}"
    if ns is not None and spec["scope"] == "Namespaced":
        base += f"/namespaces/{ns}"
    base += f"/{spec['names']['plural']}"
    return base + (f"/{name}" if name else "")


def _openapi_v3(api: Api, group: str, version: str) -> dict[str, Any]:
    return dict(api.get(f"/openapi/v3/apis/{group}/{version}"))


def _definition(api: Api, crd: dict[str, Any], version: str) -> dict[str, Any] | None:
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    name = ".".join(reversed(group.split("."))) + f".{version}.{kind}"
    try:
        doc = _openapi_v3(api, group, version)
    except ApiError:
        return None
    return doc["components"]["schemas"].get(name)


# -- custom_resource_definition.go
def test_simple_crd_creating_deleting_works(api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin]
    Simple CustomResourceDefinition creating/deleting custom resource definition objects
    works"""
    crd = _crd()
    _create(api, made, crd)
    api.delete(f"{CRDS}/{crd['metadata']['name']}")
    _gone(api, crd["metadata"]["name"])


def test_simple_crd_status_subresource_works(api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin]
    Simple CustomResourceDefinition getting/updating/patching custom resource definition
    status sub-resource works"""
    crd = _create(api, made, _crd())
    name = crd["metadata"]["name"]
    got = api.get(f"{CRDS}/{name}/status")
    assert got["metadata"]["name"] == name
    got["status"]["conditions"].append({"type": "StatusUpdated", "status": "True",
                                        "reason": "E2E", "message": "Set from e2e test"})
    updated = api.update(f"{CRDS}/{name}/status", got)
    assert "StatusUpdated" in [c["type"] for c in updated["status"]["conditions"]]
    patched = api.patch(f"{CRDS}/{name}/status", {"status": {"conditions": [
        *updated["status"]["conditions"],
        {"type": "StatusPatched", "status": "True", "reason": "E2E",
         "message": "Set from e2e test"}]}})
    assert "StatusPatched" in [c["type"] for c in patched["status"]["conditions"]]


def test_simple_crd_listing_works(api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin]
    Simple CustomResourceDefinition listing custom resource definition objects works"""
    label = unique("e2e-list-test")
    crds = [_crd(kind, labels={"e2e-list-test-uuid": label}) for kind in ("Noxu", "Tick")]
    for crd in crds:
        _create(api, made, crd)
    listed = api.list(CRDS, labelSelector=f"e2e-list-test-uuid={label}")
    assert sorted(i["metadata"]["name"] for i in listed) == sorted(
        c["metadata"]["name"] for c in crds)
    api.delete(CRDS, labelSelector=f"e2e-list-test-uuid={label}")
    poll(lambda: not api.list(CRDS, labelSelector=f"e2e-list-test-uuid={label}"),
         timeout=20, what="the listed CRDs to be deleted")


def test_should_include_crd_resources_in_discovery_documents(api: Api, made: list[str]
                                                              ) -> None:
    """[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin]
    should include custom resource definition resources in discovery documents"""
    groups = {g["name"]: g for g in api.get("/apis")["groups"]}
    assert groups["apiextensions.k8s.io"]["preferredVersion"]["version"] == "v1"
    group = api.get("/apis/apiextensions.k8s.io")
    assert group["preferredVersion"]["groupVersion"] == "apiextensions.k8s.io/v1"
    res = api.get("/apis/apiextensions.k8s.io/v1")
    assert "customresourcedefinitions" in [r["name"] for r in res["resources"]]
    crd = _create(api, made, _crd())
    g = crd["spec"]["group"]
    groups = {x["name"]: x for x in api.get("/apis")["groups"]}
    assert groups[g]["preferredVersion"]["groupVersion"] == f"{g}/v1"
    res = api.get(f"/apis/{g}/v1")
    assert [r["name"] for r in res["resources"]] == ["noxus"]
    assert res["resources"][0]["kind"] == "Noxu" and res["resources"][0]["namespaced"]


def test_custom_resource_defaulting_for_requests_and_from_storage_works(
        api: Api, made: list[str], ns: str) -> None:
    """[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin]
    custom resource defaulting for requests and from storage works"""
    schema = {"type": "object", "properties": {
        "a": {"type": "string", "default": "A"},
        "b": {"type": "string"}}}
    crd = _create(api, made, _crd(schema=schema))
    made_cr = api.create(_path(crd, "v1", ns), {
        "apiVersion": f"{crd['spec']['group']}/v1", "kind": "Noxu",
        "metadata": {"name": "foo"}})
    assert made_cr["a"] == "A" and "b" not in made_cr
    # a default added later shows on objects read from storage
    fresh = api.get(f"{CRDS}/{crd['metadata']['name']}")
    fresh["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["b"][
        "default"] = "B"
    api.update(f"{CRDS}/{crd['metadata']['name']}", fresh)
    poll(lambda: api.get(_path(crd, "v1", ns, "foo")).get("b") == "B", timeout=10,
         what="the new default on the stored object")


# -- crd_publish_openapi.go
def _kubectl(cluster: Cluster, *args: str, input: str | None = None) -> Any:
    return cluster.kubectl(*args, check=False, input=input)


SCHEMA_FOO = {
    "type": "object", "description": "Foo CRD for Testing",
    "properties": {
        "spec": {"type": "object", "description": "Specification of Foo", "properties": {
            "bars": {"type": "array", "description": "List of Bars and their specs.",
                     "items": {"type": "object", "required": ["name"], "properties": {
                         "name": {"type": "string", "description": "Name of Bar."},
                         "age": {"type": "string", "description": "Age of Bar."},
                         "bazs": {"type": "array", "description": "List of Bazs.",
                                  "items": {"type": "string"}}}}}}},
        "status": {"type": "object", "description": "Status of Foo", "properties": {
            "bars": {"type": "array", "description": "List of Bars and their statuses.",
                     "items": {"type": "object", "properties": {
                         "name": {"type": "string", "description": "Name of Bar."},
                         "available": {"type": "boolean",
                                       "description": "Whether the Bar is installed."},
                         "quxType": {"type": "string",
                                     "description": "Indicates to external qux type.",
                                     "pattern": "in-tree|out-of-tree"}}}}}}}}


def _cr_yaml(crd: dict[str, Any], name: str, body: str) -> str:
    return (f"apiVersion: {crd['spec']['group']}/v1\nkind: {crd['spec']['names']['kind']}\n"
            f"metadata:\n  name: {name}\n{body}")


def test_crd_publish_openapi_works_for_crd_with_validation_schema(
        api: Api, made: list[str], cluster: Cluster, ns: str) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    CRD with validation schema"""
    crd = _create(api, made, _crd("Foo", schema=SCHEMA_FOO))
    assert _definition(api, crd, "v1") is not None
    valid = _cr_yaml(crd, "test-foo", "spec:\n  bars:\n  - name: test-bar\n")
    r = _kubectl(cluster, "-n", ns, "create", "-f", "-", input=valid)
    assert r.returncode == 0, r.stderr
    r = _kubectl(cluster, "-n", ns, "delete", "foos", "test-foo")
    assert r.returncode == 0, r.stderr
    r = _kubectl(cluster, "-n", ns, "apply", "-f", "-", input=valid)
    assert r.returncode == 0, r.stderr
    unknown = _cr_yaml(crd, "test-foo2", "spec:\n  bars:\n  - name: b\n    unknown: x\n")
    r = _kubectl(cluster, "-n", ns, "create", "-f", "-", input=unknown)
    assert r.returncode != 0 and 'unknown field "spec.bars[0].unknown"' in r.stderr
    missing = _cr_yaml(crd, "test-foo3", "spec:\n  bars:\n  - age: '10'\n")
    r = _kubectl(cluster, "-n", ns, "create", "-f", "-", input=missing)
    assert r.returncode != 0 and "spec.bars[0].name: Required value" in r.stderr
    plural = crd["spec"]["names"]["plural"]
    out = _kubectl(cluster, "explain", plural).stdout
    assert "Foo CRD for Testing" in out
    assert "Specification of Foo" in _kubectl(cluster, "explain", f"{plural}.spec").stdout
    assert "List of Bars and their specs." in _kubectl(cluster, "explain",
                                                       f"{plural}.spec.bars").stdout


def test_crd_publish_openapi_works_for_crd_without_validation_schema(
        api: Api, made: list[str], cluster: Cluster, ns: str) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    CRD without validation schema"""
    crd = _create(api, made, _crd("Waldo"))
    cr = _cr_yaml(crd, "test-cr", "a: {b: [{c: d}]}\n")
    r = _kubectl(cluster, "-n", ns, "create", "-f", "-", input=cr)
    assert r.returncode == 0, r.stderr
    r = _kubectl(cluster, "-n", ns, "apply", "-f", "-", input=cr)
    assert r.returncode == 0, r.stderr
    out = _kubectl(cluster, "explain", crd["spec"]["names"]["plural"]).stdout
    assert "KIND:" in out and "Waldo" in out


def test_crd_publish_openapi_works_for_crd_preserving_unknown_fields_at_the_schema_root(
        api: Api, made: list[str], cluster: Cluster, ns: str) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    CRD preserving unknown fields at the schema root"""
    crd = _create(api, made, _crd("Corge", schema={
        "type": "object", "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    }))
    cr = _cr_yaml(crd, "test-cr", "spec: {a: b}\nextra: {x: 1}\n")
    r = _kubectl(cluster, "-n", ns, "create", "-f", "-", input=cr)
    assert r.returncode == 0, r.stderr
    got = api.get(_path(crd, "v1", ns, "test-cr"))
    assert got["extra"] == {"x": 1} and got["spec"] == {"a": "b"}


def test_crd_publish_openapi_works_for_crd_preserving_unknown_fields_in_an_embedded_object(
        api: Api, made: list[str], cluster: Cluster, ns: str) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    CRD preserving unknown fields in an embedded object"""
    crd = _create(api, made, _crd("Grault", schema={
        "type": "object", "properties": {"spec": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-embedded-resource": True}}}))
    cr = _cr_yaml(crd, "test-cr", "spec:\n  apiVersion: v1\n  kind: Pod\n  a: {b: c}\n")
    r = _kubectl(cluster, "-n", ns, "create", "-f", "-", input=cr)
    assert r.returncode == 0, r.stderr
    assert api.get(_path(crd, "v1", ns, "test-cr"))["spec"]["a"] == {"b": "c"}


def test_crd_publish_openapi_works_for_multiple_crds_of_different_groups(
        api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    multiple CRDs of different groups"""
    a = _create(api, made, _crd("Foo", schema=SCHEMA_FOO))
    b = _create(api, made, _crd("Waldo"))
    assert a["spec"]["group"] != b["spec"]["group"]
    assert _definition(api, a, "v1") is not None and _definition(api, b, "v1") is not None


def _two_versions(kind: str, group: str, names: tuple[str, str] = ("v2", "v3")
                  ) -> dict[str, Any]:
    return _crd(kind, group=group, versions=[
        {"name": names[0], "served": True, "storage": True,
         "schema": {"openAPIV3Schema": SCHEMA_FOO}},
        {"name": names[1], "served": True, "storage": False,
         "schema": {"openAPIV3Schema": SCHEMA_FOO}}])


def test_crd_publish_openapi_works_for_multiple_crds_of_same_group_but_different_versions(
        api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    multiple CRDs of same group but different versions"""
    crd = _create(api, made, _two_versions("Foo", f"{unique('e2e').lower()}.example.com"))
    assert _definition(api, crd, "v2") is not None
    assert _definition(api, crd, "v3") is not None


def test_crd_publish_openapi_works_for_multiple_crds_of_same_group_and_version_but_different_kinds(
        api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] works for
    multiple CRDs of same group and version but different kinds"""
    group = f"{unique('e2e').lower()}.example.com"
    a = _create(api, made, _crd("Foo", group=group, schema=SCHEMA_FOO))
    b = _create(api, made, _crd("Waldo", group=group))
    assert _definition(api, a, "v1") is not None and _definition(api, b, "v1") is not None


def test_crd_publish_openapi_updates_the_published_spec_when_one_version_gets_renamed(
        api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] updates
    the published spec when one version gets renamed"""
    crd = _create(api, made, _two_versions("Foo", f"{unique('e2e').lower()}.example.com"))
    fresh = api.get(f"{CRDS}/{crd['metadata']['name']}")
    fresh["spec"]["versions"][1]["name"] = "v4"
    api.update(f"{CRDS}/{crd['metadata']['name']}", fresh)
    poll(lambda: _definition(api, crd, "v4") is not None, timeout=10,
         what="v4 to be published")
    assert _definition(api, crd, "v3") is None
    assert _definition(api, crd, "v2") is not None


def test_crd_publish_openapi_removes_definition_from_spec_when_one_version_gets_changed_to_not_be_served(  # noqa: E501
        api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourcePublishOpenAPI [Privileged:ClusterAdmin] removes
    definition from spec when one version gets changed to not be served"""
    crd = _create(api, made, _two_versions("Foo", f"{unique('e2e').lower()}.example.com"))
    fresh = api.get(f"{CRDS}/{crd['metadata']['name']}")
    fresh["spec"]["versions"][1]["served"] = False
    api.update(f"{CRDS}/{crd['metadata']['name']}", fresh)
    poll(lambda: _definition(api, crd, "v3") is None, timeout=10,
         what="v3 to be unpublished")
    assert _definition(api, crd, "v2") is not None


# -- crd_watch.go
def test_crd_watch_on_custom_resource_definition_objects(api: Api, made: list[str]) -> None:
    """[sig-api-machinery] CustomResourceDefinition Watch [Privileged:ClusterAdmin]
    CustomResourceDefinition Watch watch on custom resource definition objects"""
    crd = _create(api, made, _crd("Noxu", scope="Cluster"))
    base = _path(crd, "v1")
    rv = api.get(base)["metadata"]["resourceVersion"]
    group = crd["spec"]["group"]

    def cr(name: str) -> dict[str, Any]:
        return {"apiVersion": f"{group}/v1", "kind": "Noxu", "metadata": {"name": name},
                "content": {"key": "value"}}

    api.create(base, cr("name1"))
    api.create(base, cr("name2"))
    api.patch(f"{base}/name1", {"dummy": "test"})
    api.patch(f"{base}/name2", {"dummy": "test"})
    api.delete(f"{base}/name1")
    api.delete(f"{base}/name2")
    seen = []
    for ev in api.watch(base, resource_version=rv, timeout=5):
        seen.append((ev["type"], ev["object"]["metadata"]["name"]))
        if len(seen) == 6:
            break
    assert seen == [("ADDED", "name1"), ("ADDED", "name2"), ("MODIFIED", "name1"),
                    ("MODIFIED", "name2"), ("DELETED", "name1"), ("DELETED", "name2")]


# -- field_validation.go (the CRD cases)
def _raw(api: Api, method: str, path: str, body: Any, field_validation: str,
         content_type: str = "application/json", **query: str) -> tuple[int, Any]:
    try:
        return 200, api.request(method, path, body, query={"fieldValidation":
                                                           field_validation, **query},
                                content_type=content_type)
    except ApiError as exc:
        return exc.status, exc.body


def test_field_validation_should_create_apply_a_valid_cr_for_crd_with_validation_schema(
        api: Api, made: list[str], ns: str) -> None:
    """[sig-api-machinery] FieldValidation should create/apply a valid CR for CRD with
    validation schema"""
    crd = _create(api, made, _crd("Foo", schema=SCHEMA_FOO))
    body = {"apiVersion": f"{crd['spec']['group']}/v1", "kind": "Foo",
            "metadata": {"name": "valid"}, "spec": {"bars": [{"name": "b"}]}}
    code, out = _raw(api, "POST", _path(crd, "v1", ns), body, "Strict")
    assert code == 200, out
    code, out = _raw(api, "PATCH", _path(crd, "v1", ns, "valid2"),
                     {**body, "metadata": {"name": "valid2"}}, "Strict",
                     "application/apply-patch+yaml", fieldManager="e2e")
    assert code == 200, out


def test_field_validation_should_create_apply_a_cr_with_unknown_fields_for_crd_with_no_validation_schema(  # noqa: E501
        api: Api, made: list[str], ns: str) -> None:
    """[sig-api-machinery] FieldValidation should create/apply a CR with unknown fields for
    CRD with no validation schema"""
    crd = _create(api, made, _crd("Waldo"))
    body = {"apiVersion": f"{crd['spec']['group']}/v1", "kind": "Waldo",
            "metadata": {"name": "free"}, "spec": {"anything": {"goes": 1}}}
    code, out = _raw(api, "POST", _path(crd, "v1", ns), body, "Strict")
    assert code == 200, out
    assert out["spec"] == {"anything": {"goes": 1}}


def test_field_validation_should_detect_unknown_metadata_fields_in_both_the_root_and_embedded_object_of_a_cr(  # noqa: E501
        api: Api, made: list[str], ns: str) -> None:
    """[sig-api-machinery] FieldValidation should detect unknown metadata fields in both the
    root and embedded object of a CR"""
    crd = _create(api, made, _crd("Foo", schema={"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"template": {
            "type": "object", "x-kubernetes-embedded-resource": True,
            "x-kubernetes-preserve-unknown-fields": True}}}}}))
    body = {"apiVersion": f"{crd['spec']['group']}/v1", "kind": "Foo",
            "metadata": {"name": "meta", "unknownMeta": "foo"},
            "spec": {"template": {"apiVersion": "v1", "kind": "Pod",
                                  "metadata": {"name": "x", "unknownSubMeta": "bar"}}}}
    code, out = _raw(api, "POST", _path(crd, "v1", ns), body, "Strict")
    assert code == 400
    assert out["message"].endswith('strict decoding error: unknown field "metadata.unknownMeta"'
                                   ', unknown field "spec.template.metadata.unknownSubMeta"'), \
        out["message"]


def test_field_validation_should_create_apply_an_invalid_cr_with_extra_properties_for_crd_with_validation_schema(  # noqa: E501
        api: Api, made: list[str], ns: str) -> None:
    """[sig-api-machinery] FieldValidation should create/apply an invalid CR with extra
    properties for CRD with validation schema"""
    crd = _create(api, made, _crd("Foo", schema=SCHEMA_FOO))
    body = {"apiVersion": f"{crd['spec']['group']}/v1", "kind": "Foo",
            "metadata": {"name": "extra"},
            "spec": {"bars": [{"name": "b", "hostPort": 1}], "foo": "bar"}}
    code, out = _raw(api, "POST", _path(crd, "v1", ns), body, "Strict")
    assert code == 400
    assert 'unknown field "spec.bars[0].hostPort"' in out["message"]
    assert 'unknown field "spec.foo"' in out["message"]
    code, out = _raw(api, "POST", _path(crd, "v1", ns), body, "Ignore")
    assert code == 200 and out["spec"] == {"bars": [{"name": "b"}]}


def test_field_validation_should_detect_duplicates_in_a_cr_when_preserving_unknown_fields(
        api: Api, made: list[str]) -> None:
    """[sig-api-machinery] FieldValidation should detect duplicates in a CR when preserving
    unknown fields"""
    crd = _create(api, made, _crd("Noxu", scope="Cluster", schema={
        "type": "object", "properties": {"spec": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
                "foo": {"type": "string"}, "cronSpec": {"type": "string"},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                          "items": {"type": "object",
                                    "required": ["containerPort", "protocol"],
                                    "properties": {"containerPort": {"type": "integer"},
                                                   "name": {"type": "string"},
                                                   "protocol": {"type": "string"}}}}}}}}))
    body = (f"\napiVersion: {crd['spec']['group']}/v1\nkind: Noxu\nmetadata:\n  name: mytest\n"
            "spec:\n  unknown: uk1\n  foo: foo1\n  foo: foo2\n  cronSpec: \"* * * * */5\"\n"
            "  ports:\n  - name: x\n    containerPort: 80\n    protocol: TCP").encode()
    path = _path(crd, "v1", name="mytest")
    code, out = _raw(api, "PATCH", path, body, "Strict", "application/apply-patch+yaml",
                     fieldManager="field_validation_mgr")
    assert code == 400, out
    assert 'line 9: key "foo" already set in map' in out["message"], out["message"]
    # Ignore: the last of the repeated keys wins, as in upstream's lenient decoding
    code, out = _raw(api, "PATCH", path, body, "Ignore", "application/apply-patch+yaml",
                     fieldManager="field_validation_mgr")
    assert code == 200 and out["spec"]["foo"] == "foo2", out
