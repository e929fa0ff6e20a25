"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386), with kube-apiserver's errors."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.patch import (
    BAD_MERGE_PATCH,
    REJECTED_MESSAGE,
    json_patch,
    merge_patch,
)

DOC: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web", "a/b": "x", "t~": "y"}},
    "spec": {
        "replicas": 2,
        "template": {
            "spec": {
                "containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]
            }
        },
    },
}


def _apply(ops: list[dict[str, Any]]) -> Any:
    before = copy.deepcopy(DOC)
    out = json_patch(DOC, ops)
    assert before == DOC  # input untouched
    return out


def test_add_replace_remove() -> None:
    out = _apply(
        [
            {"op": "replace", "path": "/spec/replicas", "value": 5},
            {"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
            {"op": "remove", "path": "/metadata/labels/app"},
            {
                "op": "add",
                "path": "/spec/template/spec/containers/-",
                "value": {"name": "c", "image": "busybox"},
            },
            {
                "op": "add",
                "path": "/spec/template/spec/containers/0",
                "value": {"name": "z", "image": "z"},
            },
        ]
    )
    assert out["spec"]["replicas"] == 5
    assert out["metadata"]["annotations"] == {"k": "v"}
    assert "app" not in out["metadata"]["labels"]
    assert [c["name"] for c in out["spec"]["template"]["spec"]["containers"]] == [
        "z",
        "a",
        "b",
        "c",
    ]


def test_escaped_pointer_tokens() -> None:
    out = _apply(
        [
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "1"},
            {"op": "remove", "path": "/metadata/labels/t~0"},
        ]
    )
    assert out["metadata"]["labels"] == {"app": "web", "a/b": "1"}


def test_move_copy_and_passing_test() -> None:
    out = _apply(
        [
            {"op": "test", "path": "/spec/replicas", "value": 2},
            {"op": "copy", "from": "/metadata/labels", "path": "/spec/selector"},
            {"op": "move", "from": "/metadata/labels/a~1b", "path": "/metadata/labels/moved"},
        ]
    )
    assert out["spec"]["selector"] == {"app": "web", "a/b": "x", "t~": "y"}
    assert out["metadata"]["labels"] == {"app": "web", "t~": "y", "moved": "x"}


def test_replace_whole_document() -> None:
    assert json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}


def _rejected(ops: list[dict[str, Any]]) -> errors.Invalid:
    with pytest.raises(errors.Invalid) as info:
        _apply(ops)
    err = info.value
    assert err.code == 422 and err.message == REJECTED_MESSAGE
    assert err.causes[0].reason == "UnexpectedServerResponse"
    return err


def test_failing_test_op_is_upstreams_422() -> None:
    err = _rejected([{"op": "test", "path": "/spec/replicas", "value": 3}])
    assert err.causes[0].message == "testing value /spec/replicas failed: test failed"
    assert err.status()["reason"] == "Invalid"


def test_test_op_distinguishes_types() -> None:
    _rejected([{"op": "test", "path": "/spec/replicas", "value": "2"}])
    assert json_patch({"x": True}, [{"op": "test", "path": "/x", "value": True}]) == {"x": True}
    with pytest.raises(errors.Invalid):
        json_patch({"x": True}, [{"op": "test", "path": "/x", "value": 1}])


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (
            [{"op": "remove", "path": "/spec/nope"}],
            'remove operation does not apply: doc is missing path: "/spec/nope": missing value',
        ),
        (
            [{"op": "replace", "path": "/spec/nope", "value": 1}],
            "replace operation does not apply: doc is missing key: /spec/nope: missing value",
        ),
        (
            [{"op": "add", "path": "/spec/a/b", "value": 1}],
            'add operation does not apply: doc is missing path: "/spec/a/b": missing value',
        ),
        (
            [{"op": "add", "path": "/spec/template/spec/containers/7", "value": {}}],
            "Unable to access invalid index: 7: invalid index referenced",
        ),
        (
            [{"op": "move", "from": "/nope", "path": "/x"}],
            "move operation does not apply: doc is missing from path: /nope: missing value",
        ),
        ([{"op": "frobnicate", "path": "/x"}], "Unexpected kind: frobnicate"),
    ],
)
def test_operations_that_do_not_apply(ops: list[dict[str, Any]], message: str) -> None:
    assert _rejected(ops).causes[0].message == message


def test_malformed_patches_are_bad_requests() -> None:
    with pytest.raises(errors.BadRequest):
        json_patch(DOC, {"op": "add"})
    with pytest.raises(errors.BadRequest):
        json_patch(DOC, ["not an op"])
    with pytest.raises(errors.RequestEntityTooLarge):
        json_patch(DOC, [{"op": "test", "path": "", "value": None}] * 10001)


# RFC 7386 appendix A.
@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc7386(target: Any, patch: Any, result: Any) -> None:
    before = copy.deepcopy(target), copy.deepcopy(patch)
    assert merge_patch(target, patch) == result
    assert (target, patch) == before


def test_merge_patch_replaces_lists_and_merges_maps() -> None:
    out = merge_patch(
        DOC,
        {
            "metadata": {"labels": {"app": None, "new": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "only"}]}}},
        },
    )
    assert out["metadata"]["labels"] == {"a/b": "x", "t~": "y", "new": "1"}
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "only"}]
    assert out["spec"]["replicas"] == 2


def test_merge_patch_must_be_an_object() -> None:
    for bad in (None, [1], "x", 3):
        with pytest.raises(errors.BadRequest) as info:
            merge_patch(DOC, bad)
        assert info.value.message == BAD_MERGE_PATCH
