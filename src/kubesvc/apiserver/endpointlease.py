"""The ``kubernetes`` and ``kube-dns`` Service endpoints when several ``kubesvc server``
replicas share one store: upstream's "lease" endpoint reconciler.

Each replica keeps a Lease of its own in ``kube-system`` (labelled
``kubesvc.io/endpoint-lease``; annotations carry its API and DNS ``host:port``) renewed every
third of its duration. After each renewal it lists every replica's Lease, drops those not
renewed within their duration, and writes the ``default/kubernetes`` Endpoints and
EndpointSlice(s) and the ``kube-system/kube-dns`` ones so that they list exactly the live
replicas (compare-and-swap on resourceVersion; a Conflict just waits for the next round, as
every replica converges on the same content). Replicas listening on different ports get one
Endpoints subset and one EndpointSlice per port. On shutdown a replica deletes its Lease and
writes the endpoints without itself, as upstream's ``RemoveEndpoints``.

Called by :mod:`kubesvc.cli.server` with the in-process Registry as its Client; the objects
are built by :mod:`kubesvc.api.sysendpoints`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from kubesvc import errors
from kubesvc.api import sysendpoints
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import micro_time_epoch, parse_time_epoch
from kubesvc.client.leaderelection import LEASES
from kubesvc.client.options import ListOptions
from kubesvc.client.protocol import Client

log = logging.getLogger(__name__)

SLICES = "endpointslices.discovery.k8s.io"
LEASE_LABEL = "kubesvc.io/endpoint-lease"
API_ANNOTATION = "kubesvc.io/api-endpoint"
DNS_ANNOTATION = "kubesvc.io/dns-endpoint"
NAMESPACE = "kube-system"


@dataclass(frozen=True, slots=True)
class Replica:
    identity: str
    api: tuple[str, int]
    dns: tuple[str, int] | None


def _parse_hostport(value: str) -> tuple[str, int] | None:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def lease_name(api: tuple[str, int]) -> str:
    return "kubesvc-apiserver-" + re.sub(r"[^a-z0-9-]", "-", f"{api[0]}-{api[1]}".lower())


def live_replicas(leases: list[Obj], *, now: float) -> list[Replica]:
    out: list[Replica] = []
    for lease in leases:
        md, spec = lease.get("metadata") or {}, lease.get("spec") or {}
        ann = md.get("annotations") or {}
        api = _parse_hostport(str(ann.get(API_ANNOTATION) or ""))
        renewed = parse_time_epoch(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or 0)
        if api is None or renewed is None or renewed + duration < now:
            continue
        dns = _parse_hostport(str(ann.get(DNS_ANNOTATION) or ""))
        out.append(Replica(str(spec.get("holderIdentity") or ""), api, dns))
    return sorted(out, key=lambda r: r.api)


KUBE_DNS = sysendpoints.kube_dns(managed_by="kubesvc.io-server")


class EndpointLeaseReconciler:
    def __init__(
        self, client: Client, *, identity: str, api: tuple[str, int],
        dns: tuple[str, int] | None, lease_duration: int = 15,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.identity = identity
        self.api = api
        self.dns = dns
        self.lease_duration = max(1, int(lease_duration))
        self.clock = clock
        self.name = lease_name(api)
        self.synced = False

    async def run(self, stop: asyncio.Event) -> None:
        interval = max(0.2, self.lease_duration / 3)
        try:
            while not stop.is_set():
                try:
                    await self.renew()
                    await self.reconcile()
                    self.synced = True
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("endpoint lease %s: %s; retrying", self.name, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.remove())

    async def renew(self) -> None:
        spec: Obj = {"holderIdentity": self.identity,
                     "leaseDurationSeconds": self.lease_duration,
                     "renewTime": micro_time_epoch(self.clock())}
        ann = {API_ANNOTATION: f"{self.api[0]}:{self.api[1]}"}
        if self.dns is not None:
            ann[DNS_ANNOTATION] = f"{self.dns[0]}:{self.dns[1]}"
        md: Obj = {"name": self.name, "namespace": NAMESPACE,
                   "labels": {LEASE_LABEL: "true"}, "annotations": ann}
        try:
            cur = await self.client.get(LEASES, self.name, namespace=NAMESPACE)
        except errors.NotFound:
            await self.client.create(LEASES, {"apiVersion": "coordination.k8s.io/v1",
                                              "kind": "Lease", "metadata": md, "spec": spec},
                                     namespace=NAMESPACE)
            return
        md["resourceVersion"] = cur["metadata"]["resourceVersion"]
        await self.client.update(LEASES, {**cur, "metadata": {**cur["metadata"], **md},
                                          "spec": {**(cur.get("spec") or {}), **spec}},
                                 namespace=NAMESPACE)

    async def remove(self) -> None:
        """Drop this replica's Lease and take it out of the endpoints (on shutdown)."""
        with contextlib.suppress(errors.NotFound):
            await self.client.delete(LEASES, self.name, namespace=NAMESPACE)
        await self.reconcile()

    async def reconcile(self) -> list[Replica]:
        got = await self.client.list(LEASES, namespace=NAMESPACE,
                                     opts=ListOptions(label_selector=f"{LEASE_LABEL}=true"))
        live = live_replicas(list(got.get("items") or []), now=self.clock())
        await self._write(sysendpoints.KUBERNETES,
                          [sysendpoints.Backend(*r.api) for r in live])
        await self._write(KUBE_DNS,
                          [sysendpoints.Backend(*r.dns) for r in live if r.dns is not None])
        return live

    async def _write(self, t: sysendpoints.SystemService,
                     backends: list[sysendpoints.Backend]) -> None:
        eps, slices = sysendpoints.build(t, backends)
        await self._put("endpoints", t.namespace, eps, ("subsets",))
        wanted: set[str] = set()
        for sl in slices:
            wanted.add(sl["metadata"]["name"])
            await self._put(SLICES, t.namespace, sl, ("addressType", "endpoints", "ports"))
        # Slices of port groups that are gone (the base slice stays, emptied, if no one is
        # left — which only happens while the last replica shuts down).
        sel = ",".join(f"{k}={v}" for k, v in t.slice_labels.items())
        have = await self.client.list(SLICES, namespace=t.namespace,
                                      opts=ListOptions(label_selector=sel))
        for sl in have.get("items") or []:
            name = str(sl["metadata"]["name"])
            if name.startswith(f"{t.slice_base}-") and name not in wanted:
                with contextlib.suppress(errors.NotFound):
                    await self.client.delete(SLICES, name, namespace=t.namespace)

    async def _put(self, resource: str, namespace: str, obj: Obj,
                   fields: tuple[str, ...]) -> None:
        name = obj["metadata"]["name"]
        try:
            cur = await self.client.get(resource, name, namespace=namespace)
        except errors.NotFound:
            with contextlib.suppress(errors.AlreadyExists):
                await self.client.create(resource, obj, namespace=namespace)
            return
        labels = {**(cur["metadata"].get("labels") or {}), **obj["metadata"]["labels"]}
        if all(_norm(cur.get(f)) == _norm(obj.get(f)) for f in fields) and \
                labels == cur["metadata"].get("labels"):
            return
        new = {**cur, **{f: obj[f] for f in fields},
               "metadata": {**cur["metadata"], "labels": labels}}
        with contextlib.suppress(errors.Conflict, errors.NotFound):
            await self.client.update(resource, new, namespace=namespace)


def _norm(value: object) -> object:
    """Compare endpoint lists regardless of defaulted empty fields ([] vs None)."""
    return value or None
