"""certificates.k8s.io/v1 CertificateSigningRequest helpers shared by the API server, the
controllers and the node agent (upstream ``pkg/apis/certificates`` helpers.go and
``k8s.io/api/certificates/v1`` constants).

Parsing of ``spec.request`` (base64 of a PEM ``CERTIFICATE REQUEST``), the well-known
signer names, key usages, the kubelet client CSR check (``ValidateKubeletClientCSR``) and
the approval condition helpers (``GetCertApprovalCondition``). Pure code over
``cryptography``; no I/O.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

GROUP = "certificates.k8s.io"
RESOURCE = "certificatesigningrequests"
KEY = f"{RESOURCE}.{GROUP}"
API_VERSION = f"{GROUP}/v1"

KUBE_APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBE_APISERVER_CLIENT_KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
LEGACY_UNKNOWN = "kubernetes.io/legacy-unknown"

APPROVED = "Approved"
DENIED = "Denied"
FAILED = "Failed"

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"

#: Every usage upstream accepts (``allValidUsages``), sorted as ``sets.List`` lists them.
VALID_USAGES: tuple[str, ...] = tuple(sorted((
    "signing", "digital signature", "content commitment", "key encipherment",
    "key agreement", "data encipherment", "cert sign", "crl sign", "encipher only",
    "decipher only", "any", "server auth", "client auth", "code signing",
    "email protection", "s/mime", "ipsec end system", "ipsec tunnel", "ipsec user",
    "timestamping", "ocsp signing", "microsoft sgc", "netscape sgc",
)))

_KUBELET_CLIENT_USAGES = frozenset({"digital signature", "key encipherment", "client auth"})
_KUBELET_CLIENT_USAGES_NO_RSA = frozenset({"digital signature", "client auth"})

Obj = dict[str, Any]


class CsrError(ValueError):
    """``spec.request`` does not hold a valid, correctly signed PKCS#10 request."""


def request_pem(csr: Mapping[str, Any]) -> bytes:
    """The PEM bytes of ``spec.request`` (base64 on the wire)."""
    raw = ((csr.get("spec") or {}).get("request")) or ""
    if not isinstance(raw, str):
        raise CsrError("PEM block type must be CERTIFICATE REQUEST")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CsrError("PEM block type must be CERTIFICATE REQUEST") from exc


def parse_request(pem: bytes) -> x509.CertificateSigningRequest:
    """Upstream ``ParseCSR`` + ``CheckSignature``: one PEM ``CERTIFICATE REQUEST`` block,
    parsed, with a valid self-signature."""
    if b"-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise CsrError("PEM block type must be CERTIFICATE REQUEST")
    try:
        req = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CsrError(f"x509: malformed certificate request: {exc}") from exc
    try:
        ok = req.is_signature_valid
    except Exception as exc:  # unsupported key types raise from the backend
        raise CsrError(f"x509: cannot verify signature: {exc}") from exc
    if not ok:
        raise CsrError("x509: signature verification failure")
    return req


def parse_csr_object(csr: Mapping[str, Any]) -> x509.CertificateSigningRequest:
    return parse_request(request_pem(csr))


def common_name(req: x509.CertificateSigningRequest) -> str:
    attrs = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attrs[0].value) if attrs else ""


def organizations(req: x509.CertificateSigningRequest) -> list[str]:
    return [str(a.value) for a in req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]


def _sans(req: x509.CertificateSigningRequest) -> list[x509.GeneralName]:
    try:
        ext = req.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return list(ext.value)


def kubelet_client_error(req: x509.CertificateSigningRequest, usages: Iterable[str]) -> str:
    """Why ``req`` is not a kubelet client certificate request ("" when it is), in the words
    of upstream's ``ValidateKubeletClientCSR``."""
    if organizations(req) != [NODES_GROUP]:
        return "subject organization is not system:nodes"
    for san in _sans(req):
        if isinstance(san, x509.DNSName):
            return "dnsNames are not allowed"
        if isinstance(san, x509.RFC822Name):
            return "email addresses are not allowed"
        if isinstance(san, x509.IPAddress):
            return "IP addresses are not allowed"
        if isinstance(san, x509.UniformResourceIdentifier):
            return "URIs are not allowed"
    if not common_name(req).startswith(NODE_USER_PREFIX):
        return 'subject common name does not begin with "system:node:"'
    have = frozenset(usages)
    if have != _KUBELET_CLIENT_USAGES and have != _KUBELET_CLIENT_USAGES_NO_RSA:
        return (f"usages did not match {sorted(_KUBELET_CLIENT_USAGES_NO_RSA)!r}"
                .replace("'", '"'))
    return ""


def usages(csr: Mapping[str, Any]) -> list[str]:
    return [str(u) for u in (csr.get("spec") or {}).get("usages") or []]


def conditions(csr: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out = (csr.get("status") or {}).get("conditions") or []
    return [c for c in out if isinstance(c, Mapping)]


def has_condition(csr: Mapping[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind for c in conditions(csr))


def approval(csr: Mapping[str, Any]) -> tuple[bool, bool]:
    """(approved, denied), as upstream's ``GetCertApprovalCondition``."""
    return has_condition(csr, APPROVED), has_condition(csr, DENIED)


def certificate_pem(csr: Mapping[str, Any]) -> bytes:
    raw = (csr.get("status") or {}).get("certificate") or ""
    try:
        return base64.b64decode(raw) if isinstance(raw, str) else b""
    except (binascii.Error, ValueError):
        return b""


def condition_string(csr: Mapping[str, Any]) -> str:
    """The CONDITION column: Approved/Denied/Pending, then ``,Failed`` and ``,Issued``."""
    approved, denied = approval(csr)
    out = "Denied" if denied else "Approved" if approved else "Pending"
    if has_condition(csr, FAILED):
        out += ",Failed"
    if (csr.get("status") or {}).get("certificate"):
        out += ",Issued"
    return out
