"""Upstream ``test/e2e/apimachinery/apply.go`` (Kubernetes v1.32, "[sig-api-machinery]
ServerSideApply"): the cases that need no CustomResourceDefinition, written anew against
kubesvc. Apply patches go as JSON (valid YAML) with ``application/apply-patch+yaml``. Run
by pytest; uses :mod:`.framework`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conformance.framework import Api, ApiError, pod_ready, poll, unique

APPLY = "application/apply-patch+yaml"


def apply(api: Api, path: str, obj: dict[str, Any], manager: str, *,
          force: bool = False) -> Any:
    query: dict[str, Any] = {"fieldManager": manager}
    if force:
        query["force"] = "true"
    return api.request("PATCH", path, obj, query=query, content_type=APPLY)


def deployment(name: str, *, replicas: int | None = 0,
               containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "containers": containers or [{"name": "pause",
                                          "image": "registry.k8s.io/pause:3.9"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": spec}


def deploy_path(ns: str, name: str, sub: str = "") -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments/{name}" + (f"/{sub}" if sub else "")


def owners(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["manager"]: e for e in obj["metadata"].get("managedFields", [])}


def test_should_create_an_applied_object_if_it_does_not_already_exist(api: Api,
                                                                        ns: str) -> None:
    """[sig-api-machinery] ServerSideApply should create an applied object if it does not
    already exist"""
    cases = [
        ("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-pod"},
                  "spec": {"containers": [{"name": "test-container", "image": "test-image"}]}},
         '{"f:spec":{"f:containers":{"k:{\\"name\\":\\"test-container\\"}":{".":{},'
         '"f:image":{},"f:name":{}}}}}'),
        ("services", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "test-svc"},
                      "spec": {"ports": [{"port": 8080, "protocol": "UDP"}]}},
         '{"f:spec":{"f:ports":{"k:{\\"port\\":8080,\\"protocol\\":\\"UDP\\"}":{".":{},'
         '"f:port":{},"f:protocol":{}}}}}'),
    ]
    for resource, obj, managed in cases:
        path = f"/api/v1/namespaces/{ns}/{resource}/{obj['metadata']['name']}"
        apply(api, path, obj, "apply_test")
        api.get(path)
        # re-applying with another manager: no conflicts, and both own the same fields
        out = apply(api, path, obj, "apply_test_2")
        for who in ("apply_test", "apply_test_2"):
            got = json.dumps(owners(out)[who]["fieldsV1"], separators=(",", ":"))
            assert got == managed, (who, got)


def test_should_work_for_subresources(api: Api, ns: str) -> None:
    """[sig-api-machinery] ServerSideApply should work for subresources"""
    path = f"/api/v1/namespaces/{ns}/pods/test-pod"
    apply(api, path, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-pod"},
                      "spec": {"containers": [{"name": "nginx",
                                               "image": "registry.k8s.io/pause:3.9"}]}},
          "apply_test")
    # Wait for the node agent's status writes to settle: it merge-patches the conditions
    # it knows from its cache (upstream's kubelet sends a strategic two-way diff), so an
    # early write of its could drop the condition applied below.
    poll(lambda: pod_ready(api, ns, "test-pod"), what="test-pod Ready")
    status = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "test-pod"},
              "status": {"conditions": [{"type": "MyStatus", "status": "True"}]}}

    def my_status() -> bool:
        pod = api.get(path)
        return any(c["type"] == "MyStatus" for c in pod["status"].get("conditions") or [])

    # not through the main resource ...
    apply(api, path, status, "apply_test2")
    assert not my_status(), "apply must not update subresources unless directed at one"
    # ... through the status subresource
    apply(api, path + "/status", status, "apply_test2")
    assert my_status()


def test_should_remove_a_field_if_it_is_owned_but_removed_in_the_apply_request(
        api: Api, ns: str) -> None:
    """[sig-api-machinery] ServerSideApply should remove a field if it is owned but removed
    in the apply request"""
    name = unique("deploy")
    with_ports = [{"name": "pause", "image": "registry.k8s.io/pause:3.9",
                   "ports": [{"containerPort": 80, "protocol": "TCP"}]}]
    apply(api, deploy_path(ns, name), deployment(name, containers=with_ports), "apply_test")
    out = apply(api, deploy_path(ns, name), deployment(name), "apply_test")
    container = out["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in container, container


def test_should_not_remove_a_field_if_an_owner_unsets_the_field_but_other_managers_still_have_ownership_of_the_field(  # noqa: E501
        api: Api, ns: str) -> None:
    """[sig-api-machinery] ServerSideApply should not remove a field if an owner unsets the
    field but other managers still have ownership of the field"""
    name = unique("deploy")
    # spec.replicas is optional and defaulted, spec.template.spec.hostname optional and not
    full = deployment(name, replicas=0)
    full["spec"]["template"]["spec"]["hostname"] = "test-hostname"
    apply(api, deploy_path(ns, name), full, "shared_owner_1")
    apply(api, deploy_path(ns, name), full, "shared_owner_2")
    out = apply(api, deploy_path(ns, name), deployment(name, replicas=None),
                "shared_owner_1")
    assert out["spec"]["replicas"] == 0
    assert out["spec"]["template"]["spec"]["hostname"] == "test-hostname"
    assert "f:replicas" in owners(out)["shared_owner_2"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owners(out)["shared_owner_1"]["fieldsV1"]["f:spec"]


def test_should_ignore_conflict_errors_if_force_apply_is_used(api: Api, ns: str) -> None:
    """[sig-api-machinery] ServerSideApply should ignore conflict errors if force apply is
    used"""
    name = unique("deploy")
    path = deploy_path(ns, name)
    apply(api, path, deployment(name, replicas=0), "apply_test")
    # (no fieldManager: the manager is the User-Agent's prefix, Python-urllib here)
    api.patch(path, {"spec": {"replicas": 1}})
    with pytest.raises(ApiError) as err:
        apply(api, path, deployment(name, replicas=0), "apply_test")
    assert err.value.status == 409
    causes = err.value.body["details"]["causes"]
    assert len(causes) >= 1 and causes[0]["field"] == ".spec.replicas"
    assert err.value.body["message"].startswith("Apply failed with 1 conflict: conflict with ")
    out = apply(api, path, deployment(name, replicas=0), "apply_test", force=True)
    assert out["spec"]["replicas"] == 0
    assert "f:replicas" in owners(out)["apply_test"]["fieldsV1"]["f:spec"]


def test_should_give_up_ownership_of_a_field_if_forced_applied_by_a_controller(
        api: Api, ns: str) -> None:
    """[sig-api-machinery] ServerSideApply should give up ownership of a field if forced
    applied by a controller"""
    name = unique("deploy")
    path = deploy_path(ns, name)
    apply(api, path, deployment(name, replicas=0), "test_applier")
    # a controller updates replicas (an Update: it takes the field over)
    for _ in range(10):  # e2edeployment.UpdateDeploymentWithRetries
        current = api.get(path)
        current["spec"]["replicas"] = 1
        try:
            api.update(path, current)
            break
        except ApiError as exc:
            if exc.status != 409:
                raise
    # the applier leaving replicas out no longer removes it: it is not the applier's now
    out = apply(api, path, deployment(name, replicas=None), "test_applier")
    assert out["spec"]["replicas"] == 1


# -- "should work for CRDs"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
PORTS_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": {
    "type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
        "cronSpec": {"type": "string",
                     "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
        "ports": {"type": "array", "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                  "x-kubernetes-list-type": "map", "items": {
                      "type": "object", "required": ["containerPort", "protocol"],
                      "properties": {
                          "containerPort": {"format": "int32", "type": "integer"},
                          "hostIP": {"type": "string"},
                          "hostPort": {"format": "int32", "type": "integer"},
                          "name": {"type": "string"},
                          "protocol": {"type": "string"}}}}}}}}
ATOMIC_SCHEMA: dict[str, Any] = {"type": "object", "properties": {"spec": {
    "type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {
        "atomicList": {"type": "array", "x-kubernetes-list-type": "atomic",
                       "items": {"type": "string"}}}}}}


def cluster_crd(schema: dict[str, Any], versions: tuple[str, ...]) -> dict[str, Any]:
    """A cluster-scoped CRD of a random group, as upstream's ``fixtures.NewRandomName...``."""
    group = f"{unique('mygroup').lower()}.example.com"
    kind = "WishIHadChosenNoxu"
    vs = [{"name": v, "served": True, "storage": i == 0,
           "schema": {"openAPIV3Schema": schema}} for i, v in enumerate(versions)]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"noxus.{group}"},
            "spec": {"group": group, "scope": "Cluster", "versions": vs,
                     "names": {"plural": "noxus", "singular": "nonenglishnoxu", "kind": kind,
                               "listKind": f"{kind}List"}}}


