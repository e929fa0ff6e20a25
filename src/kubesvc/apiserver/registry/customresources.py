"""Serving custom resources through the generic registry (upstream's
``apiextensions-apiserver/pkg/registry/customresource`` strategy and the CRD handler's
decoding): the :class:`CustomResourceStrategy` hooks of one CRD-defined resource.

On every write, before the generic pipeline goes on: the body's ``apiVersion`` may be any
served version of the CRD and is rewritten to the storage version (None conversion);
unknown fields are pruned against that version's schema (``fieldValidation`` Strict makes
them a 400 ``strict decoding error: unknown field "spec.foo"``, Warn a warning) and the
schema's defaults applied. Create sets ``generation: 1``; an update bumps it when
anything but metadata (and status, with a status subresource) changed. Validation is
ObjectMeta's, then the OpenAPI schema's (:mod:`kubesvc.api.apiextensions.
schemavalidation`), then the CEL rules (``oldSelf`` on updates). The scale subresource
reads and writes the CRD's ``specReplicasPath``/``statusReplicasPath``/
``labelSelectorPath``. Creates are refused while the CRD is terminating.

:class:`CrdStrategy` is the CRD's own: status is the controller's (kept on update),
``generation`` bumps on spec changes. Called by :class:`~.core.Registry`.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import fields as apifields
from kubesvc.api import meta as apimeta
from kubesvc.api.apiextensions import cel, defaulting, jsonpath, model, pruning
from kubesvc.api.apiextensions import schemavalidation as sv
from kubesvc.api.objects import Obj, ensure_meta
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.registry.strategies import NOOP_TXN, Strategy, Txn

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

CRD_KEY = "customresourcedefinitions.apiextensions.k8s.io"
# the version the request named (its schema validates), per write
_request_version: contextvars.ContextVar[str] = contextvars.ContextVar("cr_version",
                                                                       default="")


class CustomResourceStrategy(Strategy):
    def __init__(self, info: ResourceInfo, registry: Registry) -> None:
        super().__init__(info, registry)
        self.uses_generation = True

    def definition(self) -> model.Definition:
        d = model.for_info(self.info)
        if d is None:
            raise errors.NotFound(message="the server could not find the requested resource")
        return d

    def _version(self, d: model.Definition) -> model.Version:
        v = _request_version.get() or d.storage_version
        return d.versions.get(v) or d.versions[d.storage_version]

    # -- decoding (every write)
    def decode_custom(self, obj: Obj, *, field_validation: str, warnings: list[str] | None
                      ) -> None:
        d = self.definition()
        av = obj.get("apiVersion")
        version = d.storage_version
        if isinstance(av, str) and av.startswith(d.group + "/"):
            cand = av[len(d.group) + 1:]
            if cand in d.versions and d.versions[cand].served:
                version = cand
                obj["apiVersion"] = d.storage_api_version
        _request_version.set(version)
        ver = d.versions[version]
        unknown = pruning.prune(obj, ver.schema or _OPEN)
        if unknown and field_validation == "Strict":
            raise errors.BadRequest(message=apifields.decode_error_message(
                f"{d.group}/{version}", d.kind,
                apifields.strict_decoding_message([f".{p}" for p in unknown])))
        if unknown and field_validation == "Warn" and warnings is not None:
            warnings.extend(apifields.warning_messages([f".{p}" for p in unknown]))
        defaulting.apply(obj, ver.schema)

    # -- create
    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        ensure_meta(obj)["generation"] = 1

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        if self.definition().terminating:  # as the CRD controller last published it
            raise errors.MethodNotAllowed(
                "create not allowed while custom resource definition is terminating")
        return NOOP_TXN

    def validate_create(self, obj: Obj) -> list[errors.Cause]:
        d = self.definition()
        name_fn = apimeta.name_is_dns_subdomain
        out = apimeta.validate_object_meta(obj, d.namespaced, name_fn)
        out.extend(self._schema_causes(d, obj, None))
        return out

    # -- update
    def prepare_update(self, new: Obj, old: Obj) -> None:
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if _content(new, status=not self.has_status) != _content(old,
                                                                  status=not self.has_status):
            m = ensure_meta(new)
            m["generation"] = int(ensure_meta(old).get("generation") or 0) + 1

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        d = self.definition()
        out = apimeta.validate_object_meta_update(new, old)
        out.extend(self._schema_causes(d, new, old))
        return out

    def validate_status_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        d = self.definition()
        out = apimeta.validate_object_meta_update(new, old)
        out.extend(self._schema_causes(d, new, old))
        return out

    def _schema_causes(self, d: model.Definition, obj: Obj, old: Obj | None
                       ) -> list[errors.Cause]:
        ver = self._version(d)
        if ver.schema is None:
            return []
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        out = sv.validate(ver.schema, body)
        if not out:
            if old is None:
                out = cel.validate(ver.schema, body)
            else:
                obody = {k: v for k, v in old.items()
                         if k not in ("apiVersion", "kind", "metadata")}
                out = cel.validate(ver.schema, body, obody)
        return out

    # -- scale
    def scale_of(self, obj: Obj) -> Obj:
        d = self.definition()
        scale = d.versions[d.storage_version].scale
        assert scale is not None
        m = obj.get("metadata") or {}
        spec_r, _ = jsonpath.get_field(obj, scale.spec_replicas_path)
        status_r, _ = jsonpath.get_field(obj, scale.status_replicas_path)
        selector = ""
        if scale.label_selector_path:
            sel, ok = jsonpath.get_field(obj, scale.label_selector_path)
            selector = str(sel) if ok and sel is not None else ""
        smeta = {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                   "creationTimestamp") if k in m}
        status: dict[str, Any] = {"replicas": int(status_r or 0)}
        if selector:
            status["selector"] = selector
        return {"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": smeta,
                "spec": {"replicas": int(spec_r or 0)}, "status": status}

    def set_scale_replicas(self, obj: Obj, replicas: int) -> None:
        d = self.definition()
        scale = d.versions[d.storage_version].scale
        assert scale is not None
        jsonpath.set_field(obj, scale.spec_replicas_path, replicas)


_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _content(obj: Obj, *, status: bool) -> dict[str, Any]:
    skip = {"metadata"} if status else {"metadata", "status"}
    return {k: v for k, v in obj.items() if k not in skip}


class CrdStrategy(Strategy):
    """The CRD's own hooks: a spec change bumps generation; status is the controller's."""

    def __init__(self, info: ResourceInfo, registry: Registry) -> None:
        super().__init__(info, registry)
        self.uses_generation = True

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"acceptedNames": {"kind": "", "plural": ""}, "conditions": [],
                         "storedVersions": []}
        ensure_meta(obj)["generation"] = 1

    def prepare_update(self, new: Obj, old: Obj) -> None:
        new["status"] = old.get("status") or {}
        if new.get("spec") != old.get("spec"):
            m = ensure_meta(new)
            m["generation"] = int(ensure_meta(old).get("generation") or 0) + 1
