"""Structural schema rules for a CRD version's ``openAPIV3Schema`` (upstream
``apiextensions-apiserver/pkg/apis/apiextensions/validation`` and ``pkg/apiserver/schema``:
``ValidateStructural`` and the v1 schema checks), the common ones:

- every node names a ``type`` (``object`` at the root), except where
  ``x-kubernetes-int-or-string`` (which forbids one) or
  ``x-kubernetes-preserve-unknown-fields`` say otherwise;
- ``properties`` and ``additionalProperties`` are exclusive; no ``$ref``, ``definitions``,
  ``dependencies``, ``patternProperties``, ``additionalItems`` or ``id``; ``items`` is one
  schema;
- at the root, ``metadata`` may only restrict ``name`` and ``generateName`` (strings), and
  ``apiVersion``/``kind`` only be strings;
- ``x-kubernetes-list-type`` is atomic/set/map, ``map`` needs ``x-kubernetes-list-map-keys``
  naming required or defaulted scalar properties of the items;
- ``default`` values are allowed only outside ``metadata`` and must validate.

:func:`check` returns causes under the given path (``spec.versions[0].schema.
openAPIV3Schema``). Called by :mod:`.crdvalidation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.apiextensions import cel, schemavalidation
from kubesvc.api.validation import field as f
from kubesvc.errors import Cause

_FORBIDDEN = ("$ref", "definitions", "dependencies", "patternProperties", "additionalItems",
              "id", "$schema")
_TYPES = ("array", "boolean", "integer", "number", "object", "string")


def check(schema: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(schema, Mapping):
        out.append(f.required(path, "schemas are required"))
        return out
    if schema.get("type") != "object":
        if not schema.get("type"):
            out.append(f.required(f.child(path, "type"), "must not be empty at the root"))
        else:
            out.append(f.invalid(f.child(path, "type"), schema.get("type"),
                                 "must be object at the root"))
    _node(schema, path, out, root=True, in_meta=False)
    props = schema.get("properties") or {}
    md = props.get("metadata") if isinstance(props, Mapping) else None
    if isinstance(md, Mapping):
        mpath = f"{path}.properties[metadata]"
        extra = set(md) - {"type", "properties", "description"}
        mprops = md.get("properties") or {}
        if extra or set(mprops) - {"name", "generateName"} or md.get("type") not in (
                None, "object"):
            out.append(f.forbidden(mpath, "must not specify anything other than name and "
                                   "generateName, but metadata is implicitly specified"))
        for k in ("name", "generateName"):
            sub = mprops.get(k)
            if isinstance(sub, Mapping) and sub.get("type") not in (None, "string"):
                out.append(f.invalid(f"{mpath}.properties[{k}].type", sub.get("type"),
                                     "must be string"))
    for k in ("apiVersion", "kind"):
        sub = props.get(k) if isinstance(props, Mapping) else None
        if isinstance(sub, Mapping) and sub.get("type") not in (None, "string"):
            out.append(f.invalid(f"{path}.properties[{k}].type", sub.get("type"),
                                 "must be string"))
    for rpath, rule in cel.rules(schema):
        err = cel.compile_error(str(rule.get("rule") or ""))
        if err:
            out.append(f.invalid(f"{path}.{rpath}.rule", str(rule.get("rule") or ""),
                                 f"compilation failed: {err}"))
        mexpr = rule.get("messageExpression")
        if mexpr:
            err = cel.compile_error(str(mexpr))
            if err:
                out.append(f.invalid(f"{path}.{rpath}.messageExpression", str(mexpr),
                                     f"messageExpression compilation failed: {err}"))
    return out


def _node(s: Mapping[str, Any], path: str, out: list[Cause], *, root: bool, in_meta: bool,
          what: str = "fields") -> None:
    for key in _FORBIDDEN:
        if key in s:
            out.append(f.forbidden(f.child(path, key), f"{key} is not supported"))
    t = s.get("type")
    int_or_string = bool(s.get("x-kubernetes-int-or-string"))
    preserve = bool(s.get("x-kubernetes-preserve-unknown-fields"))
    if t and t not in _TYPES:
        out.append(f.not_supported(f.child(path, "type"), t, _TYPES))
    if int_or_string and t:
        out.append(f.forbidden(f.child(path, "type"),
                               "must be empty if x-kubernetes-int-or-string is true"))
    if not t and not int_or_string and not preserve and not root:
        out.append(f.required(f.child(path, "type"),
                              f"must not be empty for specified {what}"))
    if s.get("x-kubernetes-embedded-resource") and t not in (None, "object"):
        out.append(f.invalid(f.child(path, "type"), t,
                             "must be object if x-kubernetes-embedded-resource is true"))
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        out.append(f.invalid(f.child(path, "x-kubernetes-preserve-unknown-fields"), False,
                             "must be true or undefined"))
    props = s.get("properties")
    addl = s.get("additionalProperties")
    if props and addl is not None and addl is not False:
        out.append(f.forbidden(f.child(path, "additionalProperties"),
                               "additionalProperties and properties are mutual exclusive"))
    if addl is False:
        out.append(f.forbidden(f.child(path, "additionalProperties"),
                               "must not be false"))
    if isinstance(props, Mapping):
        for k, sub in props.items():
            if isinstance(sub, Mapping):
                if root and k == "metadata":
                    continue
                _node(sub, f"{path}.properties[{k}]", out, root=False, in_meta=in_meta)
    if isinstance(addl, Mapping):
        _node(addl, f"{path}.additionalProperties", out, root=False, in_meta=in_meta)
    items = s.get("items")
    if t == "array" and items is None:
        out.append(f.required(f.child(path, "items"),
                              "must be specified"))
    if isinstance(items, list):
        out.append(f.forbidden(f.child(path, "items"), "items must be a schema object and "
                               "not an array"))
    elif isinstance(items, Mapping):
        _node(items, f"{path}.items", out, root=False, in_meta=in_meta, what="array items")
    lt = s.get("x-kubernetes-list-type")
    if lt is not None:
        if lt not in ("atomic", "set", "map"):
            out.append(f.not_supported(f.child(path, "x-kubernetes-list-type"), lt,
                                       ("atomic", "map", "set")))
        if t != "array":
            out.append(f.invalid(f.child(path, "x-kubernetes-list-type"), lt,
                                 "must only be used if type is array"))
        if lt == "map":
            keys = s.get("x-kubernetes-list-map-keys") or []
            if not keys:
                out.append(f.required(f.child(path, "x-kubernetes-list-map-keys"),
                                      "must not be empty if x-kubernetes-list-type is map"))
            iprops = (items or {}).get("properties") or {} if isinstance(items, Mapping) else {}
            ireq = set((items or {}).get("required") or []) if isinstance(items, Mapping) \
                else set()
            for i, k in enumerate(keys):
                sub = iprops.get(k)
                if not isinstance(sub, Mapping):
                    out.append(f.invalid(f"{path}.x-kubernetes-list-map-keys[{i}]", k,
                                         "entries must all be names of item properties"))
                elif k not in ireq and "default" not in sub:
                    out.append(f.required(f"{path}.items.properties[{k}]",
                                          "this property is in x-kubernetes-list-map-keys, "
                                          "so it must have a default or be a required "
                                          "property"))
    if "default" in s:
        if in_meta:
            out.append(f.forbidden(f.child(path, "default"),
                                   "must not be set inside metadata"))
        else:
            for c in schemavalidation.validate(s, s["default"], path=""):
                out.append(Cause(c.reason, c.message,
                                 f"{path}.default" + (f".{c.field}" if c.field else "")))
