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
