"""FieldsV1 sets: encoding as upstream writes it, set algebra, path strings."""

from __future__ import annotations

import pytest

from kubesvc.api.fieldmanager import fieldpath as fp

# From an upstream `kubectl create deployment` object (managedFields of kubectl-create).
UPSTREAM = {
    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
    "f:spec": {
        "f:replicas": {},
        "f:template": {"f:spec": {"f:containers": {
            'k:{"name":"nginx"}': {".": {}, "f:image": {}, "f:name": {},
                                   "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {
                                       ".": {}, "f:containerPort": {}}}}}}},
    },
}


def test_members_and_membership() -> None:
    paths = list(fp.members(UPSTREAM))
    assert ("f:metadata", "f:labels") in paths  # "." makes the labels map a member
    assert ("f:metadata",) not in paths  # a node with children and no "." is not
    assert ("f:spec", "f:replicas") in paths
    assert ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"nginx"}') in paths
    assert fp.has(UPSTREAM, ("f:metadata", "f:labels", "f:app"))
    assert not fp.has(UPSTREAM, ("f:spec",))


def test_encode_round_trips_and_orders() -> None:
    enc = fp.encode(fp.canonical(UPSTREAM))
    assert enc == UPSTREAM
    assert list(enc["f:metadata"]["f:labels"]) == [".", "f:app"]  # "." first, sorted


def test_canonical_reencodes_keys() -> None:
    raw = {"f:spec": {"f:ports": {'k:{"protocol": "TCP", "port": 80}': {}}}}
    assert fp.canonical(raw) == {"f:spec": {"f:ports": {'k:{"port":80,"protocol":"TCP"}': {}}}}
    for bad in ({"x:y": {}}, {"k:{bad": {}}, {"f:a": {".": {"x": 1}}}, {"i:z": {}}):
        with pytest.raises(ValueError):
            fp.canonical(bad)


def test_union_difference_intersection() -> None:
    a = {"f:a": {}, "f:m": {".": {}, "f:x": {}}}
    b = {"f:b": {}, "f:m": {"f:y": {}}}
    u = fp.union(a, b)
    assert u == {"f:a": {}, "f:b": {}, "f:m": {".": {}, "f:x": {}, "f:y": {}}}
    # a member leaf minus a set holding only its children stays a member
    assert fp.difference({"f:m": {}}, {"f:m": {"f:x": {}}}) == {"f:m": {}}
    # minus its membership, a node keeps its children
    assert fp.difference(a, {"f:m": {}}) == {"f:a": {}, "f:m": {"f:x": {}}}
    assert fp.difference(u, u) == {}
    assert fp.intersection(u, b) == b
    assert fp.intersection(a, b) == {}
    assert fp.intersection({"f:m": {".": {}, "f:x": {}}}, {"f:m": {}}) == {"f:m": {}}


def test_insert() -> None:
    s: fp.Node = {}
    fp.insert(s, ("f:spec", "f:replicas"))
    fp.insert(s, ("f:spec",))
    fp.insert(s, ("f:spec", "f:template", "f:x"))
    assert s == {"f:spec": {".": {}, "f:replicas": {}, "f:template": {"f:x": {}}}}
    t: fp.Node = {}
    fp.insert(t, ("f:a",))
    fp.insert(t, ("f:a", "f:b"))  # a member leaf gaining a child stays a member
    assert t == {"f:a": {".": {}, "f:b": {}}}


def test_path_strings_as_upstream() -> None:
    assert fp.path_string(("f:spec", "f:replicas")) == ".spec.replicas"
    assert fp.path_string(("f:spec", "f:containers", 'k:{"name":"nginx"}', "f:image")) == \
        '.spec.containers[name="nginx"].image'
    assert fp.path_string(("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}')) == \
        '.spec.ports[port=80,protocol="TCP"]'
    assert fp.path_string(("f:metadata", "f:finalizers", 'v:"a"')) == \
        '.metadata.finalizers[="a"]'
    assert fp.path_string(("f:x", "i:3")) == ".x[3]"
    assert fp.key_pe({"protocol": "TCP", "containerPort": 80}) == \
        'k:{"containerPort":80,"protocol":"TCP"}'
