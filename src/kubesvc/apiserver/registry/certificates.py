"""The registry strategy of certificates.k8s.io/v1 CertificateSigningRequests (upstream
``pkg/registry/certificates/certificates/strategy.go``).

Create clears ``status`` (the requester's identity in ``spec.username/uid/groups/extra`` is
written by the HTTP layer from the authenticated user, :func:`set_requester`, overwriting
whatever the body said). The main resource may change only metadata (spec and status come
from the stored object); ``status`` may change the status (the certificate, Failed
conditions) but not the spec; ``approval`` may change only the conditions. New conditions
get ``lastUpdateTime`` / ``lastTransitionTime`` as upstream's
``populateConditionTimestamps``. Called by :class:`~.core.Registry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc import errors
from kubesvc.api import certificates as certs
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import rfc3339
from kubesvc.api.validation.certificates import validate_csr_approval_update
from kubesvc.apiserver.registry.strategies import NOOP_TXN, Strategy, Txn

CSR_KEY = certs.KEY


def set_requester(obj: Obj, *, user: str, uid: str, groups: Sequence[str],
                  extra: Mapping[str, Sequence[str]] | None = None) -> None:
    """Record who asks (upstream's PrepareForCreate reads the request's user)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    spec["username"] = user
    if uid:
        spec["uid"] = uid
    else:
        spec.pop("uid", None)
    if groups:
        spec["groups"] = list(groups)
    else:
        spec.pop("groups", None)
    if extra:
        spec["extra"] = {k: list(v) for k, v in extra.items()}
    else:
        spec.pop("extra", None)


class CsrStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        obj.pop("status", None)

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        """Upstream's CertificateSubjectRestriction admission: no ``system:masters``
        certificate through the kube-apiserver-client signer."""
        if (obj.get("spec") or {}).get("signerName") == certs.KUBE_APISERVER_CLIENT:
            try:
                req = certs.parse_csr_object(obj)
            except certs.CsrError:
                return NOOP_TXN  # validation answers that
            if "system:masters" in certs.organizations(req):
                name = str((obj.get("metadata") or {}).get("name") or "")
                raise errors.Forbidden(
                    f'{CSR_KEY} "{name}" is forbidden: use of '
                    f"{certs.KUBE_APISERVER_CLIENT} signer with system:masters group is not "
                    "allowed", name=name, group=certs.GROUP, kind=certs.RESOURCE)
        return NOOP_TXN

    def prepare_update(self, new: Obj, old: Obj) -> None:
        for part in ("spec", "status"):
            if part in old:
                new[part] = old[part]
            else:
                new.pop(part, None)

    def prepare_status_update(self, body: Obj, old: Obj) -> Obj:
        new = super().prepare_status_update(body, old)  # spec (and system meta) from old
        self._stamp(new, old)
        return new

    def prepare_subresource_update(self, subresource: str, body: Obj, old: Obj) -> Obj:
        if subresource != "approval":
            raise errors.NotFound(message="the server could not find the requested resource")
        new = super().prepare_status_update(body, old)
        status = dict(old.get("status") or {})
        conds = (body.get("status") or {}).get("conditions")
        if conds:
            status["conditions"] = conds
        else:
            status.pop("conditions", None)
        if status:
            new["status"] = status
        else:
            new.pop("status", None)
        self._stamp(new, old)
        return new

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj
                                    ) -> list[errors.Cause]:
        return validate_csr_approval_update(new, old)

    def _stamp(self, new: Obj, old: Obj) -> None:
        status = new.get("status")
        if not isinstance(status, dict) or not isinstance(status.get("conditions"), list):
            return
        now = rfc3339(self.registry.now())
        before: dict[str, Mapping[str, Any]] = {
            str(c.get("type")): c for c in certs.conditions(old)}
        out: list[Any] = []
        for c in status["conditions"]:
            if not isinstance(c, dict):
                out.append(c)
                continue
            c = dict(c)
            if not c.get("lastUpdateTime"):
                c["lastUpdateTime"] = now
            if not c.get("lastTransitionTime"):
                prev = before.get(str(c.get("type")))
                if prev is not None and prev.get("status") == c.get("status") \
                        and prev.get("lastTransitionTime"):
                    c["lastTransitionTime"] = prev["lastTransitionTime"]
                else:
                    c["lastTransitionTime"] = now
            out.append(c)
        new["status"] = {**status, "conditions": out}
