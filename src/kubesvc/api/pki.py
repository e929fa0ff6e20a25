"""Issuing X.509 client certificates from the cluster CA: the one place a leaf certificate is
built from a subject, a public key, key usages and a validity window (upstream's
``pkg/controller/certificates/authority`` ``CertificateAuthority.Sign`` with the signer's
``PermissiveSigningPolicy``), and new key + CSR pairs for clients (client-go's
``util/certificate/csr`` and ``util/keyutil``).

Callers: the API server's TLS setup (the ``kubernetes-admin`` certificate), the CSR signing
controller, and the node agent's TLS bootstrap. Pure computation over ``cryptography``;
reading and writing files is the callers' business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Upstream's signer backdates every certificate by 5 minutes (clock skew).
BACKDATE = dt.timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

_EKU = {
    "server auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "code signing": ExtendedKeyUsageOID.CODE_SIGNING,
    "email protection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "s/mime": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timestamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "ocsp signing": ExtendedKeyUsageOID.OCSP_SIGNING,
    "any": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}
_KU = {
    "signing": "digital_signature",
    "digital signature": "digital_signature",
    "content commitment": "content_commitment",
    "key encipherment": "key_encipherment",
    "key agreement": "key_agreement",
    "data encipherment": "data_encipherment",
    "cert sign": "key_cert_sign",
    "crl sign": "crl_sign",
    "encipher only": "encipher_only",
    "decipher only": "decipher_only",
}


@dataclass(frozen=True, slots=True)
class Authority:
    """The CA certificate and key that sign client certificates."""

    cert: x509.Certificate
    key: PrivateKey

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> Authority:
        cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
                          | ed25519.Ed25519PrivateKey):
            raise ValueError("the CA key must be an EC, RSA or Ed25519 private key")
        return cls(cert, key)

    def sign(
        self, public_key: x509.CertificateSigningRequest | object, subject: x509.Name, *,
        usages: Sequence[str], duration: dt.timedelta, now: dt.datetime,
        sans: Iterable[x509.GeneralName] = (),
    ) -> x509.Certificate:
        """A leaf certificate for ``public_key`` (or a CSR's key), valid from ``now`` minus
        :data:`BACKDATE` for ``duration``, never past the CA's own expiry."""
        if isinstance(public_key, x509.CertificateSigningRequest):
            public_key = public_key.public_key()
        not_after = min(now + duration, self.cert.not_valid_after_utc)
        ku = {v: False for v in _KU.values()}
        for u in usages:
            if u in _KU:
                ku[_KU[u]] = True
        ekus = [_EKU[u] for u in usages if u in _EKU]
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)  # type: ignore[arg-type]
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                self.key.public_key()), critical=False)
        )
        if any(ku.values()):
            builder = builder.add_extension(x509.KeyUsage(**ku), critical=True)
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        names = list(sans)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        algorithm = None if isinstance(self.key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
        return builder.sign(self.key, algorithm)


def subject(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def new_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key, as the kubelet generates for its client certificate."""
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key: PrivateKey) -> bytes:
    """PKCS#8 for Ed25519/RSA; SEC1 ``EC PRIVATE KEY`` for EC, as client-go writes it."""
    fmt = (serialization.PrivateFormat.TraditionalOpenSSL
           if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
           else serialization.PrivateFormat.PKCS8)
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_csr(key: ec.EllipticCurvePrivateKey, common_name: str,
             organizations: Sequence[str] = ()) -> bytes:
    """A PEM PKCS#10 request for ``key`` with CN/O (client-go's ``MakeCSR``)."""
    req = (x509.CertificateSigningRequestBuilder()
           .subject_name(subject(common_name, organizations))
           .sign(key, hashes.SHA256()))
    return req.public_bytes(serialization.Encoding.PEM)
