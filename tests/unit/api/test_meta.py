"""Name/label validators, IP helpers, ObjectMeta validation and system fields."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api import meta
from kubesvc.api.validation import field


def test_dns1123_label() -> None:
    assert meta.is_dns1123_label("my-name") == []
    assert meta.is_dns1123_label("123-abc") == []
    assert meta.is_dns1123_label("a.b") == ["must not contain dots"]
    assert meta.is_dns1123_label("Bad") == [
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
        "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    ]
    assert meta.is_dns1123_label("a" * 64) == ["must be no more than 63 characters"]


def test_dns1123_subdomain() -> None:
    assert meta.is_dns1123_subdomain("example.com") == []
    assert meta.is_dns1123_subdomain("-x") == [
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
        "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
        "[a-z0-9])?)*')"
    ]
    long = ".".join(["a" * 63] * 4)
    assert meta.is_dns1123_subdomain(long) == ["must be no more than 253 characters"]


def test_dns1035_label() -> None:
    assert meta.is_dns1035_label("abc-123") == []
    assert len(meta.is_dns1035_label("1abc")) == 1


def test_qualified_name() -> None:
    assert meta.is_qualified_name("app.kubernetes.io/name") == []
    assert meta.is_qualified_name("MyName") == []
    assert meta.is_qualified_name("/x") == ["prefix part must be non-empty"]
    assert meta.is_qualified_name("x/") == [
        "name part must be non-empty",
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
        "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]
    assert meta.is_qualified_name("a/b/c")[0].startswith("a qualified name must consist")
    assert meta.is_qualified_name("Bad_Prefix/x")[0].startswith("prefix part a lowercase RFC 1123")


def test_label_values() -> None:
    assert meta.is_valid_label_value("") == []
    assert meta.is_valid_label_value("v1.2_x") == []
    assert meta.is_valid_label_value("-x") != []
    assert meta.is_valid_label_value("a" * 64)[0] == "must be no more than 63 characters"


def test_port_names() -> None:
    assert meta.is_valid_port_name("http") == []
    assert meta.is_valid_port_name("-http") == ["must not begin or end with a hyphen"]
    assert meta.is_valid_port_name("HTTP") == [
        "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        "must contain at least one letter (a-z)",
    ]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("10.0.0.1", True),
        ("010.000.000.001", True),
        ("::1", True),
        ("2001:db8::1", True),
        ("10.0.0", False),
        ("1.2.3.256", False),
        ("fe80::1%eth0", False),
        ("", False),
        ("abc", False),
    ],
)
def test_parse_ip(value: str, ok: bool) -> None:
    assert (meta.parse_ip(value) is not None) is ok


def test_cidr() -> None:
    assert meta.is_valid_cidr("f", "10.0.0.0/8") == []
    assert meta.is_valid_cidr("f", "10.0.0.1/8") == []  # host bits allowed, as upstream
    assert meta.is_valid_cidr("f", "2001:db8::/64") == []
    for bad in ("10.0.0.0", "10.0.0.0/33", "10.0.0.0/x"):
        assert meta.is_valid_cidr("f", bad)[0].message.endswith(
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
        )


def test_non_special_ip() -> None:
    msgs = {
        ip: [c.message for c in meta.validate_non_special_ip("ip", ip)]
        for ip in ("0.0.0.0", "::1", "169.254.1.1", "224.0.0.5", "ff02::1", "10.1.2.3")
    }
    assert msgs["0.0.0.0"] == ['Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)']
    assert msgs["::1"] == [
        'Invalid value: "::1": may not be in the loopback range (127.0.0.0/8, ::1/128)'
    ]
    assert "link-local range" in msgs["169.254.1.1"][0]
    assert "link-local multicast" in msgs["224.0.0.5"][0]
    assert "link-local multicast" in msgs["ff02::1"][0]
    assert msgs["10.1.2.3"] == []


def test_go_value_formatting() -> None:
    assert field.go_value('a"b\n') == '"a\\"b\\n"'
    assert field.go_value(["a", "b"]) == '[]string{"a", "b"}'
    assert field.go_value({"b": "2", "a": "1"}) == 'map[string]string{"a":"1", "b":"2"}'
    assert field.go_value(None) == "null"
    assert field.go_value(True) == "true"


def test_object_meta_labels_annotations() -> None:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "x",
            "namespace": "default",
            "labels": {"ok": "yes", "bad key": "v"},
            "annotations": {"Example.COM/Key": "v", "a/b/c": "v"},
        }
    }
    got = [
        (c.field, c.message[:40])
        for c in meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    ]
    assert got == [
        ("metadata.labels", 'Invalid value: "bad key": name part must'),
        ("metadata.annotations", 'Invalid value: "a/b/c": a qualified name'),
    ]


def test_annotations_size_limit() -> None:
    obj: dict[str, Any] = {
        "metadata": {"name": "x", "namespace": "d", "annotations": {"k": "v" * 300_000}}
    }
    causes = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    assert [(c.field, c.reason, c.message) for c in causes] == [
        ("metadata.annotations", "FieldValueTooLong", "Too long: must have at most 262144 bytes")
    ]


def test_cluster_scoped_namespace_forbidden() -> None:
    obj: dict[str, Any] = {"metadata": {"name": "n1", "namespace": "default"}}
    causes = meta.validate_object_meta(obj, False, meta.name_is_dns_subdomain)
    assert [(c.field, c.message) for c in causes] == [
        ("metadata.namespace", "Forbidden: not allowed on this type")
    ]


def test_owner_references_and_finalizers() -> None:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "x",
            "namespace": "d",
            "finalizers": ["orphan", "foregroundDeletion"],
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": ""}
            ],
        }
    }
    got = [
        (c.field, c.message)
        for c in meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    ]
    assert got == [
        ("metadata.ownerReferences.uid", 'Invalid value: "": must not be empty'),
        (
            "metadata.finalizers",
            'Invalid value: []string{"orphan", "foregroundDeletion"}: '
            "finalizer orphan and foregroundDeletion cannot be both set",
        ),
    ]


def test_generate_name_prefix_may_end_with_dash() -> None:
    assert meta.name_is_dns1035_label("web-", True) == []
    assert meta.name_is_dns1035_label("web-", False) != []
    name = meta.generate_name("web-", rng=random.Random(1))
    assert name.startswith("web-") and len(name) == 9
    assert meta.is_dns1035_label(name) == []
    assert len(meta.generate_name("a" * 80)) == 63


def test_apply_generate_name() -> None:
    obj: dict[str, Any] = {"metadata": {"generateName": "x-"}}
    meta.apply_generate_name(obj)
    assert obj["metadata"]["name"].startswith("x-")


def test_fill_system_fields() -> None:
    now = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    obj: dict[str, Any] = {
        "metadata": {"name": "d", "resourceVersion": "9", "deletionTimestamp": "x", "generation": 7}
    }
    meta.fill_system_fields("deployments.apps", obj, now=now, uid="u-1")
    assert obj["metadata"] == {
        "name": "d",
        "uid": "u-1",
        "creationTimestamp": "2026-11-23T12:00:00Z",
        "generation": 1,
    }
    svc: dict[str, Any] = {"metadata": {"name": "s", "generation": 3}}
    meta.fill_system_fields("services", svc, now=now)
    assert "generation" not in svc["metadata"]
    assert len(svc["metadata"]["uid"]) == 36


def test_ensure_namespace() -> None:
    obj: dict[str, Any] = {"metadata": {}}
    meta.ensure_namespace(obj, "team", namespaced=True)
    assert obj["metadata"]["namespace"] == "team"
    node: dict[str, Any] = {"metadata": {"namespace": "team"}}
    meta.ensure_namespace(node, "", namespaced=False)
    assert "namespace" not in node["metadata"]
    with pytest.raises(errors.BadRequest, match="does not match the namespace sent"):
        meta.ensure_namespace({"metadata": {"namespace": "a"}}, "b", namespaced=True)


def test_object_meta_update_immutables() -> None:
    old: dict[str, Any] = {
        "metadata": {
            "name": "x",
            "namespace": "d",
            "uid": "1",
            "resourceVersion": "3",
            "creationTimestamp": "2026-11-23T12:00:00Z",
            "generation": 2,
        }
    }
    new = {
        "metadata": {
            "name": "y",
            "namespace": "d",
            "uid": "1",
            "resourceVersion": "3",
            "creationTimestamp": "2026-11-23T12:00:01Z",
            "generation": 1,
        }
    }
    got = [(c.field, c.message) for c in meta.validate_object_meta_update(new, old)]
    assert got == [
        ("metadata.generation", "Invalid value: 1: must not be decremented"),
        ("metadata.name", 'Invalid value: "y": field is immutable'),
        ("metadata.creationTimestamp", 'Invalid value: "2026-11-23T12:00:01Z": field is immutable'),
    ]


def test_no_new_finalizers_while_deleting() -> None:
    old: dict[str, Any] = {
        "metadata": {
            "name": "x",
            "resourceVersion": "1",
            "deletionTimestamp": "t",
            "finalizers": ["a.io/x"],
        }
    }
    new = {
        "metadata": {
            "name": "x",
            "resourceVersion": "1",
            "deletionTimestamp": "t",
            "finalizers": ["a.io/x", "b.io/y"],
        }
    }
    got = [(c.field, c.message) for c in meta.validate_object_meta_update(new, old)]
    assert got == [
        (
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the "
            'object is being deleted, found new finalizers []string{"b.io/y"}',
        )
    ]


def test_spec_changed() -> None:
    old: dict[str, Any] = {
        "metadata": {"labels": {"a": "1"}},
        "spec": {"replicas": 1},
        "status": {"x": 1},
    }
    same: dict[str, Any] = {
        "metadata": {"labels": {"a": "2"}},
        "spec": {"replicas": 1},
        "status": {"x": 2},
    }
    assert not meta.spec_changed("deployments.apps", old, same)
    assert meta.spec_changed("deployments.apps", old, {**same, "spec": {"replicas": 2}})
    slice_old: dict[str, Any] = {"metadata": {"labels": {"a": "1"}}, "endpoints": []}
    slice_new: dict[str, Any] = {"metadata": {"labels": {"a": "2"}}, "endpoints": []}
    assert meta.spec_changed("endpointslices.discovery.k8s.io", slice_old, slice_new)
    assert meta.spec_changed("configmaps", {"data": {"a": "1"}}, {"data": {"a": "2"}})
    assert meta.uses_generation("deployments.apps") and not meta.uses_generation("services")


def test_errors_invalid_group_qualified() -> None:
    err = errors.invalid(
        "Deployment",
        "web",
        [
            field.invalid("spec.replicas", -1, meta.IS_NEGATIVE),
            field.required("spec.selector"),
            field.required("spec.selector"),
        ],
        group="apps",
    )
    assert err.message == (
        'Deployment.apps "web" is invalid: [spec.replicas: Invalid value: -1: '
        "must be greater than or equal to 0, spec.selector: Required value]"
    )
    assert len(err.causes) == 3
    assert err.status()["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [c.to_dict() for c in err.causes],
    }


def test_prepare_meta_for_update() -> None:
    old = {
        "metadata": {
            "name": "d",
            "uid": "u",
            "resourceVersion": "7",
            "generation": 3,
            "creationTimestamp": "2026-11-23T12:00:00Z",
            "annotations": {"a": "1"},
        },
        "spec": {"replicas": 1},
    }
    same: dict[str, Any] = {
        "metadata": {"name": "d", "generation": 99, "annotations": {"a": "1"}},
        "spec": {"replicas": 1},
    }
    meta.prepare_meta_for_update("deployments.apps", same, old)
    assert same["metadata"] == {
        "name": "d",
        "generation": 3,
        "uid": "u",
        "resourceVersion": "7",
        "creationTimestamp": "2026-11-23T12:00:00Z",
        "annotations": {"a": "1"},
    }
    scaled: dict[str, Any] = {
        "metadata": {"name": "d", "annotations": {"a": "1"}},
        "spec": {"replicas": 2},
    }
    meta.prepare_meta_for_update("deployments.apps", scaled, old)
    assert scaled["metadata"]["generation"] == 4
    annotated: dict[str, Any] = {
        "metadata": {"name": "d", "annotations": {"a": "2"}},
        "spec": {"replicas": 1},
    }
    meta.prepare_meta_for_update("deployments.apps", annotated, old)
    assert annotated["metadata"]["generation"] == 4
    status_only: dict[str, Any] = {"metadata": {"name": "d"}, "spec": {"replicas": 5}}
    meta.prepare_meta_for_update("deployments.apps", status_only, old, status=True)
    assert status_only["metadata"]["generation"] == 3
    svc: dict[str, Any] = {"metadata": {"name": "s", "generation": 2, "uid": "x"}, "spec": {}}
    meta.prepare_meta_for_update("services", svc, {"metadata": {"uid": "y"}})
    assert "generation" not in svc["metadata"]
    assert svc["metadata"]["uid"] == "x"  # an explicit change is left for validation to reject
