"""Structural schema of apiextensions.k8s.io/v1 CustomResourceDefinition (v1.32): the
CRD, its spec (names, versions, conversion), status, and ``JSONSchemaProps`` (the
recursive OpenAPI v3 schema a version carries). Imported by ``kubesvc.api.schema``; calls
only ``_dsl``. Field descriptions are kept to what ``kubectl explain`` needs most.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    BYTES,
    F64,
    I32,
    I64,
    OPEN,
    B,
    M,
    S,
    T,
    arr,
    condition_fields,
    defn,
    mapof,
    ref,
)

APIEXT = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1."
_J = APIEXT + "JSONSchemaProps"
_SA: dict[str, object] = {"type": "array", "items": {"type": "string", "default": ""}}

defn(
    APIEXT + "CustomResourceDefinition",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(APIEXT + "CustomResourceDefinitionSpec"),
        "status": ref(APIEXT + "CustomResourceDefinitionStatus"),
    },
    required=("spec",),
)

defn(
    APIEXT + "CustomResourceDefinitionSpec",
    {
        "conversion": ref(APIEXT + "CustomResourceConversion"),
        "group": {**S, "default": "", "description": "group is the API group of the defined "
                  "custom resource. The custom resources are served under "
                  "`/apis/<group>/...`. Must match the name of the "
                  "CustomResourceDefinition (in the form `<names.plural>.<group>`)."},
        "names": ref(APIEXT + "CustomResourceDefinitionNames"),
        "preserveUnknownFields": B,
        "scope": {**S, "default": "", "description": "scope indicates whether the defined "
                  "custom resource is cluster- or namespace-scoped. Allowed values are "
                  "`Cluster` and `Namespaced`."},
        "versions": arr(ref(APIEXT + "CustomResourceDefinitionVersion"), list_type="atomic"),
    },
    required=("group", "names", "scope", "versions"),
    description="CustomResourceDefinitionSpec describes how a user wants their resource to "
    "appear",
)

defn(
    APIEXT + "CustomResourceDefinitionNames",
    {
        "categories": {**_SA, "x-kubernetes-list-type": "atomic"},
        "kind": {**S, "default": ""},
        "listKind": S,
        "plural": {**S, "default": ""},
        "shortNames": {**_SA, "x-kubernetes-list-type": "atomic"},
        "singular": S,
    },
    required=("plural", "kind"),
)

defn(
    APIEXT + "CustomResourceDefinitionVersion",
    {
        "additionalPrinterColumns": arr(ref(APIEXT + "CustomResourceColumnDefinition"),
                                        list_type="atomic"),
        "deprecated": B,
        "deprecationWarning": S,
        "name": {**S, "default": ""},
        "schema": ref(APIEXT + "CustomResourceValidation"),
        "selectableFields": arr(ref(APIEXT + "SelectableField"), list_type="atomic"),
        "served": {**B, "default": False},
        "storage": {**B, "default": False},
        "subresources": ref(APIEXT + "CustomResourceSubresources"),
    },
    required=("name", "served", "storage"),
)

defn(APIEXT + "SelectableField", {"jsonPath": {**S, "default": ""}}, required=("jsonPath",))

defn(
    APIEXT + "CustomResourceColumnDefinition",
    {
        "description": S,
        "format": S,
        "jsonPath": {**S, "default": ""},
        "name": {**S, "default": ""},
        "priority": I32,
        "type": {**S, "default": ""},
    },
    required=("name", "type", "jsonPath"),
)

defn(APIEXT + "CustomResourceValidation", {"openAPIV3Schema": ref(_J)})

defn(
    APIEXT + "CustomResourceSubresources",
    {
        "scale": ref(APIEXT + "CustomResourceSubresourceScale"),
        "status": {"type": "object"},
    },
)

defn(
    APIEXT + "CustomResourceSubresourceScale",
    {
        "labelSelectorPath": S,
        "specReplicasPath": {**S, "default": ""},
        "statusReplicasPath": {**S, "default": ""},
    },
    required=("specReplicasPath", "statusReplicasPath"),
)

defn(
    APIEXT + "CustomResourceConversion",
    {
        "strategy": {**S, "default": ""},
        "webhook": ref(APIEXT + "WebhookConversion"),
    },
    required=("strategy",),
)

defn(
    APIEXT + "WebhookConversion",
    {
        "clientConfig": ref(APIEXT + "WebhookClientConfig"),
        "conversionReviewVersions": {**_SA, "x-kubernetes-list-type": "atomic"},
    },
    required=("conversionReviewVersions",),
)

defn(
    APIEXT + "WebhookClientConfig",
    {
        "caBundle": BYTES,
        "service": ref(APIEXT + "ServiceReference"),
        "url": S,
    },
)

defn(
    APIEXT + "ServiceReference",
    {"name": {**S, "default": ""}, "namespace": {**S, "default": ""}, "path": S, "port": I32},
    required=("namespace", "name"),
)

defn(
    APIEXT + "CustomResourceDefinitionStatus",
    {
        "acceptedNames": ref(APIEXT + "CustomResourceDefinitionNames"),
        "conditions": arr(ref(APIEXT + "CustomResourceDefinitionCondition"), list_type="map",
                          map_keys=("type",)),
        "storedVersions": {**_SA, "x-kubernetes-list-type": "atomic"},
    },
)

defn(
    APIEXT + "CustomResourceDefinitionCondition",
    {**condition_fields("lastTransitionTime"),
     "status": {**S, "default": ""}, "type": {**S, "default": ""}},
    required=("type", "status"),
)
_ = T

_JSON_ANY = {"x-kubernetes-preserve-unknown-fields": True,
             "description": "JSON represents any valid JSON value."}
defn(
    _J,
    {
        "$ref": S,
        "$schema": S,
        "additionalItems": _JSON_ANY,
        "additionalProperties": _JSON_ANY,
        "allOf": arr(ref(_J), list_type="atomic"),
        "anyOf": arr(ref(_J), list_type="atomic"),
        "default": _JSON_ANY,
        "definitions": mapof(ref(_J)),
        "dependencies": mapof(_JSON_ANY),
        "description": S,
        "enum": arr(_JSON_ANY, list_type="atomic"),
        "example": _JSON_ANY,
        "exclusiveMaximum": B,
        "exclusiveMinimum": B,
        "externalDocs": ref(APIEXT + "ExternalDocumentation"),
        "format": S,
        "id": S,
        "items": _JSON_ANY,
        "maxItems": I64,
        "maxLength": I64,
        "maxProperties": I64,
        "maximum": F64,
        "minItems": I64,
        "minLength": I64,
        "minProperties": I64,
        "minimum": F64,
        "multipleOf": F64,
        "not": ref(_J),
        "nullable": B,
        "oneOf": arr(ref(_J), list_type="atomic"),
        "pattern": S,
        "patternProperties": mapof(ref(_J)),
        "properties": mapof(ref(_J)),
        "required": {**_SA, "x-kubernetes-list-type": "atomic"},
        "title": S,
        "type": S,
        "uniqueItems": B,
        "x-kubernetes-embedded-resource": B,
        "x-kubernetes-int-or-string": B,
        "x-kubernetes-list-map-keys": {**_SA, "x-kubernetes-list-type": "atomic"},
        "x-kubernetes-list-type": S,
        "x-kubernetes-map-type": S,
        "x-kubernetes-preserve-unknown-fields": B,
        "x-kubernetes-validations": arr(ref(APIEXT + "ValidationRule"), list_type="map",
                                        map_keys=("rule",),
                                        key="rule", strategy="merge"),
    },
    description="JSONSchemaProps is a JSON-Schema following Specification Draft 4 "
    "(http://json-schema.org/).",
)

defn(APIEXT + "ExternalDocumentation", {"description": S, "url": S})

defn(
    APIEXT + "ValidationRule",
    {
        "fieldPath": S,
        "message": S,
        "messageExpression": S,
        "optionalOldSelf": B,
        "reason": S,
        "rule": {**S, "default": ""},
    },
    required=("rule",),
)

_ = OPEN
