"""The self-subject reviews: ``POST`` of a SelfSubjectReview (``kubectl auth whoami``),
SelfSubjectAccessReview (``kubectl auth can-i``) or SelfSubjectRulesReview
(``kubectl auth can-i --list``) is answered from the request body and the authenticated
caller, and never stored.

kubesvc authorizes every authenticated caller for every request, as upstream's
``AlwaysAllow`` authorizer does, so an access review is always allowed (with no reason)
and the rules review lists ``*`` for every verb, group, resource and non-resource URL.
The caller's groups gain ``system:authenticated`` as upstream's authenticators add it.
Validation and its messages are upstream's (``pkg/apis/authorization/validation``).

Called by :mod:`.app`; the answers themselves (:func:`answer`) are pure.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.timefmt import rfc3339
from kubesvc.api.validation.field import GoRaw, invalid
from kubesvc.apiserver.http import params
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.crud import decode_body_object, for_write, read_body, respond
from kubesvc.apiserver.http.negotiation import negotiate
from kubesvc.apiserver.http.render import render_object
from kubesvc.apiserver.registry import fieldvalidation

#: The caller when the server runs without authentication (tests that build the app).
ANONYMOUS = User("system:anonymous", "", ("system:unauthenticated",))


def answer(info: ResourceInfo, obj: Obj, user: User, *, now: dt.datetime) -> Obj:
    """The review ``obj`` (decoded, apiVersion/kind checked) answered for ``user``."""
    if info.kind == "SelfSubjectReview":
        groups = list(user.groups)
        if user.name != ANONYMOUS.name and "system:authenticated" not in groups:
            groups.append("system:authenticated")
        user_info: Obj = {"username": user.name, "groups": groups}
        if user.uid:
            user_info["uid"] = user.uid
        return {"kind": info.kind, "apiVersion": info.api_version,
                "metadata": {"creationTimestamp": rfc3339(now)},
                "status": {"userInfo": user_info}}
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    if info.kind == "SelfSubjectAccessReview":
        causes = _access_review_causes(obj, spec)
        if causes:
            raise errors.invalid(info.kind, "", causes, group=info.group)
        return {**obj, "metadata": {"creationTimestamp": None}, "spec": spec,
                "status": {"allowed": True}}
    if info.kind == "SelfSubjectRulesReview":
        if not spec.get("namespace"):
            raise errors.BadRequest("no namespace on request")
        return {"kind": info.kind, "apiVersion": info.api_version,
                "metadata": {"creationTimestamp": None}, "spec": {},
                "status": {
                    "resourceRules": [{"verbs": ["*"], "apiGroups": ["*"],
                                       "resources": ["*"]}],
                    "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}],
                    "incomplete": False}}
    raise errors.MethodNotAllowed("the server does not allow this method on the requested "
                                  "resource")


def _access_review_causes(obj: Obj, spec: Obj) -> list[errors.Cause]:
    causes: list[errors.Cause] = []
    md = obj.get("metadata") or {}
    if any(v not in (None, "", {}, []) for v in md.values()):
        causes.append(invalid("metadata", GoRaw("v1.ObjectMeta{...}"), "must be empty"))
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        causes.append(invalid("spec.nonResourceAttributes", GoRaw("&authorization."
                              "NonResourceAttributes{...}"),
                              "cannot be specified in combination with resourceAttributes"))
    if resource is None and non_resource is None:
        causes.append(invalid("spec.resourceAttributes", None,
                              "exactly one of nonResourceAttributes or resourceAttributes "
                              "must be specified"))
    return causes


async def serve(request: web.Request, info: ResourceInfo, user: User | None) -> web.Response:
    """Answer one review POST with 201 and the answered object (``dryRun`` changes nothing:
    nothing is stored either way; ``fieldValidation`` works as for any create)."""
    neg = for_write(negotiate(request.headers.get("Accept", "")))
    q = request.rel_url.query
    params.dry_run(q)  # rejects an unknown dryRun value as upstream
    validation = params.field_validation(q)
    body = await read_body(request)
    obj = decode_body_object(info, body, request.headers.get("Content-Type", ""))
    warnings: list[str] = []
    fieldvalidation.check_fields(info, obj, validation, warnings)
    out = answer(info, obj, user or ANONYMOUS, now=dt.datetime.now(dt.UTC))
    return respond(render_object(info, out, neg, include_object="Object"), neg, status=201,
                   warnings=warnings)
