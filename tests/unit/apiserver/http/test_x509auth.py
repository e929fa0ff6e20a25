"""X.509 user mapping (upstream's CommonNameUserConversion), the admin client certificate
(issued by the cluster CA, reused, re-issued for a new CA) and the kubeconfig that carries
it."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import yaml
from cryptography import x509

from kubesvc.api import pki
from kubesvc.apiserver.http.tls import ensure_admin_cert, ensure_tls
from kubesvc.apiserver.http.x509auth import user_from_certificate
from kubesvc.client.kubeconfig import load_kubeconfig, write_kubeconfig


def _cert(tmp_path: Path, cn: str, orgs: list[str], usages: list[str]) -> x509.Certificate:
    files = ensure_tls(tmp_path)
    ca = pki.Authority.from_pem(files.ca_cert.read_bytes(), files.ca_key.read_bytes())
    name = pki.subject(cn, orgs) if cn else x509.Name(
        [x509.NameAttribute(x509.oid.NameOID.ORGANIZATION_NAME, o) for o in orgs])
    return ca.sign(pki.new_key().public_key(), name, usages=usages,
                   duration=dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC))


def test_cn_and_o(tmp_path: Path) -> None:
    user = user_from_certificate(_cert(tmp_path, "alice", ["a", "b"], ["client auth"]))
    assert user is not None
    assert (user.name, user.groups) == ("alice", ("a", "b"))
    assert user_from_certificate(_cert(tmp_path, "", ["a"], ["client auth"])) is None
    assert user_from_certificate(_cert(tmp_path, "srv", [], ["server auth"])) is None


def test_admin_cert_reused_and_reissued_for_a_new_ca(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    cert_pem, key_pem = ensure_admin_cert(files)
    cert = x509.load_pem_x509_certificate(cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(files.ca_pem))
    assert cert.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert (tmp_path / "pki" / "admin.key").stat().st_mode & 0o777 == 0o600
    assert ensure_admin_cert(files) == (cert_pem, key_pem)
    files.ca_cert.unlink()
    files.ca_key.unlink()
    files = ensure_tls(tmp_path)  # a new CA
    again, _ = ensure_admin_cert(files)
    assert again != cert_pem
    x509.load_pem_x509_certificate(again).verify_directly_issued_by(
        x509.load_pem_x509_certificate(files.ca_pem))


def test_kubeconfig_with_client_certificate(tmp_path: Path) -> None:
    files = ensure_tls(tmp_path)
    cert, key = ensure_admin_cert(files)
    path = tmp_path / "kc"
    write_kubeconfig(path, server="https://127.0.0.1:6443", ca_pem=files.ca_pem,
                     client_cert=cert, client_key=key)
    user = yaml.safe_load(path.read_text())["users"][0]["user"]
    assert set(user) == {"client-certificate-data", "client-key-data"}
    assert base64.b64decode(user["client-certificate-data"]) == cert
    cfg = load_kubeconfig(path)
    assert (cfg.client_cert_data, cfg.client_key_data, cfg.token) == (cert, key, "")
