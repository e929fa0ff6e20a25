"""The node agent's TLS bootstrap against the in-process Registry: the CSR it posts (name,
subject, signer, usages), waiting until an issuer answers, the 0600 file it writes, reuse
of a valid certificate, and refusal of one for another node, expired, or from another CA;
a denied request fails with upstream's words; rotation at 70-84% of the lifetime."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
from pathlib import Path

import pytest
from cryptography import x509

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api import pki
from kubesvc.apiserver.registry.core import Registry
from kubesvc.cli import nodecert
from kubesvc.controllers.certificates.signer import sign
from kubesvc.storage.memory import MemoryStore
from tests.unit.controllers.test_certificates import _ca


async def _issue(reg: Registry, ca: pki.Authority, *, deny: bool = False) -> None:
    """Play approver + signer for the first CSR that shows up."""
    while True:
        items = (await reg.list(certs.KEY))["items"]
        if items:
            break
        await asyncio.sleep(0.02)
    csr = items[0]
    kind = "Denied" if deny else "Approved"
    csr["status"] = {"conditions": [{"type": kind, "status": "True", "reason": "Test",
                                     "message": "by the test"}]}
    csr = await reg.update(certs.KEY, csr, subresource="approval")
    if deny:
        return
    cert = sign(csr, ca, now=dt.datetime.now(dt.UTC))
    csr["status"]["certificate"] = base64.b64encode(pki.cert_pem(cert)).decode()
    await reg.update(certs.KEY, csr, subresource="status")


async def test_bootstrap_then_reuse(tmp_path: Path) -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    ca = _ca()
    try:
        issuer = asyncio.create_task(_issue(reg, ca))
        path = await nodecert.bootstrap_client_cert(reg, tmp_path, "n1", timeout=10)
        await issuer
        assert path.stat().st_mode & 0o777 == 0o600
        assert not (tmp_path / nodecert.PENDING_KEY).exists()
        (csr,) = (await reg.list(certs.KEY))["items"]
        assert csr["metadata"]["name"].startswith("node-csr-")
        assert csr["spec"]["signerName"] == certs.KUBE_APISERVER_CLIENT_KUBELET
        assert csr["spec"]["usages"] == ["digital signature", "client auth"]
        req = certs.parse_csr_object(csr)
        assert certs.common_name(req) == "system:node:n1"
        assert certs.organizations(req) == ["system:nodes"]
        ca_pem = pki.cert_pem(ca.cert)
        assert nodecert.load_client_cert(tmp_path, "n1", ca_pem=ca_pem) == path
        assert nodecert.load_client_cert(tmp_path, "n2", ca_pem=ca_pem) is None
        assert nodecert.load_client_cert(tmp_path, "n1", ca_pem=pki.cert_pem(_ca().cert)) \
            is None
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=366)
        assert nodecert.load_client_cert(tmp_path, "n1", now=later) is None
        x509.load_pem_x509_certificate(path.read_bytes()).verify_directly_issued_by(ca.cert)
    finally:
        await reg.stop()


async def test_denied_request(tmp_path: Path) -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    try:
        issuer = asyncio.create_task(_issue(reg, _ca(), deny=True))
        with pytest.raises(errors.Forbidden) as exc:
            await nodecert.bootstrap_client_cert(reg, tmp_path, "n1", timeout=10)
        await issuer
        assert exc.value.message == ("certificate signing request is denied, reason: Test, "
                                     "message: by the test")
        # The pending key stays, so the next try asks under the same name.
        assert (tmp_path / nodecert.PENDING_KEY).exists()
    finally:
        await reg.stop()


def test_csr_name_is_stable_per_key() -> None:
    key = pki.new_key()
    assert nodecert.csr_name(key, "n1") == nodecert.csr_name(key, "n1")
    assert nodecert.csr_name(key, "n1") != nodecert.csr_name(key, "n2")
    assert nodecert.csr_name(key, "n1") != nodecert.csr_name(pki.new_key(), "n1")


def test_rotation_deadline_is_70_to_84_percent() -> None:
    ca = _ca()
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    cert = ca.sign(pki.new_key().public_key(), pki.subject("system:node:n1"),
                   usages=["client auth"], duration=dt.timedelta(days=100), now=start)
    begin = cert.not_valid_before_utc
    total = cert.not_valid_after_utc - begin
    assert nodecert.rotation_deadline(cert, 0.0) == begin + total * 0.7
    assert nodecert.rotation_deadline(cert, 0.999) < begin + total * 0.84
    assert nodecert.rotation_deadline(cert, 0.5) > begin + total * 0.7


async def test_rotate_renews_and_reloads(tmp_path: Path) -> None:
    reg = Registry(MemoryStore(), compact_interval=0)
    await reg.start()
    ca = _ca()
    try:
        issuer = asyncio.create_task(_issue(reg, ca))
        path = await nodecert.bootstrap_client_cert(reg, tmp_path, "n1", timeout=10)
        await issuer
        first = x509.load_pem_x509_certificate(path.read_bytes())
        await reg.delete(certs.KEY, (await reg.list(certs.KEY))["items"][0]["metadata"]["name"])
        ctx = ssl.create_default_context()
        ctx.load_cert_chain(str(path))
        stop = asyncio.Event()
        times = [dt.datetime.now(dt.UTC) + dt.timedelta(days=400)]  # past the deadline once

        def clock() -> dt.datetime:
            return times.pop() if times else dt.datetime.now(dt.UTC)

        task = asyncio.create_task(nodecert.rotate(reg, tmp_path, "n1", ctx, stop,
                                                   clock=clock, timeout=10))
        await _issue(reg, ca)
        for _ in range(200):
            second = x509.load_pem_x509_certificate(path.read_bytes())
            if second.serial_number != first.serial_number:
                break
            await asyncio.sleep(0.02)
        assert second.serial_number != first.serial_number
        assert second.public_key() != first.public_key()  # a new key, too
        stop.set()
        await asyncio.wait_for(task, 5)
    finally:
        await reg.stop()
