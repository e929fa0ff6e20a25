"""Authorization of each request (``system:anonymous`` included): impersonation (upstream's
``WithImpersonation`` filter: ``Impersonate-User``/``-Group``/``-Uid``/``-Extra-*``, each
needing the ``impersonate`` verb), then the RBAC decision over the request's attributes
(``WithAuthorization``: upstream's ``Forbidden`` Status when denied), then — for writes of
Roles, ClusterRoles and their bindings — upstream's escalation prevention (the caller must
hold every permission granted, or the ``escalate``/``bind`` verb). With a Node authorizer
(:mod:`.nodeauthz`) it decides first, as ``--authorization-mode=Node,RBAC``; the
NodeRestriction admission of node writes is :mod:`.noderestriction`.

Called by :mod:`.app` for every request; reads the
:class:`~.rbacpolicy.PolicyCache` through :mod:`kubesvc.api.rbac` (no store reads, except
a dry-run PATCH to learn what a patched role or binding would grant).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from aiohttp import web

from kubesvc import errors
from kubesvc.api.rbac.attributes import Attributes, forbidden_status_message, request_attributes
from kubesvc.api.rbac.authorizer import (
    PRIVILEGED_GROUP,
    Decision,
    PolicySource,
    authorize,
    rules_for,
)
from kubesvc.api.rbac.escalation import FULL_AUTHORITY, escalation_message, missing_rules
from kubesvc.api.rbac.nodegraph import NODE_USER_PREFIX, node_identity
from kubesvc.api.rbac.rules import Rule
from kubesvc.api.validation.field import go_quote as _q
from kubesvc.apiserver.http import noderestriction, params
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.crud import decode_body_object, read_body
from kubesvc.apiserver.http.negotiation import decode_patch
from kubesvc.apiserver.http.paths import Target
from kubesvc.apiserver.http.tokens import TOKEN_REQUEST

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS_USER = "system:anonymous"
SA_PREFIX = "system:serviceaccount:"
RBAC_GROUP = "rbac.authorization.k8s.io"
_ROLE_KINDS = frozenset({"roles", "clusterroles"})
_BINDING_KINDS = frozenset({"rolebindings", "clusterrolebindings"})
_OPERATIONS = {"POST": "CREATE", "PUT": "UPDATE", "PATCH": "UPDATE", "DELETE": "DELETE"}


def groups_of(user: User) -> tuple[str, ...]:
    """The user's groups with the one upstream's authenticators add to every user."""
    if user.name == ANONYMOUS_USER or AUTHENTICATED in user.groups \
            or UNAUTHENTICATED in user.groups:
        return user.groups
    return (*user.groups, AUTHENTICATED)


def forbidden(attrs: Attributes, reason: str = "") -> errors.Forbidden:
    return errors.Forbidden(forbidden_status_message(attrs, reason), name=attrs.name,
                            group=attrs.api_group, kind=attrs.resource)


class NodeDecider(Protocol):
    def decide(self, attrs: Attributes) -> Decision: ...


class Authz:
    """``--authorization-mode=Node,RBAC``: the Node authorizer (when given), then RBAC over
    one PolicySource."""

    def __init__(self, source: PolicySource, backend: Backend, *,
                 node: NodeDecider | None = None) -> None:
        self.source = source
        self.backend = backend
        self.node = node

    def decide(self, attrs: Attributes) -> Decision:
        if self.node is None:
            return authorize(self.source, attrs)
        first = self.node.decide(attrs)
        if first.allowed:
            return first
        second = authorize(self.source, attrs)
        if second.allowed or not first.reason:
            return second
        # upstream's union authorizer joins the reasons of its "no opinion"s
        reason = first.reason + (f"\n{second.reason}" if second.reason else "")
        return Decision(False, reason)

    def rules(self, user: str, groups: Sequence[str], namespace: str) -> tuple[
            list[Rule], list[str]]:
        rules, errs = rules_for(self.source, user, groups, namespace)
        if self.node is not None and node_identity(user, groups)[0]:
            # upstream's NodeAuthorizer.RulesFor: a node's rules are not enumerable
            errs = ["node authorizer does not support user rule resolution", *errs]
        return rules, errs

    # -- the request filter
    def authorize_request(self, request: web.Request, user: User) -> Attributes:
        """Allow ``user`` (already impersonated, see :meth:`impersonate`) this request or
        raise upstream's Forbidden; returns the request's attributes."""
        attrs = request_attributes(request.method, request.path, request.rel_url.query,
                                   user=user.name, groups=groups_of(user), uid=user.uid)
        decision = self.decide(attrs)
        if not decision.allowed:
            raise forbidden(attrs, decision.reason)
        return attrs

    def impersonate(self, request: web.Request, user: User) -> User:
        """The user the request acts as: ``user`` itself, or whom its Impersonate-*
        headers name once ``user`` may impersonate each of them (else Forbidden)."""
        h = request.headers
        name = h.get("Impersonate-User", "")
        imp_groups = h.getall("Impersonate-Group", [])
        uid = h.get("Impersonate-Uid", "")
        extras = {k[len("Impersonate-Extra-"):].lower(): h.getall(k)
                  for k in h if k.lower().startswith("impersonate-extra-")}
        if not name:
            if imp_groups or uid or extras:
                # Upstream answers a plain-text 500 naming the v1.ObjectReferences (%v).
                refs = [_ref("Group", g) for g in imp_groups]
                refs += [_ref("UserExtra", v, field_path=k) for k, vs in extras.items()
                         for v in vs]
                if uid:
                    refs.append(_ref("UID", uid))
                raise web.HTTPInternalServerError(
                    text=f'Internal Server Error: "{request.rel_url}": requested '
                         f"[{' '.join(refs)}] without impersonating a user")
            return user
        groups = groups_of(user)
        checks: list[Attributes] = []
        base = Attributes(user.name, groups, "impersonate", uid=user.uid)
        if name.startswith(SA_PREFIX) and name.count(":") == 3:
            _, _, ns, sa = name.split(":")
            checks.append(dataclasses.replace(base, resource="serviceaccounts", namespace=ns,
                                              name=sa))
            new_groups = ["system:serviceaccounts", f"system:serviceaccounts:{ns}"]
        else:
            checks.append(dataclasses.replace(base, resource="users", name=name))
            new_groups = []
        for g in imp_groups:
            checks.append(dataclasses.replace(base, resource="groups", name=g))
            new_groups.append(g)
        for key, values in extras.items():
            for v in values:
                checks.append(dataclasses.replace(
                    base, api_group="authentication.k8s.io", resource="userextras",
                    subresource=key, name=v))
        if uid:
            checks.append(dataclasses.replace(base, api_group="authentication.k8s.io",
                                              resource="uids", name=uid))
        for attrs in checks:
            decision = self.decide(attrs)
            if not decision.allowed:
                raise forbidden(attrs, decision.reason)
        if name != ANONYMOUS_USER:
            if not any(g in (AUTHENTICATED, UNAUTHENTICATED) for g in new_groups):
                new_groups.append(AUTHENTICATED)
        elif UNAUTHENTICATED not in new_groups:
            new_groups.append(UNAUTHENTICATED)
        return User(name, uid, tuple(new_groups))

    # -- escalation prevention
    async def check_rbac_write(self, request: web.Request, target: Target,
                               attrs: Attributes) -> None:
        """Refuse a create/update/patch of an RBAC role or binding that grants more than
        the caller holds (unless it has ``escalate`` / ``bind``), as upstream's
        policybased storage does."""
        info = target.info
        if info.group != RBAC_GROUP or target.subresource or PRIVILEGED_GROUP in attrs.groups:
            return
        if request.method not in ("POST", "PUT", "PATCH"):
            return
        if info.plural in _ROLE_KINDS:
            escalate = dataclasses.replace(attrs, verb="escalate", subresource="")
            obj = await self._new_object(request, target)
            escalate = dataclasses.replace(escalate, name=_name(obj) or attrs.name)
            if self.decide(escalate).allowed:
                return
            ns = target.namespace or ""
            owned, errs = self.rules(attrs.user, attrs.groups, ns)
            name = _name(obj)
            gr = errors.Forbidden
            if info.plural == "clusterroles" and isinstance(obj.get("aggregationRule"), Mapping):
                if missing_rules(owned, FULL_AUTHORITY):
                    raise gr(f"{info.key} {_q(name)} is forbidden: must have cluster-admin "
                             "privileges to use the aggregationRule",
                             name=name, group=info.group, kind=info.plural)
                return
            wanted = [r for r in obj.get("rules") or [] if isinstance(r, Mapping)]
            missing = missing_rules(owned, wanted)
            if missing:
                raise gr(f"{info.key} {_q(name)} is forbidden: "
                         + escalation_message(attrs.user, attrs.groups, missing, errs),
                         name=name, group=info.group, kind=info.plural)
            return
        if info.plural in _BINDING_KINDS:
            obj = await self._new_object(request, target)
            ref = obj.get("roleRef") or {}
            ns = target.namespace or ""
            kind = ref.get("kind")
            bind = Attributes(attrs.user, attrs.groups, "bind", api_group=RBAC_GROUP,
                              resource="clusterroles" if kind == "ClusterRole" else "roles",
                              namespace=ns, name=str(ref.get("name") or ""), uid=attrs.uid)
            if self.decide(bind).allowed:
                return
            role = (self.source.cluster_role(str(ref.get("name") or ""))
                    if kind == "ClusterRole" else
                    self.source.role(ns, str(ref.get("name") or "")))
            name = _name(obj)
            if role is None:
                what = "clusterrole" if kind == "ClusterRole" else "role"
                raise errors.BadRequest(
                    f"{what}.rbac.authorization.k8s.io {_q(str(ref.get('name') or ''))} "
                    "not found")
            owned, errs = self.rules(attrs.user, attrs.groups, ns)
            wanted = [r for r in role.get("rules") or [] if isinstance(r, Mapping)]
            missing = missing_rules(owned, wanted)
            if missing:
                raise errors.Forbidden(
                    f"{info.key} {_q(name)} is forbidden: "
                    + escalation_message(attrs.user, attrs.groups, missing, errs),
                    name=name, group=info.group, kind=info.plural)

    # -- NodeRestriction admission
    async def admit_node(self, request: web.Request, target: Target,
                         attrs: Attributes) -> None:
        """Run NodeRestriction over a node's write (nodes only: it costs a body decode and,
        for PATCH, a dry run)."""
        op = _OPERATIONS.get(request.method)
        if op is None or not attrs.user.startswith(NODE_USER_PREFIX) or target.legacy_watch:
            return
        obj = None if op == "DELETE" else await self._new_object(request, target)
        await noderestriction.admit(self.backend, attrs, op, obj)

    async def _new_object(self, request: web.Request, target: Target) -> Mapping[str, Any]:
        """What the write would store: the body (POST/PUT) or a dry run of the patch."""
        body = await read_body(request)
        if request.method != "PATCH":
            # serviceaccounts/NAME/token takes a TokenRequest, not a ServiceAccount
            info = TOKEN_REQUEST if target.subresource == "token" else target.info
            return decode_body_object(info, body, request.headers.get("Content-Type", ""))
        q = request.rel_url.query
        opts = params.write_options(q, options_kind="PatchOptions")
        ptype, doc = decode_patch(body, request.headers.get("Content-Type", ""))
        return await self.backend.patch(
            target.info.key, target.name, doc, namespace=target.namespace, patch_type=ptype,
            subresource=target.subresource, opts=dataclasses.replace(opts, dry_run=True))


def _ref(kind: str, name: str, *, field_path: str = "") -> str:
    """A v1.ObjectReference as Go's %v prints it (kind, namespace, name, uid, apiVersion,
    resourceVersion, fieldPath)."""
    return "{" + " ".join([kind, "", name, "", "", "", field_path]) + "}"


def _name(obj: Mapping[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")
