"""The generic registry: REST semantics over the ``Store`` for every served resource
(upstream ``k8s.io/apiserver/pkg/registry/generic/registry.Store`` plus the per-kind REST
wrappers), and the in-process implementation of :class:`kubesvc.client.protocol.Client`.

One pipeline serves every resource; per-kind behaviour lives in strategies
(:mod:`.strategies`, :mod:`.services`, :mod:`.namespaces`). Create: copy, unknown fields
(Strict: 400; Warn: warnings; always dropped, as upstream's typed decoding drops them),
namespace match, defaults, generateName, system fields, strategy prepare, namespace
lifecycle admission, allocation (before validation, as upstream's BeginCreate; given back
if anything later fails), validation, write (AlreadyExists as upstream). Update: read,
resourceVersion precondition (Conflict as upstream), status/main split, generation bump,
allocation, validation, compare-and-swap write (an update without resourceVersion retries
on conflict; a no-op update writes nothing; removing the last finalizer of a deleted object
deletes it). Patch: read, patch, update with CAS, retry on conflict.
Delete, deletecollection: :mod:`.deletion`. List: :mod:`.listing`. Watch: :mod:`.watch`.
Subresources: status and finalize (here), scale and binding (:mod:`.subresources`).

Extras beyond the ``Client`` protocol, all keyword arguments with defaults (the HTTP layer's
``kubesvc.apiserver.http.backend.Backend`` protocol): ``WriteOptions.field_validation``
("Strict" | "Warn" | "Ignore"; the HTTP layer always passes one, Warn when the request has
none; the default "" marks an in-process caller, a kubesvc component whose objects carry
only declared fields, and skips the unknown-field walk) with ``warnings`` (a list the
registry appends upstream-worded warnings to, e.g. ``unknown field "spec.foo"``),
``subresource`` on get/create/update/patch (``serviceaccounts`` ``token`` through
:attr:`Registry.token_requests`), ``ListOptions.resource_version_match`` on list,
``WriteOptions.field_manager`` on every write (the manager recorded in managedFields;
in-process callers without one are ``kubesvc``) and ``force`` on apply patches, and
:meth:`Registry.delete_collection`. Every write keeps ``metadata.managedFields`` through
:mod:`kubesvc.api.fieldmanager` (Update operations here, Apply in :mod:`.patching`);
``Registry.track_managed_fields = False`` turns that off (the benchmarks' peer).

Called by the HTTP layer and, in ``kubesvc up``, by every in-process component as its
Client. Calls the ``Store``, :mod:`kubesvc.api` (defaults, validation, patch, meta,
selectors, fields) and the allocators.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from kubesvc import errors
from kubesvc.api import fieldmanager, resources
from kubesvc.api import meta as apimeta
from kubesvc.api.apiextensions import model as crd_model
from kubesvc.api.defaults import apply_defaults, fill_zero_status
from kubesvc.api.fieldmanager import typed as fmtyped
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.objects import Obj, ensure_meta, resource_version
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.timefmt import rfc3339
from kubesvc.api.validation import validate_namespace_finalize
from kubesvc.apiserver.allocators import ClusterIPAllocator, NodePortAllocator, PeriodicRepair
from kubesvc.apiserver.registry import (
    apiservices,
    bootstrap,
    deletion,
    eviction,
    fieldvalidation,
    listing,
    namespaces,
    patching,
    subresources,
    watch,
)
from kubesvc.apiserver.registry.batchstrategy import JobStrategy
from kubesvc.apiserver.registry.certificates import CSR_KEY, CsrStrategy
from kubesvc.apiserver.registry.codec import (
    already_exists,
    conflict,
    decode,
    encode,
    namespace_not_found,
    namespace_terminating,
    not_found,
    parse_rv,
    same_content,
    uid_precondition,
)
from kubesvc.apiserver.registry.crdcontroller import CrdController
from kubesvc.apiserver.registry.customresources import (
    CRD_KEY,
    CrdStrategy,
    CustomResourceStrategy,
)
from kubesvc.apiserver.registry.ingress import IngressStrategy
from kubesvc.apiserver.registry.quota import QuotaAdmission
from kubesvc.apiserver.registry.serviceaccounts import ServiceAccountAdmission
from kubesvc.apiserver.registry.services import ServiceStrategy
from kubesvc.apiserver.registry.strategies import NetworkPolicyStrategy, PodStrategy, Strategy
from kubesvc.apiserver.registry.volumes import KEYS as VOLUME_KEYS
from kubesvc.apiserver.registry.volumes import ClaimStrategy, PendingPhaseStrategy
from kubesvc.client.options import DeleteOptions, ListOptions, WatchOptions, WriteOptions
from kubesvc.client.protocol import PatchType, WatchEventDict
from kubesvc.storage.store import KeyValue, Store

log = logging.getLogger(__name__)

MAX_RETRIES = 64
DEFAULT_MANAGER = "kubesvc"  # in-process writers that name no field manager


class TokenRequester(Protocol):
    """Answers a TokenRequest for ServiceAccount ``namespace/name``
    (``kubesvc.apiserver.http.tokens.TokenIssuer.token_request`` bound to a backend)."""

    def __call__(self, req: Obj, *, namespace: str, name: str,
                 warnings: list[str] | None = None, dry_run: bool = False) -> Awaitable[Obj]: ...
Warnings = list[str]  # (the class below shadows ``list`` with its method)


class Registry:
    """See the module docstring. ``start()`` before use, ``stop()`` at shutdown."""

    def __init__(
        self,
        store: Store,
        *,
        service_cidr: str = "10.96.0.0/12",
        node_port_range: tuple[int, int] = (30000, 32767),
        apiserver_endpoint: tuple[str, int] = ("127.0.0.1", 6443),
        clock: Callable[[], float] = time.time,
        bookmark_interval: float = 60.0,
        compact_interval: float = 300.0,
        repair_interval: float = 180.0,
        endpoint_reconciler: str = "single",
        service_account_admission: bool = False,
    ) -> None:
        """``endpoint_reconciler`` as upstream's ``--endpoint-reconciler-type``: "single"
        keeps the ``kubernetes`` Endpoints/EndpointSlice on ``apiserver_endpoint``; "none"
        leaves them to the caller (``kubesvc server``'s lease reconciler).
        ``service_account_admission`` turns on upstream's ServiceAccount admission for pods
        (:mod:`.serviceaccounts`; it needs the ServiceAccount controller running, so only
        the commands that run it turn it on)."""
        if endpoint_reconciler not in ("single", "none"):
            raise ValueError(f"endpoint_reconciler {endpoint_reconciler!r}: single or none")
        self.endpoint_reconciler = endpoint_reconciler
        self.store = store
        self.clock = clock
        self.apiserver_endpoint = apiserver_endpoint
        self.bookmark_interval = bookmark_interval
        self.compact_interval = compact_interval
        self.repair_interval = repair_interval
        self.decoded = watch.DecodedCache()  # store changes decoded once for all watchers
        self.ips = ClusterIPAllocator(store, service_cidr)
        self.ports = NodePortAllocator(store, node_port_range)
        self.namespaces = namespaces.NamespaceLifecycle(self)
        self.quota = QuotaAdmission(self)
        self.service_account_admission = (
            ServiceAccountAdmission(self) if service_account_admission else None)
        # serviceaccounts/NAME/token for in-process callers (the node agent of `kubesvc
        # up`): set by the API server, which holds the signing key
        self.token_requests: TokenRequester | None = None
        # set where nothing enforces NetworkPolicy (host mode): the create warning
        self.network_policy_warning = ""
        self._strategies: dict[str, Strategy] = {}
        for info in resources.RESOURCES:
            strategy: Strategy
            if info.key == "services":
                strategy = ServiceStrategy(info, self, ips=self.ips, ports=self.ports)
            elif info.key == "pods":
                strategy = PodStrategy(info, self)
            elif info.key == "namespaces":
                strategy = namespaces.NamespaceStrategy(info, self)
            elif info.key == CSR_KEY:
                strategy = CsrStrategy(info, self)
            elif info.key == "ingresses.networking.k8s.io":
                strategy = IngressStrategy(info, self)
            elif info.key == "networkpolicies.networking.k8s.io":
                strategy = NetworkPolicyStrategy(info, self)  # issue 23
            elif info.key == "persistentvolumeclaims":
                strategy = ClaimStrategy(info, self)
            elif info.key in VOLUME_KEYS:
                strategy = PendingPhaseStrategy(info, self)
            elif info.key == "jobs.batch":
                strategy = JobStrategy(info, self)
            elif info.key == CRD_KEY:
                strategy = CrdStrategy(info, self)
            elif info.key == apiservices.KEY:  # issue 24
                strategy = apiservices.APIServiceStrategy(info, self)
            else:
                strategy = Strategy(info, self)
            self._strategies[info.key] = strategy
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started = False
        self.crds = CrdController(self)
        self.track_managed_fields = True

    def managed_fields_update(self, info: ResourceInfo, old: Obj | None, new: Obj, *,
                              manager: str, subresource: str = "") -> None:
        """Record an Update operation by ``manager`` in ``new``'s managedFields."""
        if not self.track_managed_fields:
            return
        fieldmanager.update(
            old, new, manager=manager or DEFAULT_MANAGER, api_version=info.api_version,
            subresource=subresource, now=rfc3339(self.now()),
            t=fmtyped.for_kind(info.api_version, info.kind),
            has_status="status" in info.subresources,
        )

    # -- lifecycle
    async def start(self) -> None:
        """Repair the allocators from the stored Services, create the default namespaces and
        the ``kubernetes`` Service/Endpoints/EndpointSlice, resume namespace deletions,
        start store compaction."""
        await bootstrap.bootstrap(self)  # (the allocator repair loads both bitmaps)
        await self.namespaces.resume()
        await self.crds.sync()  # serve the established CRDs' resources from the start
        self.spawn(self.crds.run(), name="crd-controller")
        if self.compact_interval > 0:
            self.spawn(self._compactor(), name="registry-compactor")
        if self.repair_interval > 0:
            self.spawn(self._repairer(), name="allocator-repair")
        self.started = True

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self.started = False
        crd_model.publish([])

    def spawn(self, coro: Any, *, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as the named background task ``name``, kept until it ends and
        cancelled and awaited by :meth:`stop`; one that fails is logged, never silent."""
        task: asyncio.Task[Any] = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("registry task %s failed", task.get_name(), exc_info=exc)

    async def _compactor(self) -> None:
        # As upstream's apiserver: every interval, compact to the revision seen one interval
        # ago, so anything newer stays listable/watchable for at least one interval.
        previous = 0
        while True:
            await asyncio.sleep(self.compact_interval)
            try:
                current = await self.store.revision()
                if previous:
                    await self.store.compact(previous)
                previous = current
            except Exception:
                log.exception("store compaction failed; retrying next interval")

    async def _repairer(self) -> None:
        repair = PeriodicRepair(self.store, self.ips, self.ports)
        while True:
            await asyncio.sleep(self.repair_interval)
            try:
                await repair.run_once()
            except Exception:
                log.exception("allocator repair failed; retrying next interval")

    # -- helpers shared by the registry modules
    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def info(self, resource: str) -> ResourceInfo:
        info = resources.BY_KEY.get(resource)
        if info is None:
            try:
                info = resources.lookup(resource)
            except KeyError:
                raise errors.NotFound(
                    message="the server could not find the requested resource"
                ) from None
        return info

    def strategy(self, info: ResourceInfo) -> Strategy:
        found = self._strategies.get(info.key)
        if found is None or (found.info is not info and resources.is_custom(info)):
            if not resources.is_custom(info):
                raise KeyError(info.key)
            found = self._strategies[info.key] = CustomResourceStrategy(info, self)
        return found

    def namespace_for(self, info: ResourceInfo, namespace: str | None, obj: Obj | None = None
                      ) -> str:
        """The request namespace of a namespaced resource: the argument, else the object's,
        else ``default`` (as kubectl defaults it); ``""`` for cluster-scoped resources."""
        if not info.namespaced:
            return ""
        if namespace:
            return namespace
        if obj is not None:
            ns = (obj.get("metadata") or {}).get("namespace")
            if ns:
                return str(ns)
        return "default"

    def key(self, info: ResourceInfo, name: str, namespace: str) -> str:
        return info.storage_key(name, namespace or None)

    def check_type(self, info: ResourceInfo, obj: Obj, *, kind: str = "") -> None:
        """Fill ``apiVersion``/``kind`` when absent; reject a different kind."""
        want_kind = kind or info.kind
        have_kind = obj.get("kind")
        have_av = obj.get("apiVersion")
        if (have_kind and have_kind != want_kind) or (have_av and have_av != (
            "autoscaling/v1" if want_kind == "Scale" else info.api_version
        )):
            raise errors.BadRequest(
                message=f"the object provided is unrecognized (must be of type {want_kind}): "
                f"{have_av}, Kind={have_kind}"
            )
        if not kind and (have_kind is None or have_av is None):
            # Put them first, where every serializer upstream puts them.
            rest = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            obj.clear()
            obj.update({"apiVersion": info.api_version, "kind": info.kind, **rest})

    async def check_namespace_for_create(self, info: ResourceInfo, name: str, ns: str) -> None:
        """Upstream's NamespaceLifecycle admission for creates."""
        kv = await self.store.get(resources.BY_KEY["namespaces"].storage_key(ns))
        if kv is None:
            raise namespace_not_found(ns)
        nsobj = decode(kv)
        if (nsobj.get("status") or {}).get("phase") == "Terminating" or ensure_meta(nsobj).get(
            "deletionTimestamp"
        ):
            raise namespace_terminating(info, name, ns)

    # -- Client protocol: reads
    async def get(
        self, resource: str, name: str, *, namespace: str | None = None, subresource: str = ""
    ) -> Obj:
        info = self.info(resource)
        ns = self.namespace_for(info, namespace)
        if subresource == "scale":
            return await subresources.get_scale(self, info, name, ns)
        self._check_subresource(info, subresource, ("", "status", "ephemeralcontainers"))
        kv = await self.store.get(self.key(info, name, ns))
        if kv is None:
            raise not_found(info, name)
        return decode(kv)

    async def list(
        self, resource: str, *, namespace: str | None = None, opts: ListOptions = ListOptions()
    ) -> Obj:
        info = self.info(resource)
        return await listing.list_objects(
            self, info, namespace=namespace if info.namespaced else None, opts=opts
        )

    def watch(
        self, resource: str, *, namespace: str | None = None, opts: WatchOptions = WatchOptions()
    ) -> AsyncIterator[WatchEventDict]:
        info = self.info(resource)
        return watch.watch_objects(
            self, info, namespace=namespace if info.namespaced else None, opts=opts
        )

    # -- Client protocol: writes
    async def create(
        self, resource: str, obj: Obj, *, namespace: str | None = None,
        opts: WriteOptions = WriteOptions(), warnings: Warnings | None = None,
        subresource: str = "", name: str = "",
    ) -> Obj:
        """POST. ``subresource="binding"`` (pods) binds the pod named ``name`` (or the
        Binding's own name) to ``target.name``."""
        info = self.info(resource)
        if subresource:
            if info.key == "serviceaccounts" and subresource == "token":
                if self.token_requests is None:
                    raise errors.MethodNotAllowed("the server does not allow this method on "
                                                  "the requested resource")
                return await self.token_requests(
                    obj, namespace=self.namespace_for(info, namespace, obj), name=name,
                    warnings=warnings, dry_run=opts.dry_run)
            if info.key == "pods" and subresource == "binding":
                return await subresources.bind(
                    self, obj, self.namespace_for(info, namespace, obj), name=name,
                    dry_run=opts.dry_run,
                )
            if info.key == "pods" and subresource == "eviction":
                return await eviction.evict(
                    self, obj, self.namespace_for(info, namespace, obj), name=name,
                    dry_run=opts.dry_run)
            self._check_subresource(info, subresource, ())
        return await self.create_object(
            info, obj, self.namespace_for(info, namespace, obj), dry_run=opts.dry_run,
            field_validation=opts.field_validation, warnings=warnings,
            manager=opts.field_manager,
        )

    async def create_object(
        self, info: ResourceInfo, body: Obj, ns: str, *, dry_run: bool = False,
        field_validation: str = fieldvalidation.IN_PROCESS, warnings: Warnings | None = None,
        manager: str = "", applied: bool = False,
    ) -> Obj:
        """POST of a decoded body. ``applied``: the body is the result of an apply and
        carries its managedFields already; otherwise ``manager`` is recorded as an Update."""
        if not isinstance(body, dict):
            raise errors.BadRequest(message="the body of the request was not a JSON object")
        if not info.stored:  # the reviews need a caller: only the HTTP layer answers them
            raise errors.MethodNotAllowed("the server does not allow this method on the "
                                          "requested resource")
        obj: Obj = deep_copy(body)
        fieldvalidation.check_fields(info, obj, field_validation, warnings)
        strategy = self.strategy(info)
        strategy.decode_custom(obj, field_validation=field_validation, warnings=warnings)
        self.check_type(info, obj)
        apimeta.ensure_namespace(obj, ns, namespaced=info.namespaced)
        apply_defaults(info.key, obj)
        apimeta.apply_generate_name(obj)
        apimeta.fill_system_fields(info.key, obj, now=self.now())
        if not applied:
            self.managed_fields_update(info, None, obj, manager=manager)
        strategy.prepare_create(obj)
        fill_zero_status(info.key, obj)  # the status struct upstream always encodes
        name = str(ensure_meta(obj).get("name") or "")
        if info.namespaced:
            await self.check_namespace_for_create(info, name, ns)
        # ResourceQuota admission holds the namespace's quota lock until the object is
        # stored (kubesvc.apiserver.registry.quota).
        quota_lock = await self.quota.acquire(info, ns)
        try:
            # Allocation comes before validation, as upstream's BeginCreate does (validation
            # checks the allocated fields); a rejected object gives everything back.
            txn = await strategy.admit_create(obj, dry_run=dry_run)
            try:
                strategy.finish_create(obj)
                causes = strategy.validate_create(obj)
                if causes:
                    raise errors.invalid(info.kind, name, causes, group=info.group)
                if warnings is not None:
                    warnings.extend(strategy.warnings_on_create(obj))
                if quota_lock is not None:  # validating admission, after validation
                    await self.quota.check(info, obj, ns)
                data = encode(obj)
                if dry_run:
                    await txn.revert()
                    return obj
                try:
                    kv = await self.store.create(self.key(info, name, ns), data)
                except errors.AlreadyExists as exc:
                    raise already_exists(info, name) from exc
            except BaseException:
                if not dry_run:
                    await txn.revert()
                raise
            await txn.commit()
        finally:
            if quota_lock is not None:
                quota_lock.release()
        ensure_meta(obj)["resourceVersion"] = resource_version(kv.mod_revision)
        return obj

    async def update(
        self, resource: str, obj: Obj, *, namespace: str | None = None, subresource: str = "",
        opts: WriteOptions = WriteOptions(), warnings: Warnings | None = None,
    ) -> Obj:
        info = self.info(resource)
        ns = self.namespace_for(info, namespace, obj)
        if subresource == "scale":
            return await subresources.update_scale(self, info, obj, ns, dry_run=opts.dry_run,
                                                   manager=opts.field_manager)
        self._check_subresource(info, subresource, ("", "status", "finalize", "approval",
                                                    "ephemeralcontainers"))
        return await self.update_object(
            info, obj, ns, subresource=subresource, dry_run=opts.dry_run,
            field_validation=opts.field_validation, warnings=warnings,
            manager=opts.field_manager,
        )

    async def update_object(
        self, info: ResourceInfo, body: Obj, ns: str, *, subresource: str = "",
        dry_run: bool = False, field_validation: str = fieldvalidation.IN_PROCESS,
        warnings: Warnings | None = None, current: KeyValue | None = None,
        current_obj: Obj | None = None, owned: bool = False, manager: str = "",
        applied: bool = False, manager_subresource: str = "",
    ) -> Obj:
        """PUT. A caller that has just read the object (a patch) passes the ``current``
        key-value it read and, decoded, ``current_obj`` (saving a store read and a decode;
        a stale one fails the write's revision check and is read again), and
        ``owned=True`` for a body it built itself and already field-checked.
        ``applied``: the body is an apply's result with its managedFields; otherwise the
        write is recorded as an Update by ``manager`` (of ``manager_subresource`` when the
        write comes through one that updates the object itself: ``scale``)."""
        if not isinstance(body, dict):
            raise errors.BadRequest(message="the body of the request was not a JSON object")
        if not owned:
            body = deep_copy(body)
            fieldvalidation.check_fields(info, body, field_validation, warnings)
        strategy = self.strategy(info)
        strategy.decode_custom(body, field_validation=field_validation, warnings=warnings)
        self.check_type(info, body)
        apimeta.ensure_namespace(body, ns, namespaced=info.namespaced)
        bmeta = ensure_meta(body)
        name = str(bmeta.get("name") or "")
        if not name:
            raise errors.BadRequest(message="resource name may not be empty")
        want_rv = parse_rv(str(bmeta.get("resourceVersion") or ""))
        key = self.key(info, name, ns)
        for attempt in range(MAX_RETRIES):
            kv = current if attempt == 0 and current is not None else await self.store.get(key)
            if kv is None:
                if strategy.allow_create_on_update and not subresource:
                    return await self.create_object(info, body, ns, dry_run=dry_run,
                                                    manager=manager, applied=applied)
                raise not_found(info, name)
            if want_rv and want_rv != kv.mod_revision:
                raise conflict(info, name)
            old = current_obj if attempt == 0 and current_obj is not None else decode(kv)
            ometa = ensure_meta(old)
            if bmeta.get("uid") and bmeta["uid"] != ometa.get("uid"):
                raise uid_precondition(info, name, str(bmeta["uid"]), str(ometa.get("uid")))
            if subresource == "status":
                new = strategy.prepare_status_update(body, old)
                apply_defaults(info.key, new)  # decode-time defaults cover status too
            elif subresource == "finalize":
                new = namespaces.prepare_finalize(body, old)
            elif subresource:  # a kind's own subresource (CSR approval)
                new = strategy.prepare_subresource_update(subresource, body, old)
            else:
                new = body if owned and attempt == 0 else deep_copy(body)
                apply_defaults(info.key, new)
                nmeta = ensure_meta(new)
                for fld in ("uid", "creationTimestamp", "deletionTimestamp",
                            "deletionGracePeriodSeconds", "generation"):
                    if fld in ometa:
                        nmeta[fld] = ometa[fld]
                    else:
                        nmeta.pop(fld, None)
                strategy.prepare_update(new, old)
            if applied:
                if subresource:  # the subresource's prepare rebuilt metadata from old
                    mf = bmeta.get("managedFields")
                    if mf:
                        ensure_meta(new)["managedFields"] = mf
                    else:
                        ensure_meta(new).pop("managedFields", None)
            elif subresource != "finalize":
                self.managed_fields_update(info, old, new, manager=manager,
                                           subresource=subresource or manager_subresource)
            ensure_meta(new)["resourceVersion"] = resource_version(kv.mod_revision)
            txn = await strategy.admit_update(new, old, dry_run=dry_run)
            try:
                strategy.finish_update(new, old)
                if subresource == "status":
                    causes = strategy.validate_status_update(new, old)
                elif subresource == "finalize":
                    causes = validate_namespace_finalize(new, old)
                elif subresource:
                    causes = strategy.validate_subresource_update(subresource, new, old)
                else:
                    causes = strategy.validate_update(new, old)
                if causes:
                    raise errors.invalid(info.kind, name, causes, group=info.group)
                if deletion.should_delete_during_update(new) or same_content(new, old):
                    await txn.revert()
                    if same_content(new, old):
                        return old  # a no-op update writes nothing
                    if dry_run:
                        return new
                    await self.store.delete(key, expected_mod_revision=kv.mod_revision)
                    await strategy.after_delete(old)
                    return new
                data = encode(new)
                if dry_run:
                    await txn.revert()
                    return new
                kv2 = await self.store.update(key, data, expected_mod_revision=kv.mod_revision)
            except errors.Conflict:
                await txn.revert()
                if want_rv:
                    raise conflict(info, name) from None
                continue
            except errors.NotFound:
                await txn.revert()
                raise not_found(info, name) from None
            except BaseException:
                await txn.revert()
                raise
            await txn.commit()
            ensure_meta(new)["resourceVersion"] = resource_version(kv2.mod_revision)
            return new
        raise conflict(info, name)

    async def patch(
        self, resource: str, name: str, patch: Any, *, namespace: str | None = None,
        patch_type: PatchType = "merge", subresource: str = "",
        opts: WriteOptions = WriteOptions(), warnings: Warnings | None = None,
    ) -> Obj:
        info = self.info(resource)
        ns = self.namespace_for(info, namespace)
        if subresource == "scale":
            return await subresources.patch_scale(
                self, info, name, ns, patch, patch_type=patch_type, dry_run=opts.dry_run,
                manager=opts.field_manager,
            )
        self._check_subresource(info, subresource, ("", "status", "approval",
                                                    "ephemeralcontainers"))
        return await patching.patch_object(
            self, info, name, ns, patch, patch_type=patch_type, subresource=subresource,
            dry_run=opts.dry_run, field_validation=opts.field_validation, warnings=warnings,
            manager=opts.field_manager, force=opts.force,
        )

    async def delete(
        self, resource: str, name: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(),
    ) -> Obj:
        info = self.info(resource)
        ns = self.namespace_for(info, namespace)
        if info.key == CRD_KEY and not opts.dry_run:
            await self.crds.add_finalizer(name)
        if info.key == "namespaces":
            return await self.namespaces.delete(
                name, propagation_policy=opts.propagation_policy,
                preconditions=opts.preconditions, dry_run=opts.dry_run,
            )
        return await deletion.delete_object(self, info, name, ns, opts=opts)

    async def delete_collection(
        self, resource: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(), list_opts: ListOptions = ListOptions(),
    ) -> Obj:
        """Delete what ``list_opts``' selectors match, each with ``opts``."""
        info = self.info(resource)
        return await deletion.delete_collection(
            self, info, namespace=namespace if info.namespaced else None, opts=opts,
            list_opts=list_opts,
        )

    deletecollection = delete_collection

    def _check_subresource(self, info: ResourceInfo, sub: str, allowed: tuple[str, ...]) -> None:
        if not sub:
            return
        if sub not in info.subresources or sub not in allowed:
            raise errors.NotFound(message="the server could not find the requested resource")
