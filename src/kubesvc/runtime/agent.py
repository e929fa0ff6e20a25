"""NodeAgent: the kubelet of kubesvc. Registers its Node and heartbeats its Lease
(:mod:`kubesvc.runtime.node`), watches the pods bound to it through an Informer
(``spec.nodeName=<node>``) and Services (for the env variables), and runs each pod's
containers through a :class:`~kubesvc.runtime.types.PodRunner`, reporting status through
``pods/status``.

Pod work is level-triggered, as the kubelet's syncPod: informer events, container exits,
probe results and back-off timers all just enqueue the pod's key on a WorkQueue; a few
workers run :meth:`NodeAgent._sync`, which compares desired and actual state, starts what
should run, and writes the status only when it changed. Container decisions live in
:mod:`kubesvc.runtime.containers`. Graceful deletion: SIGTERM, wait the grace period,
SIGKILL, write the final status, delete the pod with grace period 0.

Called by ``kubesvc up``/``kubesvc agent``; tests drive it with the FakeClient.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer, WorkQueue, object_key
from kubesvc.informers.worker import run_workers
from kubesvc.runtime.backoff import Backoff
from kubesvc.runtime.containers import PodState, PodSyncer
from kubesvc.runtime.events import EventRecorder
from kubesvc.runtime.images import ImageMap
from kubesvc.runtime.logs import PodLogs
from kubesvc.runtime.network import HostNetwork, PodNetwork
from kubesvc.runtime.node import NodeHeart, node_object
from kubesvc.runtime.podstatus import ContainerRecord
from kubesvc.runtime.process import ProcessRunner
from kubesvc.runtime.sandbox.manager import (
    SandboxManager,
    TokenRequester,
    client_token_requester,
)
from kubesvc.runtime.sandbox.sourcewatch import (
    SourceRef,
    SourceWatcher,
    object_informer,
    volume_sources,
)
from kubesvc.runtime.streaming.exec import ContainerTarget
from kubesvc.runtime.streaming.node import Connect, streaming_connector, streaming_target
from kubesvc.runtime.types import PodRunner

log = logging.getLogger(__name__)

VOLUME_WATCH_TICK = 0.5  # how soon a started pod's ConfigMaps/Secrets are watched


async def _first(*aws: Coroutine[Any, Any, Any]) -> None:
    """Wait until the first of ``aws`` is done (the others are cancelled)."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def _uid_index(obj: Obj) -> list[str]:
    uid = (obj.get("metadata") or {}).get("uid")
    return [str(uid)] if uid else []


