"""OpenAPI v3 documents for the served group-versions, in upstream's shape.

``GET /openapi/v3`` answers :func:`openapi_v3_index`; ``GET /openapi/v3/api/v1`` (and
``/openapi/v3/apis/<group>/<version>``) answer :func:`openapi_v3_document` (or the cached
serialized form :func:`openapi_v3_json`). kubectl v1.32 reads these for ``kubectl explain``,
for strategic-merge patch metadata, and to decide that the server validates fields itself:
it looks for a PATCH operation whose ``x-kubernetes-group-version-kind`` is the object's
and whose operation-level ``parameters`` name ``fieldValidation``.

Called by the API server's OpenAPI handler; reads ``kubesvc.api.resources`` and the
component schemas of ``kubesvc.api.schema``. No I/O.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

from kubesvc.api import resources
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.schema import GROUP_PREFIX, ref_name
from kubesvc.api.schema._dsl import AS, COMPONENTS, REF_PREFIX, C, M, Schema

PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_RESPONSE_TYPES = ("application/json", "application/vnd.kubernetes.protobuf", "application/yaml")
_WATCH_TYPES = (
    "application/json",
    "application/json;stream=watch",
    "application/vnd.kubernetes.protobuf",
    "application/vnd.kubernetes.protobuf;stream=watch",
    "application/yaml",
)


def _param(name: str, typ: str, desc: str, where: str = "query") -> dict[str, Any]:
    out: dict[str, Any] = {"description": desc, "in": where, "name": name}
    if where == "path":
        out["required"] = True
        out["schema"] = {"type": typ, "uniqueItems": True}
    else:
        out["schema"] = {"type": typ, "uniqueItems": True}
    return out


P_NAME = _param("name", "string", "name of the resource", "path")
P_NAMESPACE = _param(
    "namespace", "string", "object name and auth scope, such as for teams and projects", "path"
)
P_PRETTY = _param("pretty", "string", "If 'true', then the output is pretty printed.")
P_DRY_RUN = _param(
    "dryRun",
    "string",
    "When present, indicates that modifications should not "
    "be persisted. Valid values are: - All: all dry run stages will be processed",
)
P_FIELD_MANAGER = _param(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
)
P_FIELD_VALIDATION = _param(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request containing "
    "unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict.",
)
P_FORCE = _param(
    "force",
    "boolean",
    'Force is going to "force" Apply requests. It means user '
    "will re-acquire conflicting fields owned by other people. Force flag must be "
    "unset for non-apply patch requests.",
)
_LIST_PARAMS = [
    _param(
        "allowWatchBookmarks",
        "boolean",
        'allowWatchBookmarks requests watch events with type "BOOKMARK".',
    ),
    _param(
        "continue",
        "string",
        "The continue option should be set when retrieving more results from the server.",
    ),
    _param(
        "fieldSelector",
        "string",
        "A selector to restrict the list of returned objects by "
        "their fields. Defaults to everything.",
    ),
    _param(
        "labelSelector",
        "string",
        "A selector to restrict the list of returned objects by "
        "their labels. Defaults to everything.",
    ),
    _param("limit", "integer", "limit is a maximum number of responses to return for a list call."),
    _param(
        "resourceVersion",
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    _param(
        "resourceVersionMatch",
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    _param(
        "sendInitialEvents",
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`.",
    ),
    _param("timeoutSeconds", "integer", "Timeout for the list/watch call."),
    _param(
        "watch",
        "boolean",
        "Watch for changes to the described resources and return them "
        "as a stream of add, update, and remove notifications.",
    ),
]
_DELETE_PARAMS = [
    P_DRY_RUN,
    _param(
        "gracePeriodSeconds",
        "integer",
        "The duration in seconds before the object should be deleted.",
    ),
    _param("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy."),
    _param(
        "propagationPolicy",
        "string",
        "Whether and how garbage collection will be "
        "performed: 'Orphan', 'Background' or 'Foreground'.",
    ),
]


def gv_path(group: str, version: str) -> str:
    """``api/v1`` for core, ``apis/<group>/<version>`` otherwise (the /openapi/v3 key)."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _op_prefix(group: str, version: str) -> str:
    """``CoreV1``, ``AppsV1``, ``DiscoveryV1`` — upstream's operationId infix."""
    base = group.split(".")[0] if group else "core"
    return base[:1].upper() + base[1:] + version[:1].upper() + version[1:]


