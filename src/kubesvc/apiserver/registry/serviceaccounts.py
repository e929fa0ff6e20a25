"""ServiceAccount admission for pods at create (upstream's
``plugin/pkg/admission/serviceaccount``): ``spec.serviceAccountName`` defaults to
``default``; the pod is refused if that ServiceAccount does not exist (looked up live, the
``default`` one up to ten times 100-200 ms apart, since the ServiceAccount controller may
not have made it yet in a namespace just created); unless ``automountServiceAccountToken``
is false on the pod (or, when the pod does not say, on the ServiceAccount), every container
and init container without a mount at ``/var/run/secrets/kubernetes.io/serviceaccount``
gets one (read-only) of a projected volume ``kube-api-access-<5 random>`` holding the
token (3607 s, as the kubelet asks), ``ca.crt`` from ``kube-root-ca.crt`` and the
namespace; the ServiceAccount's imagePullSecrets are copied when the pod has none. Mirror
pods are left as they are.

:func:`mirror_service_account` is upstream's v1 conversion of the deprecated
``serviceAccount`` field (kept equal to ``serviceAccountName``), run on every pod create.

Called by :class:`~.strategies.PodStrategy` (when the Registry was built with
``service_account_admission=True``: ``kubesvc up`` and ``kubesvc server``); reads
ServiceAccounts through the Registry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api.meta import generate_name
from kubesvc.api.objects import Obj, ensure_meta

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

DEFAULT_SERVICE_ACCOUNT = "default"
VOLUME_PREFIX = "kube-api-access-"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_EXPIRATION = 3607  # upstream's WarnOnlyBoundTokenExpirationSeconds
DEFAULT_MODE = 0o644


def mirror_service_account(spec: dict[str, Any]) -> None:
    """Upstream's conversion: an empty ``serviceAccountName`` takes the deprecated
    ``serviceAccount``; then ``serviceAccount`` shows ``serviceAccountName``."""
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    else:
        spec.pop("serviceAccount", None)


def token_volume(name: str) -> Obj:
    """Upstream's ``TokenVolumeSource`` as the volume ``name``."""
    return {"name": name, "projected": {"defaultMode": DEFAULT_MODE, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt",
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


class ServiceAccountAdmission:
    def __init__(self, registry: Registry, *, default_attempts: int = 10,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.registry = registry
        self.default_attempts = default_attempts
        self._rng = rng or random.Random()
        self._sleep = sleep

    async def admit(self, pod: Obj, namespace: str, *, name: str) -> None:
        """Mutate ``pod`` (being created in ``namespace``; ``name``: the request's, for
        the error) as upstream's Admit does, or raise its Forbidden."""
        md = ensure_meta(pod)
        if MIRROR_POD_ANNOTATION in (md.get("annotations") or {}):
            return
        spec = pod.setdefault("spec", {})
        if not isinstance(spec, dict):
            return  # validation will say what is wrong
        mirror_service_account(spec)
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec["serviceAccount"] = DEFAULT_SERVICE_ACCOUNT
        sa_name = str(spec["serviceAccountName"])
        try:
            sa = await self._service_account(namespace, sa_name)
        except errors.NotFound as exc:
            raise errors.Forbidden(
                (f'pods "{name}"' if name else "pods") + " is forbidden: error looking up "
                f"service account {namespace}/{sa_name}: {exc.message}",
                name=name, kind="pods") from exc
        if _should_automount(sa, spec):
            self._mount_token(spec)
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [{"name": s.get("name", "")}
                                        for s in sa["imagePullSecrets"] if isinstance(s, dict)]

    async def _service_account(self, namespace: str, name: str) -> Obj:
        attempts = self.default_attempts if name == DEFAULT_SERVICE_ACCOUNT else 1
        interval = (100 + self._rng.randrange(100)) / 1000
        for i in range(max(1, attempts)):
            if i:
                await self._sleep(interval)
            try:
                return await self.registry.get("serviceaccounts", name, namespace=namespace)
            except errors.NotFound:
                continue
        raise errors.NotFound(f'serviceaccount "{name}" not found', name=name,
                              kind="serviceaccount")

    def _mount_token(self, spec: dict[str, Any]) -> None:
        volumes = spec.get("volumes")
        if not isinstance(volumes, list):
            volumes = []
        volume_name = next((str(v.get("name")) for v in volumes if isinstance(v, dict)
                            and str(v.get("name") or "").startswith(VOLUME_PREFIX)), "")
        has_volume = bool(volume_name)
        if not volume_name:
            volume_name = generate_name(VOLUME_PREFIX, rng=self._rng)
        mount = {"name": volume_name, "readOnly": True, "mountPath": MOUNT_PATH}
        needed = False
        for key in ("initContainers", "containers"):
            for c in spec.get(key) or []:
                if not isinstance(c, dict):
                    continue
                mounts = c.get("volumeMounts")
                if not isinstance(mounts, list):
                    mounts = c["volumeMounts"] = []
                if any(isinstance(m, dict) and m.get("mountPath") == MOUNT_PATH
                       for m in mounts):
                    continue
                mounts.append(dict(mount))
                needed = True
        if needed and not has_volume:
            spec["volumes"] = [*volumes, token_volume(volume_name)]


def _should_automount(sa: Obj, spec: dict[str, Any]) -> bool:
    """The pod's preference wins, then the ServiceAccount's; true by default."""
    if isinstance(spec.get("automountServiceAccountToken"), bool):
        return bool(spec["automountServiceAccountToken"])
    if isinstance(sa.get("automountServiceAccountToken"), bool):
        return bool(sa["automountServiceAccountToken"])
    return True
