"""csrcleaner: deletes CertificateSigningRequests that are done with (upstream
``pkg/controller/certificates/cleaner/cleaner.go``): pending ones after 24 hours, denied
or failed ones an hour after that condition, issued ones an hour after approval, and any
whose issued certificate has expired. Runs over the informer's cache every
``interval`` (an hour, as upstream's polling). Created by the manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from cryptography import x509

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api.timefmt import parse_time
from kubesvc.client.options import DeleteOptions
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

PENDING = dt.timedelta(hours=24)
DENIED = dt.timedelta(hours=1)
FAILED = dt.timedelta(hours=1)
APPROVED = dt.timedelta(hours=1)
INTERVAL = 3600.0


def _past(csr: certs.Obj, kind: str, limit: dt.timedelta, now: dt.datetime) -> bool:
    for c in certs.conditions(csr):
        if c.get("type") == kind:
            t = parse_time(c.get("lastUpdateTime"))
            if t is not None and t + limit < now:
                return True
    return False


def why_delete(csr: certs.Obj, now: dt.datetime) -> str:
    """Why ``csr`` should go ("" to keep it), as upstream's checks, in its order."""
    issued = bool((csr.get("status") or {}).get("certificate"))
    if issued and _past(csr, certs.APPROVED, APPROVED, now):
        return "issued, approved over an hour ago"
    if _past(csr, certs.DENIED, DENIED, now):
        return "denied over an hour ago"
    if _past(csr, certs.FAILED, FAILED, now):
        return "failed over an hour ago"
    if not any(certs.has_condition(csr, k) for k in (certs.APPROVED, certs.DENIED,
                                                      certs.FAILED)):
        created = parse_time((csr.get("metadata") or {}).get("creationTimestamp"))
        if created is not None and created + PENDING < now:
            return "pending for over 24 hours"
    if issued:
        try:
            cert = x509.load_pem_x509_certificate(certs.certificate_pem(csr))
        except ValueError:
            return ""
        if cert.not_valid_after_utc < now:
            return "its certificate has expired"
    return ""


class CsrCleaner:
    def __init__(self, client: Client, *, csrs: Informer, interval: float = INTERVAL,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.client = client
        self.csrs = csrs
        self.interval = interval
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        await self.csrs.wait_synced()
        while not stop.is_set():
            try:
                await self.clean()
            except Exception:  # log and retry: a background loop never dies silently
                log.exception("csr cleaner")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def clean(self) -> int:
        """Delete what is due; returns how many were deleted."""
        now = self._clock()
        n = 0
        for csr in self.csrs.indexer.list():
            why = why_delete(csr, now)
            if not why:
                continue
            md = csr.get("metadata") or {}
            name, uid = str(md.get("name") or ""), str(md.get("uid") or "")
            log.info("deleting csr %s: %s", name, why)
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.delete(certs.KEY, name, opts=DeleteOptions(
                    preconditions={"uid": uid} if uid else None))
                n += 1
        return n
