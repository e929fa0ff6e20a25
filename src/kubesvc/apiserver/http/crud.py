"""REST handlers for one resource request: get, list, create, update, patch, delete,
deletecollection and the status/scale/binding subresources.

Each handler reads and checks the request (body size, content type, apiVersion/kind and
name/namespace against the URL, dryRun, fieldValidation, DeleteOptions) with upstream's
messages, calls the Registry (:class:`.backend.Backend`) and renders the answer through
:mod:`.render`. Errors propagate as :mod:`kubesvc.errors` exceptions; :mod:`.app` turns
them into Status responses. Watch lives in :mod:`.watch`, pods/log in :mod:`.logs`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web

from kubesvc import errors
from kubesvc.api import fields as apifields
from kubesvc.api.fieldmanager import manager_from_user_agent
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.http import params
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.negotiation import (
    MAX_BODY_BYTES,
    Negotiated,
    decode_object,
    decode_patch,
    negotiate,
)
from kubesvc.apiserver.http.paths import Target
from kubesvc.apiserver.http.render import include_object_param, render_list, render_object
from kubesvc.client.options import ListOptions, WriteOptions

T = TypeVar("T")


def too_large() -> errors.RequestEntityTooLarge:
    return errors.RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY_BYTES}")


async def read_body(request: web.Request) -> bytes:
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise too_large()
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise too_large() from exc
    if len(body) > MAX_BODY_BYTES:
        raise too_large()
    return body


def _summary(body: bytes, n: int = 30) -> str:
    if not body:
        return "<empty>"
    if body[:1] == b"{":
        text = body[:n].decode("utf-8", "replace")
        return text + " ..." if len(body) > n else text
    return body[:n].hex() + (" ..." if len(body) > n else "")


def check_duplicates(info: ResourceInfo, obj: dict[str, Any], body: bytes, content_type: str,
                     field_validation: str, warnings: list[str]) -> None:
    """Keys repeated in a JSON body, as upstream's strict decoder reports them: with the
    unknown fields in a 400 under Strict, as warnings under Warn (issue 24)."""
    if field_validation not in ("Strict", "Warn") or "json" not in content_type:
        return
    dups = apifields.duplicate_fields(body)
    if not dups:
        return
    if field_validation == "Warn":
        warnings.extend(apifields.duplicate_field_errors(dups))
        return
    unknown = apifields.unknown_fields(obj, api_version=info.api_version, kind=info.kind)
    detail = apifields.STRICT_DECODING_PREFIX + ", ".join(
        apifields.unknown_field_errors(unknown) + apifields.duplicate_field_errors(dups))
    raise errors.BadRequest(apifields.decode_error_message(info.api_version, info.kind, detail))


def decode_body_object(info: ResourceInfo, body: bytes, content_type: str) -> dict[str, Any]:
    """Decode a create/update body and check its apiVersion/kind against the URL, filling
    them in when absent (upstream decodes with the URL's kind as the default)."""
    try:
        obj = decode_object(body, content_type)
    except errors.BadRequest as exc:
        raise errors.BadRequest(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            f"{exc.message} ({_summary(body)})"
        ) from exc
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if api_version is not None and not isinstance(api_version, str):
        raise errors.BadRequest(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            f"couldn't get version/kind; json parse error: apiVersion must be a string "
            f"({_summary(body)})"
        )
    if kind is not None and not isinstance(kind, str):
        raise errors.BadRequest(
            f"the object provided is unrecognized (must be of type {info.kind}): "
            f"couldn't get version/kind; json parse error: kind must be a string "
            f"({_summary(body)})"
        )
    if api_version and api_version != info.api_version:
        raise errors.BadRequest(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({info.api_version})"
        )
    if kind and kind != info.kind:
        version = info.version
        raise errors.BadRequest(
            f'{kind} in version "{version}" cannot be handled as a {info.kind}: the kind in '
            f"the data ({kind}) does not match the expected kind ({info.kind})"
        )
    obj["apiVersion"] = info.api_version
    obj["kind"] = info.kind
    md = obj.get("metadata")
    if md is None:
        obj["metadata"] = {}
    elif not isinstance(md, dict):
        raise errors.BadRequest(
            f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
            "json: cannot unmarshal into Go struct field "
            f"{info.kind}.metadata of type v1.ObjectMeta"
        )
    return obj


def check_namespace(obj: dict[str, Any], target: Target) -> None:
    if not target.info.namespaced or target.namespace is None:
        return
    md = obj["metadata"]
    ns = md.get("namespace")
    if ns and ns != target.namespace:
        raise errors.BadRequest(
            "the namespace of the provided object does not match the namespace sent on the "
            "request"
        )
    md["namespace"] = target.namespace


# Control characters cannot travel in a header value (a newline would end it): each
# becomes a space, as Go's net/http writes CR and LF in header values. Tab is allowed.
_HEADER_UNSAFE = {c: " " for c in [*range(0x20), 0x7F] if c != 0x09}


def warning_headers(response: web.StreamResponse, warnings: list[str]) -> None:
    """Add ``Warning: 299 - "<text>"`` headers as upstream does (deduplicated); a text
    carrying request data (an unknown field's name) has its control characters replaced."""
    seen: set[str] = set()
    for w in warnings:
        if w in seen:
            continue
        seen.add(w)
        text = w.translate(_HEADER_UNSAFE).replace("\\", "\\\\").replace('"', '\\"')
        response.headers.add("Warning", f'299 - "{text}"')


async def shielded(aw: Awaitable[T]) -> T:
    """Run a write to completion even if the client goes away mid-request (handlers are
    cancelled on disconnect so that idle watches end)."""
    return await asyncio.shield(aw)


def respond(
    body: bytes, neg: Negotiated, *, status: int = 200, warnings: list[str] | None = None
) -> web.Response:
    """A rendered object or list with its negotiated Content-Type and Warning headers."""
    resp = web.Response(body=body, status=status, content_type=None)
    resp.headers["Content-Type"] = neg.content_type
    if warnings:
        warning_headers(resp, warnings)
    return resp


def with_manager(opts: WriteOptions, request: web.Request, options_kind: str) -> WriteOptions:
    """The field manager of a write: ``?fieldManager=``, else the User-Agent's prefix
    (``kubectl-edit``, ``kubectl-client-side-apply``...), as upstream; at most 128 bytes."""
    if len(opts.field_manager.encode()) > 128:
        raise errors.Invalid(
            message=f'{options_kind}.meta.k8s.io "" is invalid: fieldManager: Too long: '
            "may not be more than 128 bytes", kind=options_kind, group="meta.k8s.io",
            causes=[errors.Cause("FieldValueTooLong",
                                 "Too long: may not be more than 128 bytes", "fieldManager")])
    if opts.field_manager:
        return opts
    return dataclasses.replace(
        opts, field_manager=manager_from_user_agent(request.headers.get("User-Agent", "")))


def for_write(neg: Negotiated) -> Negotiated:
    """Writes answer objects, never Tables (upstream ignores as=Table on writes)."""
    if neg.kind in ("table", "metadata"):
        return Negotiated("json")
    return neg


class Crud:
    """The non-streaming verbs over one Backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def get(self, request: web.Request, target: Target) -> web.Response:
        neg = negotiate(request.headers.get("Accept", ""))
        q = request.rel_url.query
        include = include_object_param(q.get("includeObject"))
        obj = await self.backend.get(
            target.info.key, target.name, namespace=target.namespace,
            subresource=target.subresource,
        )
        info = target.info
        if target.subresource == "scale":
            return respond(render_object(info, obj, for_write(neg), include_object=include),
                                 for_write(neg))
        return respond(render_object(info, obj, neg, include_object=include), neg)

    async def list(self, request: web.Request, target: Target) -> web.Response:
        neg = negotiate(request.headers.get("Accept", ""))
        q = request.rel_url.query
        include = include_object_param(q.get("includeObject"))
        lst = await self.backend.list(
            target.info.key, namespace=target.namespace, opts=params.list_options(q)
        )
        return respond(render_list(target.info, lst, neg, include_object=include), neg)

    async def create(self, request: web.Request, target: Target, *,
                     prepare: Callable[[dict[str, Any]], None] | None = None
                     ) -> web.Response:
        """POST; ``prepare`` sees the decoded object first (the CSR requester stamp)."""
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        q = request.rel_url.query
        body = await read_body(request)
        opts = with_manager(params.write_options(q), request, "CreateOptions")
        info = target.info
        obj = decode_body_object(info, body, request.headers.get("Content-Type", ""))
        check_namespace(obj, target)
        if prepare is not None:
            prepare(obj)
        warnings: list[str] = []
        check_duplicates(info, obj, body, request.headers.get("Content-Type", "json"),
                         opts.field_validation, warnings)
        out = await shielded(self.backend.create(
            info.key, obj, namespace=target.namespace, opts=opts, warnings=warnings,
        ))
        return respond(render_object(info, out, neg, include_object="Object"), neg,
                             status=201, warnings=warnings)

    async def update(self, request: web.Request, target: Target) -> web.Response:
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        q = request.rel_url.query
        body = await read_body(request)
        opts = with_manager(params.write_options(q, options_kind="UpdateOptions"), request,
                            "UpdateOptions")
        info = target.info
        if target.subresource == "scale":
            obj = _decode_scale(body, request.headers.get("Content-Type", ""))
        else:
            obj = decode_body_object(info, body, request.headers.get("Content-Type", ""))
        name = obj["metadata"].get("name") or ""
        if name != target.name:
            raise errors.BadRequest(
                f"the name of the object ({name}) does not match the name on the URL "
                f"({target.name})"
            )
        check_namespace(obj, target)
        warnings: list[str] = []
        if target.subresource != "scale":
            check_duplicates(info, obj, body, request.headers.get("Content-Type", "json"),
                             opts.field_validation, warnings)
        out = await shielded(self.backend.update(
            info.key, obj, namespace=target.namespace, subresource=target.subresource,
            opts=opts, warnings=warnings,
        ))
        return respond(render_object(info, out, neg, include_object="Object"), neg,
                             warnings=warnings)

    async def patch(self, request: web.Request, target: Target) -> web.Response:
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        q = request.rel_url.query
        body = await read_body(request)
        opts = params.write_options(q, options_kind="PatchOptions")
        duplicates: list[str] = []
        ptype, doc = decode_patch(body, request.headers.get("Content-Type", ""), duplicates)
        warnings: list[str] = []
        if duplicates and opts.field_validation in ("Strict", "Warn"):
            # upstream's applyPatcher decodes the patch with yaml.UnmarshalStrict too
            message = ("error strict decoding YAML: error converting YAML to JSON: yaml: "
                       "unmarshal errors:\n  " + "\n  ".join(duplicates))
            if opts.field_validation == "Strict":
                raise errors.BadRequest(message)
            warnings.append(message)
        if ptype == "apply" and not opts.field_manager:
            raise errors.Invalid(
                message='PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: '
                "is required for apply patch",
                kind="PatchOptions", group="meta.k8s.io",
                causes=[errors.Cause("FieldValueRequired", "Required value: is required for "
                                     "apply patch", "fieldManager")],
            )
        opts = with_manager(opts, request, "PatchOptions")
        out = await shielded(self.backend.patch(
            target.info.key, target.name, doc, namespace=target.namespace, patch_type=ptype,
            subresource=target.subresource, opts=opts, warnings=warnings,
        ))
        return respond(render_object(target.info, out, neg, include_object="Object"),
                             neg, warnings=warnings)

    async def delete(self, request: web.Request, target: Target) -> web.Response:
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        opts = params.delete_options(request.rel_url.query, await _delete_body(request))
        out = await shielded(self.backend.delete(
            target.info.key, target.name, namespace=target.namespace, opts=opts,
        ))
        # Upstream answers 202 only when the object lives on (finalizers, graceful deletion)
        # and the client explicitly asked orphanDependents=false; otherwise 200.
        pending = out.get("kind") != "Status" and bool(
            (out.get("metadata") or {}).get("deletionTimestamp")
        )
        accepted = pending and opts.orphan_dependents is False and not opts.dry_run
        return respond(render_object(target.info, out, neg, include_object="Object"),
                             neg, status=202 if accepted else 200)

    async def delete_collection(self, request: web.Request, target: Target) -> web.Response:
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        q = request.rel_url.query
        opts = params.delete_options(q, await _delete_body(request))
        out = await shielded(self.backend.delete_collection(
            target.info.key, namespace=target.namespace, opts=opts,
            list_opts=ListOptions(label_selector=q.get("labelSelector", ""),
                                  field_selector=q.get("fieldSelector", "")),
        ))
        return respond(render_list(target.info, out, neg, include_object="Object"), neg)

    async def binding(self, request: web.Request, target: Target) -> web.Response:
        """POST pods/{name}/binding: the Registry sets spec.nodeName; upstream answers a
        Success Status with code 201."""
        body = await read_body(request)
        try:
            obj = decode_object(body, request.headers.get("Content-Type", ""))
        except errors.BadRequest as exc:
            raise errors.BadRequest(
                "the object provided is unrecognized (must be of type Binding): "
                f"{exc.message} ({_summary(body)})"
            ) from exc
        if obj.get("kind") not in (None, "", "Binding"):
            raise errors.BadRequest(
                f'{obj.get("kind")} in version "v1" cannot be handled as a Binding'
            )
        md = obj.get("metadata")
        if not isinstance(md, dict):
            obj["metadata"] = md = {}
        check_namespace(obj, target)
        out = await shielded(self.backend.create(
            target.info.key, obj, namespace=target.namespace, subresource="binding",
            name=target.name, opts=WriteOptions(dry_run=params.dry_run(request.rel_url.query)),
        ))
        if out.get("kind") != "Status":
            out = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                   "code": 201}
        return web.Response(body=orjson.dumps(out), status=201,
                            content_type="application/json")


    async def eviction(self, request: web.Request, target: Target) -> web.Response:
        """POST pods/{name}/eviction (policy/v1 Eviction): the Registry consults the pod's
        PodDisruptionBudget and deletes the pod; a Success Status with code 201."""
        body = await read_body(request)
        try:
            obj = decode_object(body, request.headers.get("Content-Type", ""))
        except errors.BadRequest as exc:
            raise errors.BadRequest(
                "the object provided is unrecognized (must be of type Eviction): "
                f"{exc.message} ({_summary(body)})"
            ) from exc
        if obj.get("kind") not in (None, "", "Eviction"):
            raise errors.BadRequest(
                f'{obj.get("kind")} in version "v1" cannot be handled as a Eviction'
            )
        if not isinstance(obj.get("metadata"), dict):
            obj["metadata"] = {}
        check_namespace(obj, target)
        out = await shielded(self.backend.create(
            target.info.key, obj, namespace=target.namespace, subresource="eviction",
            name=target.name, opts=WriteOptions(dry_run=params.dry_run(request.rel_url.query)),
        ))
        return web.Response(body=orjson.dumps(out), status=201,
                            content_type="application/json")

def _decode_scale(body: bytes, content_type: str) -> dict[str, Any]:
    try:
        obj = decode_object(body, content_type)
    except errors.BadRequest as exc:
        raise errors.BadRequest(
            f"the object provided is unrecognized (must be of type Scale): {exc.message} "
            f"({_summary(body)})"
        ) from exc
    if obj.get("kind") not in (None, "", "Scale"):
        raise errors.BadRequest(
            f'{obj.get("kind")} in version "v1" cannot be handled as a Scale'
        )
    if not isinstance(obj.get("metadata"), dict):
        obj["metadata"] = {}
    return obj


async def _delete_body(request: web.Request) -> dict[str, Any] | None:
    if not request.body_exists:
        return None
    body = await read_body(request)
    if not body.strip():
        return None
    try:
        data = decode_object(body, request.headers.get("Content-Type", ""))
    except errors.BadRequest as exc:
        raise errors.BadRequest(
            f"the object provided is unrecognized (must be of type DeleteOptions): "
            f"{exc.message} ({_summary(body)})"
        ) from exc
    return data
