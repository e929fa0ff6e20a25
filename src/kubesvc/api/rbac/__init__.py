"""RBAC as upstream's rbac.authorization.k8s.io evaluates it — pure code, no I/O.

- :mod:`.attributes`: the request attributes (upstream's ``RequestInfoFactory`` deriving
  verb, API group, resource, subresource, namespace and name from the method, path and
  query) and the ``Forbidden`` messages of the API server.
- :mod:`.rules`: matching one PolicyRule against attributes, subjects against a user.
- :mod:`.authorizer`: the decision over a :class:`~.authorizer.PolicySource` (roles and
  bindings kept by the API server's informers) and the rules a user holds in a namespace.
- :mod:`.escalation`: whether a user holds every permission of a role it writes or binds.
- :mod:`.aggregation`: the rules of an aggregated ClusterRole.
- :mod:`.bootstrap`: upstream's bootstrap ClusterRoles and ClusterRoleBindings.

Used by ``kubesvc.apiserver.authz``.
"""

from __future__ import annotations
