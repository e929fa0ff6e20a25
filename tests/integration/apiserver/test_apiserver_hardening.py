"""Hostile request bodies and parameters against the in-process API server: each answers
a 4xx Status (never a 500, never a dropped response) and stores nothing it should not
(issue 17's decoding repros: YAML alias bomb, wrong JSON types, non-string YAML keys,
``!!binary``, >64-bit integers, deep nesting, out-of-range query parameters, control
characters in a Warning header)."""

from __future__ import annotations

import json
import time

import pytest

from tests.integration.apiserver.harness import Http

NS = "/api/v1/namespaces/default"
YAML = {"Content-Type": "application/yaml"}

BOMB = (
    b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    b"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    b"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    b"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    b"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    b"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    b"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
    b"i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
)


def _status(http: Http, method: str, path: str, body: bytes | None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    code, hdrs, raw = http.request(method, path, body, headers=headers)
    assert hdrs["content-type"][0].startswith("application/json")
    return code, json.loads(raw)


def test_yaml_alias_bomb_is_400_fast(http: Http) -> None:
    start = time.monotonic()
    code, st = _status(http, "POST", f"{NS}/configmaps", BOMB, YAML)
    assert code == 400, st
    assert st["reason"] == "BadRequest"
    assert "yaml: document contains excessive aliasing" in str(st["message"])
    assert time.monotonic() - start < 5


def test_yaml_alias_bomb_as_apply_patch_is_400(http: Http) -> None:
    code, st = _status(http, "PATCH", f"{NS}/configmaps/bomb?fieldManager=t", BOMB,
                       {"Content-Type": "application/apply-patch+yaml"})
    assert code == 400, st
    assert "excessive aliasing" in str(st["message"])


def test_wrong_json_type_is_400_and_not_stored(http: Http) -> None:
    body = {"metadata": {"name": "typed"}, "data": [1]}
    code, st = _status(http, "POST", f"{NS}/configmaps", json.dumps(body).encode())
    assert code == 400, st
    assert st["reason"] == "BadRequest"
    assert st["message"] == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal '
        "array into Go struct field ConfigMap.data of type map[string]string"
    )
    code, _ = _status(http, "GET", f"{NS}/configmaps/typed", None)
    assert code == 404
    code, lst = _status(http, "GET", f"{NS}/configmaps", None)
    assert code == 200 and isinstance(lst["items"], list)


def test_string_for_int_is_400(http: Http) -> None:
    body = {"metadata": {"name": "svc-typed"}, "spec": {"ports": [{"port": "eighty"}]}}
    code, st = _status(http, "POST", f"{NS}/services", json.dumps(body).encode())
    assert code == 400, st
    assert "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port " \
        "of type int32" in str(st["message"])


def test_wrong_type_by_patch_is_422_on_patch(http: Http) -> None:
    code, _ = _status(http, "POST", f"{NS}/configmaps",
                      json.dumps({"metadata": {"name": "patched"}}).encode())
    assert code == 201
    code, st = _status(http, "PATCH", f"{NS}/configmaps/patched", b'{"data": {"a": 1}}',
                       {"Content-Type": "application/merge-patch+json"})
    assert code == 422, st
    assert "json: cannot unmarshal number into Go struct field ConfigMap.data of type " \
        "string" in str(st["message"])
    code, cm = _status(http, "GET", f"{NS}/configmaps/patched", None)
    assert code == 200 and "data" not in cm


@pytest.mark.parametrize("doc", [
    b"metadata: {name: k1}\ndata: {1: a, true: b}\n",
])
def test_yaml_scalar_keys_become_strings(http: Http, doc: bytes) -> None:
    code, cm = _status(http, "POST", f"{NS}/configmaps", doc, YAML)
    assert code == 201, cm
    assert cm["data"] == {"1": "a", "true": "b"}


@pytest.mark.parametrize(("doc", "text"), [
    (b"metadata: {name: k2}\ndata: {~: a}\n", "unsupported map key"),
    (b"metadata: {name: k3}\ndata: {[1]: a}\n", "yaml:"),
    (b"metadata: {name: k4}\ndata: {a: .nan}\n", "json: unsupported value: NaN"),
    (b"metadata: {name: k5}\ndata: {a: .inf}\n", "json: unsupported value: +Inf"),
    (b"metadata: {name: k6}\ndata: !!set {a}\n", "unsupported tag !!set"),
    (b"metadata: {name: k7}\ndata: {a: 99999999999999999999999}\n", "cannot unmarshal number"),
    (b"metadata: {name: k8}\nbinaryData: {a: 1}\n", "cannot unmarshal number"),
])
def test_bad_yaml_is_400(http: Http, doc: bytes, text: str) -> None:
    code, st = _status(http, "POST", f"{NS}/configmaps", doc, YAML)
    assert code == 400, st
    assert text in str(st["message"])


