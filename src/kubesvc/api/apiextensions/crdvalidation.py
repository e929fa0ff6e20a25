"""Validation and defaulting of the CustomResourceDefinition object itself (upstream
``apiextensions-apiserver/pkg/apis/apiextensions/validation`` and ``v1/defaults.go``):
the name is ``<plural>.<group>``, the group a domain with a dot, the names DNS-1035 labels,
scope Cluster|Namespaced, at least one version, exactly one storage version, unique
version names, a structural schema per version (:mod:`.structural`), printer columns
and subresources well formed, conversion None|Webhook; on update the scope and group are
immutable, and a version in ``status.storedVersions`` may not be removed.

``apply_defaults`` fills ``singular``/``listKind``, ``conversion.strategy: None``. Called
by the API server's validation/defaulting dispatch; pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.apiextensions import jsonpath, structural
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats
from kubesvc.errors import Cause

_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "name",
                   "password")


def apply_defaults(crd: dict[str, Any]) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", str(names["kind"]).lower())
        names.setdefault("listKind", f"{names['kind']}List")
    conv = spec.get("conversion")
    if not isinstance(conv, dict):
        spec["conversion"] = {"strategy": "None"}
    elif not conv.get("strategy"):
        conv["strategy"] = "None"


def validate_crd(crd: Mapping[str, Any]) -> list[Cause]:
    from kubesvc.api import meta as apimeta

    out = apimeta.validate_object_meta(crd, False, apimeta.name_is_dns_subdomain)
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = str(spec.get("group") or "")
    name = str((crd.get("metadata") or {}).get("name") or "")
    plural = str(names.get("plural") or "")
    if name and name != f"{plural}.{group}":
        out.append(f.invalid("metadata.name", name,
                             'must be spec.names.plural+"."+spec.group'))
    if not group:
        out.append(f.required("spec.group", ""))
    else:
        out.extend(f.invalid("spec.group", group, m) for m in formats.is_dns1123_subdomain(group))
        if "." not in group:
            out.append(f.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope")
    if not scope:
        out.append(f.required("spec.scope", ""))
    elif scope not in ("Cluster", "Namespaced"):
        out.append(f.not_supported("spec.scope", scope, ("Cluster", "Namespaced")))
    out.extend(_names(names, "spec.names"))
    versions = spec.get("versions") or []
    if not versions:
        out.append(f.invalid("spec.versions", f.GoRaw("null"), "must have exactly one version "
                             "marked as storage version"))
    storage = 0
    seen: set[str] = set()
    for i, v in enumerate(versions):
        vpath = f"spec.versions[{i}]"
        if not isinstance(v, Mapping):
            out.append(f.invalid(vpath, f.GoRaw(str(v)), "must be an object"))
            continue
        vname = str(v.get("name") or "")
        if not vname:
            out.append(f.required(f.child(vpath, "name"), ""))
        else:
            out.extend(f.invalid(f.child(vpath, "name"), vname, m)
                       for m in formats.is_dns1035_label(vname))
            if vname in seen:
                out.append(f.duplicate(f.child(vpath, "name"), vname))
            seen.add(vname)
        if v.get("storage"):
            storage += 1
        schema = (v.get("schema") or {}).get("openAPIV3Schema")
        out.extend(structural.check(schema, f"{vpath}.schema.openAPIV3Schema"))
        for j, c in enumerate(v.get("additionalPrinterColumns") or []):
            out.extend(_column(c, f"{vpath}.additionalPrinterColumns[{j}]"))
        out.extend(_subresources(v.get("subresources"), f"{vpath}.subresources"))
        out.extend(_selectable(v.get("selectableFields"), schema, f"{vpath}.selectableFields"))
    if versions and storage != 1:
        out.append(f.invalid("spec.versions", f.GoRaw("[]apiextensions."
                             "CustomResourceDefinitionVersion{...}"),
                             "must have exactly one version marked as storage version"))
    if versions and not any(isinstance(v, Mapping) and v.get("served") for v in versions):
        out.append(f.invalid("spec.versions", f.GoRaw("[]apiextensions."
                             "CustomResourceDefinitionVersion{...}"),
                             "must have at least one version marked as served"))
    if spec.get("preserveUnknownFields"):
        out.append(f.invalid("spec.preserveUnknownFields", True,
                             "cannot set to true, set x-kubernetes-preserve-unknown-fields to "
                             "true in spec.versions[*].schema instead"))
    conv = spec.get("conversion") or {}
    strategy = conv.get("strategy")
    if strategy not in (None, "None", "Webhook"):
        out.append(f.not_supported("spec.conversion.strategy", strategy, ("None", "Webhook")))
    if strategy == "Webhook" and not conv.get("webhook"):
        out.append(f.required("spec.conversion.webhook",
                              "required when strategy is set to Webhook"))
    return out


def validate_crd_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    from kubesvc.api import meta as apimeta

    out = apimeta.validate_object_meta_update(new, old)
    out.extend(validate_crd(new))
    ns, os_ = new.get("spec") or {}, old.get("spec") or {}
    if ns.get("group") != os_.get("group"):
        out.append(f.invalid("spec.group", ns.get("group"), "field is immutable"))
    if ns.get("scope") != os_.get("scope"):
        out.append(f.invalid("spec.scope", ns.get("scope"), "field is immutable"))
    stored = (new.get("status") or {}).get("storedVersions") or []
    have = {v.get("name") for v in ns.get("versions") or [] if isinstance(v, Mapping)}
    for i, sv in enumerate(stored):
        if sv not in have:
            out.append(f.invalid(f"status.storedVersions[{i}]", sv,
                                 "must appear in spec.versions"))
    return out


def _names(names: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    plural = str(names.get("plural") or "")
    if not plural:
        out.append(f.required(f.child(path, "plural"), ""))
    else:
        out.extend(f.invalid(f.child(path, "plural"), plural, m)
                   for m in formats.is_dns1035_label(plural))
    singular = str(names.get("singular") or "")
    if singular:
        out.extend(f.invalid(f.child(path, "singular"), singular, m)
                   for m in formats.is_dns1035_label(singular))
    kind = str(names.get("kind") or "")
    if not kind:
        out.append(f.required(f.child(path, "kind"), ""))
    else:
        out.extend(f.invalid(f.child(path, "kind"), kind, m)
                   for m in formats.is_dns1035_label(kind.lower()))
    lk = str(names.get("listKind") or "")
    if lk:
        out.extend(f.invalid(f.child(path, "listKind"), lk, m)
                   for m in formats.is_dns1035_label(lk.lower()))
        if lk == kind:
            out.append(f.invalid(f.child(path, "listKind"), lk, "kind and listKind may not "
                                 "be the same"))
    for key in ("shortNames", "categories"):
        for i, sn in enumerate(names.get(key) or []):
            out.extend(f.invalid(f"{path}.{key}[{i}]", sn, m)
                       for m in formats.is_dns1035_label(str(sn)))
    return out


def _column(c: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(c, Mapping):
        return [f.invalid(path, f.GoRaw(str(c)), "must be an object")]
    if not c.get("name"):
        out.append(f.required(f.child(path, "name"), ""))
    t = c.get("type")
    if not t:
        out.append(f.required(f.child(path, "type"), ""))
    elif t not in _COLUMN_TYPES:
        out.append(f.not_supported(f.child(path, "type"), t, _COLUMN_TYPES))
    fmt = c.get("format")
    if fmt and fmt not in _COLUMN_FORMATS:
        out.append(f.not_supported(f.child(path, "format"), fmt, _COLUMN_FORMATS))
    jp = c.get("jsonPath")
    if not jp:
        out.append(f.required(f.child(path, "jsonPath"), ""))
    else:
        try:
            jsonpath.parse(str(jp))
        except jsonpath.JSONPathError as exc:
            out.append(f.invalid(f.child(path, "jsonPath"), jp, f"must be a valid JSON "
                                 f"path: {exc}"))
    return out


def _selectable(raw: Any, schema: Any, path: str) -> list[Cause]:
    """``selectableFields``: at most 8, unique, simple paths to string, integer or boolean
    fields of the schema."""
    out: list[Cause] = []
    if not isinstance(raw, list):
        return out
    if len(raw) > 8:
        out.append(f.too_many(path, len(raw), 8))
    seen: set[str] = set()
    for i, sf in enumerate(raw):
        jp = str((sf or {}).get("jsonPath") or "") if isinstance(sf, Mapping) else ""
        ipath = f"{path}[{i}].jsonPath"
        if not jp:
            out.append(f.required(ipath, ""))
            continue
        if (err := jsonpath.is_simple_field_path(jp)):
            out.append(f.invalid(ipath, jp, err))
            continue
        if jp in seen:
            out.append(f.duplicate(ipath, jp))
        seen.add(jp)
        node: Any = schema
        for step in jsonpath.field_steps(jp):
            node = ((node or {}).get("properties") or {}).get(step) \
                if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            out.append(f.invalid(ipath, jp, "is an invalid path: does not refer to a field "
                                 "in the schema"))
        elif node.get("type") not in ("string", "integer", "boolean"):
            out.append(f.invalid(ipath, jp, "selectable field must be of type string, "
                                 "integer or boolean"))
    return out


def _subresources(subs: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(subs, Mapping):
        return out
    scale = subs.get("scale")
    if isinstance(scale, Mapping):
        sp = str(scale.get("specReplicasPath") or "")
        spath = f.child(path, "scale")
        if not sp:
            out.append(f.required(f.child(spath, "specReplicasPath"), ""))
        elif (err := jsonpath.is_simple_field_path(sp)):
            out.append(f.invalid(f.child(spath, "specReplicasPath"), sp, err))
        elif not sp.startswith(".spec."):
            out.append(f.invalid(f.child(spath, "specReplicasPath"), sp,
                                 "should be a json path under .spec"))
        st = str(scale.get("statusReplicasPath") or "")
        if not st:
            out.append(f.required(f.child(spath, "statusReplicasPath"), ""))
        elif (err := jsonpath.is_simple_field_path(st)):
            out.append(f.invalid(f.child(spath, "statusReplicasPath"), st, err))
        elif not st.startswith(".status."):
            out.append(f.invalid(f.child(spath, "statusReplicasPath"), st,
                                 "should be a json path under .status"))
        ls = scale.get("labelSelectorPath")
        if ls:
            if (err := jsonpath.is_simple_field_path(str(ls))):
                out.append(f.invalid(f.child(spath, "labelSelectorPath"), ls, err))
            elif not str(ls).startswith((".spec.", ".status.")):
                out.append(f.invalid(f.child(spath, "labelSelectorPath"), ls,
                                     "should be a json path under either .spec or .status"))
    return out
