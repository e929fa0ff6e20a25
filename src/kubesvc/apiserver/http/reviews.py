"""The reviews: ``POST`` of a SelfSubjectReview (``kubectl auth whoami``),
SelfSubjectAccessReview (``kubectl auth can-i``), SelfSubjectRulesReview
(``kubectl auth can-i --list``), SubjectAccessReview or LocalSubjectAccessReview is
answered from the request body and the authenticated caller, and never stored.

With RBAC (an :class:`~.authz.Authz`) the access reviews ask the same authorizer the
requests go through, and the rules review lists the rules the caller holds in the
namespace (``*`` first for ``system:masters``, as upstream's privileged-group authorizer
reports). Without one (a server built without authentication) every caller may do
everything, as upstream's ``AlwaysAllow``. The caller's groups gain
``system:authenticated`` as upstream's authenticators add it. Validation and its messages
are upstream's (``pkg/apis/authorization/validation``).

Called by :mod:`.app`; the answers themselves (:func:`answer`) do no I/O.
"""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.authorizer import PRIVILEGED_GROUP
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.timefmt import rfc3339
from kubesvc.api.validation.field import GoRaw, invalid
from kubesvc.apiserver.http import params
from kubesvc.apiserver.http.auth import ANONYMOUS, User
from kubesvc.apiserver.http.authz import Authz, groups_of
from kubesvc.apiserver.http.crud import decode_body_object, for_write, read_body, respond
from kubesvc.apiserver.http.negotiation import negotiate
from kubesvc.apiserver.http.render import render_object
from kubesvc.apiserver.registry import fieldvalidation

__all__ = ["ANONYMOUS", "answer", "serve"]  # ANONYMOUS: the caller without authentication


def answer(info: ResourceInfo, obj: Obj, user: User, *, now: dt.datetime,
           authz: Authz | None = None, namespace: str | None = None) -> Obj:
    """The review ``obj`` (decoded, apiVersion/kind checked) answered for ``user``
    (``namespace``: the request's, for LocalSubjectAccessReview)."""
    if info.kind == "SelfSubjectReview":
        groups = list(user.groups)
        if user.name != ANONYMOUS.name and "system:authenticated" not in groups:
            groups.append("system:authenticated")
        user_info: Obj = {"username": user.name, "groups": groups}
        if user.uid:
            user_info["uid"] = user.uid
        if user.extra:
            user_info["extra"] = user.extra_dict()
        return {"kind": info.kind, "apiVersion": info.api_version,
                "metadata": {"creationTimestamp": rfc3339(now)},
                "status": {"userInfo": user_info}}
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = {}
    if info.kind in ("SelfSubjectAccessReview", "SubjectAccessReview",
                     "LocalSubjectAccessReview"):
        causes = _access_review_causes(obj, spec, info.kind)
        if causes:
            raise errors.invalid(info.kind, "", causes, group=info.group)
        md: Obj = {"creationTimestamp": None}
        if info.kind == "LocalSubjectAccessReview":
            ns = str((obj.get("metadata") or {}).get("namespace") or "")
            if namespace is not None and ns != namespace:
                raise errors.BadRequest("spec.resourceAttributes.namespace must match "
                                        f"namespace: {namespace}")
            md["namespace"] = ns
        if info.kind == "SelfSubjectAccessReview":
            name, groups_t, uid = user.name, groups_of(user), user.uid
        else:
            name = str(spec.get("user") or "")
            groups_t = tuple(str(g) for g in spec.get("groups") or [])
            uid = str(spec.get("uid") or "")
        return {**obj, "metadata": md, "spec": spec,
                "status": _access_status(authz, _review_attributes(spec, name, groups_t, uid))}
    if info.kind == "SelfSubjectRulesReview":
        if not spec.get("namespace"):
            raise errors.BadRequest("no namespace on request")
        return {"kind": info.kind, "apiVersion": info.api_version,
                "metadata": {"creationTimestamp": None}, "spec": {},
                "status": _rules_status(authz, user, str(spec["namespace"]))}
    raise errors.MethodNotAllowed("the server does not allow this method on the requested "
                                  "resource")


_ALL_RESOURCES: Obj = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
_ALL_URLS: Obj = {"verbs": ["*"], "nonResourceURLs": ["*"]}


