"""Typed decoding against the schemas (kubesvc.api.typecheck): encoding/json's messages for
values of the wrong JSON type, null accepted, unknown fields left alone, depth capped."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc.api import typecheck


def _err(obj: dict[str, Any], api_version: str = "v1", kind: str = "ConfigMap") -> str:
    with pytest.raises(typecheck.TypeMismatch) as info:
        typecheck.check(obj, api_version=api_version, kind=kind)
    return str(info.value)


@pytest.mark.parametrize(("api_version", "kind", "obj", "message"), [
    ("v1", "ConfigMap", {"data": [1]},
     "json: cannot unmarshal array into Go struct field ConfigMap.data of type "
     "map[string]string"),
    ("v1", "ConfigMap", {"data": {"a": 1}},
     "json: cannot unmarshal number into Go struct field ConfigMap.data of type string"),
    ("v1", "Service", {"spec": {"ports": [{"port": "x"}]}},
     "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of "
     "type int32"),
    ("v1", "Service", {"spec": {"ports": ["x"]}},
     "json: cannot unmarshal string into Go struct field ServiceSpec.spec.ports of type "
     "v1.ServicePort"),
    ("v1", "Service", {"spec": {"ports": [{"port": 2**40}]}},
     "json: cannot unmarshal number 1099511627776 into Go struct field "
     "ServicePort.spec.ports.port of type int32"),
    ("apps/v1", "Deployment", {"spec": {"replicas": 1e20}},
     "json: cannot unmarshal number 1e+20 into Go struct field DeploymentSpec.spec.replicas "
     "of type int32"),
    ("v1", "Service", {"metadata": {"labels": {"a": True}}},
     "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type "
     "string"),
    ("v1", "Pod", {"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 1.5}]}]}},
     "json: cannot unmarshal number 1.5 into Go struct field "
     "ContainerPort.spec.containers.ports.containerPort of type int32"),
])
def test_mismatch_messages(api_version: str, kind: str, obj: dict[str, Any],
                           message: str) -> None:
    assert _err(obj, api_version, kind) == message


@pytest.mark.parametrize(("api_version", "kind", "obj"), [
    ("v1", "ConfigMap", {"data": None, "metadata": {"labels": None}}),
    ("v1", "ConfigMap", {"bogus": [1], "data": {"a": "b"}}),  # unknown: fields.py's concern
    ("v1", "Service", {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}}),
    ("v1", "Service", {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
    ("v1", "Pod", {"spec": {"containers": [{"name": "a", "resources": {
        "limits": {"cpu": 1, "memory": "1Gi"}}}]}}),
])
def test_well_typed_objects_pass(api_version: str, kind: str, obj: dict[str, Any]) -> None:
    typecheck.check(obj, api_version=api_version, kind=kind)


def test_int_or_string_refuses_other_types() -> None:
    msg = _err({"spec": {"ports": [{"port": 80, "targetPort": [1]}]}}, "v1", "Service")
    assert msg.endswith("of type intstr.IntOrString")


def test_depth_is_capped_without_recursion() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(typecheck.TypeMismatch, match="exceeded max depth"):
        typecheck.check_depth(deep)
    with pytest.raises(typecheck.TypeMismatch, match="exceeded max depth"):
        typecheck.check({"metadata": {"managedFields": [{"fieldsV1": {"f": deep}}]}},
                        api_version="v1", kind="ConfigMap")
    shallow: Any = "x"
    for _ in range(typecheck.MAX_DEPTH - 5):
        shallow = {"f": shallow}
    typecheck.check_depth(shallow)
