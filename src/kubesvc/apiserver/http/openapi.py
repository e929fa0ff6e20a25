"""OpenAPI endpoints: ``/openapi/v3`` (index) and ``/openapi/v3/{api/v1|apis/g/v}``
documents from :mod:`kubesvc.api.schema.openapi`, and ``/openapi/v2`` (JSON: the
custom resources' definitions; protobuf: empty).

kubectl reads v3 to learn that PATCH takes ``fieldValidation`` (so it validates
server-side) and for strategic-merge metadata. kubectl's validator also parses v2 (protobuf)
eagerly and only uses it when v3 is missing; an empty protobuf message is a valid, empty
``openapi_v2.Document``, which kubectl treats as "no schema for this kind" (it skips client
validation and falls back to its built-in patch metadata). Called by :mod:`.app`.
"""

from __future__ import annotations

from aiohttp import web

from kubesvc import errors
from kubesvc.api.schema import openapi as oas
from kubesvc.apiserver.http.negotiation import encode

_PROTOBUF_V2 = "application/com.github.proto-openapi.spec.v2"
_IMMUTABLE = "public, immutable"


def v3_index(request: web.Request) -> web.Response:
    resp = web.Response(body=encode(oas.openapi_v3_index()), content_type="application/json")
    resp.headers["Cache-Control"] = "no-cache, private"
    return resp


def v3_document(request: web.Request, gv_path: str) -> web.Response:
    try:
        group, version = oas.parse_gv_path(gv_path)
    except KeyError as exc:
        raise errors.NotFound("the server could not find the requested resource") from exc
    digest = oas.document_hash(group, version)
    want = request.rel_url.query.get("hash")
    if want and want != digest:
        # Upstream redirects a stale hash to the current document.
        raise web.HTTPMovedPermanently(location=f"/openapi/v3/{gv_path}?hash={digest}")
    resp = web.Response(body=oas.openapi_v3_json(group, version),
                        content_type="application/json")
    resp.headers["ETag"] = f'"{digest}"'
    resp.headers["Cache-Control"] = _IMMUTABLE if want else "no-cache, private"
    return resp


def v2(request: web.Request) -> web.Response:
    accept = request.headers.get("Accept", "")
    if _PROTOBUF_V2 in accept and "application/json" not in accept.split(",")[0]:
        resp = web.Response(body=b"")
        # kubectl asks for the "@v1.0" form, which is no valid media type (Go's mime parser
        # rejects it); upstream answers with the dotted form, as here.
        resp.headers["Content-Type"] = _PROTOBUF_V2 + ".v1.0+protobuf"
        return resp
    return web.Response(body=oas.openapi_v2_json(), content_type="application/json")
