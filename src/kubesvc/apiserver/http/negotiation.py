"""Content negotiation: which representation a response takes and how a body is read.

Responses are JSON (orjson) by default; YAML when asked for ``application/yaml``; a
``meta.k8s.io`` ``Table`` when the Accept header asks for ``as=Table;g=meta.k8s.io;v=v1``
(or ``v1beta1``), as ``kubectl get`` does; ``PartialObjectMetadata[List]`` for the metadata
client. Protobuf is not spoken: a protobuf Accept gets JSON (client-go decodes by the
response Content-Type) and a protobuf body gets 415. Request bodies are JSON or YAML;
PATCH bodies are typed by their content type. Called by the handlers in :mod:`.crud` and
:mod:`.watch`; calls orjson, :mod:`.yamljson` (YAML with upstream's limits) and
:mod:`kubesvc.api.typecheck` (nesting depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import orjson
import yaml

from kubesvc import errors
from kubesvc.api import typecheck
from kubesvc.apiserver.http import yamljson
from kubesvc.apiserver.http.protobuf import decode as protobuf
from kubesvc.client.protocol import PatchType

MAX_BODY_BYTES = 3 * 1024 * 1024  # upstream's default MaxRequestBodyBytes

Representation = Literal["json", "yaml", "table", "metadata"]

JSON = "application/json"
YAML = "application/yaml"
TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_V1BETA1 = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"
METADATA_V1 = "application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io"
METADATA_LIST_V1 = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"

_PATCH_TYPES: dict[str, PatchType] = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}

_ACCEPTED_BODY_TYPES = "application/json, application/yaml, application/vnd.kubernetes.protobuf"
_YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})


@dataclass(frozen=True, slots=True)
class Negotiated:
    kind: Representation
    version: str = "v1"  # meta.k8s.io version for table/metadata

    @property
    def content_type(self) -> str:
        if self.kind == "table":
            return TABLE_V1 if self.version == "v1" else TABLE_V1BETA1
        if self.kind == "yaml":
            return YAML
        return JSON


JSON_RESPONSE = Negotiated("json")


def _parse_media_range(part: str) -> tuple[str, dict[str, str]]:
    fields = [f.strip() for f in part.split(";")]
    params: dict[str, str] = {}
    for f in fields[1:]:
        k, _, v = f.partition("=")
        params[k.strip().lower()] = v.strip().strip('"')
    return fields[0].lower(), params


@lru_cache(maxsize=256)
def negotiate(accept: str) -> Negotiated:
    """Pick the response representation for an Accept header (first acceptable wins,
    as clients list them in preference order). Raises NotAcceptable."""
    if not accept:
        return JSON_RESPONSE
    saw_protobuf = False
    ranges: list[tuple[float, int, str, dict[str, str]]] = []
    for idx, part in enumerate(accept.split(",")):
        if not part.strip():
            continue
        mtype, params = _parse_media_range(part)
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q > 0:
            ranges.append((-q, idx, mtype, params))
    for _, _, mtype, params in sorted(ranges):
        as_ = params.get("as", "")
        if mtype in ("application/json", "application/*", "*/*"):
            if not as_:
                return JSON_RESPONSE
            if params.get("g") != "meta.k8s.io":
                continue
            version = params.get("v", "v1")
            if as_ == "Table" and version in ("v1", "v1beta1"):
                return Negotiated("table", version)
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and version in (
                "v1", "v1beta1"
            ):
                return Negotiated("metadata", version)
        elif mtype in _YAML_TYPES and not as_:
            return Negotiated("yaml")
        elif mtype == "application/vnd.kubernetes.protobuf":
            saw_protobuf = True
    if saw_protobuf:
        return JSON_RESPONSE
    raise errors.NotAcceptable(
        "only the following media types are accepted: application/json, application/yaml"
    )


def encode(obj: Any, neg: Negotiated = JSON_RESPONSE) -> bytes:
    if neg.kind == "yaml":
        return yaml.safe_dump(obj, sort_keys=False, default_flow_style=False).encode()
    # Upstream's serializer is a json.Encoder, which ends every document with a newline;
    # clients that print a Status body verbatim (the Python client's errors) show it.
    return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _yaml_load(body: bytes, duplicates: list[str] | None = None) -> Any:
    try:
        return yamljson.load(body, duplicates)
    except yamljson.YAMLToJSONError as exc:
        raise errors.BadRequest(f"error converting YAML to JSON: {exc}") from exc
    except yaml.YAMLError as exc:
        raise errors.BadRequest(f"error converting YAML to JSON: {_yaml_message(exc)}") from exc


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"yaml: line {mark.line + 1}: {problem}"
    return f"yaml: {problem}"


def _json_load(body: bytes) -> Any:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.BadRequest(
            f"couldn't get version/kind; json parse error: {exc.msg} at offset {exc.pos}"
        ) from exc
    _check_depth(data)
    return data


def _check_depth(data: Any) -> None:
    """Refuse nesting the server's recursive code could not handle (before it runs)."""
    try:
        typecheck.check_depth(data)
    except typecheck.TypeMismatch as exc:
        raise errors.BadRequest(str(exc)) from exc


def decode_object(body: bytes, content_type: str) -> dict[str, Any]:
    """The object in a create/update body (JSON, YAML, or Kubernetes protobuf as kubectl's
    typed clients send it). Raises BadRequest/415."""
    mtype = _media_type(content_type) or "application/json"
    if mtype == "application/json":
        data = _json_load(body)
    elif mtype in _YAML_TYPES:
        data = _yaml_load(body)
    elif mtype == protobuf.MEDIA_TYPE:
        data = protobuf.decode(body)
    else:
        raise errors.UnsupportedMediaType(
            f"the body of the request was in an unknown format - accepted media types "
            f"include: {_ACCEPTED_BODY_TYPES}"
        )
    if not isinstance(data, dict):
        raise errors.BadRequest(
            "couldn't get version/kind; json parse error: the request body must be an "
            "object"
        )
    return data


def decode_patch(body: bytes, content_type: str, duplicates: list[str] | None = None
                 ) -> tuple[PatchType, Any]:
    """The patch type and document of a PATCH body. Raises BadRequest/415. The keys an
    apply patch repeats in one mapping are appended to ``duplicates`` (go-yaml's strict
    wording, :func:`.yamljson.load`)."""
    mtype = _media_type(content_type)
    ptype = _PATCH_TYPES.get(mtype)
    if ptype is None:
        raise errors.UnsupportedMediaType(
            f"the server does not support the content type {mtype or '(none)'!r} for "
            "patches; use one of application/json-patch+json, "
            "application/merge-patch+json, application/strategic-merge-patch+json, "
            "application/apply-patch+yaml"
        )
    if ptype == "apply":
        doc = _yaml_load(body, duplicates)
        if not isinstance(doc, dict):
            raise errors.BadRequest("error decoding YAML: the apply patch must be an object")
        return ptype, doc
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.BadRequest(
            f"error decoding patch: {exc.msg} at offset {exc.pos}"
        ) from exc
    _check_depth(doc)
    if ptype == "json" and not isinstance(doc, list):
        raise errors.BadRequest(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
        )
    if ptype != "json" and not isinstance(doc, dict):
        raise errors.BadRequest("error decoding patch: the patch must be a JSON object")
    return ptype, doc
