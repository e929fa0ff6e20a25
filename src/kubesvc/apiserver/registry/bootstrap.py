"""Objects the API server owns: the system namespaces and the ``kubernetes`` Service with
its Endpoints and EndpointSlice (upstream's ``controlplane`` bootstrap controller and the
lease endpoint reconciler).

At start: repair the allocators from the stored Services, create ``default``,
``kube-system``, ``kube-public`` and ``kube-node-lease`` if missing, and make sure
``default/kubernetes`` exists — ClusterIP = the first address of the service range, port 443
named ``https`` to the API server's port — and that its Endpoints and EndpointSlice point at
the API server's endpoint. A reconcile loop (every ``RECONCILE_SECONDS``) puts them back if
someone deletes or changes them, as upstream's does.

The Endpoints/EndpointSlice are written straight to the store (trusted, like upstream's
reconciler): in host network mode the API server listens on loopback, which user-written
endpoints may not use.

Called by :meth:`~.core.Registry.start`; calls the registry create path, the ``Store`` and
:mod:`kubesvc.apiserver.allocators.repair`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import meta as apimeta
from kubesvc.api import sysendpoints
from kubesvc.api.objects import Obj, ensure_meta
from kubesvc.api.resources import BY_KEY, ResourceInfo
from kubesvc.apiserver.allocators.repair import repair_allocators
from kubesvc.apiserver.registry import apiservices
from kubesvc.apiserver.registry.codec import decode, encode

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
RECONCILE_SECONDS = 10.0
SERVICE_LABELS = {"component": "apiserver", "provider": "kubernetes"}


async def bootstrap(reg: Registry) -> None:
    report = await repair_allocators(reg.store, reg.ips, reg.ports)
    log.info("allocator repair: %d services, %d IPs, %d node ports", report.services,
             len(report.ips), len(report.ports))
    for ns in SYSTEM_NAMESPACES:
        await ensure_namespace(reg, ns)
    await ensure_kubernetes_service(reg)
    await apiservices.ensure_local_apiservices(reg)  # issue 24
    if reg.endpoint_reconciler == "single":
        reg.spawn(_reconcile_loop(reg), name="kubernetes-service-reconciler")


async def _reconcile_loop(reg: Registry) -> None:
    while True:
        await asyncio.sleep(RECONCILE_SECONDS)
        try:
            for ns in SYSTEM_NAMESPACES[:2]:
                await ensure_namespace(reg, ns)
            await ensure_kubernetes_service(reg)
        except Exception:
            log.exception("reconciling the kubernetes Service failed; retrying")


async def ensure_namespace(reg: Registry, name: str) -> None:
    info = BY_KEY["namespaces"]
    if await reg.store.get(info.storage_key(name)) is not None:
        return
    try:
        await reg.create_object(info, {"metadata": {"name": name}}, "")
    except errors.AlreadyExists:
        pass
    except errors.Forbidden:
        pass  # being deleted (kube-node-lease may be); the loop will bring it back


def _service_ports(port: int) -> list[dict[str, Any]]:
    return [{"name": "https", "protocol": "TCP", "port": 443, "targetPort": port}]


async def ensure_kubernetes_service(reg: Registry) -> None:
    host, port = reg.apiserver_endpoint
    info = BY_KEY["services"]
    kv = await reg.store.get(info.storage_key("kubernetes", "default"))
    if kv is None:
        body: Obj = {
            "metadata": {"name": "kubernetes", "namespace": "default",
                         "labels": dict(SERVICE_LABELS)},
            "spec": {"type": "ClusterIP", "clusterIP": reg.ips.nth(1),
                     "ports": _service_ports(port), "sessionAffinity": "None"},
        }
        try:
            await reg.create_object(info, body, "default")
        except errors.AlreadyExists:
            pass
    elif reg.endpoint_reconciler == "single":
        svc = decode(kv)
        ports = (svc.get("spec") or {}).get("ports") or []
        want = _service_ports(port)
        if [{k: p.get(k) for k in ("name", "protocol", "port", "targetPort")} for p in ports] \
                != want:
            svc["spec"]["ports"] = want
            try:
                await reg.update_object(info, svc, "default")
            except errors.Conflict:
                pass  # changed meanwhile; the next reconcile looks again
    if reg.endpoint_reconciler == "none":
        return  # the Endpoints and EndpointSlice are the caller's
    eps, slices = sysendpoints.build(sysendpoints.KUBERNETES,
                                     [sysendpoints.Backend(host, port)])
    await _ensure_raw(reg, BY_KEY["endpoints"], eps, ("subsets",))
    for sl in slices:
        await _ensure_raw(reg, BY_KEY["endpointslices.discovery.k8s.io"], sl,
                          ("addressType", "endpoints", "ports"))


async def _ensure_raw(reg: Registry, info: ResourceInfo, desired: Obj,
                      fields: tuple[str, ...]) -> None:
    """Create ``desired`` or bring ``fields`` (and labels) of the stored object to it."""
    name = desired["metadata"]["name"]
    ns = desired["metadata"]["namespace"]
    key = info.storage_key(name, ns)
    for _ in range(8):
        kv = await reg.store.get(key)
        if kv is None:
            obj: Obj = {"apiVersion": info.api_version, "kind": info.kind, **desired}
            apimeta.fill_system_fields(info.key, obj, now=reg.now())
            try:
                await reg.store.create(key, encode(obj))
            except errors.AlreadyExists:
                continue
            return
        cur = decode(kv)
        labels = ensure_meta(cur).get("labels") or {}
        want_labels = {**labels, **desired["metadata"]["labels"]}
        if all(cur.get(f) == desired[f] for f in fields) and labels == want_labels:
            return
        for f in fields:
            cur[f] = desired[f]
        ensure_meta(cur)["labels"] = want_labels
        if apimeta.uses_generation(info.key):
            ensure_meta(cur)["generation"] = int(ensure_meta(cur).get("generation") or 0) + 1
        try:
            await reg.store.update(key, encode(cur), expected_mod_revision=kv.mod_revision)
        except (errors.Conflict, errors.NotFound):
            continue
        return
