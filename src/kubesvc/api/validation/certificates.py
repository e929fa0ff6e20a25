"""Validation of certificates.k8s.io/v1 CertificateSigningRequest, as upstream's
``pkg/apis/certificates/validation`` (v1.32): the request must parse and carry a valid
self-signature, usages are required, known and unique, the signerName has the
``domain/path`` form, ``expirationSeconds`` is at least 600, conditions are well formed
(Approved/Denied/Failed only ``True``; Approved and Denied exclusive; no duplicates), and
``status.certificate`` holds only CERTIFICATE PEM blocks. Updates may not remove those
conditions; only the ``approval`` subresource may add or change Approved/Denied; only the
``status`` subresource may set the certificate, and never change one already set.

Dispatched by :mod:`kubesvc.api.validation` (create/update/status) and by the registry's
CSR strategy (approval). Pure code.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography import x509

from kubesvc.api import certificates as certs
from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation.formats import is_dns1123_subdomain
from kubesvc.errors import Cause

_TRUE_ONLY = frozenset({certs.APPROVED, certs.DENIED, certs.FAILED})
_ALL_STATUS = ("False", "True", "Unknown")


def _no_name_rules(name: str, prefix: bool) -> list[str]:
    return []  # "We don't care what you call your certificate requests."


def _bytes_literal(raw: Any) -> f.GoRaw:
    try:
        data = base64.b64decode(raw) if isinstance(raw, str) else b""
    except (binascii.Error, ValueError):
        data = str(raw).encode()
    return f.GoRaw("[]byte{" + ", ".join(f"0x{b:x}" for b in data) + "}")


def validate_signer_name(path: str, name: str) -> list[Cause]:
    """Upstream ``ValidateSignerName``."""
    if not name:
        return [f.required(path)]
    segments = name.split("/")
    if len(segments) != 2:
        return [f.invalid(path, name, "must be a fully qualified domain and path of the form "
                          "'example.com/signer-name'")]
    out: list[Cause] = []
    domain, rest = segments
    if len(domain) > 253:
        out.append(f.too_long(path, 253))
    else:
        for msg in is_dns1123_subdomain(domain):
            out.append(f.invalid(path, domain, msg))
    if not rest:
        out.append(f.invalid(path, name, "must be a fully qualified domain and path of the "
                             "form 'example.com/signer-name'"))
    elif len(rest) > 317:
        out.append(f.too_long(path, 317))
    return out


def _certificate_error(raw: Any) -> str:
    if not raw:
        return ""
    try:
        data = base64.b64decode(raw) if isinstance(raw, str) else b""
    except (binascii.Error, ValueError):
        return "must contain at least one CERTIFICATE PEM block"
    blocks = 0
    text = data.decode("latin-1")
    while "-----BEGIN " in text:
        start = text.index("-----BEGIN ")
        kind = text[start + 11:text.index("-----", start + 11)]
        end_marker = f"-----END {kind}-----"
        if end_marker not in text[start:]:
            break
        end = text.index(end_marker, start) + len(end_marker)
        if kind != "CERTIFICATE":
            return f'only CERTIFICATE PEM blocks are allowed, found "{kind}"'
        try:
            x509.load_pem_x509_certificate(text[start:end].encode("latin-1"))
        except ValueError as exc:
            return f"x509: malformed certificate: {exc}"
        blocks += 1
        text = text[end:]
    if blocks == 0:
        return "must contain at least one CERTIFICATE PEM block"
    return ""


def _conditions(csr: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    out: list[Cause] = []
    path = "status.conditions"
    conds = (csr.get("status") or {}).get("conditions") or []
    old_conds = certs.conditions(old) if old is not None else []
    old_types = [c.get("type") for c in old_conds]
    allow_empty = "" in old_types or None in old_types
    allow_dupes = len(old_types) != len(set(old_types))
    allow_both = old is not None and all(certs.approval(old))
    seen: set[str] = set()
    approved = denied = False
    for i, c in enumerate(conds if isinstance(conds, list) else []):
        c = c if isinstance(c, Mapping) else {}
        p = f.index(path, i)
        kind = str(c.get("type") or "")
        if not kind and not allow_empty:
            out.append(f.required(f.child(p, "type")))
        status = str(c.get("status") or "")
        allowed = ("True",) if kind in _TRUE_ONLY else _ALL_STATUS
        if not status:
            out.append(f.required(f.child(p, "status")))
        elif status not in allowed:
            out.append(f.not_supported(f.child(p, "status"), status, allowed))
        if not allow_both:
            if kind == certs.APPROVED:
                approved = True
                if denied:
                    out.append(f.invalid(path, kind, "Approved and Denied conditions are "
                                         "mutually exclusive"))
            elif kind == certs.DENIED:
                denied = True
                if approved:
                    out.append(f.invalid(path, kind, "Approved and Denied conditions are "
                                         "mutually exclusive"))
        if not allow_dupes:
            if kind in seen:
                out.append(f.duplicate(f.child(p, "type"), kind))
            seen.add(kind)
    return out


def _validate(csr: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    out = meta.validate_object_meta(csr, False, _no_name_rules)
    spec = csr.get("spec") or {}
    try:
        certs.parse_csr_object(csr)
    except certs.CsrError as exc:
        out.append(f.invalid("spec.request", _bytes_literal(spec.get("request")), str(exc)))
    old_spec = (old.get("spec") or {}) if old is not None else {}
    usages = spec.get("usages") or []
    if not usages:
        out.append(f.required("spec.usages"))
    old_usages = old_spec.get("usages") or []
    if not any(u not in certs.VALID_USAGES for u in old_usages):
        for i, u in enumerate(usages):
            if u not in certs.VALID_USAGES:
                out.append(f.not_supported(f.index("spec.usages", i), u, certs.VALID_USAGES))
    if len(old_usages) == len(set(old_usages)):
        seen: set[str] = set()
        for i, u in enumerate(usages):
            if u in seen:
                out.append(f.duplicate(f.index("spec.usages", i), u))
            seen.add(str(u))
    signer = str(spec.get("signerName") or "")
    if signer == certs.LEGACY_UNKNOWN and old_spec.get("signerName") != certs.LEGACY_UNKNOWN:
        out.append(f.invalid("spec.signerName", signer,
                             "the legacy signerName is not allowed via this API version"))
    elif signer != certs.LEGACY_UNKNOWN:
        out.extend(validate_signer_name("spec.signerName", signer))
    exp = spec.get("expirationSeconds")
    if isinstance(exp, int) and exp < 600:
        out.append(f.invalid("spec.expirationSeconds", exp,
                             "may not specify a duration less than 600 seconds (10 minutes)"))
    out.extend(_conditions(csr, old))
    cert = (csr.get("status") or {}).get("certificate")
    old_cert = ((old.get("status") or {}).get("certificate")) if old is not None else None
    tolerated = old is not None and (cert == old_cert or _certificate_error(old_cert))
    if not tolerated:
        err = _certificate_error(cert)
        if err:
            out.append(f.invalid("status.certificate", f.GoRaw("\"<certificate data>\""), err))
    return out


def validate_csr(csr: Mapping[str, Any]) -> list[Cause]:
    return _validate(csr, None)


def _update(new: Mapping[str, Any], old: Mapping[str, Any], *, approval: bool,
            certificate: bool) -> list[Cause]:
    out = _validate(new, old)
    for kind in (certs.APPROVED, certs.DENIED, certs.FAILED):
        was = [c for c in certs.conditions(old) if c.get("type") == kind]
        now = [c for c in certs.conditions(new) if c.get("type") == kind]
        if len(now) < len(was):
            out.append(f.forbidden("status.conditions",
                                   f'updates may not remove a condition of type "{kind}"'))
    if not approval:
        for kind in (certs.APPROVED, certs.DENIED):
            was = [dict(c) for c in certs.conditions(old) if c.get("type") == kind]
            now = [dict(c) for c in certs.conditions(new) if c.get("type") == kind]
            if len(now) > len(was):
                out.append(f.forbidden("status.conditions",
                                       f'updates may not add a condition of type "{kind}"'))
            elif len(now) == len(was) and now != was:
                out.append(f.forbidden("status.conditions",
                                       f'updates may not modify a condition of type "{kind}"'))
    new_cert = (new.get("status") or {}).get("certificate") or ""
    old_cert = (old.get("status") or {}).get("certificate") or ""
    if new_cert != old_cert:
        if not certificate:
            out.append(f.forbidden("status.certificate", "updates may not set certificate "
                                   "content"))
        elif old_cert:
            out.append(f.forbidden("status.certificate", "updates may not modify existing "
                                   "certificate content"))
    return out + meta.validate_object_meta_update(new, old)


def validate_csr_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _update(new, old, approval=False, certificate=False)


def validate_csr_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return _update(new, old, approval=False, certificate=True)


def validate_csr_approval_update(new: Mapping[str, Any], old: Mapping[str, Any]
                                 ) -> list[Cause]:
    return _update(new, old, approval=True, certificate=False)
