"""Requesting a certificate through the certificates.k8s.io API (client-go's
``util/certificate/csr``): :func:`request_certificate` creates a CertificateSigningRequest
(or, when one of that name exists already, reuses it if it carries the same request, as
after a restart mid-bootstrap) and :func:`wait_for_certificate` waits until it is issued,
failing as upstream words it when it is denied or fails. Called by the node agent's TLS
bootstrap (:mod:`kubesvc.cli.nodecert`); talks through any :class:`.protocol.Client`.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api.objects import Obj
from kubesvc.client.protocol import Client


async def request_certificate(
    client: Client, csr_pem: bytes, *, name: str, signer_name: str, usages: Sequence[str],
    expiration_seconds: int | None = None,
) -> Obj:
    """Create the CSR ``name``; an existing one with the same request is returned instead
    (a different one is an error: the name is derived from the key)."""
    request = base64.b64encode(csr_pem).decode()
    spec: dict[str, object] = {"request": request, "signerName": signer_name,
                               "usages": list(usages)}
    if expiration_seconds is not None:
        spec["expirationSeconds"] = expiration_seconds
    obj: Obj = {"apiVersion": certs.API_VERSION, "kind": "CertificateSigningRequest",
                "metadata": {"name": name}, "spec": spec}
    try:
        return await client.create(certs.KEY, obj)
    except errors.AlreadyExists:
        have = await client.get(certs.KEY, name)
        if (have.get("spec") or {}).get("request") != request:
            raise errors.AlreadyExists(
                f"retrieved csr {name!r} is not the one requested (different request)",
                name=name, kind=certs.RESOURCE, group=certs.GROUP) from None
        return have


async def wait_for_certificate(client: Client, name: str, *, uid: str = "",
                               timeout: float = 3600.0, poll: float = 0.5) -> bytes:
    """The issued certificate (PEM) of CSR ``name`` once it is there."""
    end = time.monotonic() + timeout
    while True:
        csr = await client.get(certs.KEY, name)
        if uid and (csr.get("metadata") or {}).get("uid") != uid:
            raise errors.Conflict(f"csr {name!r} changed UIDs", name=name, kind=certs.RESOURCE)
        for c in certs.conditions(csr):
            if c.get("type") == certs.DENIED:
                raise errors.Forbidden(
                    f"certificate signing request is denied, reason: {c.get('reason', '')}, "
                    f"message: {c.get('message', '')}")
            if c.get("type") == certs.FAILED:
                raise errors.InternalError(
                    f"certificate signing request failed, reason: {c.get('reason', '')}, "
                    f"message: {c.get('message', '')}")
        if certs.approval(csr)[0]:
            pem = certs.certificate_pem(csr)
            if pem:
                return pem
        if time.monotonic() > end:
            raise errors.Timeout(f"timed out waiting for the certificate of csr {name!r}")
        await asyncio.sleep(poll)
