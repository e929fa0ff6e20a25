"""Who each in-process component is: the clients ``kubesvc up`` and ``kubesvc server``
hand their components, each an :class:`~kubesvc.apiserver.http.identity.AuthorizedRegistry`
judged by the API server's own authorizer (Node, RBAC) — the controller manager as
``system:kube-controller-manager`` (its informers and event recorders) with each controller
writing as ``system:serviceaccount:kube-system:<controller>``, the scheduler as
``system:kube-scheduler``, the proxy as ``system:kube-proxy``, cluster DNS as the
``kube-system:coredns`` ServiceAccount and a host-mode node agent as ``system:node:<name>``.
The bootstrap policy (:mod:`kubesvc.api.rbac.componentroles`) grants each what it needs.

Informers shared by several components read the Registry directly; :meth:`shared_reads`
checks at start that every component reading one may list and watch it.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubesvc.api.rbac.componentroles import CONTROLLER_ACCOUNTS
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.authz import Authz
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.identity import (
    AuthorizedRegistry,
    controller_identity,
    node_identity,
    require_reads,
    system_user,
)


class Identities:
    """The component clients over one Registry and authorizer."""

    def __init__(self, registry: Backend, authz: Authz) -> None:
        self.registry = registry
        self.authz = authz
        self.controller_manager = self._as(system_user("system:kube-controller-manager"))
        self.scheduler = self._as(system_user("system:kube-scheduler"))
        self.proxy = self._as(system_user("system:kube-proxy"))
        self.dns = self._as(controller_identity("coredns"))
        self._controllers: dict[str, AuthorizedRegistry] = {}

    def _as(self, user: User) -> AuthorizedRegistry:
        return AuthorizedRegistry(self.registry, self.authz, user)

    def controller(self, name: str) -> AuthorizedRegistry:
        """The client controller ``name`` (a ControllerManager name) writes with."""
        c = self._controllers.get(name)
        if c is None:
            c = self._controllers[name] = self._as(
                controller_identity(CONTROLLER_ACCOUNTS[name]))
        return c

    def node(self, name: str) -> AuthorizedRegistry:
        return self._as(node_identity(name))

    @staticmethod
    def shared_reads(reader: AuthorizedRegistry, resources: Iterable[str]) -> None:
        """Forbidden unless ``reader`` may list and watch each shared resource."""
        require_reads(reader, resources)
