"""TLS bootstrapping of a node agent (upstream ``pkg/kubelet/certificate/bootstrap``): a
node started with a bootstrap token exchanges it for a client certificate of its own,
``CN=system:node:<name>, O=system:nodes``, and from then on authenticates with that.

:func:`load_client_cert` reuses ``<data dir>/pki/kubelet-client-current.pem`` (certificate
and key in one 0600 file, as the kubelet keeps them) while it is valid for this node and has
at least :data:`RENEW_BEFORE` left. Otherwise :func:`bootstrap_client_cert` generates a P-256
key (kept in ``kubelet-client.key.tmp`` until the certificate comes, so a restart re-uses the
same request), posts a CSR named ``node-csr-<digest of key and subject>`` for the
``kubernetes.io/kube-apiserver-client-kubelet`` signer with the bootstrap credential, waits
for the approver and signer (:mod:`kubesvc.controllers.certificates`) and writes the file.

:func:`rotate` renews it as the kubelet's certificate manager does: at a jittered 70-84% of
its lifetime it asks again the same way, now as the node itself (the approver's
``selfnodeclient`` case), writes the new file and loads it into the agent's live TLS context,
so new connections present it. Called by :mod:`.agent`; calls :mod:`kubesvc.client.csr`
and :mod:`kubesvc.api.pki`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import logging
import os
import random
import ssl
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api import pki
from kubesvc.client.csr import request_certificate, wait_for_certificate
from kubesvc.client.protocol import Client

log = logging.getLogger("kubesvc.agent")

CURRENT = "kubelet-client-current.pem"
PENDING_KEY = "kubelet-client.key.tmp"
USAGES = ("digital signature", "client auth")
RENEW_BEFORE = dt.timedelta(minutes=5)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def node_user(node_name: str) -> str:
    return certs.NODE_USER_PREFIX + node_name


def load_client_cert(pki_dir: Path, node_name: str, *, ca_pem: bytes | None = None,
                     now: dt.datetime | None = None) -> Path | None:
    """The current certificate file when it is still good for ``node_name``, else None."""
    path = pki_dir / CURRENT
    try:
        data = path.read_bytes()
        cert = x509.load_pem_x509_certificate(data)
        serialization.load_pem_private_key(data, password=None)
    except (OSError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    cn = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    if not cn or cn[0].value != node_user(node_name):
        log.warning("%s is for %s, not this node: bootstrapping again", path,
                    cn[0].value if cn else "no one")
        return None
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        log.info("%s has expired or expires soon: bootstrapping again", path)
        return None
    if ca_pem is not None:
        try:
            cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
        except Exception:  # another cluster's CA (InvalidSignature, ValueError, TypeError)
            log.warning("%s was not issued by this cluster's CA: bootstrapping again", path)
            return None
    return path


def csr_name(key: ec.EllipticCurvePrivateKey, node_name: str) -> str:
    """``node-csr-<digest>`` of the public key, subject and usages (upstream's
    ``digestedName``), so the same key always asks under the same name."""
    h = hashlib.sha512()
    h.update(key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo))
    for part in (node_user(node_name), certs.NODES_GROUP, *USAGES):
        h.update(part.encode() + b"\0")
    return "node-csr-" + base64.urlsafe_b64encode(h.digest()[:32]).decode().rstrip("=")


def _pending_key(pki_dir: Path) -> ec.EllipticCurvePrivateKey:
    path = pki_dir / PENDING_KEY
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key
    except (OSError, ValueError):
        pass
    new = pki.new_key()
    _write_private(path, pki.key_pem(new))
    return new


async def bootstrap_client_cert(client: Client, pki_dir: Path, node_name: str, *,
                                timeout: float = 3600.0) -> Path:
    """Get this node's client certificate through a CSR made with ``client`` (the
    bootstrap credential); returns the written certificate+key file."""
    key = _pending_key(pki_dir)
    name = csr_name(key, node_name)
    request = pki.make_csr(key, node_user(node_name), [certs.NODES_GROUP])
    try:
        csr = await request_certificate(client, request, name=name,
                                        signer_name=certs.KUBE_APISERVER_CLIENT_KUBELET,
                                        usages=USAGES)
    except errors.AlreadyExists:
        # Our key's name taken by a different request: start over with a new key.
        (pki_dir / PENDING_KEY).unlink(missing_ok=True)
        raise
    log.info("waiting for the client certificate of %s (certificate signing request %s)",
             node_user(node_name), name)
    cert_pem = await wait_for_certificate(client, name, timeout=timeout,
                                          uid=str((csr.get("metadata") or {}).get("uid") or ""))
    path = pki_dir / CURRENT
    _write_private(path, cert_pem + pki.key_pem(key))
    (pki_dir / PENDING_KEY).unlink(missing_ok=True)
    log.info("wrote the client certificate of %s to %s", node_user(node_name), path)
    return path


def rotation_deadline(cert: x509.Certificate, jitter: float) -> dt.datetime:
    """When to renew: 70% of the lifetime plus up to 20% of that (``jitter`` in [0, 1)),
    as upstream's ``nextRotationDeadline``."""
    total = cert.not_valid_after_utc - cert.not_valid_before_utc
    return cert.not_valid_before_utc + total * 0.7 * (1 + 0.2 * jitter)


async def rotate(client: Client, pki_dir: Path, node_name: str, ctx: ssl.SSLContext,
                 stop: asyncio.Event, *,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 jitter: Callable[[], float] = random.random, retry: float = 30.0,
                 timeout: float = 900.0) -> None:
    """Renew the client certificate before it expires, until ``stop``."""
    while not stop.is_set():
        try:
            cert = x509.load_pem_x509_certificate((pki_dir / CURRENT).read_bytes())
        except (OSError, ValueError):
            log.exception("reading %s", pki_dir / CURRENT)
            delay = retry
        else:
            delay = (rotation_deadline(cert, jitter()) - clock()).total_seconds()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(delay, 86400.0))
            continue
        try:
            path = await bootstrap_client_cert(client, pki_dir, node_name, timeout=timeout)
            ctx.load_cert_chain(str(path))
            log.info("rotated the client certificate of %s", node_user(node_name))
        except (errors.KubeError, OSError, ssl.SSLError) as exc:
            log.warning("renewing the client certificate of %s: %s; retrying in %.0f s",
                        node_user(node_name), exc, retry)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), retry)
