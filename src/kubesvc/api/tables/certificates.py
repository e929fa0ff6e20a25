"""Table printer of certificates.k8s.io/v1 CertificateSigningRequest, as upstream's
printers.go (``printCertificateSigningRequest``): NAME, AGE, SIGNERNAME, REQUESTOR,
REQUESTEDDURATION (``<none>`` without ``spec.expirationSeconds``) and CONDITION
(Approved/Denied/Pending, then ``,Failed`` and ``,Issued``). Used by
:mod:`kubesvc.api.tables`.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.certificates import condition_string
from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, human_duration, name

_COLUMNS = (
    NAME,
    AGE,
    Column("SignerName", description="Requested signer for the request. It is a qualified "
           "name in the form: `scope-hostname.io/name`."),
    Column("Requestor", description="Name of the user requesting the certificate."),
    Column("RequestedDuration", description="ExpirationSeconds is the requested duration of "
           "validity of the issued certificate."),
    Column("Condition", description="Conditions applied to the request, such as approval "
           "or denial."),
)


def _cells(obj: Obj, now: float, wide: bool = True) -> list[Any]:
    spec = obj.get("spec") or {}
    exp = spec.get("expirationSeconds")
    duration = human_duration(float(exp)) if isinstance(exp, int) else "<none>"
    return [name(obj), age(obj, now), str(spec.get("signerName") or "<none>"),
            str(spec.get("username") or ""), duration, condition_string(obj)]


CSR = Printer(_COLUMNS, _cells)
