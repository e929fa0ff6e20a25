"""The structured walks with schema types: field sets, comparison, merge order, removal;
list-maps by their keys (with key defaults), sets, atomic lists and structs, kinds
without a schema."""

from __future__ import annotations

import pytest

from kubesvc.api.fieldmanager import merge as mg
from kubesvc.api.fieldmanager import typed

POD = typed.for_kind("v1", "Pod")
SVC = typed.for_kind("v1", "Service")
DEPLOY = typed.for_kind("apps/v1", "Deployment")
UNTYPED = typed.for_kind("example.com/v1", "Widget")


def test_types_from_the_schema_markers() -> None:
    spec = POD.child("spec")
    containers = spec.child("containers")
    assert (containers.list_type, containers.keys) == ("map", ("name",))
    ports = containers.item().child("ports")
    assert (ports.list_type, ports.keys) == ("map", ("containerPort", "protocol"))
    assert ports.key_defaults() == {"protocol": "TCP"}
    assert containers.item().child("env").keys == ("name",)
    assert spec.child("volumes").keys == ("name",)
    assert containers.item().child("command").list_type == "atomic"
    assert SVC.child("spec").child("ports").keys == ("port", "protocol")
    assert POD.child("metadata").child("finalizers").list_type == "set"
    assert DEPLOY.child("spec").child("selector").atomic_map
    assert UNTYPED is typed.UNTYPED_OBJECT
    assert UNTYPED.child("spec").child("items").list_type == "atomic"


def test_field_set_as_upstream_to_field_set() -> None:
    cfg = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [
        {"name": "c", "image": "i", "ports": [{"containerPort": 80}], "command": ["x"]}],
        "nodeSelector": {}}}
    s = mg.field_set(cfg, POD)
    assert s == {
        "f:metadata": {"f:labels": {"f:a": {}}},
        "f:spec": {"f:nodeSelector": {}, "f:containers": {'k:{"name":"c"}': {
            ".": {}, "f:name": {}, "f:image": {}, "f:command": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {
                ".": {}, "f:containerPort": {}}}}}}}
    # without a schema: every map entry is a member, lists are atomic
    assert mg.field_set({"spec": {"a": {"b": 1}, "l": [1, 2]}}, UNTYPED) == {
        "f:spec": {"f:a": {".": {}, "f:b": {}}, "f:l": {}}}


def test_missing_key_without_default() -> None:
    with pytest.raises(mg.FieldError) as err:
        mg.field_set({"spec": {"containers": [{"image": "x"}]}}, POD)
    assert 'omits key field "name"' in str(err.value)
    assert str(err.value).startswith(".spec.containers: element 0")


def test_compare() -> None:
    old = {"spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}}}}
    new = {"spec": {"replicas": 2, "paused": True, "template": {"spec": {"containers": [
        {"name": "a", "image": "2"}, {"name": "c", "image": "1"}]}}}}
    cmp = mg.compare(old, new, DEPLOY)
    cs = ("f:spec", "f:template", "f:spec", "f:containers")
    assert cmp.modified == {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
        "f:containers": {'k:{"name":"a"}': {"f:image": {}}}}}}}
    added = cmp.added["f:spec"]
    assert added["f:paused"] == {}
    assert added["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}'] == {
        ".": {}, "f:image": {}, "f:name": {}}
    assert cmp.removed["f:spec"]["f:template"]["f:spec"]["f:containers"] == {
        'k:{"name":"b"}': {".": {}, "f:image": {}, "f:name": {}}}
    assert cs  # (the path the assertions walk)
    assert mg.compare(old, old, DEPLOY).empty()


def test_merge_list_map_set_and_atomic() -> None:
    live = {"spec": {"containers": [
        {"name": "a", "image": "1", "ports": [{"containerPort": 80, "protocol": "TCP",
                                               "name": "http"}]},
        {"name": "side", "image": "s"},
        {"name": "b", "image": "1", "command": ["x", "y"]}]}}
    cfg = {"spec": {"containers": [
        {"name": "b", "image": "2", "command": ["z"]},
        {"name": "a", "ports": [{"containerPort": 80}]},
        {"name": "new", "image": "n"}]}}
    out = mg.merge(live, cfg, POD)
    names = [c["name"] for c in out["spec"]["containers"]]
    # applied order, live-only items kept where they were relative to the others
    assert names == ["side", "b", "a", "new"] or names == ["b", "a", "side", "new"]
    by = {c["name"]: c for c in out["spec"]["containers"]}
    assert by["b"] == {"name": "b", "image": "2", "command": ["z"]}  # atomic list replaced
    assert by["a"]["image"] == "1"
    assert by["a"]["ports"] == [{"containerPort": 80, "protocol": "TCP", "name": "http"}]
    assert live["spec"]["containers"][2]["image"] == "1"  # inputs untouched
    fin = mg.merge({"metadata": {"finalizers": ["a", "b"]}},
                   {"metadata": {"finalizers": ["c", "a"]}}, POD)
    assert sorted(fin["metadata"]["finalizers"]) == ["a", "b", "c"]


def test_merge_untyped_replaces_lists_and_merges_maps() -> None:
    out = mg.merge({"spec": {"l": [1, 2], "m": {"a": 1}}},
                   {"spec": {"l": [3], "m": {"b": 2}}}, UNTYPED)
    assert out == {"spec": {"l": [3], "m": {"a": 1, "b": 2}}}


def test_remove_keeps_what_others_own() -> None:
    obj = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 3,
                                                                  "paused": True}}
    gone = {"f:metadata": {"f:labels": {".": {}, "f:b": {}}}, "f:spec": {"f:paused": {}}}
    owned = {"f:metadata": {"f:labels": {"f:a": {}}}}
    assert mg.remove(obj, gone, DEPLOY, owned) == {
        "metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 3}}
    # nothing owned below a removed member: it goes whole; an emptied named field too
    assert mg.remove(obj, gone, DEPLOY) == {"spec": {"replicas": 3}}
    only = {"spec": {"paused": True}}
    assert mg.remove(only, {"f:spec": {"f:paused": {}}}, DEPLOY) == {}
