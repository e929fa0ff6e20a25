"""Structural schemas of the self-subject reviews (v1.32): authentication.k8s.io/v1
SelfSubjectReview (``kubectl auth whoami``) and authorization.k8s.io/v1
SelfSubjectAccessReview and SelfSubjectRulesReview (``kubectl auth can-i``). Imported by
``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import AUTHN, AUTHZ, B, M, S, arr, defn, mapof, ref

_STRINGS = arr(S, list_type="atomic")

defn(
    AUTHN + "SelfSubjectReview",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "status": ref(AUTHN + "SelfSubjectReviewStatus"),
    },
)
defn(AUTHN + "SelfSubjectReviewStatus", {"userInfo": ref(AUTHN + "UserInfo")})
defn(
    AUTHN + "UserInfo",
    {
        "extra": mapof(arr(S)),
        "groups": _STRINGS,
        "uid": S,
        "username": S,
    },
)

defn(
    AUTHZ + "SelfSubjectAccessReview",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(AUTHZ + "SelfSubjectAccessReviewSpec"),
        "status": ref(AUTHZ + "SubjectAccessReviewStatus"),
    },
    required=("spec",),
)
defn(
    AUTHZ + "SelfSubjectAccessReviewSpec",
    {
        "nonResourceAttributes": ref(AUTHZ + "NonResourceAttributes"),
        "resourceAttributes": ref(AUTHZ + "ResourceAttributes"),
    },
)
defn(AUTHZ + "NonResourceAttributes", {"path": S, "verb": S})
defn(
    AUTHZ + "ResourceAttributes",
    {
        "fieldSelector": ref(AUTHZ + "FieldSelectorAttributes"),
        "group": S,
        "labelSelector": ref(AUTHZ + "LabelSelectorAttributes"),
        "name": S,
        "namespace": S,
        "resource": S,
        "subresource": S,
        "verb": S,
        "version": S,
    },
)
defn(
    AUTHZ + "FieldSelectorAttributes",
    {
        "rawSelector": S,
        "requirements": arr(ref(M + "FieldSelectorRequirement"), list_type="atomic"),
    },
)
defn(
    M + "FieldSelectorRequirement",
    {"key": S, "operator": S, "values": _STRINGS},
    required=("key", "operator"),
)
defn(
    AUTHZ + "LabelSelectorAttributes",
    {
        "rawSelector": S,
        "requirements": arr(ref(M + "LabelSelectorRequirement"), list_type="atomic"),
    },
)
defn(
    AUTHZ + "SubjectAccessReviewStatus",
    {"allowed": B, "denied": B, "evaluationError": S, "reason": S},
    required=("allowed",),
)

defn(
    AUTHZ + "SelfSubjectRulesReview",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(AUTHZ + "SelfSubjectRulesReviewSpec"),
        "status": ref(AUTHZ + "SubjectRulesReviewStatus"),
    },
    required=("spec",),
)
defn(AUTHZ + "SelfSubjectRulesReviewSpec", {"namespace": S})
defn(
    AUTHZ + "SubjectRulesReviewStatus",
    {
        "evaluationError": S,
        "incomplete": B,
        "nonResourceRules": arr(ref(AUTHZ + "NonResourceRule"), list_type="atomic"),
        "resourceRules": arr(ref(AUTHZ + "ResourceRule"), list_type="atomic"),
    },
    required=("resourceRules", "nonResourceRules", "incomplete"),
)
defn(
    AUTHZ + "ResourceRule",
    {"apiGroups": _STRINGS, "resourceNames": _STRINGS, "resources": _STRINGS,
     "verbs": _STRINGS},
    required=("verbs",),
)
defn(
    AUTHZ + "NonResourceRule",
    {"nonResourceURLs": _STRINGS, "verbs": _STRINGS},
    required=("verbs",),
)
