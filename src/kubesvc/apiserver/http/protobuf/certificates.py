"""Protobuf field tables of certificates.k8s.io/v1 CertificateSigningRequest, written by
hand from k8s.io/api ``certificates/v1/generated.proto`` (v1.32) and merged into the
generated :mod:`.schema` tables by :mod:`.decode`: ``kubectl certificate approve|deny``
sends its approval update as protobuf. Same shape as :mod:`.schema`.
"""

from __future__ import annotations

_P = "k8s.io.api.certificates.v1."
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."

ROOTS: dict[tuple[str, str], str] = {
    ("certificates.k8s.io/v1", "CertificateSigningRequest"): _P + "CertificateSigningRequest",
}

MESSAGES: dict[str, dict[int, tuple[str, str, int]]] = {
    _P + "CertificateSigningRequest": {
        1: ("metadata", _META + "ObjectMeta", 0),
        2: ("spec", _P + "CertificateSigningRequestSpec", 0),
        3: ("status", _P + "CertificateSigningRequestStatus", 0),
    },
    _P + "CertificateSigningRequestSpec": {
        1: ("request", "bytes", 0),
        2: ("username", "string", 0),
        3: ("uid", "string", 0),
        4: ("groups", "string", 1),
        5: ("usages", "string", 1),
        6: ("extra", "string," + _P + "ExtraValue", 2),
        7: ("signerName", "string", 0),
        8: ("expirationSeconds", "int32", 0),
    },
    _P + "CertificateSigningRequestStatus": {
        1: ("conditions", _P + "CertificateSigningRequestCondition", 1),
        2: ("certificate", "bytes", 0),
    },
    _P + "CertificateSigningRequestCondition": {
        1: ("type", "string", 0),
        2: ("reason", "string", 0),
        3: ("message", "string", 0),
        4: ("lastUpdateTime", _META + "Time", 0),
        5: ("lastTransitionTime", _META + "Time", 0),
        6: ("status", "string", 0),
    },
    _P + "ExtraValue": {
        1: ("items", "string", 1),
    },
}
