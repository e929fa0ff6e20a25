"""Unit tests of kubesvc.api.apiextensions: structural schema rules and CRD validation,
OpenAPI schema validation messages, defaulting, pruning, CEL rules, JSONPath columns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubesvc.api.apiextensions import (
    cel,
    crdvalidation,
    defaulting,
    jsonpath,
    model,
    pruning,
    structural,
    tables,
)
from kubesvc.api.apiextensions import schemavalidation as sv

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "properties": {
                "image": {"type": "string", "minLength": 2, "maxLength": 8},
                "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
                "mode": {"type": "string", "enum": ["A", "B"]},
                "port": {"x-kubernetes-int-or-string": True},
                "tags": {"type": "array", "items": {"type": "string"},
                         "x-kubernetes-list-type": "set", "maxItems": 3},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "when": {"type": "string", "format": "date-time"},
                "opt": {"type": "string", "nullable": True},
                "nested": {"type": "object", "default": {},
                           "properties": {"x": {"type": "integer", "default": 7}}},
            },
        },
    },
}


def _crd(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": copy.deepcopy(SCHEMA)}}],
        },
    }
    base["spec"].update(spec)
    return base


def _msgs(causes: list[Any]) -> list[str]:
    return [f"{c.field}: {c.message}" for c in causes]


# -- CRD validation and structural schemas
def test_valid_crd_has_no_causes_and_gets_defaults() -> None:
    crd = _crd()
    crdvalidation.apply_defaults(crd)
    assert crd["spec"]["names"]["singular"] == "widget"
    assert crd["spec"]["names"]["listKind"] == "WidgetList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crdvalidation.validate_crd(crd) == []


def test_crd_name_group_scope_and_storage_versions() -> None:
    crd = _crd(group="example", scope="Global")
    crd["metadata"]["name"] = "gadgets.example"
    crd["spec"]["versions"].append({"name": "v2", "served": True, "storage": True})
    msgs = _msgs(crdvalidation.validate_crd(crd))
    assert 'metadata.name: Invalid value: "gadgets.example": must be ' \
        'spec.names.plural+"."+spec.group' in msgs
    assert 'spec.group: Invalid value: "example": should be a domain with at least one dot' \
        in msgs
    assert 'spec.scope: Unsupported value: "Global": supported values: "Cluster", ' \
        '"Namespaced"' in msgs
    assert any(m.startswith("spec.versions: Invalid value") and m.endswith(
        "must have exactly one version marked as storage version") for m in msgs)
    assert "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required" \
        in msgs


def test_structural_rules() -> None:
    bad = {
        "type": "object",
        "properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "both": {"type": "object", "properties": {"x": {"type": "string"}},
                     "additionalProperties": {"type": "string"}},
            "ref": {"$ref": "#/definitions/x"},
            "ios": {"type": "string", "x-kubernetes-int-or-string": True},
            "list": {"type": "array"},
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
            "d": {"type": "integer", "default": "one"},
        },
    }
    msgs = _msgs(structural.check(bad, "s"))
    assert "s.properties[spec].type: Required value: must not be empty for specified fields" \
        in msgs
    assert "s.properties[both].additionalProperties: Forbidden: additionalProperties and " \
        "properties are mutual exclusive" in msgs
    assert "s.properties[ref].$ref: Forbidden: $ref is not supported" in msgs
    assert "s.properties[ios].type: Forbidden: must be empty if x-kubernetes-int-or-string " \
        "is true" in msgs
    assert "s.properties[list].items: Required value: must be specified" in msgs
    assert "s.properties[metadata]: Forbidden: must not specify anything other than name " \
        "and generateName, but metadata is implicitly specified" in msgs
    assert any(m.startswith("s.properties[d].default: Invalid value") for m in msgs)
    assert _msgs(structural.check({"type": "string"}, "s")) == [
        's.type: Invalid value: "string": must be object at the root']


def test_cel_rule_that_does_not_compile_is_refused() -> None:
    schema = copy.deepcopy(SCHEMA)
    schema["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "self.replicas >"}]
    msgs = _msgs(structural.check(schema, "s"))
    assert len(msgs) == 1 and msgs[0].startswith(
        's.properties[spec].x-kubernetes-validations[0].rule: Invalid value: '
        '"self.replicas >": compilation failed')


def test_printer_columns_and_scale_paths_validated() -> None:
    crd = _crd()
    v = crd["spec"]["versions"][0]
    v["additionalPrinterColumns"] = [{"name": "X", "type": "float", "jsonPath": ".spec.x"}]
    v["subresources"] = {"scale": {"specReplicasPath": ".status.r",
                                   "statusReplicasPath": "status.r"}}
    msgs = _msgs(crdvalidation.validate_crd(crd))
    assert any(m.startswith('spec.versions[0].additionalPrinterColumns[0].type: Unsupported '
                            'value: "float"') for m in msgs)
    assert 'spec.versions[0].subresources.scale.specReplicasPath: Invalid value: ".status.r": ' \
        "should be a json path under .spec" in msgs
    assert 'spec.versions[0].subresources.scale.statusReplicasPath: Invalid value: ' \
        '"status.r": must be a simple json path starting with .' in msgs


def test_selectable_fields_validated() -> None:
    crd = _crd()
    crd["spec"]["versions"][0]["selectableFields"] = [
        {"jsonPath": ".spec.mode"}, {"jsonPath": ".spec.mode"}, {"jsonPath": ".spec.tags"},
        {"jsonPath": ".spec.nope"}, {"jsonPath": "spec.mode"}]
    msgs = _msgs(crdvalidation.validate_crd(crd))
    p = "spec.versions[0].selectableFields"
    assert msgs == [
        f'{p}[1].jsonPath: Duplicate value: ".spec.mode"',
        f'{p}[2].jsonPath: Invalid value: ".spec.tags": selectable field must be of type '
        "string, integer or boolean",
        f'{p}[3].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer '
        "to a field in the schema",
        f'{p}[4].jsonPath: Invalid value: "spec.mode": must be a simple json path starting '
        "with .",
    ]


def test_immutable_scope_and_group() -> None:
    old = _crd()
    new = _crd(scope="Cluster")
    new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"] = "1"
    msgs = _msgs(crdvalidation.validate_crd_update(new, old))
    assert 'spec.scope: Invalid value: "Cluster": field is immutable' in msgs


# -- validation of objects
def test_schema_validation_messages() -> None:
    obj = {"spec": {"image": "x", "replicas": 9, "mode": "C", "port": 1.5,
                    "tags": ["a", "a", "b", "c"], "labels": {"k": 1}, "when": "soon",
                    "opt": None}}
    msgs = _msgs(sv.validate(SCHEMA, obj))
    assert 'spec.image: Invalid value: "x": spec.image in body should be at least 2 chars ' \
        "long" in msgs
    assert "spec.replicas: Invalid value: 9: spec.replicas in body should be less than or " \
        "equal to 5" in msgs
    assert 'spec.mode: Unsupported value: "C": supported values: "A", "B"' in msgs
    assert 'spec.port: Invalid value: "number": spec.port in body must be of type ' \
        'integer,string: "number"' in msgs
    assert "spec.tags: Too many: 4: must have at most 3 items" in msgs
    assert 'spec.tags[1]: Duplicate value: "a"' in msgs
    assert 'spec.labels[k]: Invalid value: "integer": spec.labels[k] in body must be of ' \
        'type string: "integer"' in msgs
    assert 'spec.when: Invalid value: "soon": spec.when in body must be of type date-time: ' \
        '"soon"' in msgs
    assert not any(m.startswith("spec.opt") for m in msgs)  # nullable
    assert _msgs(sv.validate(SCHEMA, {"spec": {}})) == ["spec.image: Required value"]
    long = _msgs(sv.validate(SCHEMA, {"spec": {"image": "toolongvalue"}}))
    assert long == ["spec.image: Too long: must have at most 8 bytes"]


def test_embedded_resource_needs_apiversion_and_kind() -> None:
    schema = {"type": "object", "properties": {"tpl": {
        "type": "object", "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True}}}
    msgs = _msgs(sv.validate(schema, {"tpl": {"metadata": {}}}))
    assert msgs == ["tpl.apiVersion: Required value: must not be empty",
                    "tpl.kind: Required value: must not be empty"]


# -- defaulting and pruning
def test_defaulting_fills_absent_and_nested() -> None:
    obj: dict[str, Any] = {"spec": {"image": "img", "opt": None}}
    defaulting.apply(obj, SCHEMA)
    assert obj["spec"]["replicas"] == 1
    assert obj["spec"]["nested"] == {"x": 7}  # the default, then its own defaults
    assert obj["spec"]["opt"] is None  # nullable: null stays
    obj2: dict[str, Any] = {"spec": {"image": "img", "replicas": None}}
    defaulting.apply(obj2, SCHEMA)
    assert obj2["spec"]["replicas"] == 1  # not nullable: null is defaulted


def test_pruning_drops_unknown_but_preserves_where_told() -> None:
    obj: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Widget",
                           "metadata": {"name": "w"}, "top": 1,
                           "spec": {"image": "i", "bogus": True, "free": {"any": {"x": 1}},
                                    "labels": {"a": "b"}}}
    dropped = pruning.prune(obj, SCHEMA)
    assert dropped == ["top", "spec.bogus"]
    assert obj["spec"]["free"] == {"any": {"x": 1}}
    assert obj["metadata"] == {"name": "w"} and obj["kind"] == "Widget"


# -- CEL
def test_cel_rules_messages_and_transition() -> None:
    schema = {"type": "object", "properties": {"spec": {
        "type": "object",
        "x-kubernetes-validations": [
            {"rule": "self.min <= self.max", "message": "min must not exceed max"},
            {"rule": "self.min > 0",
             "messageExpression": "'min is ' + string(self.min)"},
            {"rule": "self.max >= oldSelf.max", "reason": "FieldValueForbidden",
             "message": "max may not shrink"},
            {"rule": "self.min != 3"},
        ],
        "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}},
    }}}
    msgs = _msgs(cel.validate(schema, {"spec": {"min": 0, "max": -1}}))
    assert msgs == ['spec: Invalid value: "object": min must not exceed max',
                    'spec: Invalid value: "object": min is 0']  # no oldSelf on create
    msgs = _msgs(cel.validate(schema, {"spec": {"min": 3, "max": 4}},
                              {"spec": {"min": 1, "max": 5}}))
    assert msgs == ["spec: Forbidden: max may not shrink",
                    'spec: Invalid value: "object": failed rule: self.min != 3']
    assert cel.validate(schema, {"spec": {"min": 1, "max": 5}},
                        {"spec": {"min": 1, "max": 5}}) == []


def test_cel_on_list_map_items_correlates_old_values() -> None:
    schema = {"type": "object", "properties": {"items": {
        "type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": {"type": "object", "required": ["name"],
                  "properties": {"name": {"type": "string"}, "v": {
                      "type": "integer",
                      "x-kubernetes-validations": [{"rule": "self >= oldSelf",
                                                    "message": "v may only grow"}]}}}}}}
    new = {"items": [{"name": "a", "v": 1}, {"name": "b", "v": 1}]}
    old = {"items": [{"name": "b", "v": 2}, {"name": "a", "v": 1}]}
    assert _msgs(cel.validate(schema, new, old)) == [
        'items[1].v: Invalid value: "integer": v may only grow']


# -- JSONPath, tables, the serving model
def test_jsonpath_find_and_fields() -> None:
    obj = {"status": {"conditions": [{"type": "A", "status": "False"},
                                     {"type": "Ready", "status": "True"}]},
           "spec": {"items": [{"n": 1}, {"n": 2}]}}
    assert jsonpath.find(obj, '.status.conditions[?(@.type=="Ready")].status') == ["True"]
    assert jsonpath.find(obj, ".spec.items[1].n") == [2]
    assert jsonpath.find(obj, ".spec.items[*].n") == [1, 2]
    assert jsonpath.find(obj, ".spec.missing") == []
    target: dict[str, Any] = {}
    jsonpath.set_field(target, ".spec.replicas", 3)
    assert jsonpath.get_field(target, ".spec.replicas") == (3, True)
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.parse(".spec[")


def test_table_cells_and_default_columns() -> None:
    cols = (model.Column("Img", "string", ".spec.image"),
            model.Column("N", "integer", ".spec.replicas"),
            model.Column("Missing", "string", ".spec.nope"))
    obj = {"metadata": {"name": "w", "creationTimestamp": "2024-01-01T00:00:00Z"},
           "spec": {"image": "i", "replicas": 2}}
    assert tables.cells(cols, obj) == ["w", "i", 2, None]
    assert [c["name"] for c in tables.column_definitions(())] == ["Name", "Age"]
    jan1 = 1704067200.0  # 2024-01-01T00:00:00Z
    assert tables.cells((), obj, now=jan1 + 300) == ["w", "5m"]
    typed = (model.Column("N", "integer", ".spec.image"),
             model.Column("B", "boolean", ".spec.replicas"),
             model.Column("D", "date", ".spec.image"))
    assert tables.cells(typed, obj, now=jan1) == ["w", None, None, "<invalid>"]


def test_naming_conflicts_and_definition() -> None:
    first = _crd()
    first["status"] = {"acceptedNames": {"plural": "widgets", "kind": "Widget",
                                         "singular": "widget", "listKind": "WidgetList"}}
    second = _crd()
    second["metadata"]["name"] = "gizmos.example.com"
    second["spec"]["names"] = {"plural": "gizmos", "singular": "gizmo", "kind": "Widget"}
    accepted, ok, reason, message = model.naming_status(second, [first])
    assert (ok, reason, message) == ("False", "KindConflict", '"Widget" is already in use')
    accepted, ok, reason, _ = model.naming_status(first, [second])
    assert ok == "True" and reason == "NoConflicts" and accepted["listKind"] == "WidgetList"
    d = model.definition(first)
    assert d is not None and [i.api_version for i in d.infos] == ["example.com/v1"]
    assert d.infos[0].key == "widgets.example.com" and d.infos[0].namespaced
