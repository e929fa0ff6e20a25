"""Per-resource hooks of the generic registry (upstream's ``RESTCreateStrategy`` /
``RESTUpdateStrategy`` / ``RESTGracefulDeleteStrategy`` and the store's Begin/After hooks).

The generic :class:`~kubesvc.apiserver.registry.core.Registry` runs one pipeline for every
resource and asks the resource's :class:`Strategy` at each step: what to reset on create and
update (status lives behind the status subresource), whether a spec change bumps
``metadata.generation``, how long a graceful delete waits (pods), and — for Services — which
IPs and ports to allocate and release (:mod:`.services`). Namespaces have their own strategy
in :mod:`.namespaces`.

Called by :mod:`.core`; calls :mod:`kubesvc.api.meta`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubesvc import errors
from kubesvc.api import meta as apimeta
from kubesvc.api.defaults import pod_qos_class
from kubesvc.api.defaults.pod import container_defaults
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.objects import Obj, ensure_meta
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.validation import ephemeral
from kubesvc.apiserver.registry.podtolerations import add_default_tolerations
from kubesvc.apiserver.registry.serviceaccounts import mirror_service_account

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

# Strategies whose AllowCreateOnUpdate is true upstream (PUT of a missing object creates it).
_CREATE_ON_UPDATE = frozenset({
    "services", "endpoints", "events", "events.events.k8s.io", "leases.coordination.k8s.io",
})


class Txn:
    """Side effects of an admission step (allocations), settled after the store write:
    ``commit`` when the write succeeded, ``revert`` when it failed or was a dry run."""

    async def commit(self) -> None:
        return None

    async def revert(self) -> None:
        return None


NOOP_TXN = Txn()


class Strategy:
    def __init__(self, info: ResourceInfo, registry: Registry) -> None:
        self.info = info
        self.registry = registry
        self.has_status = "status" in info.subresources
        self.allow_create_on_update = info.key in _CREATE_ON_UPDATE
        self.uses_generation = apimeta.uses_generation(info.key)

    # -- decoding
    def decode_custom(self, obj: Obj, *, field_validation: str, warnings: list[str] | None
                      ) -> None:
        """Custom resources' decode step (version, pruning, defaults); built-ins: none."""

    # -- validation (the kind's rules, by resource key)
    def validate_create(self, obj: Obj) -> list[errors.Cause]:
        from kubesvc.api.validation import validate_create

        return validate_create(self.info.key, obj)

    def validate_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        from kubesvc.api.validation import validate_update

        return validate_update(self.info.key, new, old)

    def validate_status_update(self, new: Obj, old: Obj) -> list[errors.Cause]:
        from kubesvc.api.validation import validate_status_update

        return validate_status_update(self.info.key, new, old)

    # -- scale subresource
    def scale_of(self, obj: Obj) -> Obj:
        from kubesvc.apiserver.registry.subresources import to_scale

        return to_scale(obj)

    def set_scale_replicas(self, obj: Obj, replicas: int) -> None:
        obj.setdefault("spec", {})["replicas"] = replicas

    # -- create
    def prepare_create(self, obj: Obj) -> None:
        """Clear what a client may not set on create (status, for kinds with a status
        subresource, as most upstream ``PrepareForCreate``s do)."""
        if self.has_status and self.info.key != "nodes":
            obj.pop("status", None)

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        return NOOP_TXN

    def finish_create(self, obj: Obj) -> None:
        """Last touches after admission, before the write."""

    def warnings_on_create(self, obj: Obj) -> list[str]:
        """Upstream's ``WarningsOnCreate``: texts for ``Warning: 299`` headers."""
        return []

    # -- update
    def prepare_update(self, new: Obj, old: Obj) -> None:
        """Main-resource update: status changes are ignored; generation bumps on spec
        changes for kinds that track it."""
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        self.bump_generation(new, old)

    # Metadata a status writer may change, as upstream's status strategies allow (they
    # reset only the spec, and system fields are never client-settable).
    STATUS_WRITABLE_META = ("labels", "annotations", "finalizers", "ownerReferences")

    def prepare_status_update(self, body: Obj, old: Obj) -> Obj:
        """Status-subresource update: ``status`` and the writable metadata from the body,
        everything else (spec above all) from the stored object."""
        new: Obj = {**old, "metadata": dict(old.get("metadata") or {})}
        if "status" in body:
            new["status"] = body["status"]
        else:
            new.pop("status", None)
        bmeta = body.get("metadata") or {}
        nmeta = new["metadata"]
        for fld in self.STATUS_WRITABLE_META:
            if fld in bmeta:
                nmeta[fld] = bmeta[fld]
            else:
                nmeta.pop(fld, None)
        return new

    def prepare_subresource_update(self, subresource: str, body: Obj, old: Obj) -> Obj:
        """An update of a kind's own subresource (``certificatesigningrequests/approval``);
        kinds without one never get here (the registry checks ``info.subresources``)."""
        raise NotImplementedError(subresource)

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj
                                    ) -> list[errors.Cause]:
        raise NotImplementedError(subresource)

    def bump_generation(self, new: Obj, old: Obj) -> None:
        if self.uses_generation and apimeta.spec_changed(self.info.key, old, new):
            m = new.setdefault("metadata", {})
            m["generation"] = int((old.get("metadata") or {}).get("generation") or 0) + 1

    async def admit_update(self, new: Obj, old: Obj, *, dry_run: bool) -> Txn:
        return NOOP_TXN

    def finish_update(self, new: Obj, old: Obj) -> None:
        """Last touches after admission, before the write."""

    # -- delete
    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds a delete waits before the object goes (0: at once)."""
        return 0

    async def after_delete(self, obj: Obj) -> None:
        """Runs once the object is really gone from the store."""


class PodStrategy(Strategy):
    """Pods: ``status.phase: Pending`` and the QoS class on create; the deprecated
    ``serviceAccount`` mirrored; ServiceAccount admission (when the registry has it);
    graceful deletion."""

    def prepare_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": pod_qos_class(obj)}
        spec = obj.get("spec")
        if isinstance(spec, dict):
            mirror_service_account(spec)

    def prepare_update(self, new: Obj, old: Obj) -> None:
        spec = new.get("spec")
        if isinstance(spec, dict):
            mirror_service_account(spec)  # as upstream's conversion does on every decode
        super().prepare_update(new, old)

    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        admission = self.registry.service_account_admission
        if admission is not None:
            md = ensure_meta(obj)
            name = str(md.get("name") or "")
            prefix = str(md.get("generateName") or "")
            if prefix and name.startswith(prefix) and len(name) == len(prefix) + 5:
                name = ""  # upstream admits before the name is generated
            await admission.admit(obj, str(md.get("namespace") or ""), name=name)
        return NOOP_TXN

    def finish_create(self, obj: Obj) -> None:
        add_default_tolerations(obj)  # the DefaultTolerationSeconds admission plugin

    def prepare_status_update(self, body: Obj, old: Obj) -> Obj:
        new = super().prepare_status_update(body, old)
        # Upstream: "don't allow the pods/status endpoint to touch owner references".
        owners = (old.get("metadata") or {}).get("ownerReferences")
        if owners is None:
            new["metadata"].pop("ownerReferences", None)
        else:
            new["metadata"]["ownerReferences"] = owners
        # qosClass derives from the (immutable) resources: keep it when a status writer
        # (the node agent) leaves it out.
        status = new.get("status")
        old_qos = (old.get("status") or {}).get("qosClass")
        if isinstance(status, dict) and old_qos and not status.get("qosClass"):
            status["qosClass"] = old_qos
        return new

    def prepare_subresource_update(self, subresource: str, body: Obj, old: Obj) -> Obj:
        """``pods/ephemeralcontainers`` (upstream ``podEphemeralContainersStrategy``): the
        stored pod with only ``spec.ephemeralContainers`` (defaulted) from the body."""
        if subresource != "ephemeralcontainers":
            raise errors.NotFound(message="the server could not find the requested resource")
        new: Obj = deep_copy(old)
        spec = new.setdefault("spec", {})
        ecs = (body.get("spec") or {}).get("ephemeralContainers") if isinstance(
            body.get("spec"), dict) else None
        if ecs:
            spec["ephemeralContainers"] = deep_copy(ecs)
            for c in spec["ephemeralContainers"]:
                if isinstance(c, dict):
                    container_defaults(c)
        else:
            spec.pop("ephemeralContainers", None)
        return new

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj
                                    ) -> list[errors.Cause]:
        return ephemeral.validate_update(new, old)

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Upstream ``podStrategy.CheckGracefulDelete``."""
        spec = obj.get("spec") or {}
        if requested is not None:
            period = requested
        elif spec.get("terminationGracePeriodSeconds") is not None:
            period = int(spec["terminationGracePeriodSeconds"])
        else:
            period = 30
        if period < 0:
            period = 1  # upstream treats a negative grace period as 1s
        if not spec.get("nodeName"):
            return 0  # never scheduled: nothing to stop
        if (obj.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
            return 0  # already terminated
        return period


class NetworkPolicyStrategy(Strategy):
    """NetworkPolicies (issue 23): where the cluster's network cannot enforce them (host
    mode: ``Registry.network_policy_warning`` set by ``kubesvc up``), every create says so
    in a warning, never a silent allow."""

    def warnings_on_create(self, obj: Obj) -> list[str]:
        text = self.registry.network_policy_warning
        return [text] if text else []
