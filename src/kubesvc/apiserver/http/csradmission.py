"""Admission of CertificateSigningRequest approvals (upstream's
``plugin/pkg/admission/certificates/approval``, ``CertificateApproval``): an update of the
``approval`` subresource needs the ``approve`` verb on ``signers`` (group
certificates.k8s.io) named after the request's signerName or its ``<domain>/*`` wildcard;
Forbidden as upstream words it. (``CertificateSigning``, the ``sign`` verb for status
writers, is not checked: only the in-process signer writes certificates in practice.)

Called by :mod:`.app` before routing a write of those subresources, with the RBAC
authorizer; reads the stored request for its signerName.
"""

from __future__ import annotations

from aiohttp import web

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.apiserver.http.auth import User
from kubesvc.apiserver.http.authz import Authz, groups_of
from kubesvc.apiserver.http.backend import Backend
from kubesvc.apiserver.http.paths import Target


def _allowed(authz: Authz, user: User, verb: str, signer: str) -> bool:
    domain = signer.split("/", 1)[0]
    for name in (signer, f"{domain}/*"):
        attrs = Attributes(user.name, groups_of(user), verb, api_group=certs.GROUP,
                           api_version="*", resource="signers", name=name, uid=user.uid)
        if authz.decide(attrs).allowed:
            return True
    return False


async def check(request: web.Request, target: Target, user: User | None, *, authz: Authz,
                backend: Backend) -> None:
    """Raise Forbidden when ``user`` may not approve for this request's signer."""
    if target.info.key != certs.KEY or target.subresource != "approval" or user is None \
            or request.method not in ("PUT", "PATCH"):
        return
    csr = await backend.get(certs.KEY, target.name)
    signer = str((csr.get("spec") or {}).get("signerName") or "")
    if not _allowed(authz, user, "approve", signer):
        raise errors.Forbidden(
            f'{certs.KEY} "{target.name}" is forbidden: user not permitted to approve '
            f'requests with signerName "{signer}"',
            name=target.name, group=certs.GROUP, kind=certs.RESOURCE)
