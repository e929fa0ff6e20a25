"""ControllerManager: builds the controllers over one set of shared informers (the
``InformerFactory`` role: one Informer per resource, shared by every controller that reads
it) and runs informers, event recorders and controllers as named tasks under one
``asyncio.TaskGroup`` until ``stop`` is set.

Called by the CLI (``kubesvc up`` / ``kubesvc server``) with the API server's in-process
Registry or an HttpClient as ``client``; calls every controller module of this package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubesvc.api import bootstraptoken as bt
from kubesvc.client.protocol import Client
from kubesvc.controllers.cordon import UnschedulableTaintController
from kubesvc.controllers.cronjob import CronJobController
from kubesvc.controllers.daemonset import DaemonSetController
from kubesvc.controllers.deployment import DeploymentController
from kubesvc.controllers.disruption import DisruptionController
from kubesvc.controllers.endpoints import EndpointsController
from kubesvc.controllers.endpointslice import EndpointSliceController
from kubesvc.controllers.events import EventRecorder
from kubesvc.controllers.gc import GarbageCollector
from kubesvc.controllers.job import JobController
from kubesvc.controllers.lbipam import LB_CLASS, POOL_CONFIGMAP, LBIPAMController
from kubesvc.controllers.mirroring import EndpointSliceMirroringController
from kubesvc.controllers.nodelifecycle import LEASE_NAMESPACE, NodeLifecycleController
from kubesvc.controllers.replicaset import ReplicaSetController
from kubesvc.controllers.replication import ReplicationManager
from kubesvc.controllers.servicepods import ServicePodIndex
from kubesvc.controllers.tokencleaner import FIELD_SELECTOR as TOKEN_SECRETS
from kubesvc.controllers.tokencleaner import TokenCleaner
from kubesvc.controllers.ttlafterfinished import TTLAfterFinishedController
from kubesvc.informers import Informer

ALL_CONTROLLERS: frozenset[str] = frozenset({
    "endpointslice", "endpoints", "endpointslice-mirroring", "replicaset", "deployment",
    "lb-ipam", "node-lifecycle", "garbage-collector", "tokencleaner",
    # issue 21
    "job", "cronjob", "ttl-after-finished", "daemonset", "replicationcontroller", "disruption",
})

SLICES = "endpointslices.discovery.k8s.io"
LEASES = "leases.coordination.k8s.io"
BATCH_OWNERS = ("jobs.batch", "cronjobs.batch", "daemonsets.apps", "replicationcontrollers")
TOKEN_INFORMER = "secrets:bootstrap-tokens"  # not a resource name: no one else shares it


@dataclass(frozen=True, slots=True)
class ControllerOptions:
    """Knobs of the controller manager (defaults as upstream where it has one)."""

    controllers: frozenset[str] = ALL_CONTROLLERS
    max_endpoints_per_slice: int = 100  # --max-endpoints-per-slice
    endpointslice_workers: int = 5  # --concurrent-service-endpoint-syncs
    endpoints_workers: int = 5  # --concurrent-endpoint-syncs
    mirroring_workers: int = 2
    replicaset_workers: int = 5
    deployment_workers: int = 5
    gc_workers: int = 5  # --concurrent-gc-syncs is 20 upstream; 5 suits 2 cores
    lb_pools: Sequence[str] = ()  # CIDRs / ranges, e.g. ("127.0.100.0/24",)
    lb_class: str = LB_CLASS
    node_grace_period: float = 40.0  # --node-monitor-grace-period, seconds
    event_host: str = ""  # Event source.host
    # True: informers passed in are already run by the caller; the manager runs only the
    # ones it creates. False: it runs every informer it uses.
    external_informers: bool = False
    # -- issue 21
    job_workers: int = 5  # --concurrent-job-syncs
    job_backoff_base: float = 10.0  # seconds; upstream DefaultJobPodFailureBackOff


class _Runnable(Protocol):
    async def run(self, stop: asyncio.Event) -> None: ...


class ControllerManager:
    def __init__(
        self,
        client: Client,
        *,
        informers: dict[str, Informer] | None = None,
        options: ControllerOptions | None = None,
    ) -> None:
        self.client = client
        self.options = opts = options or ControllerOptions()
        self.informers: dict[str, Informer] = dict(informers or {})
        self._own: set[str] = set()
        self.controllers: dict[str, _Runnable] = {}
        self.recorders: dict[str, EventRecorder] = {}
        on = opts.controllers
        unknown = on - ALL_CONTROLLERS
        if unknown:
            raise ValueError(f"unknown controllers: {', '.join(sorted(unknown))}")

        if on & {"endpointslice", "endpoints"}:
            index = ServicePodIndex(self._inf("services"), self._inf("pods"))
            if "endpointslice" in on:
                self.controllers["endpointslice"] = EndpointSliceController(
                    client, index, slices=self._inf(SLICES), nodes=self._inf("nodes"),
                    max_endpoints=opts.max_endpoints_per_slice,
                    workers=opts.endpointslice_workers)
            if "endpoints" in on:
                self.controllers["endpoints"] = EndpointsController(
                    client, index, endpoints=self._inf("endpoints"),
                    workers=opts.endpoints_workers)
        if "endpointslice-mirroring" in on:
            self.controllers["endpointslice-mirroring"] = EndpointSliceMirroringController(
                client, services=self._inf("services"), endpoints=self._inf("endpoints"),
                slices=self._inf(SLICES), max_endpoints=opts.max_endpoints_per_slice,
                workers=opts.mirroring_workers)
        if "replicaset" in on:
            self.controllers["replicaset"] = ReplicaSetController(
                client, replicasets=self._inf("replicasets.apps"), pods=self._inf("pods"),
                recorder=self._recorder("replicaset-controller"),
                workers=opts.replicaset_workers)
        if "deployment" in on:
            self.controllers["deployment"] = DeploymentController(
                client, deployments=self._inf("deployments.apps"),
                replicasets=self._inf("replicasets.apps"),
                recorder=self._recorder("deployment-controller"),
                workers=opts.deployment_workers)
        if "lb-ipam" in on:
            self.controllers["lb-ipam"] = LBIPAMController(
                client, services=self._inf("services"),
                configmaps=self._inf(
                    "configmaps", namespace=POOL_CONFIGMAP[0],
                    field_selector=f"metadata.name={POOL_CONFIGMAP[1]}"),
                pools=opts.lb_pools, recorder=self._recorder("lb-ipam-controller"),
                lb_class=opts.lb_class)
        if "node-lifecycle" in on:
            self.controllers["node-lifecycle"] = NodeLifecycleController(
                client, nodes=self._inf("nodes"),
                leases=self._inf(LEASES, namespace=LEASE_NAMESPACE), pods=self._inf("pods"),
                grace_period=opts.node_grace_period,
                recorder=self._recorder("node-controller"))
        self._batch_controllers(client, on, opts)
        if "garbage-collector" in on:
            # Every resource informed so far, plus the usual owners/dependents.
            for res in ("deployments.apps", "replicasets.apps", "pods", "services", SLICES,
                        *BATCH_OWNERS):
                self._inf(res)
            self.controllers["garbage-collector"] = GarbageCollector(
                client, dict(self.informers), workers=opts.gc_workers)
        if "tokencleaner" in on:  # after the GC: it takes every informer above as a resource
            tokens = Informer(client, "secrets", namespace=bt.NAMESPACE,
                              field_selector=TOKEN_SECRETS)
            self.informers[TOKEN_INFORMER] = tokens
            self._own.add(TOKEN_INFORMER)
            self.controllers["tokencleaner"] = TokenCleaner(client, secrets=tokens)

    def _batch_controllers(self, client: Client, on: frozenset[str],
                           opts: ControllerOptions) -> None:
        """Issue 21: Job, CronJob, TTL-after-finished, DaemonSet, ReplicationController,
        disruption; the cordon taint runs with node-lifecycle."""
        if "job" in on:
            self.controllers["job"] = JobController(
                client, jobs=self._inf("jobs.batch"), pods=self._inf("pods"),
                recorder=self._recorder("job-controller"), workers=opts.job_workers,
                backoff_base=opts.job_backoff_base)
        if "cronjob" in on:
            self.controllers["cronjob"] = CronJobController(
                client, cronjobs=self._inf("cronjobs.batch"), jobs=self._inf("jobs.batch"),
                recorder=self._recorder("cronjob-controller"))
        if "ttl-after-finished" in on:
            self.controllers["ttl-after-finished"] = TTLAfterFinishedController(
                client, jobs=self._inf("jobs.batch"))
        if "daemonset" in on:
            self.controllers["daemonset"] = DaemonSetController(
                client, daemonsets=self._inf("daemonsets.apps"), pods=self._inf("pods"),
                nodes=self._inf("nodes"), recorder=self._recorder("daemonset-controller"))
        if "replicationcontroller" in on:
            self.controllers["replicationcontroller"] = ReplicationManager(
                client, replicasets=self._inf("replicationcontrollers"),
                pods=self._inf("pods"),
                recorder=self._recorder("replication-controller"),
                workers=opts.replicaset_workers)
        if "disruption" in on:
            self.controllers["disruption"] = DisruptionController(
                client, pdbs=self._inf("poddisruptionbudgets.policy"), pods=self._inf("pods"))
        if "node-lifecycle" in on:
            self.controllers["node-unschedulable-taint"] = UnschedulableTaintController(
                client, nodes=self._inf("nodes"))

    def _inf(self, resource: str, **kw: Any) -> Informer:
        inf = self.informers.get(resource)
        if inf is None:
            inf = self.informers[resource] = Informer(self.client, resource, **kw)
            self._own.add(resource)
        return inf

    def _recorder(self, component: str) -> EventRecorder:
        rec = self.recorders.get(component)
        if rec is None:
            rec = self.recorders[component] = EventRecorder(
                self.client, component=component, host=self.options.event_host)
        return rec

    def _informers_to_run(self) -> Iterable[tuple[str, Informer]]:
        for res, inf in self.informers.items():
            if res in self._own or not self.options.external_informers:
                yield res, inf

    def synced(self) -> bool:
        """True once every informer the controllers read has listed its resource."""
        return all(inf.has_synced for inf in self.informers.values())

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.wait_synced() for inf in self.informers.values()))

    async def run(self, stop: asyncio.Event) -> None:
        async with asyncio.TaskGroup() as tg:
            for res, inf in self._informers_to_run():
                tg.create_task(inf.run(stop), name=f"informer:{res}")
            for comp, rec in self.recorders.items():
                tg.create_task(rec.run(stop), name=f"events:{comp}")
            for name, ctl in self.controllers.items():
                tg.create_task(ctl.run(stop), name=f"controller:{name}")
