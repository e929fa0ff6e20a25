"""The ServiceAccount token endpoints: ``POST .../serviceaccounts/NAME/token`` (an
authentication.k8s.io/v1 TokenRequest, ``kubectl create token``), ``POST
/apis/authentication.k8s.io/v1/tokenreviews`` (TokenReview), and the OIDC discovery
documents ``/.well-known/openid-configuration`` and ``/openid/v1/jwks``.

Behaviour and messages are upstream's (``pkg/registry/core/serviceaccount/storage/token.go``,
``pkg/registry/authentication/tokenreview``, ``pkg/serviceaccount/openidmetadata.go``):
expirationSeconds defaults to 3600 and must be 10 minutes to 2^32 seconds; audiences
default to the API audiences; a token may be bound to a Pod (running as that
ServiceAccount), a Secret or a Node; a pod-bound token asked for 3607 s (what the kubelet
asks for a projected volume) is extended to a year with ``warnafter`` at 3607 s, as
``--service-account-extend-token-expiration`` does by default.

Called by :mod:`.app`; reads objects through the Backend and signs with :mod:`.satoken`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.timefmt import rfc3339
from kubesvc.api.validation.field import invalid
from kubesvc.apiserver.http import params
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.crud import decode_body_object, for_write, read_body, respond
from kubesvc.apiserver.http.negotiation import negotiate
from kubesvc.apiserver.http.paths import Target
from kubesvc.apiserver.http.render import render_object
from kubesvc.apiserver.http.satoken import (
    ServiceAccountAuthenticator,
    SigningKey,
    claims,
)
from kubesvc.apiserver.registry import fieldvalidation

AUTHN = "authentication.k8s.io"
#: The TokenRequest kind (a subresource's body: not in the resource table).
TOKEN_REQUEST = ResourceInfo(AUTHN, "v1", "TokenRequest", "tokenrequests", "tokenrequest",
                             True, verbs=("create",), stored=False)
DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
WARN_ONLY_EXPIRATION = 3607  # upstream's WarnOnlyBoundTokenExpirationSeconds
EXTENDED_EXPIRATION = 365 * 24 * 3600  # upstream's ExpirationExtensionSeconds
OIDC_CONFIG_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/openid/v1/jwks"
OIDC_PATHS = frozenset({OIDC_CONFIG_PATH, OIDC_CONFIG_PATH + "/", JWKS_PATH, JWKS_PATH + "/"})
_TOKEN_GROUP_KIND = "TokenRequest.authentication.k8s.io"


@dataclass(slots=True)
class TokenIssuer:
    """What the token endpoints need: the signing key, the authenticator (whose first
    issuer and API audiences new tokens get), where the JWKS is served, and the
    extension of kubelet-asked tokens."""

    key: SigningKey
    authenticator: ServiceAccountAuthenticator
    jwks_uri: str = ""
    extend_expiration: bool = True
    max_expiration: int = 0  # --service-account-max-token-expiration (0: none)

    @property
    def issuer(self) -> str:
        return self.authenticator.issuers[0]

    @property
    def api_audiences(self) -> tuple[str, ...]:
        return self.authenticator.api_audiences

    # -- OIDC discovery
    def openid_configuration(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks_uri": self.jwks_uri,
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.jwk()]}

    def serve_oidc(self, request: web.Request, path: str) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")
        if path.rstrip("/") == OIDC_CONFIG_PATH:
            body, ctype = orjson.dumps(self.openid_configuration()), "application/json"
        else:
            body, ctype = orjson.dumps(self.jwks()), "application/jwk-set+json"
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = ctype
        resp.headers["Cache-Control"] = "public, max-age=3600"
        return resp

    # -- TokenRequest
    async def serve_token_request(self, request: web.Request, target: Target,
                                  backend: Backend) -> web.Response:
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        q = request.rel_url.query
        dry_run = params.dry_run(q)
        validation = params.field_validation(q)
        body = await read_body(request)
        req = decode_body_object(TOKEN_REQUEST, body, request.headers.get("Content-Type", ""))
        warnings: list[str] = []
        fieldvalidation.check_fields(TOKEN_REQUEST, req, validation, warnings)
        out = await self.token_request(req, namespace=target.namespace or "",
                                       name=target.name, backend=backend,
                                       warnings=warnings, dry_run=dry_run)
        return respond(render_object(TOKEN_REQUEST, out, neg, include_object="Object"), neg,
                       status=201, warnings=warnings)

    async def token_request(self, req: Obj, *, namespace: str, name: str, backend: Backend,
                            warnings: list[str] | None = None, dry_run: bool = False,
                            now: dt.datetime | None = None) -> Obj:
        """Answer the TokenRequest ``req`` for ServiceAccount ``namespace/name``."""
        md = _dict(req.get("metadata"))
        if md.get("name") and md["name"] != name:
            raise errors.invalid("TokenRequest", name, [invalid(
                "metadata.name", md["name"], "must match the service account name if "
                "specified")], group=AUTHN)
        if md.get("namespace") and md["namespace"] != namespace:
            raise errors.invalid("TokenRequest", name, [invalid(
                "metadata.namespace", md["namespace"], "must match the service account "
                "namespace if specified")], group=AUTHN)
        sa = await backend.get("serviceaccounts", name, namespace=namespace)
        spec = dict(_dict(req.get("spec")))
        pod = secret = node = None
        ref = spec.get("boundObjectRef")
        if isinstance(ref, dict) and ref:
            pod, secret, node = await self._bound(ref, name, namespace, backend)
        if pod is not None and not node:
            node_name = (pod.get("spec") or {}).get("nodeName")
            if node_name:
                try:
                    node = await backend.get("nodes", str(node_name))
                except errors.NotFound:
                    node = None  # upstream: the token carries no node then
        audiences = [str(a) for a in spec.get("audiences") or []] or list(self.api_audiences)
        spec["audiences"] = audiences
        exp_raw = spec.get("expirationSeconds")
        expiration = DEFAULT_EXPIRATION if exp_raw in (None, 0) else int(exp_raw)
        spec["expirationSeconds"] = expiration
        causes = []
        if expiration < MIN_EXPIRATION:
            causes.append(invalid("spec.expirationSeconds", expiration,
                                  "may not specify a duration less than 10 minutes"))
        if expiration > MAX_EXPIRATION:
            causes.append(invalid("spec.expirationSeconds", expiration,
                                  "may not specify a duration larger than 2^32 seconds"))
        if causes:
            raise errors.invalid("TokenRequest", "", causes, group=AUTHN)
        if self.max_expiration and expiration > self.max_expiration:
            if warnings is not None:
                warnings.append(f"requested expiration of {expiration} seconds shortened "
                                f"to {self.max_expiration} seconds")
            expiration = spec["expirationSeconds"] = self.max_expiration
        warn_after, exp = 0, expiration
        if (self.extend_expiration and pod is not None and expiration == WARN_ONLY_EXPIRATION
                and set(audiences) <= set(self.api_audiences)):
            warn_after, exp = expiration, EXTENDED_EXPIRATION
        now = now or dt.datetime.now(dt.UTC)
        token = "" if dry_run else self.key.sign(claims(
            sa, issuer=self.issuer, audiences=audiences, expiration_seconds=exp, now=now,
            pod=pod, secret=secret, node=node, warn_after=warn_after))
        out_md: Obj = {"name": name, "namespace": namespace,
                       "creationTimestamp": rfc3339(now)}
        return {"kind": "TokenRequest", "apiVersion": TOKEN_REQUEST.api_version,
                "metadata": out_md, "spec": spec,
                "status": {"token": token, "expirationTimestamp": rfc3339(
                    now + dt.timedelta(seconds=expiration))}}

    async def _bound(self, ref: dict[str, Any], sa_name: str, namespace: str,
                     backend: Backend) -> tuple[Obj | None, Obj | None, Obj | None]:
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        group, _, version = api_version.rpartition("/")
        obj_name = str(ref.get("name") or "")
        pod = secret = node = None
        if group == "" and kind == "Pod":
            obj = pod = await backend.get("pods", obj_name, namespace=namespace)
            pod_sa = (pod.get("spec") or {}).get("serviceAccountName") or ""
            if pod_sa != sa_name:
                raise errors.BadRequest(f"cannot bind token for serviceaccount {_q(sa_name)} "
                                        f"to pod running with serviceaccount {_q(pod_sa)}")
        elif group == "" and kind == "Secret":
            obj = secret = await backend.get("secrets", obj_name, namespace=namespace)
        elif group == "" and kind == "Node":
            obj = node = await backend.get("nodes", obj_name)
        else:
            gvk = f"{group}/{version}, Kind={kind}"
            raise errors.BadRequest(f"cannot bind token to object of type {gvk}")
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        want = str(ref.get("uid") or "")
        if want and want != uid:
            raise errors.Conflict(
                f"Operation cannot be fulfilled on {kind} {_q(obj_name)}: the UID in the "
                f"bound object reference ({want}) does not match the UID in record "
                f"({uid}). The object might have been deleted and then recreated",
                name=obj_name, kind=kind)
        return pod, secret, node

    # -- TokenReview
    async def token_review(self, review: Obj, *, namespace: str | None = None) -> Obj:
        """Answer a TokenReview (upstream's ``tokenreview.REST.Create``)."""
        if namespace:
            raise errors.BadRequest(f"namespace is not allowed on this type: {namespace}")
        spec = _dict(review.get("spec"))
        token = str(spec.get("token") or "")
        if not token:
            raise errors.BadRequest("token is required for TokenReview in authentication")
        wanted: Sequence[str] = [str(a) for a in spec.get("audiences") or []]
        status: Obj = {"authenticated": False, "user": {}}
        result = await self.authenticator.authenticate(
            token, list(wanted) or list(self.api_audiences))
        if result.user is None:
            # as kube-apiserver's authenticator union words it
            status["error"] = (f"[invalid bearer token, {result.error}]" if result.error
                               else "invalid bearer token")
        else:
            u = result.user
            groups = [*u.groups, "system:authenticated"]
            status = {"authenticated": True, "user": {
                "username": u.name, "uid": u.uid, "groups": groups,
                "extra": u.extra_dict()}, "audiences": list(result.audiences)}
        md = dict(review.get("metadata") or {})
        md.setdefault("creationTimestamp", None)
        return {"kind": "TokenReview", "apiVersion": f"{AUTHN}/v1", "metadata": md,
                "spec": spec, "status": status}

    async def serve_token_review(self, request: web.Request, info: ResourceInfo,
                                 namespace: str | None) -> web.Response:
        neg = for_write(negotiate(request.headers.get("Accept", "")))
        q = request.rel_url.query
        params.dry_run(q)
        validation = params.field_validation(q)
        body = await read_body(request)
        obj = decode_body_object(info, body, request.headers.get("Content-Type", ""))
        warnings: list[str] = []
        fieldvalidation.check_fields(info, obj, validation, warnings)
        out = await self.token_review(obj, namespace=namespace)
        return respond(render_object(info, out, neg, include_object="Object"), neg,
                       status=201, warnings=warnings)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _q(s: str) -> str:
    return orjson.dumps(s).decode()
