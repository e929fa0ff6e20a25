"""ControllerManager: builds the controllers over one set of shared informers (the
``InformerFactory`` role: one Informer per resource, shared by every controller that reads
it) and runs informers, event recorders and controllers as named tasks under one
``asyncio.TaskGroup`` until ``stop`` is set.

Called by the CLI (``kubesvc up`` / ``kubesvc server``) with the API server's in-process
Registry or an HttpClient as ``client``; calls every controller module of this package.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kubesvc.api import bootstraptoken as bt
from kubesvc.api import certificates as certs
from kubesvc.api import pki
from kubesvc.client.protocol import Client
from kubesvc.controllers.certificates import Authorize, CsrApprover, CsrCleaner, CsrSigner
from kubesvc.controllers.cordon import UnschedulableTaintController
from kubesvc.controllers.cronclock import CronClock
from kubesvc.controllers.cronjob import CronJobController
from kubesvc.controllers.daemonset import DaemonSetController
from kubesvc.controllers.deployment import DeploymentController
from kubesvc.controllers.disruption import DisruptionController
from kubesvc.controllers.endpoints import EndpointsController
from kubesvc.controllers.endpointslice import EndpointSliceController
from kubesvc.controllers.events import EventRecorder
from kubesvc.controllers.gc import CRD_KEY as GC_CRD_KEY
from kubesvc.controllers.gc import GarbageCollector
from kubesvc.controllers.job import JobController
from kubesvc.controllers.lbipam import LB_CLASS, POOL_CONFIGMAP, LBIPAMController
from kubesvc.controllers.mirroring import EndpointSliceMirroringController
from kubesvc.controllers.nodelifecycle import LEASE_NAMESPACE, NodeLifecycleController
from kubesvc.controllers.replicaset import ReplicaSetController
from kubesvc.controllers.replication import ReplicationManager
from kubesvc.controllers.resourcequota import ResourceQuotaController
from kubesvc.controllers.serviceaccounts import (
    DEFAULT_SERVICE_ACCOUNT,
    ROOT_CA_CONFIGMAP,
    RootCAPublisher,
    ServiceAccountsController,
)
from kubesvc.controllers.servicepods import ServicePodIndex
from kubesvc.controllers.statefulset import StatefulSetController
from kubesvc.controllers.storage import PersistentVolumeController
from kubesvc.controllers.tokencleaner import FIELD_SELECTOR as TOKEN_SECRETS
from kubesvc.controllers.tokencleaner import TokenCleaner
from kubesvc.controllers.ttlafterfinished import TTLAfterFinishedController
from kubesvc.informers import Informer

ALL_CONTROLLERS: frozenset[str] = frozenset({
    "endpointslice", "endpoints", "endpointslice-mirroring", "replicaset", "deployment",
    "lb-ipam", "node-lifecycle", "garbage-collector", "tokencleaner", "serviceaccount",
    "root-ca-cert-publisher", "csrapproving", "csrsigning", "csrcleaner",
    # issue 21
    "statefulset", "persistentvolume-binder",
    "job", "cronjob", "ttl-after-finished", "daemonset", "replicationcontroller", "disruption",
    "resourcequota",
})

SLICES = "endpointslices.discovery.k8s.io"
LEASES = "leases.coordination.k8s.io"
BATCH_OWNERS = ("jobs.batch", "cronjobs.batch", "daemonsets.apps", "replicationcontrollers")
TOKEN_INFORMER = "secrets:bootstrap-tokens"  # not a resource name: no one else shares it
SA_INFORMER = "serviceaccounts:default"  # only the ``default`` ones
ROOT_CA_INFORMER = "configmaps:kube-root-ca.crt"


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
    # the cluster CA (PEM) the root-ca-cert-publisher puts in every namespace's
    # kube-root-ca.crt ConfigMap; without one that controller does not run
    root_ca: bytes = b""
    statefulset_workers: int = 5  # --concurrent-statefulset-syncs
    # The CronJob controller's clock runs this many times faster than real time (a testing
    # knob, ``kubesvc up --cronjob-clock-rate``; 1: real time).
    cronjob_clock_rate: float = 1.0
    # Where the local-path provisioner makes volume directories (<data dir>/storage);
    # None: the binder binds but does not provision.
    storage_root: Path | None = None
    # True: informers passed in are already run by the caller; the manager runs only the
    # ones it creates. False: it runs every informer it uses.
    external_informers: bool = False
    # certificates.k8s.io: the approver's SubjectAccessReview (the API server's authorizer)
    # and the signer's CA (--cluster-signing-cert/key-file); each controller runs only
    # when given what it needs.
    csr_authorize: Authorize | None = None
    signing_ca: pki.Authority | None = None
    cluster_signing_duration: float = 365 * 86400.0  # --cluster-signing-duration
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
        clients: Callable[[str], Client] | None = None,
    ) -> None:
        """``client`` reads (the informers) and records events; ``clients(name)``, when
        given, is the client controller ``name`` writes with (its own identity, as
        upstream's ``--use-service-account-credentials``)."""
        self.client = client
        own = clients or (lambda _name: client)
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
                    own("endpointslice"), index, slices=self._inf(SLICES), nodes=self._inf("nodes"),
                    max_endpoints=opts.max_endpoints_per_slice,
                    workers=opts.endpointslice_workers)
            if "endpoints" in on:
                self.controllers["endpoints"] = EndpointsController(
                    own("endpoints"), index, endpoints=self._inf("endpoints"),
                    workers=opts.endpoints_workers)
        if "endpointslice-mirroring" in on:
            self.controllers["endpointslice-mirroring"] = EndpointSliceMirroringController(
                own("endpointslice-mirroring"), services=self._inf("services"),
                endpoints=self._inf("endpoints"),
                slices=self._inf(SLICES), max_endpoints=opts.max_endpoints_per_slice,
                workers=opts.mirroring_workers)
        if "replicaset" in on:
            self.controllers["replicaset"] = ReplicaSetController(
                own("replicaset"), replicasets=self._inf("replicasets.apps"),
                pods=self._inf("pods"),
                recorder=self._recorder("replicaset-controller"),
                workers=opts.replicaset_workers)
        if "deployment" in on:
            self.controllers["deployment"] = DeploymentController(
                own("deployment"), deployments=self._inf("deployments.apps"),
                replicasets=self._inf("replicasets.apps"),
                recorder=self._recorder("deployment-controller"),
                workers=opts.deployment_workers)
        if "lb-ipam" in on:
            self.controllers["lb-ipam"] = LBIPAMController(
                own("lb-ipam"), services=self._inf("services"),
                configmaps=self._inf(
                    "configmaps", namespace=POOL_CONFIGMAP[0],
                    field_selector=f"metadata.name={POOL_CONFIGMAP[1]}"),
                pools=opts.lb_pools, recorder=self._recorder("lb-ipam-controller"),
                lb_class=opts.lb_class)
        if "node-lifecycle" in on:
            self.controllers["node-lifecycle"] = NodeLifecycleController(
                own("node-lifecycle"), nodes=self._inf("nodes"),
                leases=self._inf(LEASES, namespace=LEASE_NAMESPACE), pods=self._inf("pods"),
                grace_period=opts.node_grace_period,
                recorder=self._recorder("node-controller"))
        # -- issue 21: StatefulSet and the PV binder (before the GC: it takes their informers)
        if "statefulset" in on:
            self.controllers["statefulset"] = StatefulSetController(
                own("statefulset"), statefulsets=self._inf("statefulsets.apps"),
                pods=self._inf("pods"),
                revisions=self._inf("controllerrevisions.apps"),
                recorder=self._recorder("statefulset-controller"),
                workers=opts.statefulset_workers)
        if "persistentvolume-binder" in on:
            self.controllers["persistentvolume-binder"] = PersistentVolumeController(
                own("persistentvolume-binder"), claims=self._inf("persistentvolumeclaims"),
                volumes=self._inf("persistentvolumes"),
                classes=self._inf("storageclasses.storage.k8s.io"), pods=self._inf("pods"),
                storage_root=opts.storage_root,
                recorder=self._recorder("persistentvolume-controller"))
        # --
        self._batch_controllers(client, on, opts, own)
        if "garbage-collector" in on:
            # Every resource informed so far, plus the usual owners/dependents.
            for res in ("deployments.apps", "replicasets.apps", "pods", "services", SLICES,
                        *BATCH_OWNERS):
                self._inf(res)
            self.controllers["garbage-collector"] = GarbageCollector(
                own("garbage-collector"), dict(self.informers), workers=opts.gc_workers,
                crds=self._inf(GC_CRD_KEY))
        if "tokencleaner" in on:  # after the GC: it takes every informer above as a resource
            tokens = Informer(client, "secrets", namespace=bt.NAMESPACE,
                              field_selector=TOKEN_SECRETS)
            self.informers[TOKEN_INFORMER] = tokens
            self._own.add(TOKEN_INFORMER)
            self.controllers["tokencleaner"] = TokenCleaner(own("tokencleaner"), secrets=tokens)
        if "serviceaccount" in on:
            self.controllers["serviceaccount"] = ServiceAccountsController(
                own("serviceaccount"), namespaces=self._inf("namespaces"),
                objects=self._own_inf(SA_INFORMER, "serviceaccounts",
                                      field_selector=f"metadata.name={DEFAULT_SERVICE_ACCOUNT}"))
        if "root-ca-cert-publisher" in on and opts.root_ca:
            self.controllers["root-ca-cert-publisher"] = RootCAPublisher(
                own("root-ca-cert-publisher"), namespaces=self._inf("namespaces"),
                configmaps=self._own_inf(ROOT_CA_INFORMER, "configmaps",
                                         field_selector=f"metadata.name={ROOT_CA_CONFIGMAP}"),
                root_ca=opts.root_ca)
        self._certificates(on, own)

    def _certificates(self, on: frozenset[str], own: Callable[[str], Client]) -> None:
        opts = self.options
        if "csrapproving" in on and opts.csr_authorize is not None:
            self.controllers["csrapproving"] = CsrApprover(
                own("csrapproving"), csrs=self._inf(certs.KEY), authorize=opts.csr_authorize)
        if "csrsigning" in on and opts.signing_ca is not None:
            self.controllers["csrsigning"] = CsrSigner(
                own("csrsigning"), csrs=self._inf(certs.KEY), ca=opts.signing_ca,
                max_duration=dt.timedelta(seconds=opts.cluster_signing_duration))
        if "csrcleaner" in on:
            self.controllers["csrcleaner"] = CsrCleaner(own("csrcleaner"),
                                                        csrs=self._inf(certs.KEY))

    def _batch_controllers(self, client: Client, on: frozenset[str],
                           opts: ControllerOptions, own: Callable[[str], Client]) -> None:
        """Issue 21: Job, CronJob, TTL-after-finished, DaemonSet, ReplicationController,
        disruption; the cordon taint runs with node-lifecycle."""
        if "job" in on:
            self.controllers["job"] = JobController(
                own("job"), jobs=self._inf("jobs.batch"), pods=self._inf("pods"),
                recorder=self._recorder("job-controller"), workers=opts.job_workers,
                backoff_base=opts.job_backoff_base)
        if "cronjob" in on:
            self.controllers["cronjob"] = CronJobController(
                own("cronjob"), cronjobs=self._inf("cronjobs.batch"), jobs=self._inf("jobs.batch"),
                recorder=self._recorder("cronjob-controller"),
                cron_clock=CronClock(rate=opts.cronjob_clock_rate))
        if "ttl-after-finished" in on:
            self.controllers["ttl-after-finished"] = TTLAfterFinishedController(
                own("ttl-after-finished"), jobs=self._inf("jobs.batch"))
        if "daemonset" in on:
            self.controllers["daemonset"] = DaemonSetController(
                own("daemonset"), daemonsets=self._inf("daemonsets.apps"), pods=self._inf("pods"),
                nodes=self._inf("nodes"), revisions=self._inf("controllerrevisions.apps"),
                recorder=self._recorder("daemonset-controller"))
        if "replicationcontroller" in on:
            self.controllers["replicationcontroller"] = ReplicationManager(
                own("replicationcontroller"), replicasets=self._inf("replicationcontrollers"),
                pods=self._inf("pods"),
                recorder=self._recorder("replication-controller"),
                workers=opts.replicaset_workers)
        if "resourcequota" in on:
            self.controllers["resourcequota"] = ResourceQuotaController(
                own("resourcequota"), quotas=self._inf("resourcequotas"), pods=self._inf("pods"))
        if "disruption" in on:
            self.controllers["disruption"] = DisruptionController(
                own("disruption"), pdbs=self._inf("poddisruptionbudgets.policy"),
                pods=self._inf("pods"))
        if "node-lifecycle" in on:
            self.controllers["node-unschedulable-taint"] = UnschedulableTaintController(
                own("node-lifecycle"), nodes=self._inf("nodes"))

    def _inf(self, resource: str, **kw: Any) -> Informer:
        inf = self.informers.get(resource)
        if inf is None:
            inf = self.informers[resource] = Informer(self.client, resource, **kw)
            self._own.add(resource)
        return inf

    def _own_inf(self, key: str, resource: str, **kw: Any) -> Informer:
        """An informer under ``key`` (not a resource name, so no one else shares it)."""
        inf = self.informers.get(key)
        if inf is None:
            inf = self.informers[key] = Informer(self.client, resource, **kw)
            self._own.add(key)
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