def _tag(group: str, version: str) -> str:
    return f"{(group.split('.')[0] if group else 'core')}_{version}"


def _content(name: str, types: tuple[str, ...] = _RESPONSE_TYPES) -> dict[str, Any]:
    return {t: {"schema": {"$ref": REF_PREFIX + name}} for t in types}


def _responses(name: str, *codes: str, types: tuple[str, ...] = _RESPONSE_TYPES) -> Schema:
    words = {"200": "OK", "201": "Created", "202": "Accepted"}
    return {c: {"content": _content(name, types), "description": words[c]} for c in codes}


class _Ops:
    """Builds the operations of one resource (one kind, maybe a subresource)."""

    def __init__(self, r: ResourceInfo, *, sub: str = "") -> None:
        self.r = r
        self.sub = sub
        self.prefix = _op_prefix(r.group, r.version)
        self.tag = _tag(r.group, r.version)
        self.ns = "Namespaced" if r.namespaced else ""
        if sub == "scale":
            self.schema = AS + "Scale"
            self.gvk = {"group": "autoscaling", "kind": "Scale", "version": "v1"}
        else:
            self.schema = _component_name(r)
            self.gvk = {"group": r.group, "kind": r.kind, "version": r.version}
        self.suffix = sub[:1].upper() + sub[1:] if sub else ""
        # custom resources take no strategic merge patch (kubectl apply reads this to pick
        # a JSON merge patch for them)
        self.patch_types = tuple(t for t in PATCH_CONTENT_TYPES
                                 if not (resources.is_custom(r) and "strategic" in t))

    def op(
        self,
        verb: str,
        action: str,
        desc: str,
        *,
        params: list[dict[str, Any]],
        responses: Schema,
        body: Schema | None = None,
        op_id: str = "",
        gvk: dict[str, str] | None = None,
    ) -> Schema:
        out: Schema = {
            "description": desc,
            "operationId": op_id or f"{verb}{self.prefix}{self.ns}{self.r.kind}{self.suffix}",
            "parameters": list(params),
            "responses": responses,
            "tags": [self.tag],
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": dict(gvk or self.gvk),
        }
        if not params:
            del out["parameters"]
        if body is not None:
            out["requestBody"] = body
        return out

    def item_path(self) -> Schema:
        k, s = self.r.kind, self.schema
        what = f"{self.sub} of the specified {k}" if self.sub else f"the specified {k}"
        path: Schema = {
            "get": self.op(
                "read", "get", f"read {what}", params=[], responses=_responses(s, "200")
            ),
            "put": self.op(
                "replace",
                "put",
                f"replace {what}",
                params=[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION],
                body={"content": {"*/*": {"schema": {"$ref": REF_PREFIX + s}}}, "required": True},
                responses=_responses(s, "200", "201"),
            ),
            "patch": self.op(
                "patch",
                "patch",
                f"partially update {what}",
                params=[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION, P_FORCE],
                body={
                    "content": {
                        t: {"schema": {"$ref": REF_PREFIX + M + "Patch"}}
                        for t in self.patch_types
                    },
                    "required": True,
                },
                responses=_responses(s, "200", "201"),
            ),
        }
        if not self.sub:
            path["delete"] = self.op(
                "delete",
                "delete",
                f"delete a {k}",
                params=_DELETE_PARAMS,
                body={"content": {"*/*": {"schema": {"$ref": REF_PREFIX + M + "DeleteOptions"}}}},
                responses=_responses(M + "Status", "200", "202"),
            )
        path["parameters"] = self._path_params(with_name=True)
        return path

    def _path_params(self, *, with_name: bool) -> list[dict[str, Any]]:
        out = [P_NAME] if with_name else []
        if self.r.namespaced:
            out.append(P_NAMESPACE)
        out.append(P_PRETTY)
        return out

    def collection_path(self) -> Schema:
        k, s = self.r.kind, self.schema
        path: Schema = {
            "get": self.op(
                "list",
                "list",
                f"list or watch objects of kind {k}",
                params=_LIST_PARAMS,
                responses=_responses(s + "List", "200", types=_WATCH_TYPES),
            ),
        }
        if "create" in self.r.verbs:
            path["post"] = self.op(
                "create",
                "post",
                f"create a {k}",
                params=[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION],
                body={"content": {"*/*": {"schema": {"$ref": REF_PREFIX + s}}}, "required": True},
                responses=_responses(s, "200", "201", "202"),
            )
        if "deletecollection" in self.r.verbs:
            path["delete"] = self.op(
                "delete",
                "deletecollection",
                f"delete collection of {k}",
                op_id=f"delete{self.prefix}Collection{self.ns}{k}",
                params=_DELETE_PARAMS + _LIST_PARAMS,
                body={"content": {"*/*": {"schema": {"$ref": REF_PREFIX + M + "DeleteOptions"}}}},
                responses=_responses(M + "Status", "200"),
            )
        path["parameters"] = self._path_params(with_name=False)
        return path

    def all_namespaces_path(self) -> Schema:
        k, s = self.r.kind, self.schema
        return {
            "get": self.op(
                "list",
                "list",
                f"list or watch objects of kind {k}",
                op_id=f"list{self.prefix}{k}ForAllNamespaces",
                params=[],
                responses=_responses(s + "List", "200", types=_WATCH_TYPES),
            ),
            "parameters": [*_LIST_PARAMS, P_PRETTY],
        }

    def watch_path(self, *, item: bool, all_ns: bool = False) -> Schema:
        k = self.r.kind
        if item:
            op_id, action = f"watch{self.prefix}{self.ns}{k}", "watch"
            desc = (
                f"watch changes to an object of kind {k}. deprecated: use the 'watch' "
                "parameter with a list operation instead, filtered to a single item with "
                "the 'fieldSelector' parameter."
            )
        elif all_ns:
            op_id, action = f"watch{self.prefix}{k}ListForAllNamespaces", "watchlist"
            desc = (
                f"watch individual changes to a list of {k}. deprecated: use the 'watch' "
                "parameter with a list operation instead."
            )
        else:
            op_id, action = f"watch{self.prefix}{self.ns}{k}List", "watchlist"
            desc = (
                f"watch individual changes to a list of {k}. deprecated: use the 'watch' "
                "parameter with a list operation instead."
            )
        params = [*_LIST_PARAMS]
        if item:
            params.append(P_NAME)
        if self.r.namespaced and not all_ns:
            params.append(P_NAMESPACE)
        params.append(P_PRETTY)
        return {
            "get": self.op(
                "watch",
                action,
                desc,
                op_id=op_id,
                params=[],
                responses=_responses(M + "WatchEvent", "200", types=_WATCH_TYPES),
            ),
            "parameters": params,
        }


