"""Bounded fuzzing of the in-process API server over real HTTPS (hypothesis): random JSON
and YAML bodies for create/update/patch, random text as YAML, random query parameters on
list, watch, get and delete. Every request must be answered (no dropped connection) with a
status below 500 and a JSON body. Bounded in examples (the whole module runs in well under
a minute on a loaded 2-core machine)."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.apiserver.harness import Http

NS = "/api/v1/namespaces/default"
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True)
# Fields the schemas declare, so that random values reach the typed decoding.
_fields = st.sampled_from(["data", "binaryData", "spec", "metadata", "status", "immutable",
                           "labels", "ports", "selector", "type", "clusterIP", "replicas"])
_resources = st.sampled_from(["configmaps", "services", "pods", "endpoints", "secrets"])


def _objects() -> st.SearchStrategy[dict[str, Any]]:
    def build(name: str, top: dict[str, Any], spec: dict[str, Any],
              meta: dict[str, Any]) -> dict[str, Any]:
        return {**top, "metadata": {**meta, "name": name}, "spec": spec}
    return st.builds(build, _names, st.dictionaries(_fields, json_values, max_size=3),
                     st.dictionaries(_fields, json_values, max_size=3),
                     st.dictionaries(st.sampled_from(["labels", "annotations", "finalizers",
                                                      "ownerReferences", "generateName"]),
                                     json_values, max_size=2))


def _check(http: Http, method: str, path: str, body: bytes | None,
           content_type: str = "application/json") -> None:
    code, hdrs, raw = http.request(method, path, body, headers={"Content-Type": content_type})
    assert code < 500, (method, path, body, raw)
    assert hdrs["content-type"][0].startswith("application/"), hdrs
    if hdrs["content-type"][0].startswith("application/json"):
        for line in raw.splitlines() or [raw]:  # a watch answers one JSON value per line
            json.loads(line)


@FUZZ
@given(resource=_resources, obj=_objects())
def test_json_bodies(http: Http, resource: str, obj: dict[str, Any]) -> None:
    _check(http, "POST", f"{NS}/{resource}", json.dumps(obj).encode())
    name = urllib.parse.quote(obj["metadata"]["name"])
    _check(http, "PUT", f"{NS}/{resource}/{name}", json.dumps(obj).encode())
    _check(http, "PATCH", f"{NS}/{resource}/{name}", json.dumps(obj).encode(),
           "application/merge-patch+json")
    _check(http, "PATCH", f"{NS}/{resource}/{name}", json.dumps(obj).encode(),
           "application/strategic-merge-patch+json")


@FUZZ
@given(resource=_resources, obj=_objects())
def test_yaml_bodies(http: Http, resource: str, obj: dict[str, Any]) -> None:
    doc = yaml.safe_dump(obj).encode()
    _check(http, "POST", f"{NS}/{resource}", doc, "application/yaml")
    _check(http, "PATCH", f"{NS}/{resource}/{obj['metadata']['name']}?fieldManager=fuzz",
           doc, "application/apply-patch+yaml")


_yaml_bits = st.sampled_from([
    "&a ", "*a", "<<: ", "!!binary ", "!!set ", "!!int ", "!!float ", "!!str ", "!x ", "~",
    ".nan", ".inf", "0x1F", "1e400", "99999999999999999999999", "? ", "- ", "[", "]", "{",
    "}", ": ", ", ", "\n", "  ", "metadata: ", "name: x", "data: ", "'", '"', "#", "---",
])


@FUZZ
@given(parts=st.lists(_yaml_bits | st.text(max_size=4), max_size=30))
def test_random_yaml_text(http: Http, parts: list[str]) -> None:
    _check(http, "POST", f"{NS}/configmaps", "".join(parts).encode(), "application/yaml")


_params = st.sampled_from([
    "limit", "continue", "resourceVersion", "resourceVersionMatch", "labelSelector",
    "fieldSelector", "timeoutSeconds", "gracePeriodSeconds", "propagationPolicy",
    "orphanDependents", "dryRun", "fieldValidation", "fieldManager", "includeObject",
    "allowWatchBookmarks", "tailLines", "pretty",
])
_values = (st.integers(min_value=-(2**70), max_value=2**70).map(str)
           | st.sampled_from(["1e23", "-1", "0", "", "NaN", "1_0", " 1", "All", "Strict",
                              "x=y", "!x", "a in (b)", "Orphan", "true"])
           | st.text(max_size=8))


@FUZZ
@given(query=st.lists(st.tuples(_params, _values), max_size=4), name=_names)
def test_query_parameters(http: Http, query: list[tuple[str, str]], name: str) -> None:
    qs = urllib.parse.urlencode(query)
    _check(http, "GET", f"{NS}/configmaps?{qs}", None)
    _check(http, "GET", f"{NS}/configmaps/{name}?{qs}", None)
    _check(http, "DELETE", f"{NS}/configmaps/{name}?{qs}", None)


@settings(FUZZ, max_examples=10)
@given(query=st.lists(st.tuples(_params, _values), max_size=4))
def test_watch_query_parameters(http: Http, query: list[tuple[str, str]]) -> None:
    # timeoutSeconds=1 first: the first value is the one read, so the watch ends quickly.
    qs = urllib.parse.urlencode(query)
    _check(http, "GET", f"{NS}/configmaps?watch=true&timeoutSeconds=1&{qs}", None)
