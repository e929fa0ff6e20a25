"""Structural schema of certificates.k8s.io/v1 CertificateSigningRequest (v1.32).
Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import BYTES, I32, M, S, arr, condition_fields, defn, mapof, ref

#: Upstream's definition-name prefix of the certificates.k8s.io group.
CERT = "io.k8s.api.certificates.v1."

_STRINGS = arr(S, list_type="atomic")

defn(
    CERT + "CertificateSigningRequest",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(CERT + "CertificateSigningRequestSpec"),
        "status": ref(CERT + "CertificateSigningRequestStatus"),
    },
    required=("spec",),
)
defn(
    CERT + "CertificateSigningRequestSpec",
    {
        "expirationSeconds": I32,
        "extra": mapof(_STRINGS),
        "groups": _STRINGS,
        "request": {**BYTES, "x-kubernetes-list-type": "atomic"},
        "signerName": S,
        "uid": S,
        "usages": _STRINGS,
        "username": S,
    },
    required=("request", "signerName"),
)
defn(
    CERT + "CertificateSigningRequestStatus",
    {
        "certificate": {**BYTES, "x-kubernetes-list-type": "atomic"},
        "conditions": arr(ref(CERT + "CertificateSigningRequestCondition"), list_type="map",
                          map_keys=("type",)),
    },
)
defn(
    CERT + "CertificateSigningRequestCondition",
    condition_fields("lastTransitionTime", "lastUpdateTime"),
    required=("type", "status"),
)