def _resource_paths(r: ResourceInfo) -> dict[str, Schema]:
    root = "/api/v1" if not r.group else f"/apis/{r.group}/{r.version}"
    ns = "/namespaces/{namespace}" if r.namespaced else ""
    base = f"{root}{ns}/{r.plural}"
    ops = _Ops(r)
    if not r.stored:  # a create-only review: one POST, nothing to read or watch
        collection = ops.collection_path()
        return {base: {"post": collection["post"], "parameters": collection["parameters"]}}
    out: dict[str, Schema] = {
        base: ops.collection_path(),
        base + "/{name}": ops.item_path(),
        f"{root}/watch{ns}/{r.plural}": ops.watch_path(item=False),
        f"{root}/watch{ns}/{r.plural}/{{name}}": ops.watch_path(item=True),
    }
    if r.namespaced:
        out[f"{root}/{r.plural}"] = ops.all_namespaces_path()
        out[f"{root}/watch/{r.plural}"] = ops.watch_path(item=False, all_ns=True)
    for sub in r.subresources:
        if sub in ("status", "scale"):
            out[f"{base}/{{name}}/{sub}"] = _Ops(r, sub=sub).item_path()
        elif sub == "finalize":
            fin = _Ops(r, sub="finalize").item_path()
            out[f"{base}/{{name}}/finalize"] = {"put": fin["put"], "parameters": fin["parameters"]}
        elif sub == "binding":
            bind = _Ops(r, sub="binding")
            name = C + "Binding"
            out[f"{base}/{{name}}/binding"] = {
                "post": bind.op(
                    "create",
                    "post",
                    f"create binding of a {r.kind}",
                    params=[P_DRY_RUN, P_FIELD_MANAGER, P_FIELD_VALIDATION],
                    body={
                        "content": {"*/*": {"schema": {"$ref": REF_PREFIX + name}}},
                        "required": True,
                    },
                    responses=_responses(name, "200", "201", "202"),
                    gvk={"group": "", "kind": "Binding", "version": "v1"},
                ),
                "parameters": bind._path_params(with_name=True),
            }
        elif sub == "log":
            log = _Ops(r, sub="log")
            out[f"{base}/{{name}}/log"] = {
                "get": log.op(
                    "read",
                    "get",
                    f"read log of the specified {r.kind}",
                    params=[
                        _param("container", "string", "The container for which to stream logs."),
                        _param("follow", "boolean", "Follow the log stream of the pod."),
                        _param(
                            "limitBytes",
                            "integer",
                            "The number of bytes to read from the server "
                            "before terminating the log output.",
                        ),
                        _param("previous", "boolean", "Return previous terminated container logs."),
                        _param(
                            "sinceSeconds",
                            "integer",
                            "A relative time in seconds before the "
                            "current time from which to show logs.",
                        ),
                        _param(
                            "tailLines",
                            "integer",
                            "The number of lines from the end of the logs to show.",
                        ),
                        _param(
                            "timestamps",
                            "boolean",
                            "If true, add an RFC3339 timestamp at the "
                            "beginning of every line of log output.",
                        ),
                    ],
                    responses={
                        "200": {
                            "content": {"*/*": {"schema": {"type": "string"}}},
                            "description": "OK",
                        }
                    },
                ),
                "parameters": log._path_params(with_name=True),
            }
    return out


