"""Table printers of rbac.authorization.k8s.io/v1 RoleBinding and ClusterRoleBinding, as
upstream's printers.go (``printRoleBinding`` / ``printClusterRoleBinding``): NAME, ROLE
(``Kind/name`` of the roleRef), AGE, and with ``-o wide`` the USERS, GROUPS and
SERVICEACCOUNTS (``namespace/name``) among the subjects. Roles and ClusterRoles have no
printer upstream (the default NAME, CREATED AT). Used by :mod:`kubesvc.api.tables`.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, name

_ROLE_REF = ("RoleRef can reference a Role in the current namespace or a ClusterRole in the "
             "global namespace. If the RoleRef cannot be resolved, the Authorizer must return "
             "an error. This field is immutable.")
_CLUSTER_ROLE_REF = ("RoleRef can only reference a ClusterRole in the global namespace. If "
                     "the RoleRef cannot be resolved, the Authorizer must return an error. "
                     "This field is immutable.")


def _columns(role_doc: str) -> tuple[Column, ...]:
    return (
        NAME,
        Column("Role", description=role_doc),
        AGE,
        Column("Users", priority=1, description="Users in the roleBinding"),
        Column("Groups", priority=1, description="Groups in the roleBinding"),
        Column("ServiceAccounts", priority=1, description="ServiceAccounts in the roleBinding"),
    )


def subjects_strings(subjects: Any) -> tuple[list[str], list[str], list[str]]:
    """Users, groups and service accounts (``ns/name``) of a binding's subjects."""
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in subjects if isinstance(subjects, list) else []:
        if not isinstance(s, dict):
            continue
        kind, nm, ns = s.get("kind"), str(s.get("name") or ""), str(s.get("namespace") or "")
        if kind == "User":
            users.append(nm)
        elif kind == "Group":
            groups.append(nm)
        elif kind == "ServiceAccount":
            sas.append(f"{ns}/{nm}" if ns else nm)
    return users, groups, sas


def binding_cells(obj: Obj, now: float, wide: bool = True) -> list[Any]:
    ref = obj.get("roleRef") or {}
    users, groups, sas = subjects_strings(obj.get("subjects"))
    return [name(obj), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


ROLE_BINDING = Printer(_columns(_ROLE_REF), binding_cells)
CLUSTER_ROLE_BINDING = Printer(_columns(_CLUSTER_ROLE_REF), binding_cells)
