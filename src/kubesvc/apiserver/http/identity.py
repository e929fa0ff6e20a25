"""In-process identities: :class:`AuthorizedRegistry` is the Registry as one user sees it.
Each call builds the request's authorization attributes (as
:func:`~kubesvc.api.rbac.attributes.request_attributes` would from the URL), asks the API
server's authorizer (Node, then RBAC) and, for a node, runs NodeRestriction, then calls the
Registry — or raises the Forbidden the HTTP API would answer. ``kubesvc up`` and ``kubesvc
server`` give each of their components one (controllers as
``system:serviceaccount:kube-system:<controller>``, the scheduler as
``system:kube-scheduler``, the host node agent as ``system:node:<name>``), so an
in-process component holds exactly the permissions the same component would over HTTPS.

:func:`require_reads` checks, once at start, that an identity may list and watch what it
reads through informers shared by several components of one process (those list and watch
on the Registry itself, each change handled once).

Implements the :class:`~kubesvc.client.protocol.Client` protocol plus the Backend's
``subresource``/``name`` knobs that the scheduler's binding and the status writers use.
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from kubesvc.api.fieldselectors import parse_field_selector
from kubesvc.api.objects import Obj
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.nodegraph import NODE_USER_PREFIX
from kubesvc.api.resources import lookup
from kubesvc.apiserver.http import noderestriction
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.authz import Authz, forbidden, groups_of
from kubesvc.apiserver.http.backend import Backend
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import PatchType, WatchEventDict

log = logging.getLogger(__name__)


def _exact_name(selector: str) -> str:
    if not selector or "metadata.name" not in selector:
        return ""
    try:
        return parse_field_selector(selector).requires_exact_match("metadata.name") or ""
    except Exception:
        return ""


class AuthorizedRegistry:
    """The Registry, with every call authorized for ``user``."""

    def __init__(self, backend: Backend, authz: Authz, user: User) -> None:
        self.backend = backend
        self.authz = authz
        self.user = user
        self._groups = groups_of(user)
        self._is_node = user.name.startswith(NODE_USER_PREFIX)
        self._denied: set[tuple[str, str, str]] = set()
        # (verb, group, resource, subresource, namespace) allowed for every name, valid
        # while the policy's generation holds (see _check)
        self._allowed: set[tuple[str, str, str, str, str]] = set()
        self._generation: int | None = None

    def __repr__(self) -> str:
        return f"AuthorizedRegistry({self.user.name!r})"

    def _attrs(self, verb: str, resource: str, *, namespace: str | None, name: str = "",
               subresource: str = "", obj: Mapping[str, Any] | None = None) -> Attributes:
        info = lookup(resource)
        ns = ""
        if info.namespaced:
            md = (obj or {}).get("metadata") or {}
            ns = namespace or str(md.get("namespace") or "") or \
                ("default" if verb not in ("list", "watch") else "")
        return Attributes(self.user.name, self._groups, verb, api_group=info.group,
                          api_version=info.version, resource=info.plural,
                          subresource=subresource, namespace=ns, name=name, uid=self.user.uid)

    def _check(self, attrs: Attributes) -> None:
        # A decision allowed without a name is allowed for every name (a rule without
        # resourceNames matches all; the Node authorizer never allows a nameless read of
        # what its graph guards), so it is cached per policy generation: components repeat
        # the same verbs on many names.
        gen = getattr(self.authz.source, "generation", None)
        if gen is not None:
            if gen != self._generation or len(self._allowed) > 4096:
                self._allowed.clear()
                self._generation = gen
            key = (attrs.verb, attrs.api_group, attrs.resource, attrs.subresource,
                   attrs.namespace)
            if key in self._allowed:
                return
            nameless = attrs if not attrs.name else dataclasses.replace(attrs, name="")
            if self.authz.decide(nameless).allowed:
                self._allowed.add(key)
                return
        decision = self.authz.decide(attrs)
        if decision.allowed:
            return
        err = forbidden(attrs, decision.reason)
        denied = (attrs.verb, attrs.resource, attrs.subresource)
        if denied not in self._denied:  # a component missing a permission is a bug: say so
            self._denied.add(denied)
            log.warning("in-process %s: %s", self.user.name, err.message)
        raise err

    async def _admit(self, attrs: Attributes, op: str, obj: Mapping[str, Any] | None) -> None:
        if self._is_node:
            await noderestriction.admit(self.backend, attrs, op, obj)

    # -- reads
    async def get(self, resource: str, name: str, *, namespace: str | None = None,
                  subresource: str = "") -> Obj:
        self._check(self._attrs("get", resource, namespace=namespace, name=name,
                                subresource=subresource))
        return await self.backend.get(resource, name, namespace=namespace,
                                      subresource=subresource)

    async def list(self, resource: str, *, namespace: str | None = None,
                   opts: ListOptions = ListOptions()) -> Obj:
        self._check(self._attrs("list", resource, namespace=namespace,
                                name=_exact_name(opts.field_selector)))
        return await self.backend.list(resource, namespace=namespace, opts=opts)

    def watch(self, resource: str, *, namespace: str | None = None,
              opts: WatchOptions = WatchOptions()) -> AsyncIterator[WatchEventDict]:
        self._check(self._attrs("watch", resource, namespace=namespace,
                                name=_exact_name(opts.field_selector)))
        return self.backend.watch(resource, namespace=namespace, opts=opts)

    # -- writes
    async def create(self, resource: str, obj: Obj, *, namespace: str | None = None,
                     opts: WriteOptions = WriteOptions(),
                     warnings: builtins.list[str] | None = None, subresource: str = "",
                     name: str = "") -> Obj:
        attrs = self._attrs("create", resource, namespace=namespace, name=name,
                            subresource=subresource, obj=obj)
        self._check(attrs)
        await self._admit(attrs, "CREATE", obj)
        return await self.backend.create(resource, obj, namespace=namespace, opts=opts,
                                         warnings=warnings, subresource=subresource, name=name)

    async def update(self, resource: str, obj: Obj, *, namespace: str | None = None,
                     subresource: str = "", opts: WriteOptions = WriteOptions(),
                     warnings: builtins.list[str] | None = None) -> Obj:
        name = str((obj.get("metadata") or {}).get("name") or "")
        attrs = self._attrs("update", resource, namespace=namespace, name=name,
                            subresource=subresource, obj=obj)
        self._check(attrs)
        await self._admit(attrs, "UPDATE", obj)
        return await self.backend.update(resource, obj, namespace=namespace,
                                         subresource=subresource, opts=opts, warnings=warnings)

    async def patch(self, resource: str, name: str, patch: Any, *,
                    namespace: str | None = None, patch_type: PatchType = "merge",
                    subresource: str = "", opts: WriteOptions = WriteOptions(),
                    warnings: builtins.list[str] | None = None) -> Obj:
        attrs = self._attrs("patch", resource, namespace=namespace, name=name,
                            subresource=subresource)
        self._check(attrs)
        if self._is_node:  # NodeRestriction judges the patched object: a dry run first
            new: Mapping[str, Any] | None = None
            if not (patch_type in ("merge", "strategic") and isinstance(patch, Mapping)
                    and "metadata" not in patch and "spec" not in patch):
                new = await self.backend.patch(
                    resource, name, patch, namespace=namespace, patch_type=patch_type,
                    subresource=subresource, opts=dataclasses.replace(opts, dry_run=True))
            # else: a status-only patch leaves labels, taints and spec as they are, which is
            # all NodeRestriction compares (the agent's frequent pod status writes)
            await self._admit(attrs, "UPDATE", new)
        return await self.backend.patch(resource, name, patch, namespace=namespace,
                                        patch_type=patch_type, subresource=subresource,
                                        opts=opts, warnings=warnings)

    async def delete(self, resource: str, name: str, *, namespace: str | None = None,
                     opts: DeleteOptions = DeleteOptions()) -> Obj:
        attrs = self._attrs("delete", resource, namespace=namespace, name=name)
        self._check(attrs)
        await self._admit(attrs, "DELETE", None)
        return await self.backend.delete(resource, name, namespace=namespace, opts=opts)

    async def delete_collection(self, resource: str, *, namespace: str | None = None,
                                opts: DeleteOptions = DeleteOptions(),
                                list_opts: ListOptions = ListOptions()) -> Obj:
        self._check(self._attrs("deletecollection", resource, namespace=namespace))
        return await self.backend.delete_collection(resource, namespace=namespace, opts=opts,
                                                    list_opts=list_opts)


def require_reads(identity: AuthorizedRegistry, resources: Iterable[str]) -> None:
    """Raise Forbidden unless ``identity`` may list and watch each resource in every
    namespace (what a shared informer does on its behalf)."""
    for res in resources:
        for verb in ("list", "watch"):
            identity._check(identity._attrs(verb, res, namespace=None))


def system_user(name: str, *groups: str) -> User:
    return User(name, name, tuple(groups))


def controller_identity(account: str) -> User:
    """``system:serviceaccount:kube-system:<account>`` with the ServiceAccount groups."""
    return User(f"system:serviceaccount:kube-system:{account}", "",
                ("system:serviceaccounts", "system:serviceaccounts:kube-system"))


def node_identity(node: str) -> User:
    return User(f"{NODE_USER_PREFIX}{node}", f"{NODE_USER_PREFIX}{node}", ("system:nodes",))