def _component_name(r: ResourceInfo) -> str:
    if resources.is_custom(r):
        from kubesvc.api.apiextensions.openapi import component_name

        return component_name(r.group, r.version, r.kind)
    return GROUP_PREFIX[r.group] + r.kind


def _custom_components(group: str, version: str) -> dict[str, Schema]:
    """The component schemas of the custom resources served at group/version."""
    from kubesvc.api.apiextensions import model
    from kubesvc.api.apiextensions import openapi as crd_openapi

    out: dict[str, Schema] = {}
    for r in resources.served():
        if (r.group, r.version) == (group, version) and resources.is_custom(r):
            d = model.for_info(r)
            if d is not None and version in d.versions:
                out.update(crd_openapi.components(d, version))
    return out


def _closure(names: set[str]) -> set[str]:
    """Every component reachable from ``names``."""
    out: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        todo.extend(_refs(COMPONENTS[name]))
    return out


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        target = ref_name(node) if ("$ref" in node or "allOf" in node) else None
        if target:
            found.append(target)
        for v in node.values():
            found.extend(_refs(v))
    elif isinstance(node, list):
        for v in node:
            found.extend(_refs(v))
    return found


def served_group_versions() -> list[tuple[str, str]]:
    """(group, version) pairs with a document, core first."""
    return sorted({(r.group, r.version) for r in resources.served()})


