"""Port of the typed-object cases of upstream's test/e2e/apimachinery/field_validation.go
(v1.32): a Deployment posted with ``fieldValidation=Strict`` and an unknown plus a
duplicate field, or an unknown metadata field, is rejected with the decoder's text. The
request bodies are upstream's (raw JSON, so the duplicate key survives); the CRD cases
live with the CRD work. Listed in tests/conformance/cases_apimachinery.py."""

from __future__ import annotations

import pytest

from tests.conformance.framework import Api, ApiError

pytestmark = pytest.mark.e2e

_TEMPLATE = ('"selector": {"matchLabels": {"app": "nginx"}}, "template": {"metadata": '
             '{"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "nginx", '
             '"image": "nginx:latest"}]}}')


def _post_strict(api: Api, ns: str, body: str) -> ApiError:
    with pytest.raises(ApiError) as info:
        api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", body.encode(),
                    query={"fieldManager": "field_validation_mgr",
                           "fieldValidation": "Strict"})
    return info.value


def test_should_detect_unknown_and_duplicate_fields_of_a_typed_object(api: Api,
                                                                       ns: str) -> None:
    """[sig-api-machinery] FieldValidation should detect unknown and duplicate fields of a
    typed object [Conformance]"""
    body = ('{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "my-dep", '
            '"labels": {"app": "nginx"}}, "spec": {"unknownField": "foo", "replicas": 2, '
            '"replicas": 3, ' + _TEMPLATE + '}}')
    err = _post_strict(api, ns, body)
    assert ('strict decoding error: unknown field "spec.unknownField", duplicate field '
            '"spec.replicas"') in str(err), err


def test_should_detect_unknown_metadata_fields_of_a_typed_object(api: Api, ns: str) -> None:
    """[sig-api-machinery] FieldValidation should detect unknown metadata fields of a typed
    object [Conformance]"""
    body = ('{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "my-dep", '
            '"unknownMeta": "foo", "labels": {"app": "nginx"}}, "spec": {' + _TEMPLATE + '}}')
    err = _post_strict(api, ns, body)
    assert 'strict decoding error: unknown field "metadata.unknownMeta"' in str(err), err
