"""Structural schemas of rbac.authorization.k8s.io/v1 (v1.32): Role, ClusterRole (with its
aggregationRule), RoleBinding and ClusterRoleBinding, and of authorization.k8s.io/v1
SubjectAccessReview and LocalSubjectAccessReview (the reviews that name a subject).
Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import AUTHZ, M, S, arr, defn, mapof, ref

#: Upstream's definition-name prefix of the RBAC group.
RBAC = "io.k8s.api.rbac.v1."

_STRINGS = arr(S, list_type="atomic")

defn(
    RBAC + "PolicyRule",
    {
        "apiGroups": _STRINGS,
        "nonResourceURLs": _STRINGS,
        "resourceNames": _STRINGS,
        "resources": _STRINGS,
        "verbs": _STRINGS,
    },
    required=("verbs",),
)
defn(
    RBAC + "AggregationRule",
    {"clusterRoleSelectors": arr(ref(M + "LabelSelector"), list_type="atomic")},
)
defn(
    RBAC + "Role",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "rules": arr(ref(RBAC + "PolicyRule"), list_type="atomic"),
    },
)
defn(
    RBAC + "ClusterRole",
    {
        "aggregationRule": ref(RBAC + "AggregationRule"),
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "rules": arr(ref(RBAC + "PolicyRule"), list_type="atomic"),
    },
)
defn(
    RBAC + "RoleRef",
    {"apiGroup": S, "kind": S, "name": S},
    required=("apiGroup", "kind", "name"),
    map_type="atomic",
)
defn(
    RBAC + "Subject",
    {"apiGroup": S, "kind": S, "name": S, "namespace": S},
    required=("kind", "name"),
    map_type="atomic",
)
for _kind in ("RoleBinding", "ClusterRoleBinding"):
    defn(
        RBAC + _kind,
        {
            "apiVersion": S,
            "kind": S,
            "metadata": ref(M + "ObjectMeta"),
            "roleRef": ref(RBAC + "RoleRef"),
            "subjects": arr(ref(RBAC + "Subject"), list_type="atomic"),
        },
        required=("roleRef",),
    )

defn(
    AUTHZ + "SubjectAccessReviewSpec",
    {
        "extra": mapof(arr(S)),
        "groups": _STRINGS,
        "nonResourceAttributes": ref(AUTHZ + "NonResourceAttributes"),
        "resourceAttributes": ref(AUTHZ + "ResourceAttributes"),
        "uid": S,
        "user": S,
    },
)
for _kind in ("SubjectAccessReview", "LocalSubjectAccessReview"):
    defn(
        AUTHZ + _kind,
        {
            "apiVersion": S,
            "kind": S,
            "metadata": ref(M + "ObjectMeta"),
            "spec": ref(AUTHZ + "SubjectAccessReviewSpec"),
            "status": ref(AUTHZ + "SubjectAccessReviewStatus"),
        },
        required=("spec",),
    )
