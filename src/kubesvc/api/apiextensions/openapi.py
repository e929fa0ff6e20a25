"""The published OpenAPI v3 of a custom group-version (upstream's ``builder`` in
``apiextensions-apiserver/pkg/controller/openapi``): the component is named by the
reversed group (``stable.example.com``/``v1``/``CronTab`` ->
``com.example.stable.v1.CronTab``), holds the version's schema with ``apiVersion``,
``kind`` and ``metadata`` (an ObjectMeta reference) added, and the
``x-kubernetes-group-version-kind``; a ``<Kind>List`` component beside it. So ``kubectl
explain`` shows the schema's descriptions and ``kubectl apply`` finds the kind. Called by
``kubesvc.api.schema.openapi``; pure.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api.apiextensions.model import Definition

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_REF = "#/components/schemas/"
_API_VERSION = ("APIVersion defines the versioned schema of this representation of an "
                "object. Servers should convert recognized schemas to the latest internal "
                "value, and may reject unrecognized values. More info: https://git.k8s.io/"
                "community/contributors/devel/sig-architecture/api-conventions.md#resources")
_KIND = ("Kind is a string value representing the REST resource this object represents. "
         "Servers may infer this from the endpoint the client submits requests to. Cannot "
         "be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/"
         "devel/sig-architecture/api-conventions.md#types-kinds")
_METADATA = ("Standard object's metadata. More info: https://git.k8s.io/community/"
             "contributors/devel/sig-architecture/api-conventions.md#metadata")


def component_name(group: str, version: str, kind: str) -> str:
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


def components(d: Definition, version: str) -> dict[str, Any]:
    v = d.versions[version]
    name = component_name(d.group, version, d.kind)
    schema: dict[str, Any] = copy.deepcopy(v.schema) if v.schema else {
        "type": "object", "x-kubernetes-preserve-unknown-fields": True}
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"description": _API_VERSION, "type": "string"}
    props["kind"] = {"description": _KIND, "type": "string"}
    props["metadata"] = {"allOf": [{"$ref": _REF + _OBJECT_META}], "description": _METADATA}
    schema["type"] = "object"
    schema["x-kubernetes-group-version-kind"] = [
        {"group": d.group, "kind": d.kind, "version": version}]
    lst = {
        "description": f"{d.list_kind} is a list of {d.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": _API_VERSION, "type": "string"},
            "items": {"description": f"List of {d.plural}. More info: https://git.k8s.io/"
                      "community/contributors/devel/sig-architecture/api-conventions.md",
                      "type": "array", "items": {"$ref": _REF + name}},
            "kind": {"description": _KIND, "type": "string"},
            "metadata": {"allOf": [{"$ref": _REF + _LIST_META}],
                         "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [
            {"group": d.group, "kind": d.list_kind, "version": version}],
    }
    return {name: schema, component_name(d.group, version, d.list_kind): lst}
