"""Structural schemas of the ServiceAccount token kinds (v1.32): authentication.k8s.io/v1
TokenReview and TokenRequest (the body of ``serviceaccounts/NAME/token``). Imported by
``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import AUTHN, I64, B, M, S, T, arr, defn, ref

_STRINGS = arr(S, list_type="atomic")

defn(
    AUTHN + "TokenReview",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(AUTHN + "TokenReviewSpec"),
        "status": ref(AUTHN + "TokenReviewStatus"),
    },
    required=("spec",),
)
defn(AUTHN + "TokenReviewSpec", {"audiences": _STRINGS, "token": S})
defn(
    AUTHN + "TokenReviewStatus",
    {"audiences": _STRINGS, "authenticated": B, "error": S, "user": ref(AUTHN + "UserInfo")},
)
defn(
    AUTHN + "TokenRequest",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(AUTHN + "TokenRequestSpec"),
        "status": ref(AUTHN + "TokenRequestStatus"),
    },
    required=("spec",),
)
defn(
    AUTHN + "TokenRequestSpec",
    {"audiences": _STRINGS, "boundObjectRef": ref(AUTHN + "BoundObjectReference"),
     "expirationSeconds": I64},
    required=("audiences",),
)
defn(AUTHN + "BoundObjectReference", {"apiVersion": S, "kind": S, "name": S, "uid": S})
defn(AUTHN + "TokenRequestStatus", {"expirationTimestamp": T, "token": S},
     required=("token", "expirationTimestamp"))