def test_yaml_binary_tag_is_decoded(http: Http) -> None:
    doc = b"metadata: {name: bin}\ndata: {a: !!binary aGVsbG8=}\n"
    code, cm = _status(http, "POST", f"{NS}/configmaps", doc, YAML)
    assert code == 201, cm
    assert cm["data"] == {"a": "hello"}


def test_huge_integer_in_json_is_400(http: Http) -> None:
    body = b'{"metadata": {"name": "big"}, "spec": {"ports": [{"port": 99999999999999999999999}]}}'
    code, st = _status(http, "POST", f"{NS}/services", body)
    assert code == 400, st
    assert "cannot unmarshal number" in str(st["message"])


@pytest.mark.parametrize("ctype", ["application/json", "application/yaml"])
def test_deep_nesting_is_400(http: Http, ctype: str) -> None:
    inner = b"[" * 900 + b"]" * 900
    body = b'{"metadata": {"name": "deep", "annotations": {}}, "data": {"a": ' + inner + b"}}"
    code, st = _status(http, "POST", f"{NS}/configmaps", body, {"Content-Type": ctype})
    assert code == 400, st
    assert "exceeded max depth" in str(st["message"])


def test_deep_nesting_in_open_field_by_patch_is_refused(http: Http) -> None:
    deep: object = {}
    for _ in range(60):
        deep = {"f:a": deep}
    body = {"metadata": {"name": "deep-mf", "managedFields": [
        {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
         "fieldsV1": deep}]}}
    code, st = _status(http, "POST", f"{NS}/configmaps", json.dumps(body).encode())
    assert code == 201, st
    patch = {"metadata": {"managedFields": [dict(body["metadata"]["managedFields"][0],  # type: ignore[index]
                                                 fieldsV1={"f:b": deep, "f:c": {"f:d": deep}})]}}
    code, st = _status(http, "PATCH", f"{NS}/configmaps/deep-mf", json.dumps(patch).encode(),
                       {"Content-Type": "application/merge-patch+json"})
    assert code < 500, st


@pytest.mark.parametrize(("query", "text"), [
    ("limit=1e23", "invalid syntax"),
    ("limit=100000000000000000000000", "value out of range"),
    ("limit=" + "9" * 5000, "value out of range"),
    ("limit=1_0", "invalid syntax"),
    ("resourceVersion=1e23", "resourceVersion"),
    ("resourceVersion=100000000000000000000000", "resourceVersion"),
    ("watch=true&resourceVersion=1e23", "resourceVersion"),
    ("watch=true&resourceVersion=100000000000000000000000", "resourceVersion"),
    ("watch=true&timeoutSeconds=100000000000000000000000", "value out of range"),
])
def test_query_parameters_are_range_checked(http: Http, query: str, text: str) -> None:
    code, st = _status(http, "GET", f"{NS}/configmaps?{query}", None)
    assert code == 400, st
    assert st["reason"] == "BadRequest"
    assert text in str(st["message"])


def test_grace_period_out_of_range_is_400(http: Http) -> None:
    code, st = _status(http, "DELETE",
                       f"{NS}/configmaps/none?gracePeriodSeconds=1" + "0" * 30, None)
    assert code == 400, st


def test_unknown_field_with_control_characters_is_answered(http: Http) -> None:
    body = b'{"metadata": {"name": "ctl"}, "bo\\r\\ngus\\u0000": 1}'
    code, hdrs, raw = http.request("POST", f"{NS}/configmaps", body)
    assert code == 201, raw
    warnings = hdrs["warning"]
    assert len(warnings) == 1
    assert "\r" not in warnings[0] and "\n" not in warnings[0]
    assert 'unknown field' in warnings[0] and "bo  gus" in warnings[0]


@pytest.mark.parametrize("rv", [str(2**63 - 1), str(2**64 - 1)])
def test_watch_from_a_revision_no_store_reaches_ends(http: Http, rv: str) -> None:
    start = time.monotonic()
    code, _, raw = http.request("GET", f"{NS}/configmaps?watch=true&resourceVersion={rv}")
    assert code < 500, raw
    assert b"Too large resource version" in raw
    assert time.monotonic() - start < 5
