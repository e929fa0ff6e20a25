"""csrapproving: the auto-approver of kubelet client certificates (upstream
``pkg/controller/certificates/approver/sarapprove.go``).

A pending request (no certificate, neither Approved nor Denied) for the
``kubernetes.io/kube-apiserver-client-kubelet`` signer that is a valid kubelet client
request (O=system:nodes, CN=system:node:..., client usages, no SANs) is approved when its
requester may ``create`` ``certificatesigningrequests/selfnodeclient`` (a node renewing its
own: the requester is the CN) or ``certificatesigningrequests/nodeclient`` (a bootstrapper),
checked as a SubjectAccessReview would through ``authorize`` (the API server's authorizer,
passed in: in-process components cannot POST reviews). The approval goes through the
``approval`` subresource with upstream's reason and messages. Everything else is left
alone. Created by the manager; reads a CSR informer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from kubesvc.api import certificates as certs
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.client.protocol import Client
from kubesvc.controllers.base import QueueController
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

#: ``(attributes) -> allowed``: one SubjectAccessReview.
Authorize = Callable[[Attributes], bool]

_RECOGNIZERS = (
    ("selfnodeclient", "Auto approving self kubelet client certificate after "
     "SubjectAccessReview."),
    ("nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."),
)


def decide(csr: certs.Obj, authorize: Authorize) -> tuple[str, str] | None:
    """``(subresource, message)`` of the recognizer that approves ``csr``, or None (with
    the reason logged) when none does."""
    if (csr.get("status") or {}).get("certificate") or any(certs.approval(csr)):
        return None
    spec = csr.get("spec") or {}
    if spec.get("signerName") != certs.KUBE_APISERVER_CLIENT_KUBELET:
        return None
    try:
        req = certs.parse_csr_object(csr)
    except certs.CsrError as exc:
        log.info("unable to parse csr %r: %s", (csr.get("metadata") or {}).get("name"), exc)
        return None
    if certs.kubelet_client_error(req, certs.usages(csr)):
        return None
    user = str(spec.get("username") or "")
    groups = tuple(str(g) for g in spec.get("groups") or [])
    tried: list[str] = []
    for sub, message in _RECOGNIZERS:
        if sub == "selfnodeclient" and user != certs.common_name(req):
            continue
        tried.append(sub)
        attrs = Attributes(user, groups, "create", api_group=certs.GROUP, api_version="*",
                           resource=certs.RESOURCE, subresource=sub,
                           uid=str(spec.get("uid") or ""))
        if authorize(attrs):
            return sub, message
    log.info("recognized csr %r as %s but subject access review was not approved",
             (csr.get("metadata") or {}).get("name"), tried)
    return None


class CsrApprover(QueueController):
    name = "csrapproving"

    def __init__(self, client: Client, *, csrs: Informer, authorize: Authorize) -> None:
        super().__init__(workers=1)
        self.client = client
        self.csrs = csrs
        self.authorize = authorize
        csrs.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    def _enqueue(self, obj: certs.Obj) -> None:
        self.queue.add(str((obj.get("metadata") or {}).get("name") or ""))

    async def wait_synced(self) -> None:
        await self.csrs.wait_synced()

    async def sync(self, key: str) -> None:
        csr = self.csrs.indexer.get(key)
        if csr is None:
            return
        verdict = decide(csr, self.authorize)
        if verdict is None:
            return
        new = deep_copy(csr)
        status = new.setdefault("status", {})
        status["conditions"] = [*(status.get("conditions") or []), {
            "type": certs.APPROVED, "status": "True", "reason": "AutoApproved",
            "message": verdict[1]}]
        await self.client.update(certs.KEY, new, subresource="approval")
        log.info("approved csr %s (%s)", key, verdict[0])