def _review_attributes(spec: Obj, user: str, groups: tuple[str, ...], uid: str) -> Attributes:
    ra = spec.get("resourceAttributes")
    if isinstance(ra, dict):
        return Attributes(user, groups, str(ra.get("verb") or ""),
                          api_group=str(ra.get("group") or ""),
                          api_version=str(ra.get("version") or ""),
                          resource=str(ra.get("resource") or ""),
                          subresource=str(ra.get("subresource") or ""),
                          namespace=str(ra.get("namespace") or ""),
                          name=str(ra.get("name") or ""), uid=uid)
    nra = spec.get("nonResourceAttributes") or {}
    return Attributes(user, groups, str(nra.get("verb") or ""), resource_request=False,
                      path=str(nra.get("path") or ""), uid=uid)


def _access_status(authz: Authz | None, attrs: Attributes) -> Obj:
    if authz is None:
        return {"allowed": True}
    decision = authz.decide(attrs)
    out: Obj = {"allowed": decision.allowed}
    if decision.reason:
        out["reason"] = decision.reason
    return out


def _rules_status(authz: Authz | None, user: User, namespace: str) -> Obj:
    if authz is None:
        return {"resourceRules": [dict(_ALL_RESOURCES)],
                "nonResourceRules": [dict(_ALL_URLS)], "incomplete": False}
    groups = groups_of(user)
    resource_rules: list[Obj] = []
    url_rules: list[Obj] = []
    if PRIVILEGED_GROUP in groups:
        resource_rules.append(dict(_ALL_RESOURCES))
        url_rules.append(dict(_ALL_URLS))
    rules, errs = authz.rules(user.name, groups, namespace)
    for r in rules:
        if r.get("nonResourceURLs"):
            url_rules.append({"verbs": list(r.get("verbs") or []),
                              "nonResourceURLs": list(r["nonResourceURLs"])})
            continue
        rr: Obj = {"verbs": list(r.get("verbs") or [])}
        for k in ("apiGroups", "resources", "resourceNames"):
            if r.get(k):
                rr[k] = list(r[k])
        resource_rules.append(rr)
    out: Obj = {"resourceRules": resource_rules, "nonResourceRules": url_rules,
                "incomplete": bool(errs)}
    if errs:
        out["evaluationError"] = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
    return out


def _access_review_causes(obj: Obj, spec: Obj, kind: str) -> list[errors.Cause]:
    causes: list[errors.Cause] = []
    md = dict(obj.get("metadata") or {})
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if kind == "LocalSubjectAccessReview":
        ns = md.pop("namespace", None) or ""
        md.pop("managedFields", None)
        if any(v not in (None, "", {}, []) for v in md.values()):
            causes.append(invalid("metadata", GoRaw("v1.ObjectMeta{...}"),
                                  "must be empty except for namespace"))
        if isinstance(resource, dict) and (resource.get("namespace") or "") != ns:
            causes.append(invalid("spec.resourceAttributes.namespace",
                                  str(resource.get("namespace") or ""),
                                  "must match metadata.namespace"))
        if non_resource is not None:
            causes.append(invalid("spec.nonResourceAttributes", GoRaw(
                "&authorization.NonResourceAttributes{...}"),
                "disallowed on this kind of request"))
    elif any(v not in (None, "", {}, []) for v in md.values()):
        causes.append(invalid("metadata", GoRaw("v1.ObjectMeta{...}"), "must be empty"))
    if resource is not None and non_resource is not None:
        causes.append(invalid("spec.nonResourceAttributes", GoRaw("&authorization."
                              "NonResourceAttributes{...}"),
                              "cannot be specified in combination with resourceAttributes"))
    if resource is None and non_resource is None:
        causes.append(invalid("spec.resourceAttributes", None,
                              "exactly one of nonResourceAttributes or resourceAttributes "
                              "must be specified"))
    if kind != "SelfSubjectAccessReview" and not spec.get("user") and not spec.get("groups"):
        causes.append(invalid("spec.user", str(spec.get("user") or ""),
                              "at least one of user or group must be specified"))
    return causes


async def serve(request: web.Request, info: ResourceInfo, user: User | None, *,
                authz: Authz | None = None, namespace: str | None = None) -> web.Response:
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
    if namespace is not None and info.namespaced:
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    out = answer(info, obj, user or ANONYMOUS, now=dt.datetime.now(dt.UTC), authz=authz,
                 namespace=namespace if info.namespaced else None)
    return respond(render_object(info, out, neg, include_object="Object"), neg, status=201,
                   warnings=warnings)
