"""Issue 24 (API fidelity): Status bodies byte for byte as upstream's encoder writes them,
the zero status of each kind, and the Local APIServices."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from kubesvc import errors
from kubesvc.api import validation
from kubesvc.api.defaults import apply_defaults, fill_zero_status
from kubesvc.api.tables import to_table
from kubesvc.apiserver.registry.apiservices import local_apiservice, served_group_versions


def body(err: errors.KubeError) -> bytes:
    return orjson.dumps(err.status())


def test_not_found_body_as_upstream() -> None:
    err = errors.NotFound('pods "x" not found', name="x", kind="pods")
    assert body(err) == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                         b'"message":"pods \\"x\\" not found","reason":"NotFound",'
                         b'"details":{"name":"x","kind":"pods"},"code":404}')


def test_unknown_path_not_found_has_empty_details() -> None:
    err = errors.NotFound("the server could not find the requested resource")
    assert body(err).endswith(b'"reason":"NotFound","details":{},"code":404}')


def test_already_exists_with_group() -> None:
    err = errors.AlreadyExists('apiservices.apiregistration.k8s.io "v1.x" already exists',
                               name="v1.x", group="apiregistration.k8s.io", kind="apiservices")
    assert body(err).endswith(b'"reason":"AlreadyExists","details":{"name":"v1.x",'
                              b'"group":"apiregistration.k8s.io","kind":"apiservices"},'
                              b'"code":409}')


def test_invalid_causes_order() -> None:
    err = errors.Invalid('Service "s" is invalid: spec.ports: Required value', name="s",
                         kind="Service",
                         causes=[errors.Cause("FieldValueRequired", "Required value",
                                              "spec.ports")])
    assert body(err).endswith(b'"details":{"name":"s","kind":"Service","causes":[{"reason":'
                              b'"FieldValueRequired","message":"Required value","field":'
                              b'"spec.ports"}]},"code":422}')


def test_no_details_where_upstream_has_none() -> None:
    for err in (errors.BadRequest("bad"), errors.UnsupportedMediaType("x"),
                errors.NotAcceptable("x"), errors.Unauthorized("Unauthorized"),
                errors.Gone("too old")):
        assert b"details" not in body(err), err
        assert body(err).endswith(b',"code":%d}' % err.code)


def test_zero_status_per_kind() -> None:
    deploy: dict[str, object] = {"spec": {}}
    fill_zero_status("deployments.apps", deploy)
    assert deploy["status"] == {}
    rs: dict[str, object] = {"status": {"readyReplicas": 1}}
    fill_zero_status("replicasets.apps", rs)
    assert rs["status"] == {"readyReplicas": 1, "replicas": 0}
    cm: dict[str, object] = {"data": {}}
    apply_defaults("configmaps", cm)
    assert "status" not in cm
    svc: dict[str, object] = {"spec": {"ports": [{"port": 80}]}}
    apply_defaults("services", svc)
    assert svc["status"] == {"loadBalancer": {}}


def test_local_apiservices() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    gvs = served_group_versions()
    assert gvs[0] == ("", "v1") and ("apps", "v1") in gvs and ("autoscaling", "v1") in gvs
    core = local_apiservice("", "v1", now)
    assert core["metadata"]["name"] == "v1."
    assert core["spec"] == {"version": "v1", "groupPriorityMinimum": 18000, "versionPriority": 1}
    apps = local_apiservice("apps", "v1", now)
    assert apps["spec"]["group"] == "apps" and apps["spec"]["groupPriorityMinimum"] == 17800
    cond = apps["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"]) == ("Available", "True", "Local")
    assert validation.validate_create("apiservices.apiregistration.k8s.io", apps) == []
    row = to_table("apiservices.apiregistration.k8s.io", [apps])["rows"][0]["cells"]
    assert row[:3] == ["v1.apps", "Local", "True"]


def test_apiservice_validation_messages() -> None:
    bad = {"metadata": {"name": "v1.wrong"},
           "spec": {"group": "x.io", "version": "v1", "groupPriorityMinimum": 0,
                    "versionPriority": 15, "insecureSkipTLSVerify": True}}
    causes = validation.validate_create("apiservices.apiregistration.k8s.io", bad)
    msgs = {(c.field, c.message) for c in causes}
    assert ("metadata.name", 'Invalid value: "v1.wrong": must be `spec.version+"."+spec.group`'
            ) in msgs, msgs
    assert any(c.field == "spec.groupPriorityMinimum" for c in causes)
    assert any(c.field == "spec.insecureSkipTLSVerify" for c in causes)


def test_duplicate_fields_paths() -> None:
    from kubesvc.api.fields import duplicate_fields

    body = b'{"spec": {"replicas": 2, "replicas": 3, "template": {"spec": {"containers": ' \
           b'[{"name": "a", "name": "b"}]}}}, "kind": "Deployment"}'
    assert duplicate_fields(body) == ["spec.replicas", "spec.template.spec.containers[0].name"]
    assert duplicate_fields(b"not json") == []