def openapi_v3_document(group: str, version: str) -> dict[str, Any]:
    """The OpenAPI v3 document of one group-version (a fresh dict each call).
    Raises KeyError when the group-version is not served."""
    served = [r for r in resources.served() if (r.group, r.version) == (group, version)]
    if not served:
        raise KeyError(gv_path(group, version))
    paths: dict[str, Schema] = {}
    for r in served:
        paths.update(_resource_paths(r))
    custom = _custom_components(group, version)
    names = _closure({n for n in _refs(paths) if n not in custom} | {
        n for n in _refs(custom) if n not in custom})
    schemas = {n: COMPONENTS[n] for n in names} | custom
    return copy.deepcopy(
        {
            "components": {"schemas": dict(sorted(schemas.items()))},
            "info": {"title": "Kubernetes", "version": "v1.32.0"},
            "openapi": "3.0.0",
            "paths": dict(sorted(paths.items())),
        }
    )


def openapi_v3_json(group: str, version: str) -> bytes:
    """The document serialized as JSON (cached until the served custom resources change;
    stable bytes, so a stable hash)."""
    return _openapi_v3_json(group, version, resources.generation())


@functools.lru_cache(maxsize=256)
def _openapi_v3_json(group: str, version: str, generation: int) -> bytes:
    doc = openapi_v3_document(group, version)
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def document_hash(group: str, version: str) -> str:
    """Upstream-style content hash: uppercase hex SHA-512 of the serialized document."""
    return hashlib.sha512(openapi_v3_json(group, version)).hexdigest().upper()


def openapi_v3_index() -> dict[str, Any]:
    """The ``/openapi/v3`` discovery document: every group-version and its URL with hash."""
    paths: dict[str, Any] = {}
    for group, version in served_group_versions():
        key = gv_path(group, version)
        paths[key] = {
            "serverRelativeURL": f"/openapi/v3/{key}?hash={document_hash(group, version)}"
        }
    return {"paths": paths}


def parse_gv_path(path: str) -> tuple[str, str]:
    """``api/v1`` -> ("", "v1"); ``apis/apps/v1`` -> ("apps", "v1"). Raises KeyError."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        gv = ("", parts[1])
    elif len(parts) == 3 and parts[0] == "apis":
        gv = (parts[1], parts[2])
    else:
        raise KeyError(path)
    if gv not in served_group_versions():
        raise KeyError(path)
    return gv


def openapi_v2_json() -> bytes:
    """``/openapi/v2`` as JSON: a Swagger 2.0 document whose ``definitions`` hold the
    served custom resources' schemas (and what they reference), so clients that read v2
    (upstream's e2e framework, older tools) find published CRDs. Built-in kinds are
    published in v3 only. Cached until the served custom resources change."""
    return _openapi_v2_json(resources.generation())


@functools.lru_cache(maxsize=4)
def _openapi_v2_json(generation: int) -> bytes:
    custom: dict[str, Schema] = {}
    for group, version in sorted({(r.group, r.version) for r in resources.served()
                                  if resources.is_custom(r)}):
        custom.update(_custom_components(group, version))
    names = _closure({n for n in _refs(custom) if n not in custom})
    defs = {n: COMPONENTS[n] for n in names} | custom
    text = json.dumps({"swagger": "2.0", "info": {"title": "Kubernetes",
                                                  "version": "v1.32.0"},
                       "paths": {}, "definitions": dict(sorted(defs.items()))},
                      sort_keys=True, separators=(",", ":"))
    return text.replace('"' + REF_PREFIX, '"#/definitions/').encode()
