"""The self-subject reviews' answers (pure): who the caller is, what it may do, and
upstream's validation of an access review."""

from __future__ import annotations

import datetime as dt

import pytest

from kubesvc import errors
from kubesvc.api.resources import BY_KEY
from kubesvc.api.schema.openapi import openapi_v3_document
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.reviews import ANONYMOUS, answer

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
ADMIN = User("kubernetes-admin", "kubernetes-admin", ("system:masters",))
SSAR = BY_KEY["selfsubjectaccessreviews.authorization.k8s.io"]
SSRR = BY_KEY["selfsubjectrulesreviews.authorization.k8s.io"]
SSR = BY_KEY["selfsubjectreviews.authentication.k8s.io"]


def _ssar(spec: dict[str, object]) -> dict[str, object]:
    return {"apiVersion": SSAR.api_version, "kind": SSAR.kind, "metadata": {}, "spec": spec}


def test_whoami_adds_system_authenticated_once() -> None:
    out = answer(SSR, {"metadata": {}}, ADMIN, now=NOW)
    assert out["metadata"] == {"creationTimestamp": "2026-01-02T03:04:05Z"}
    assert out["status"] == {"userInfo": {"username": "kubernetes-admin",
                                          "uid": "kubernetes-admin",
                                          "groups": ["system:masters", "system:authenticated"]}}
    already = User("u", "", ("system:authenticated",))
    assert answer(SSR, {}, already, now=NOW)["status"]["userInfo"] == {
        "username": "u", "groups": ["system:authenticated"]}
    assert answer(SSR, {}, ANONYMOUS, now=NOW)["status"]["userInfo"]["groups"] == [
        "system:unauthenticated"]


def test_access_review_is_allowed_and_echoes_the_spec() -> None:
    spec = {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "x"}}
    out = answer(SSAR, _ssar(spec), ADMIN, now=NOW)
    assert out["spec"] == spec and out["status"] == {"allowed": True}
    assert out["kind"] == "SelfSubjectAccessReview"


@pytest.mark.parametrize(("spec", "field", "message"), [
    ({}, "spec.resourceAttributes", "Invalid value: null: exactly one of "
     "nonResourceAttributes or resourceAttributes must be specified"),
    ({"resourceAttributes": {}, "nonResourceAttributes": {}}, "spec.nonResourceAttributes",
     "cannot be specified in combination with resourceAttributes"),
])
def test_access_review_needs_exactly_one_kind_of_attributes(
        spec: dict[str, object], field: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as exc:
        answer(SSAR, _ssar(spec), ADMIN, now=NOW)
    assert exc.value.code == 422
    assert [c.field for c in exc.value.causes] == [field]
    assert message in exc.value.causes[0].message
    assert exc.value.message.startswith('SelfSubjectAccessReview.authorization.k8s.io "" is '
                                        "invalid: ")


def test_access_review_metadata_must_be_empty() -> None:
    body = _ssar({"nonResourceAttributes": {"path": "/x", "verb": "get"}})
    body["metadata"] = {"name": "x"}
    with pytest.raises(errors.Invalid) as exc:
        answer(SSAR, body, ADMIN, now=NOW)
    assert exc.value.causes[0].field == "metadata"


def test_rules_review_needs_a_namespace_and_lists_everything() -> None:
    with pytest.raises(errors.BadRequest, match="no namespace on request"):
        answer(SSRR, {"spec": {}}, ADMIN, now=NOW)
    out = answer(SSRR, {"spec": {"namespace": "default"}}, ADMIN, now=NOW)
    assert out["status"] == {
        "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
        "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
        "incomplete": False}


def test_openapi_has_only_the_create_of_a_review() -> None:
    doc = openapi_v3_document("authorization.k8s.io", "v1")
    path = doc["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(path) == {"post", "parameters"}
    assert path["post"]["x-kubernetes-action"] == "post"
    assert len(doc["paths"]) == 4  # + subjectaccessreviews, localsubjectaccessreviews
    assert "io.k8s.api.authorization.v1.SelfSubjectAccessReviewList" not in doc[
        "components"]["schemas"]
