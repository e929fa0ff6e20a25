"""csrsigning: issues approved CertificateSigningRequests of the
``kubernetes.io/kube-apiserver-client`` and ``kubernetes.io/kube-apiserver-client-kubelet``
signers from the cluster CA (upstream ``pkg/controller/certificates/signer``).

A request is signed once it is Approved, not Failed and has no certificate yet. The kubelet
signer takes only valid kubelet client requests, the client signer only client usages;
anything else gets a ``Failed`` condition (reason ``SignerValidationFailure``). The
certificate keeps the request's subject and SANs, is backdated 5 minutes and lasts the
requested ``expirationSeconds`` (at least 10 minutes) but never more than
``max_duration`` (``--cluster-signing-duration``, a year) nor past the CA. The CA is passed
in explicitly (:class:`kubesvc.api.pki.Authority`). Created by the manager.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from collections.abc import Callable

from cryptography import x509

from kubesvc.api import certificates as certs
from kubesvc.api import pki
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.timefmt import rfc3339
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

DEFAULT_DURATION = dt.timedelta(days=365)
MIN_DURATION = dt.timedelta(minutes=10)
SIGNERS = frozenset({certs.KUBE_APISERVER_CLIENT, certs.KUBE_APISERVER_CLIENT_KUBELET})
_CLIENT_USAGES = frozenset({"client auth", "digital signature", "key encipherment"})


def validation_error(csr: certs.Obj, req: x509.CertificateSigningRequest) -> str:
    """Why the signer refuses ``req`` ("" when it signs it)."""
    signer = (csr.get("spec") or {}).get("signerName")
    usages = certs.usages(csr)
    if signer == certs.KUBE_APISERVER_CLIENT_KUBELET:
        return certs.kubelet_client_error(req, usages)
    bad = [u for u in usages if u not in _CLIENT_USAGES]
    if bad:
        return f"invalid usage for client certificate: {bad[0]}"
    if "client auth" not in usages:
        return "missing required usage for client certificate: client auth"
    return ""


def duration(csr: certs.Obj, max_duration: dt.timedelta) -> dt.timedelta:
    """Upstream ``DurationFromSeconds`` against the signer's maximum."""
    exp = (csr.get("spec") or {}).get("expirationSeconds")
    if not isinstance(exp, int):
        return max_duration
    return min(max(dt.timedelta(seconds=exp), MIN_DURATION), max_duration)


def sign(csr: certs.Obj, ca: pki.Authority, *, now: dt.datetime,
         max_duration: dt.timedelta = DEFAULT_DURATION) -> x509.Certificate:
    req = certs.parse_csr_object(csr)
    try:
        sans = list(req.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = []
    return ca.sign(req, req.subject, usages=certs.usages(csr),
                   duration=duration(csr, max_duration), now=now, sans=sans)


class CsrSigner(QueueController):
    name = "csrsigning"

    def __init__(self, client: Client, *, csrs: Informer, ca: pki.Authority,
                 max_duration: dt.timedelta = DEFAULT_DURATION,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        super().__init__(workers=1)
        self.client = client
        self.csrs = csrs
        self.ca = ca
        self.max_duration = max_duration
        self._clock = clock
        csrs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    def _enqueue(self, obj: certs.Obj) -> None:
        self.queue.add(str((obj.get("metadata") or {}).get("name") or ""))

    async def wait_synced(self) -> None:
        await self.csrs.wait_synced()

    async def sync(self, key: str) -> None:
        csr = self.csrs.indexer.get(key)
        if csr is None or (csr.get("spec") or {}).get("signerName") not in SIGNERS:
            return
        approved, denied = certs.approval(csr)
        if not approved or denied or certs.has_condition(csr, certs.FAILED) \
                or (csr.get("status") or {}).get("certificate"):
            return
        new = deep_copy(csr)
        status = new.setdefault("status", {})
        try:
            req = certs.parse_csr_object(csr)
            why = validation_error(csr, req)
        except certs.CsrError as exc:
            why = f"unable to parse csr {key!r}: {exc}"
        now = self._clock()
        if why:
            status["conditions"] = [*(status.get("conditions") or []), {
                "type": certs.FAILED, "status": "True", "reason": "SignerValidationFailure",
                "message": why, "lastUpdateTime": rfc3339(now)}]
            await self.client.update(certs.KEY, new, subresource="status")
            log.info("csr %s failed signer validation: %s", key, why)
            return
        cert = sign(csr, self.ca, now=now, max_duration=self.max_duration)
        status["certificate"] = base64.b64encode(pki.cert_pem(cert)).decode()
        await self.client.update(certs.KEY, new, subresource="status")
        log.info("signed csr %s for %s", key, certs.common_name(req))