def create_crd(api: Api, crd: dict[str, Any]) -> None:
    api.create(CRDS, crd)

    def established() -> bool:
        got = api.get(f"{CRDS}/{crd['metadata']['name']}")
        return any(c["type"] == "Established" and c["status"] == "True"
                   for c in got.get("status", {}).get("conditions") or [])

    poll(established, timeout=10, what="CRD established")


def cr_apply(api: Api, path: str, body: str, manager: str, *, force: bool = False) -> Any:
    query: dict[str, Any] = {"fieldManager": manager}
    if force:
        query["force"] = "true"
    return api.request("PATCH", path, body.encode(), query=query, content_type=APPLY)


def test_should_work_for_crds(api: Api) -> None:
    """[sig-api-machinery] ServerSideApply should work for CRDs"""
    noxu = cluster_crd(PORTS_SCHEMA, ("v1beta1", "v1"))
    atomic = cluster_crd(ATOMIC_SCHEMA, ("v1beta1",))
    group = noxu["spec"]["group"]
    kind = noxu["spec"]["names"]["kind"]
    create_crd(api, noxu)
    try:
        path = f"/apis/{group}/v1beta1/noxus/mytest"
        body = (f"apiVersion: {group}/v1beta1\nkind: {kind}\nmetadata:\n  name: mytest\n"
                "  finalizers:\n  - test-finalizer\nspec:\n  cronSpec: \"* * * * */5\"\n"
                "  replicas: 1\n  ports:\n  - name: x\n    containerPort: 80\n"
                "    protocol: TCP")
        out = cr_apply(api, path, body, "apply_test")
        assert out["metadata"]["finalizers"] == ["test-finalizer"]
        assert out["spec"]["replicas"] == 1 and len(out["spec"]["ports"]) == 1
        try:
            # apply works with multiple resource versions
            beta = body.replace(f"{group}/v1beta1", f"{group}/v1").replace(
                "  finalizers:\n  - test-finalizer\n", "")
            out = cr_apply(api, f"/apis/{group}/v1/noxus/mytest", beta, "apply_test")
            assert out["spec"]["replicas"] == 1 and len(out["spec"]["ports"]) == 1
            out = api.patch(path, {"metadata": {"finalizers": ["test-finalizer",
                                                               "another-one"]}})
            assert out["metadata"]["finalizers"] == ["test-finalizer", "another-one"]
            # re-applying the same config works: finalizers are a set
            out = cr_apply(api, path, body, "apply_test")
            assert sorted(out["metadata"]["finalizers"]) == ["another-one", "test-finalizer"]
            assert api.patch(path, {"spec": {"replicas": 5}})["spec"]["replicas"] == 5
            # re-applying conflicts on the replicas changed by another manager
            with pytest.raises(ApiError) as err:
                cr_apply(api, path, body, "apply_test")
            assert err.value.status == 409
            assert len(err.value.body["details"]["causes"]) == 1, err.value.body
            out = cr_apply(api, path, body, "apply_test", force=True)
            assert out["spec"]["replicas"] == 1
            # a new applier editing an existing list-map item (same keys) conflicts
            other = (f"apiVersion: {group}/v1beta1\nkind: {kind}\nmetadata:\n  name: mytest\n"
                     "spec:\n  ports:\n  - name: \"y\"\n    containerPort: 80\n"
                     "    protocol: TCP")
            with pytest.raises(ApiError) as err:
                cr_apply(api, path, other, "apply_test_2")
            assert err.value.status == 409
            assert len(err.value.body["details"]["causes"]) == 1, err.value.body
            # ... and adding a new item (other keys) merges
            out = cr_apply(api, path, other.replace("containerPort: 80",
                                                    "containerPort: 8080"), "apply_test_2")
            assert len(out["spec"]["ports"]) == 2, out["spec"]
            # an update of a missing object does not create it
            missing = {"apiVersion": f"{group}/v1beta1", "kind": kind,
                       "metadata": {"name": "should-not-exist",
                                    "finalizers": ["test-finalizer"]},
                       "spec": {"cronSpec": "* * * * */5", "replicas": 1,
                                "ports": [{"name": "x", "containerPort": 80}]},
                       "protocol": "TCP"}
            with pytest.raises(ApiError) as err:
                api.request("PUT", f"/apis/{group}/v1beta1/noxus/should-not-exist", missing,
                            query={"fieldManager": "apply_test"})
            assert err.value.status == 404
        finally:
            api.patch(path, {"metadata": {"finalizers": []}})
        # an atomic list is replaced as a whole by a forced apply
        create_crd(api, atomic)
        apath = f"/apis/{atomic['spec']['group']}/v1beta1/noxus/mytest"
        abody = (f"apiVersion: {atomic['spec']['group']}/v1beta1\nkind: {kind}\n"
                 "metadata:\n  name: mytest\nspec:\n  atomicList:\n  - \"item1\"")
        assert cr_apply(api, apath, abody, "apply_test")["spec"]["atomicList"] == ["item1"]
        out = cr_apply(api, apath, abody.replace("item1", "item2"), "apply_test_2",
                       force=True)
        assert out["spec"]["atomicList"] == ["item2"]
    finally:
        for crd in (noxu, atomic):
            try:
                api.delete(f"{CRDS}/{crd['metadata']['name']}")
            except ApiError:
                pass
