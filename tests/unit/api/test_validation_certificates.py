"""CertificateSigningRequest validation, message for message as upstream's
pkg/apis/certificates/validation (v1.32), and the CONDITION column."""

from __future__ import annotations

import base64
from typing import Any

from kubesvc.api import certificates as certs
from kubesvc.api import pki
from kubesvc.api.validation import validate_create, validate_status_update, validate_update
from kubesvc.api.validation.certificates import (
    validate_csr_approval_update,
    validate_signer_name,
)

KEY = certs.KEY


def csr(**spec: Any) -> dict[str, Any]:
    request = pki.make_csr(pki.new_key(), "system:node:a", ["system:nodes"])
    return {"apiVersion": certs.API_VERSION, "kind": "CertificateSigningRequest",
            "metadata": {"name": "c", "resourceVersion": "1"},
            "spec": {"request": base64.b64encode(request).decode(),
                     "signerName": "example.com/signer", "usages": ["client auth"], **spec}}


def messages(causes: list[Any]) -> dict[str, str]:
    return {c.field: c.message for c in causes}


def test_valid() -> None:
    assert validate_create(KEY, csr()) == []


def test_request_usages_signer_expiration() -> None:
    bad = csr(usages=["client auth", "bogus", "client auth"], expirationSeconds=599,
              signerName="kubernetes.io/legacy-unknown")
    bad["spec"]["request"] = base64.b64encode(b"-----BEGIN CERTIFICATE-----\n").decode()
    got = messages(validate_create(KEY, bad))
    assert got["spec.request"].endswith(": PEM block type must be CERTIFICATE REQUEST")
    assert got["spec.usages[1]"].startswith('Unsupported value: "bogus": supported values: '
                                            '"any", "cert sign", "client auth"')
    assert got["spec.usages[2]"] == 'Duplicate value: "client auth"'
    assert got["spec.signerName"] == ('Invalid value: "kubernetes.io/legacy-unknown": the '
                                      'legacy signerName is not allowed via this API version')
    assert got["spec.expirationSeconds"] == ("Invalid value: 599: may not specify a duration "
                                             "less than 600 seconds (10 minutes)")


def test_tampered_request_fails_the_signature_check() -> None:
    obj = csr()
    pem = bytearray(base64.b64decode(obj["spec"]["request"]))
    body = pem.index(b"\n") + 40
    pem[body] = ord("A") if pem[body] != ord("A") else ord("B")
    obj["spec"]["request"] = base64.b64encode(bytes(pem)).decode()
    got = messages(validate_create(KEY, obj))
    assert "spec.request" in got


def test_signer_name_forms() -> None:
    assert messages(validate_signer_name("s", "")) == {"s": "Required value"}
    assert messages(validate_signer_name("s", "a/b/c"))["s"].endswith(
        "must be a fully qualified domain and path of the form 'example.com/signer-name'")
    assert validate_signer_name("s", "example.com/x") == []
    assert "s" in messages(validate_signer_name("s", "Bad_Domain/x"))


def test_conditions() -> None:
    obj = csr()
    obj["status"] = {"conditions": [
        {"type": "Approved", "status": "False"}, {"type": "Denied", "status": "True"},
        {"type": "", "status": ""}]}
    got = validate_create(KEY, obj)
    text = [f"{c.field}: {c.message}" for c in got]
    assert ('status.conditions[0].status: Unsupported value: "False": supported values: '
            '"True"') in text
    assert ('status.conditions: Invalid value: "Denied": Approved and Denied conditions are '
            'mutually exclusive') in text
    assert "status.conditions[2].type: Required value" in text
    assert "status.conditions[2].status: Required value" in text


def test_updates() -> None:
    old = csr()
    new = csr()
    new["spec"] = old["spec"]
    new["status"] = {"conditions": [{"type": "Approved", "status": "True"}]}
    assert messages(validate_update(KEY, new, old))["status.conditions"] == (
        'Forbidden: updates may not add a condition of type "Approved"')
    assert validate_csr_approval_update(new, old) == []
    # Removing a condition is refused everywhere, approval included.
    assert messages(validate_csr_approval_update(old, new))["status.conditions"] == (
        'Forbidden: updates may not remove a condition of type "Approved"')
    cert = {"status": {"certificate": base64.b64encode(b"x").decode()}}
    assert messages(validate_update(KEY, {**old, **cert}, old))["status.certificate"] == (
        "Forbidden: updates may not set certificate content")
    got = messages(validate_status_update(KEY, {**old, **cert}, old))
    assert got["status.certificate"] == ('Invalid value: "<certificate data>": must contain at '
                                         'least one CERTIFICATE PEM block')


def test_condition_string() -> None:
    obj = csr()
    assert certs.condition_string(obj) == "Pending"
    obj["status"] = {"conditions": [{"type": "Denied"}, {"type": "Failed"}]}
    assert certs.condition_string(obj) == "Denied,Failed"
    obj["status"] = {"conditions": [{"type": "Approved"}], "certificate": "eA=="}
    assert certs.condition_string(obj) == "Approved,Issued"