class NodeAgent:
    """One node. ``network`` is "host", "netns" or a :class:`PodNetwork`; ``runner`` a
    :class:`PodRunner` (default: :class:`ProcessRunner` under ``data_dir``).

    ``pods`` and ``services``: informers shared with other components of the process (run
    by the caller; ``pods`` lists every pod and the agent keeps to its node's); by default
    the agent makes and runs its own, watching only its node's pods."""

    def __init__(
        self,
        client: Client,
        *,
        node_name: str,
        data_dir: Path,
        node_ip: str = "127.0.0.1",
        pod_cidr: str | None = None,
        runner: PodRunner | None = None,
        network: str | PodNetwork = "host",
        dns_ip: str = "",
        cluster_domain: str = "cluster.local",
        netns_node: str | None = None,
        image_map: ImageMap | None = None,
        image_map_file: Path | None = None,
        lease_duration: int = 40,
        lease_renew_interval: float | None = None,
        node_status_interval: float = 300.0,
        backoff_base: float = 10.0,
        backoff_max: float = 300.0,
        probe_scale: float = 1.0,
        max_pods: int | None = None,
        labels: dict[str, str] | None = None,
        workers: int = 16,
        stop_pods_on_exit: bool = True,
        pods: Informer | None = None,
        services: Informer | None = None,
        sandbox: str = "auto",
        protect_paths: list[Path] | None = None,
        token_requester: TokenRequester | None = None,
        volume_sync_period: float = 60.0,
    ) -> None:
        """``sandbox``: "auto" (each pod in its own filesystem sandbox where this node can
        give one: :mod:`kubesvc.runtime.sandbox`) or "off"; ``protect_paths``: host paths
        (besides the data dir and cluster state above it) no pod may see;
        ``token_requester``: how serviceAccountToken volume sources get their tokens
        (TokenRequest; default: through ``client``, see
        :func:`~kubesvc.runtime.sandbox.manager.client_token_requester`);
        ``volume_sync_period``: how often every configMap/secret/downwardAPI/
        projected volume file is brought up to date besides the watches (the kubelet's
        one-minute sync)."""
        self.client = client
        self.node_name = node_name
        self.node_ip = node_ip
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.runner: PodRunner = runner if runner is not None else ProcessRunner(self.data_dir)
        if isinstance(network, str):
            network = self._make_network(network, pod_cidr, dns_ip=dns_ip,
                                         cluster_domain=cluster_domain,
                                         node_netns=netns_node or f"kubesvc-{node_name}")
        self.network: PodNetwork = network
        self.pod_cidr = self.network.pod_cidr
        if image_map is None:
            image_map = ImageMap.from_file(image_map_file or self.data_dir / "images.yaml")
        if max_pods is None:
            max_pods = 10000 if self.runner.simulated else 110
        self.pods_informer = pods if pods is not None else Informer(
            client, "pods", field_selector=f"spec.nodeName={node_name}")
        self.pods_informer.indexer.add_index("uid", _uid_index)
        self.services_informer = services if services is not None else Informer(
            client, "services")
        self._own_informers = [inf for inf, given in ((self.pods_informer, pods),
                                                      (self.services_informer, services))
                               if given is None]
        self.queue = WorkQueue(f"node-agent-{node_name}")
        self.heart = NodeHeart(
            client,
            node_object(node_name, node_ip=node_ip, pod_cidr=self.pod_cidr, max_pods=max_pods,
                        labels=labels),
            lease_duration=lease_duration, renew_interval=lease_renew_interval,
            status_interval=node_status_interval)
        self.events = EventRecorder(client, component="kubelet", host=node_name)
        self.events.enabled = not self.runner.simulated
        self.volume_sync_period = volume_sync_period
        self._source_watch = object_informer(client)
        self._changed_sources: set[SourceRef] = set()
        self._changed_pods: set[str] = set()
        self._volume_kick = asyncio.Event()
        self.sandboxes: SandboxManager | None = None
        if not self.runner.simulated and sandbox != "off":
            self.sandboxes = SandboxManager(
                self.data_dir, getter=self._get,
                token_requester=token_requester or client_token_requester(client),
                dns_ip=dns_ip, cluster_domain=cluster_domain, protect=protect_paths)
        self.syncer = PodSyncer(
            client=client, runner=self.runner, network=self.network, images=image_map,
            backoff=Backoff(backoff_base, backoff_max), node_name=node_name, node_ip=node_ip,
            services=self.services_informer.indexer, enqueue=self.queue.add,
            enqueue_after=self.queue.add_after, events=self.events, probe_scale=probe_scale,
            sandboxes=self.sandboxes)
        self._workers = workers
        self._stop_pods_on_exit = stop_pods_on_exit
        self._ready = False
        self.logs = PodLogs(self._lookup_for_logs, self.runner)

    @staticmethod
    def _make_network(mode: str, pod_cidr: str | None, *, dns_ip: str,
                      cluster_domain: str, node_netns: str) -> PodNetwork:
        if mode == "host":
            return HostNetwork(pod_cidr or "127.1.0.0/16")
        if mode == "netns":
            from kubesvc.runtime.netns import NetnsNetwork

            return NetnsNetwork(pod_cidr=pod_cidr or "10.244.0.0/24", dns_ip=dns_ip,
                                cluster_domain=cluster_domain, node_netns=node_netns)
        raise ValueError(f"unknown network mode {mode!r} (host, netns)")

    # -- public
    def synced(self) -> bool:
        """True once the Node is registered and the pods present at start are handled."""
        return self._ready

    @property
    def log_source(self) -> PodLogs:
        return self.logs

    def container_target(self, namespace: str, pod: str, container: str) -> ContainerTarget:
        """A running container for exec/attach (the streaming server's :class:`Node`)."""
        return streaming_target(self, namespace, pod, container)

    def pod_connector(self, namespace: str, pod: str) -> Connect:
        """Connections to the pod's ports, for port-forward."""
        return streaming_connector(self, namespace, pod)

    def set_kubelet_port(self, port: int) -> None:
        """The streaming server's port, published as the Node's
        ``status.daemonEndpoints.kubeletEndpoint.Port`` (set before :meth:`run`)."""
        self.heart.node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": port}}

    def pod_state(self, namespace: str, name: str) -> PodState | None:
        return self.syncer.by_key.get(f"{namespace}/{name}")

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then stop the watchers (and, by default, the pods'
        processes — pod objects are left as they are)."""
        self.pods_informer.add_handler(
            on_add=self._on_pod, on_update=self._on_pod_update,
            on_delete=self._on_pod)
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.heart.run(stop), name=f"{self.node_name}-heartbeat")
                for inf in self._own_informers:
                    tg.create_task(inf.run(stop), name=f"{self.node_name}-{inf.resource}")
                tg.create_task(self._main(stop), name=f"{self.node_name}-sync")
                tg.create_task(self.events.run(stop), name=f"{self.node_name}-events")
                if self.sandboxes is not None:
                    tg.create_task(self._sync_volumes(stop), name=f"{self.node_name}-volumes")
                maintain = getattr(self.runner, "maintain", None)
                if maintain is not None:
                    tg.create_task(maintain(stop), name=f"{self.node_name}-log-rotation")
        finally:
            self.queue.shutdown()
            await self.syncer.close(stop_pods=self._stop_pods_on_exit)
            if self.sandboxes is not None and self._stop_pods_on_exit:
                self.sandboxes.close()
            close = getattr(self.runner, "close", None)
            if close is not None:
                await close()

    # -- internals
    async def _get(self, resource: str, namespace: str, name: str) -> Obj:
        return await self.client.get(resource, name, namespace=namespace)

    def _source_changed(self, ref: SourceRef) -> None:
        self._changed_sources.add(ref)
        self._volume_kick.set()

    async def _sync_volumes(self, stop: asyncio.Event) -> None:
        """Bring running pods' configMap, secret, downwardAPI and projected volumes up to
        date (the files change by an atomic ``..data`` swap): at once for the pods that
        mount a ConfigMap/Secret that changed (watched one object each, as the kubelet's
        watch-based manager: :mod:`~kubesvc.runtime.sandbox.sourcewatch`), and every pod
        every ``volume_sync_period`` (downwardAPI fields, token rotation)."""
        assert self.sandboxes is not None
        watcher = SourceWatcher(self._source_watch, self._source_changed)
        loop = asyncio.get_running_loop()
        next_full = loop.time() + self.volume_sync_period
        try:
            while not stop.is_set():
                wanted: dict[str, set[SourceRef]] = {}
                for st in list(self.syncer.by_key.values()):
                    pod = self._pod(st.key)
                    if pod is not None and st.fs is not None and not st.terminal:
                        wanted[st.key] = volume_sources(pod)
                watcher.set_wanted(set().union(*wanted.values()))
                full = loop.time() >= next_full
                changed, self._changed_sources = self._changed_sources, set()
                pods, self._changed_pods = self._changed_pods, set()
                if full:
                    next_full = loop.time() + self.volume_sync_period
                keys = list(wanted) if full else [k for k, refs in wanted.items()
                                                  if refs & changed or k in pods]
                with self.sandboxes.sweep():
                    for key in keys:
                        pod = self._pod(key)
                        if pod is None:
                            continue
                        try:
                            await self.syncer.refresh_volumes(pod)
                        except Exception:
                            log.exception("pod %s: volume sync failed", key)
                # Wake on a source change, on the next full sync, or after a short tick
                # to pick up pods started meanwhile.
                self._volume_kick.clear()
                if self._changed_sources or self._changed_pods:
                    continue
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(_first(stop.wait(), self._volume_kick.wait()),
                                           min(VOLUME_WATCH_TICK,
                                               max(0.0, next_full - loop.time())))
        finally:
            await watcher.close()

    def _mine(self, pod: Obj | None) -> bool:
        return pod is not None and (pod.get("spec") or {}).get("nodeName") == self.node_name

    def _pod(self, key: str) -> Obj | None:
        """The pod under ``key`` when it is bound to this node (else None: gone, or on
        another node — a shared informer holds every pod)."""
        pod = self.pods_informer.indexer.get(key)
        return pod if self._mine(pod) else None

    def _on_pod_update(self, old: Obj, new: Obj) -> None:
        self._on_pod(new)
        om, nm = old.get("metadata") or {}, new.get("metadata") or {}
        if self._mine(new) and any(om.get(f) != nm.get(f) for f in ("labels", "annotations")):
            self._changed_pods.add(object_key(new))  # downwardAPI volume files
            self._volume_kick.set()

    def _on_pod(self, pod: Obj) -> None:
        if self._mine(pod):
            self.queue.add(object_key(pod))

    def _lookup_for_logs(self, namespace: str,
                         name: str) -> tuple[Obj, dict[str, ContainerRecord]] | None:
        pod = self._pod(f"{namespace}/{name}")
        st = self.syncer.by_key.get(f"{namespace}/{name}")
        if pod is None or st is None:
            return None
        return pod, st.records

    async def _main(self, stop: asyncio.Event) -> None:
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            synced = asyncio.ensure_future(self._wait_synced())
            await asyncio.wait({synced, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                synced.cancel()
                await asyncio.gather(synced, return_exceptions=True)
                return
            await self._recover()
            self._ready = True
            await run_workers(self.queue, self._sync_key, stop,
                              name=f"node-agent-{self.node_name}", workers=self._workers,
                              logger=log)
        finally:
            stop_wait.cancel()

    async def _wait_synced(self) -> None:
        await self.pods_informer.wait_synced()
        await self.services_informer.wait_synced()
        await self.heart.registered.wait()

    async def _recover(self) -> None:
        """After a (re)start: re-reserve pod IPs, adopt processes of pods that still exist,
        kill the rest."""
        pods = [p for p in self.pods_informer.indexer.list() if self._mine(p)]
        for pod in pods:
            await self.syncer.restore(pod)
        keep: set[str] = set()
        for info in self.runner.adoptable():
            owners = [p for p in self.pods_informer.indexer.by_index("uid", info.pod_uid)
                      if self._mine(p)]
            if owners and self.syncer.adopt(owners[0], info):
                keep.add(info.id)
        if self.sandboxes is not None:
            uids = {str(p["metadata"].get("uid") or "") for p in pods}
            n = await self.sandboxes.gc(uids)
            if n:
                log.info("node %s: removed %d sandboxes of pods that are gone",
                         self.node_name, n)
        kill = getattr(self.runner, "kill_orphans", None)
        if kill is not None:
            n = await kill(keep)
            if n:
                log.info("node %s: killed %d orphaned container processes", self.node_name, n)
        for pod in pods:
            self.queue.add(object_key(pod))

    async def _sync_key(self, key: str) -> None:
        try:
            await self.syncer.sync(key, self._pod(key))
        except errors.NotFound:
            pass  # the pod is gone; nothing left to retry
