"""TLS material for the API server: a private CA and a serving certificate signed by it.

Generated with ``cryptography`` on first start under ``<data_dir>/pki/`` and reused on restart
(the CA is kept forever; the serving certificate is re-issued when it lacks a requested
subject alternative name or is close to expiry). Called by :mod:`.server`; the CA PEM ends
up in the kubeconfig that ``kubesvc up`` writes.

The server context asks every client for a certificate (optional, as kube-apiserver's
``RequestClientCert``) and verifies one that is sent against the client CA
(``--client-ca-file``; the cluster CA unless told otherwise); :mod:`.x509auth` turns it
into a user. :func:`ensure_admin_cert` keeps ``pki/admin.{crt,key}``, the client
certificate of ``kubernetes-admin`` in ``system:masters`` that kubeadm puts in admin.conf.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubesvc.api import pki

DEFAULT_SANS = ("127.0.0.1", "localhost", "::1", "kubernetes", "kubernetes.default",
                "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
_CA_DAYS = 3650
_SERVING_DAYS = 365
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.read_bytes()

    def server_context(self, *, client_ca_file: Path | None = None) -> ssl.SSLContext:
        """Serving context; a client certificate is optional and, when sent, must chain to
        ``client_ca_file`` (default: the cluster CA)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(self.cert), str(self.key))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(cafile=str(client_ca_file or self.ca_cert))
        # kubectl speaks HTTP/1.1 over TLS (aiohttp has no HTTP/2).
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san_entries(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    seen: set[str] = set()
    for name in names:
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _new_ca(now: dt.datetime) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubesvc-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _new_serving(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, sans: list[str],
    now: dt.datetime,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_SERVING_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(x509.SubjectAlternativeName(_san_entries(sans)), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def _serving_ok(cert_path: Path, key_path: Path, sans: list[str], now: dt.datetime) -> bool:
    if not (cert_path.exists() and key_path.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        have = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    if cert.not_valid_after_utc - now < _RENEW_BEFORE:
        return False
    return all(entry in have for entry in _san_entries(sans))


def ensure_tls(data_dir: Path, *, extra_sans: Iterable[str] = ()) -> TlsFiles:
    """Create (or reuse) ``<data_dir>/pki/{ca.crt,ca.key,apiserver.crt,apiserver.key}``."""
    pki = data_dir / "pki"
    pki.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = TlsFiles(pki / "ca.crt", pki / "ca.key", pki / "apiserver.crt", pki / "apiserver.key")
    now = dt.datetime.now(dt.UTC)
    sans = [*DEFAULT_SANS, *extra_sans]
    if files.ca_cert.exists() and files.ca_key.exists():
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        loaded = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{files.ca_key}: expected an EC private key")
        ca_key = loaded
    else:
        ca_key, ca_cert = _new_ca(now)
        _write_private(files.ca_key, _key_pem(ca_key))
        _write_private(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM))
        files.cert.unlink(missing_ok=True)
    if not _serving_ok(files.cert, files.key, sans, now):
        key, cert = _new_serving(ca_key, ca_cert, sans, now)
        _write_private(files.key, _key_pem(key))
        _write_private(files.cert, cert.public_bytes(serialization.Encoding.PEM))
    return files


ADMIN_USER = "kubernetes-admin"
ADMIN_GROUP = "system:masters"
_CLIENT_DAYS = 365  # kubeadm's certificate validity


def ensure_admin_cert(files: TlsFiles) -> tuple[bytes, bytes]:
    """``(cert PEM, key PEM)`` of ``kubernetes-admin`` (O=system:masters), signed by the
    cluster CA; kept under ``pki/admin.{crt,key}`` (0600) and re-issued near expiry or when
    the CA changed."""
    cert_path = files.ca_cert.parent / "admin.crt"
    key_path = files.ca_cert.parent / "admin.key"
    now = dt.datetime.now(dt.UTC)
    ca = pki.Authority.from_pem(files.ca_cert.read_bytes(), files.ca_key.read_bytes())
    if cert_path.exists() and key_path.exists():
        try:
            have = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if have.issuer == ca.cert.subject and have.not_valid_after_utc - now > \
                    _RENEW_BEFORE:
                have.verify_directly_issued_by(ca.cert)
                return cert_path.read_bytes(), key_path.read_bytes()
        except (ValueError, TypeError, InvalidSignature):
            pass  # unreadable, or signed by a different CA of the same name
    key = pki.new_key()
    cert = ca.sign(key.public_key(), pki.subject(ADMIN_USER, [ADMIN_GROUP]),
                   usages=["digital signature", "key encipherment", "client auth"],
                   duration=dt.timedelta(days=_CLIENT_DAYS), now=now)
    key_bytes, cert_bytes = pki.key_pem(key), pki.cert_pem(cert)
    _write_private(key_path, key_bytes)
    _write_private(cert_path, cert_bytes)
    return cert_bytes, key_bytes


KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"


def ensure_kubelet_client(data_dir: Path) -> tuple[Path, Path]:
    """The API server's client certificate towards node agents (kubeadm's
    ``apiserver-kubelet-client.crt``: CN ``kube-apiserver-kubelet-client``, signed by the
    cluster CA, client auth), made under ``<data_dir>/pki/`` after :func:`ensure_tls`."""
    pki = data_dir / "pki"
    cert_path = pki / "apiserver-kubelet-client.crt"
    key_path = pki / "apiserver-kubelet-client.key"
    now = dt.datetime.now(dt.UTC)
    if cert_path.exists() and key_path.exists():
        with contextlib.suppress(ValueError):
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            if cert.not_valid_after_utc - now > _RENEW_BEFORE:
                return cert_path, key_path
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki / 'ca.key'}: expected an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kubeadm:cluster-admins"),
        x509.NameAttribute(NameOID.COMMON_NAME, KUBELET_CLIENT_CN)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_SERVING_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(key_path, _key_pem(key))
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
