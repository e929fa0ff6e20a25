"""The certificates.k8s.io controllers: the approver's decisions (which recognizer, which
SubjectAccessReview, which requests it leaves alone), the signer's certificate (parsed with
``cryptography``: subject, usages, duration, issuer) and its Failed condition, the
cleaner's durations, and the three together against the in-process Registry."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api import pki
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.apiserver.registry.core import Registry
from kubesvc.controllers.certificates import approver, cleaner, signer
from kubesvc.controllers.manager import ControllerManager, ControllerOptions
from kubesvc.storage.memory import MemoryStore

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _ca() -> pki.Authority:
    key = pki.new_key()
    name = pki.subject("test-ca")
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=1))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return pki.Authority(cert, key)


def csr(name: str = "c", *, cn: str = "system:node:n1", orgs: tuple[str, ...] = ("system:nodes",),
        user: str = "system:bootstrap:abcdef", groups: tuple[str, ...] = (
            "system:bootstrappers", "system:authenticated"),
        signer_name: str = certs.KUBE_APISERVER_CLIENT_KUBELET,
        usages: tuple[str, ...] = ("digital signature", "client auth"),
        **spec: Any) -> dict[str, Any]:
    request = pki.make_csr(pki.new_key(), cn, list(orgs))
    return {"apiVersion": certs.API_VERSION, "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(request).decode(), "signerName": signer_name,
                     "usages": list(usages), "username": user, "groups": list(groups),
                     **spec}}


class Sar:
    """A SubjectAccessReview answering yes for the given subresources."""

    def __init__(self, *allowed: str) -> None:
        self.allowed = set(allowed)
        self.asked: list[Attributes] = []

    def __call__(self, attrs: Attributes) -> bool:
        self.asked.append(attrs)
        return attrs.subresource in self.allowed


def test_bootstrapper_is_approved_through_nodeclient() -> None:
    sar = Sar("nodeclient")
    assert approver.decide(csr(), sar) == (
        "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview.")
    (asked,) = sar.asked  # the user is not the CN: selfnodeclient is not tried
    assert (asked.user, asked.verb, asked.api_group, asked.resource, asked.subresource) == (
        "system:bootstrap:abcdef", "create", "certificates.k8s.io",
        "certificatesigningrequests", "nodeclient")
    assert "system:bootstrappers" in asked.groups


def test_node_renewing_its_own_is_approved_through_selfnodeclient() -> None:
    sar = Sar("selfnodeclient")
    got = approver.decide(csr(user="system:node:n1", groups=("system:nodes",)), sar)
    assert got is not None and got[0] == "selfnodeclient"
    assert got[1] == ("Auto approving self kubelet client certificate after "
                      "SubjectAccessReview.")


def test_requests_left_alone() -> None:
    everything = Sar("nodeclient", "selfnodeclient")
    assert approver.decide(csr(), Sar()) is None  # SAR says no
    assert approver.decide(csr(signer_name=certs.KUBE_APISERVER_CLIENT), everything) is None
    assert approver.decide(csr(orgs=("devs",)), everything) is None
    assert approver.decide(csr(cn="alice"), everything) is None
    assert approver.decide(csr(usages=("server auth", "digital signature")), everything) \
        is None
    approved = csr()
    approved["status"] = {"conditions": [{"type": "Denied", "status": "True"}]}
    assert approver.decide(approved, everything) is None
    assert everything.asked == []  # none of these got as far as a review


def test_kubelet_client_errors_match_upstream() -> None:
    req = certs.parse_csr_object(csr(orgs=("a",)))
    assert certs.kubelet_client_error(req, ["client auth"]) == \
        "subject organization is not system:nodes"
    req = certs.parse_csr_object(csr(cn="alice"))
    assert certs.kubelet_client_error(req, ["client auth", "digital signature"]) == \
        'subject common name does not begin with "system:node:"'


def test_signer_output_parsed_by_cryptography() -> None:
    ca = _ca()
    obj = csr(expirationSeconds=3600)
    cert = signer.sign(obj, ca, now=NOW)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:n1"
    assert [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] \
        == ["system:nodes"]
    assert cert.issuer == ca.cert.subject
    cert.verify_directly_issued_by(ca.cert)
    assert cert.not_valid_before_utc == NOW - dt.timedelta(minutes=5)
    assert cert.not_valid_after_utc == NOW + dt.timedelta(hours=1)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


@pytest.mark.parametrize(("seconds", "want"), [
    (None, dt.timedelta(days=365)), (600, dt.timedelta(minutes=10)),
    (86400 * 800, dt.timedelta(days=365)), (3600, dt.timedelta(hours=1))])
def test_signer_duration(seconds: int | None, want: dt.timedelta) -> None:
    obj = csr() if seconds is None else csr(expirationSeconds=seconds)
    assert signer.duration(obj, signer.DEFAULT_DURATION) == want


def test_signer_validation_errors() -> None:
    client = csr(signer_name=certs.KUBE_APISERVER_CLIENT, cn="alice", orgs=(),
                 usages=("client auth", "server auth"))
    req = certs.parse_csr_object(client)
    assert signer.validation_error(client, req) == \
        "invalid usage for client certificate: server auth"
    kubelet = csr(orgs=("x",))
    assert signer.validation_error(kubelet, certs.parse_csr_object(kubelet)) == \
        "subject organization is not system:nodes"


def _t(delta: dt.timedelta) -> str:
    return (NOW - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_cleaner_durations() -> None:
    pending = csr()
    pending["metadata"]["creationTimestamp"] = _t(dt.timedelta(hours=23))
    assert cleaner.why_delete(pending, NOW) == ""
    pending["metadata"]["creationTimestamp"] = _t(dt.timedelta(hours=25))
    assert cleaner.why_delete(pending, NOW) == "pending for over 24 hours"
    denied = csr()
    denied["status"] = {"conditions": [{"type": "Denied", "status": "True",
                                        "lastUpdateTime": _t(dt.timedelta(minutes=59))}]}
    assert cleaner.why_delete(denied, NOW) == ""
    denied["status"]["conditions"][0]["lastUpdateTime"] = _t(dt.timedelta(minutes=61))
    assert cleaner.why_delete(denied, NOW) == "denied over an hour ago"
    issued = csr()
    cert = signer.sign(issued, _ca(), now=NOW - dt.timedelta(hours=2))
    issued["status"] = {"conditions": [{"type": "Approved", "status": "True",
                                        "lastUpdateTime": _t(dt.timedelta(minutes=30))}],
                        "certificate": base64.b64encode(pki.cert_pem(cert)).decode()}
    assert cleaner.why_delete(issued, NOW) == ""  # approved half an hour ago, still valid
    issued["status"]["conditions"][0]["lastUpdateTime"] = _t(dt.timedelta(minutes=90))
    assert cleaner.why_delete(issued, NOW) == "issued, approved over an hour ago"


async def test_approve_and_sign_in_process() -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    ca = _ca()
    sar = Sar("nodeclient")
    cm = ControllerManager(reg, options=ControllerOptions(
        controllers=frozenset({"csrapproving", "csrsigning", "csrcleaner"}),
        csr_authorize=sar, signing_ca=ca))
    await reg.create(certs.KEY, csr("node-csr-1"))
    await reg.create(certs.KEY, csr("bad-usage", signer_name=certs.KUBE_APISERVER_CLIENT,
                                    cn="bob", orgs=(), usages=("server auth",)))
    stop = asyncio.Event()
    task = asyncio.create_task(cm.run(stop))
    try:
        end = time.monotonic() + 8
        while True:
            got = await reg.get(certs.KEY, "node-csr-1")
            if (got.get("status") or {}).get("certificate"):
                break
            assert time.monotonic() < end, got
            await asyncio.sleep(0.05)
        cond = got["status"]["conditions"][0]
        assert (cond["type"], cond["reason"]) == ("Approved", "AutoApproved")
        assert cond["lastUpdateTime"] and cond["lastTransitionTime"]
        cert = x509.load_pem_x509_certificate(certs.certificate_pem(got))
        cert.verify_directly_issued_by(ca.cert)
        assert certs.condition_string(got) == "Approved,Issued"
        # An approved request the signer refuses is marked Failed.
        bad = await reg.get(certs.KEY, "bad-usage")
        bad.setdefault("status", {})["conditions"] = [
            {"type": "Approved", "status": "True", "reason": "Test", "message": ""}]
        await reg.update(certs.KEY, bad, subresource="approval")
        while True:
            bad = await reg.get(certs.KEY, "bad-usage")
            if certs.has_condition(bad, certs.FAILED):
                break
            assert time.monotonic() < end, bad
            await asyncio.sleep(0.05)
        failed = next(c for c in bad["status"]["conditions"] if c["type"] == "Failed")
        assert failed["reason"] == "SignerValidationFailure"
        assert failed["message"] == "invalid usage for client certificate: server auth"
        assert certs.condition_string(bad) == "Approved,Failed"
    finally:
        stop.set()
        await task
        await reg.stop()


async def test_registry_keeps_spec_and_certificate() -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    try:
        made = await reg.create(certs.KEY, csr("x"))
        made["spec"]["username"] = "eve"
        made["status"] = {"certificate": "Zm9v"}
        out = await reg.update(certs.KEY, made)
        assert out["spec"]["username"] == "system:bootstrap:abcdef"
        assert out.get("status") == {}  # status: {} as upstream encodes it
        made = await reg.get(certs.KEY, "x")
        made["status"] = {"certificate": "Zm9v"}
        with pytest.raises(errors.Invalid) as exc:
            await reg.update(certs.KEY, made, subresource="status")
        assert "must contain at least one CERTIFICATE PEM block" in exc.value.message
    finally:
        await reg.stop()
