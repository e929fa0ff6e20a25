"""PodSyncer: the per-pod decisions of the node agent (upstream kubelet ``SyncPod`` /
``SyncTerminatingPod``), one idempotent :meth:`PodSyncer.sync` per pod key.

It sets up the pod's network sandbox and (process runtime) its filesystem sandbox and
volumes (:mod:`kubesvc.runtime.sandbox`; a volume that cannot be set up is a FailedMount
event and the pod waits in ContainerCreating), runs init containers in order then the app
containers, restarts exited ones per ``restartPolicy`` with crash-loop back-off
(``CrashLoopBackOff``), attaches probes, kills containers whose liveness/startup probe
fails, terminates gracefully on ``deletionTimestamp`` (then deletes the pod with grace
period 0), and writes status through ``pods/status`` when it changed.

Called by :class:`kubesvc.runtime.agent.NodeAgent` workers; calls the runner, the network,
the image map, env building and probes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import parse_time_epoch, rfc3339_epoch
from kubesvc.client.options import DeleteOptions
from kubesvc.client.protocol import Client
from kubesvc.informers import Indexer
from kubesvc.runtime import admission
from kubesvc.runtime.backoff import Backoff, go_duration
from kubesvc.runtime.envvars import EnvError, container_env, expand
from kubesvc.runtime.events import EventRecorder
from kubesvc.runtime.images import ImageMap, ImageNotRunnable
from kubesvc.runtime.network import PodNetwork, Sandbox
from kubesvc.runtime.poddns import host_network, pod_hostname
from kubesvc.runtime.podspecs import (
    add_ephemeral_records,
    container_specs,
    initial_records,
    object_key_of,
    with_ips,
)
from kubesvc.runtime.podstatus import (
    SCHEME,
    ContainerRecord,
    pod_status,
    same_status,
    status_digest,
)
from kubesvc.runtime.probes import ContainerProbes, run_probe
from kubesvc.runtime.sandbox.manager import PodSandbox, SandboxManager, SandboxUnavailable
from kubesvc.runtime.sandbox.quantity import parse_quantity
from kubesvc.runtime.sandbox.security import SecurityError
from kubesvc.runtime.sandbox.volumes import VolumeError
from kubesvc.runtime.types import ContainerInfo, ContainerLaunch, PodRunner

log = logging.getLogger(__name__)
MIN_GRACE = 2.0  # kubelet's minimumGracePeriodInSeconds


@dataclass(slots=True)
class PodState:
    key: str
    uid: str
    name: str
    namespace: str
    records: dict[str, ContainerRecord]  # init containers first, in spec order
    start_time: str
    sandbox: Sandbox | None = None
    fs: PodSandbox | None = None  # its sandbox directory and volumes (process runtime)
    probes: dict[str, ContainerProbes] = field(default_factory=dict)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)  # for preStop exec hooks
    specs: dict[str, Obj] = field(default_factory=dict)  # container specs, by name
    terminating: asyncio.Task[None] | None = None
    terminal: bool = False
    # host ports it holds once admitted (empty until then, or when it uses none)
    host_ports: frozenset[tuple[str, str, int]] = frozenset()
    admitted: bool = False
    rejected: bool = False
    # Digest of the status last written (or seen stored): skips a rewrite while the informer
    # lags behind our own write; a digest, not the dict, to keep 100k pods small.
    last_status: bytes = b""
    grace: float = 30.0
    # Finished before this agent started: its stored status stands, never recomputed.
    restored_terminal: bool = False


class PodSyncer:
    def __init__(self, *, client: Client, runner: PodRunner, network: PodNetwork,
                 images: ImageMap, backoff: Backoff, node_name: str, node_ip: str,
                 services: Indexer, enqueue: Callable[[str], None],
                 enqueue_after: Callable[[str, float], None], events: EventRecorder,
                 probe_scale: float = 1.0, sandboxes: SandboxManager | None = None) -> None:
        self.client = client
        self.runner = runner
        self.network = network
        self.images = images
        self.backoff = backoff
        self.node_name = node_name
        self.node_ip = node_ip
        self.services = services
        self.enqueue = enqueue
        self.enqueue_after = enqueue_after
        self.probe_scale = probe_scale
        self.events = events
        self.sandboxes = sandboxes
        self.by_key: dict[str, PodState] = {}
        self._bg: set[asyncio.Task[None]] = set()

    # -- lifecycle helpers
    def _spawn(self, coro: Any, *, name: str) -> None:
        t: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    def _event(self, st: PodState, type_: str, reason: str, message: str,
               container: str = "") -> None:
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": st.name, "namespace": st.namespace, "uid": st.uid}}
        path = ""
        if container:
            rec = st.records.get(container)
            kind = ("initContainers" if rec is not None and rec.init else
                    "ephemeralContainers" if rec is not None and rec.ephemeral else
                    "containers")
            path = f"spec.{kind}{{{container}}}"
        self.events.emit(pod, type_, reason, message, field_path=path)

    def _state_for(self, pod: Obj) -> PodState:
        md = pod["metadata"]
        key = f"{md.get('namespace', 'default')}/{md['name']}"
        st = self.by_key.get(key)
        if st is None:
            st = PodState(key=key, uid=str(md.get("uid") or ""), name=md["name"],
                          namespace=md.get("namespace", "default"), records=initial_records(pod),
                          start_time=str((pod.get("status") or {}).get("startTime")
                                         or rfc3339_epoch()))
            self.by_key[key] = st
        return st

    async def restore(self, pod: Obj) -> None:
        """After an agent restart: take the pod's known IP back before new pods get IPs,
        and the restart counts of its containers."""
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            self._restore_terminal(pod)
            return
        st = self._state_for(pod)
        # A container that was running when the previous agent died is gone (or adopted
        # just after this): its next start is a restart, counted on from its status.
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            rec = st.records.get(str(cs.get("name") or ""))
            if rec is not None and rec.current is None and "running" in (cs.get("state")
                                                                         or {}):
                rec.restart_count = int(cs.get("restartCount") or 0) + 1
        ip = (pod.get("status") or {}).get("podIP")
        if ip and st.sandbox is None:
            st.sandbox = await self.network.setup(st.uid, namespace=st.namespace,
                                                  name=st.name, ip=str(ip), pod=pod,
                                                  host_ip=self.node_ip)

    def _restore_terminal(self, pod: Obj) -> None:
        """A pod that finished before this agent started: its stored status is kept as it
        is, and its containers' last attempts are known again from it, so that their
        logs (still under the data dir) are served."""
        st = self._state_for(pod)
        st.terminal = st.restored_terminal = True
        status = pod.get("status") or {}
        log_path = getattr(self.runner, "log_path", None)
        for cs in [*(status.get("initContainerStatuses") or []),
                   *(status.get("containerStatuses") or [])]:
            rec = st.records.get(str(cs.get("name") or ""))
            term = (cs.get("state") or {}).get("terminated")
            if rec is None or not term:
                continue
            rec.restart_count = int(cs.get("restartCount") or 0)
            path = log_path(st.uid, rec.name, rec.restart_count) if log_path else None
            rec.current = ContainerInfo(
                id=str(cs.get("containerID") or "").removeprefix(SCHEME), pod_uid=st.uid,
                container=rec.name, attempt=rec.restart_count,
                started_at=parse_time_epoch(term.get("startedAt")) or 0.0,
                finished_at=parse_time_epoch(term.get("finishedAt")) or 0.0,
                exit_code=int(term.get("exitCode") or 0), reason=str(term.get("reason") or ""),
                message=str(term.get("message") or ""), log_path=path or "")
            rec.waiting = None
            rec.resolved = True

    def adopt(self, pod: Obj, info: ContainerInfo) -> bool:
        """Take over a still-running process left by a previous agent."""
        st = self._state_for(pod)
        rec = st.records.get(info.container)
        if rec is None or st.sandbox is None or (rec.current is not None and rec.running):
            return False
        adopted = self.runner.adopt(info.id, on_exit=partial(self._on_exit, st.key, st.uid))
        if adopted is None:
            return False
        rec.current = adopted
        rec.restart_count = adopted.attempt  # still the attempt its status counted
        rec.waiting = None
        rec.resolved = True
        self._attach_probes(pod, st, rec, env={})
        return True

    async def close(self, *, stop_pods: bool) -> None:
        for t in list(self._bg):
            t.cancel()
        await asyncio.gather(*self._bg, return_exceptions=True)
        for st in self.by_key.values():
            for p in st.probes.values():
                await p.close()
            if stop_pods:
                await asyncio.gather(*(self.runner.stop(r.current.id, grace_period=2)
                                       for r in st.records.values() if r.running
                                       and r.current is not None), return_exceptions=True)

    # -- events from runner and probes
    def _on_exit(self, key: str, uid: str, info: ContainerInfo) -> None:
        st = self.by_key.get(key)
        if st is None or st.uid != uid:
            return
        rec = st.records.get(info.container)
        if rec is not None and rec.current is not None and rec.current.id == info.id:
            rec.ready = rec.started = False
            probes = st.probes.pop(info.container, None)
            if probes is not None:
                self._spawn(probes.close(), name=f"probes-close {key}/{info.container}")
        self.enqueue(key)

    def _on_probe(self, key: str, uid: str, cid: str, container: str, kind: str, ok: bool,
                  msg: str) -> None:
        st = self.by_key.get(key)
        if st is None or st.uid != uid:
            return
        rec = st.records.get(container)
        if rec is None or rec.current is None or rec.current.id != cid:
            return
        probes = st.probes.get(container)
        if probes is not None:
            rec.started = probes.started
            rec.ready = probes.started and probes.ready
        if not ok:
            self._event(st, "Warning", "Unhealthy",
                        f"{kind.capitalize()} probe failed: {msg}", container)
        if not ok and kind in ("liveness", "startup"):
            self._event(st, "Normal", "Killing", f"Container {container} failed {kind} probe, "
                        "will be restarted", container)
            log.info("pod %s container %s: %s probe failed (%s); killing it", key, container,
                     kind, msg)
            spec = st.specs.get(container) or {}
            grace = (spec.get(f"{kind}Probe") or {}).get("terminationGracePeriodSeconds")
            grace = st.grace if grace is None else float(grace)
            self._spawn(self.runner.stop(cid, grace_period=max(grace, MIN_GRACE)),
                        name=f"container-stop {key}/{container}")
        self.enqueue(key)

    def _attach_probes(self, pod: Obj, st: PodState, rec: ContainerRecord,
                       env: dict[str, str]) -> None:
        spec = container_specs(pod).get(rec.name) or {}
        cur = rec.current
        assert cur is not None
        has = any(spec.get(f"{k}Probe") for k in ("startup", "liveness", "readiness"))
        if self.runner.simulated or rec.init or not has or st.sandbox is None:
            rec.started = True
            rec.ready = not rec.init and not rec.ephemeral  # probes decide nothing there
            return
        cb = partial(self._on_probe, st.key, st.uid, cur.id, rec.name)
        probes = ContainerProbes(spec, network=self.network, sandbox=st.sandbox, env=env,
                                 started_at=cur.started_at, on_result=cb,
                                 scale=self.probe_scale)
        st.probes[rec.name] = probes
        rec.started = probes.started
        rec.ready = probes.started and probes.ready

    # -- the sync
    async def sync(self, key: str, pod: Obj | None) -> None:
        st = self.by_key.get(key)
        if st is not None and (pod is None or str(pod["metadata"].get("uid")) != st.uid):
            await self._remove(st)
            st = None
        if pod is None:
            return
        if (pod.get("spec") or {}).get("nodeName") != self.node_name:
            return
        st = self._state_for(pod)
        st.specs = container_specs(pod)
        add_ephemeral_records(pod, st.records)
        md = pod["metadata"]
        spec = pod.get("spec") or {}
        if md.get("deletionTimestamp"):
            grace = md.get("deletionGracePeriodSeconds")
            if grace is None:
                grace = spec.get("terminationGracePeriodSeconds", 30)
            if st.terminating is not None and float(grace) < st.grace - 0.5:
                # A second delete shortened the grace period: kill sooner, as upstream.
                st.terminating.cancel()
                await asyncio.gather(st.terminating, return_exceptions=True)
                st.terminating = None
            st.grace = float(grace)
            if st.terminating is None:
                st.terminating = asyncio.create_task(self._terminate(st, pod),
                                                     name=f"pod-terminate {st.key}")
            elif not st.terminating.done() and st.probes:
                # Readiness is still probed while terminating: report its changes.
                await self._write_status(pod, st)
            return
        st.grace = float(spec.get("terminationGracePeriodSeconds", 30))
        if st.rejected or admission.rejected(pod):
            st.rejected = st.terminal = True
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            st.terminal = True
            if st.restored_terminal:
                return  # known from its stored status only (a restarted agent): kept as is
        if not st.terminal and not st.admitted and not await self._admit(pod, st):
            return
        if not st.terminal:
            if st.sandbox is None:
                ip = (pod.get("status") or {}).get("podIP")
                st.sandbox = await self.network.setup(st.uid, namespace=st.namespace,
                                                      name=st.name, ip=ip or None, pod=pod,
                                                      host_ip=self.node_ip)
            if await self._prepare_fs(pod, st):
                await self._run_containers(pod, st)
        await self._write_status(pod, st)

    async def _admit(self, pod: Obj, st: PodState) -> bool:
        """The kubelet's admission: host ports free among the pods admitted here (a pod
        already running when the agent started is admitted as it is)."""
        wanted = admission.host_ports(pod)
        running = (pod.get("status") or {}).get("phase") == "Running"
        others = (o.host_ports for o in self.by_key.values()
                  if o is not st and o.admitted and not o.terminal)
        if wanted and not running and admission.ports_conflict(wanted, others):
            st.rejected = st.terminal = True
            self._event(st, "Warning", admission.NODE_PORTS_REASON,
                        admission.NODE_PORTS_MESSAGE.removeprefix("Pod was rejected: "))
            await self.client.patch("pods", st.name, {"status": {
                "phase": "Failed", "reason": admission.NODE_PORTS_REASON,
                "message": admission.NODE_PORTS_MESSAGE}}, namespace=st.namespace,
                subresource="status")
            return False
        st.admitted = True
        st.host_ports = wanted
        return True

    async def _prepare_fs(self, pod: Obj, st: PodState) -> bool:
        """The pod's sandbox directory and volumes; False (after a FailedMount event, to
        be tried again) while they cannot be set up."""
        if self.sandboxes is None or st.fs is not None:
            return True
        assert st.sandbox is not None
        try:
            st.fs = await self.sandboxes.prepare(
                pod, ip=st.sandbox.ip, hostname=st.sandbox.hostname or pod_hostname(pod),
                host_hosts=host_network(pod) and st.sandbox.netns is not None)
        except VolumeError as exc:
            self._event(st, "Warning", "FailedMount", exc.event_message)
            self.enqueue_after(st.key, min(self.backoff.base, 2.0))
            return False
        except SandboxUnavailable as exc:
            self._event(st, "Warning", "FailedCreatePodSandBox", str(exc))
            self.enqueue_after(st.key, self.backoff.base)
            return False
        return True

    async def _run_containers(self, pod: Obj, st: PodState) -> None:
        specs = container_specs(pod)
        policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
        inits = [r for r in st.records.values() if r.init]
        for rec in inits:
            cur = rec.current
            if cur is not None and cur.running:
                return  # wait for it
            if cur is not None and cur.exit_code == 0:
                continue
            if cur is None:
                await self._start(pod, st, rec, specs[rec.name])
                return
            # failed init container
            if policy == "Never":
                rec.waiting = None
                return
            await self._maybe_restart(pod, st, rec, specs[rec.name])
            return
        for rec in st.records.values():
            if rec.init:
                continue
            cur = rec.current
            if cur is not None and cur.running:
                continue
            if rec.ephemeral:  # started once the pod runs, never restarted (as upstream)
                if cur is None:
                    await self._start(pod, st, rec, specs[rec.name])
                else:
                    rec.waiting = None
                continue
            if cur is None:
                await self._start(pod, st, rec, specs[rec.name])
                continue
            restart = policy == "Always" or (policy == "OnFailure" and cur.exit_code != 0)
            if not restart:
                rec.waiting = None  # show the terminated state
                continue
            await self._maybe_restart(pod, st, rec, specs[rec.name])

    async def _maybe_restart(self, pod: Obj, st: PodState, rec: ContainerRecord,
                             spec: Obj) -> None:
        cur = rec.current
        assert cur is not None and cur.finished_at is not None
        bkey = f"{st.uid}/{rec.name}"
        left = self.backoff.remaining(bkey, cur.finished_at)
        if left > 0:
            rec.waiting = (
                "CrashLoopBackOff",
                f"back-off {go_duration(self.backoff.get(bkey))} restarting failed "
                f"container={rec.name} pod={st.name}_{st.namespace}({st.uid})")
            self.enqueue_after(st.key, left)
            self._event(st, "Warning", "BackOff", f"Back-off restarting failed container "
                        f"{rec.name} in pod {st.name}_{st.namespace}({st.uid})", rec.name)
            return
        self.backoff.next(bkey, cur.finished_at)
        await self._start(pod, st, rec, spec, restart=True)

    async def _start(self, pod: Obj, st: PodState, rec: ContainerRecord, spec: Obj, *,
                     restart: bool = False) -> None:
        assert st.sandbox is not None
        argv: list[str] = []
        if not self.runner.simulated:  # a simulated pod runs whatever its image is
            try:
                argv = self.images.resolve(spec)
            except ImageNotRunnable as exc:
                if rec.waiting is None or rec.waiting[0] != exc.reason:
                    self._event(st, "Warning", exc.reason, str(exc), rec.name)
                    self._event(st, "Warning", "Failed", f"Error: {exc.reason}", rec.name)
                rec.waiting = (exc.reason, str(exc))
                # Look again later: the image map file may gain a mapping.
                self.enqueue_after(st.key, self.backoff.base)
                return
        view = with_ips(pod, st.sandbox.ip, self.node_ip)
        env: dict[str, str] = {}
        if not self.runner.simulated:
            try:
                env = await container_env(view, spec, services=self.services.list(),
                                          getter=self._get, bind_address=st.sandbox
                                          .bind_address, hostname=st.sandbox.hostname)
            except EnvError as exc:
                self._event(st, "Warning", "Failed", f"Error: {exc}", rec.name)
                rec.waiting = (exc.reason, str(exc))
                self.enqueue_after(st.key, self.backoff.base)
                return
            argv = [expand(a, env) for a in argv]
        plan = ""
        if self.sandboxes is not None and st.fs is not None:
            try:
                plan = self.sandboxes.plan(pod, st.fs, spec, argv, env)
            except (SecurityError, SandboxUnavailable, VolumeError) as exc:
                msg = exc.event_message if isinstance(exc, VolumeError) else str(exc)
                if rec.waiting is None or rec.waiting[1] != msg:
                    self._event(st, "Warning", "Failed", f"Error: {msg}", rec.name)
                rec.waiting = ("CreateContainerConfigError", msg)
                self.enqueue_after(st.key, self.backoff.base)
                return
        memory = None if self.runner.simulated else self._memory_limit(st, rec, spec)
        if restart and rec.current is not None:
            rec.last = rec.current
            rec.restart_count += 1
        launch = ContainerLaunch(
            namespace=st.namespace, pod=st.name, pod_uid=st.uid, container=rec.name,
            attempt=rec.restart_count, argv=argv, env=env, netns=st.sandbox.netns,
            workdir=spec.get("workingDir") or None, image=rec.image,
            hostname=st.sandbox.hostname, sandbox_plan=plan, stdin=bool(spec.get("stdin")),
            stdin_once=bool(spec.get("stdinOnce")), tty=bool(spec.get("tty")),
            memory_limit=memory,
            completes=self.runner.simulated and any(
                r.get("kind") == "Job" and r.get("controller")
                for r in (pod.get("metadata") or {}).get("ownerReferences") or ()))
        info = await self.runner.start(launch, on_exit=partial(self._on_exit, st.key, st.uid))
        rec.current = info
        rec.waiting = None
        if info.extra.get("cgroup_error"):
            self._limit_not_enforced(st, rec, spec, info.extra["cgroup_error"])
        rec.resolved = True
        st.envs[rec.name] = env
        if not self.runner.simulated:
            self._event(st, "Normal", "Pulled",
                        f'Container image "{rec.image}" already present on machine', rec.name)
            self._event(st, "Normal", "Created", f"Created container: {rec.name}", rec.name)
            if info.running:
                self._event(st, "Normal", "Started", f"Started container {rec.name}", rec.name)
            else:
                self._event(st, "Warning", "Failed", f"Error: {info.message}", rec.name)
        if info.running:
            self._attach_probes(pod, st, rec, env)

    async def _get(self, resource: str, namespace: str, name: str) -> Obj:
        return await self.client.get(resource, name, namespace=namespace)

    def _memory_limit(self, st: PodState, rec: ContainerRecord, spec: Obj) -> int | None:
        """``resources.limits.memory`` in bytes for the runner's cgroup, or None — with a
        Warning event when the node cannot enforce it (never silently)."""
        raw = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
        if raw is None:
            return None
        try:
            limit = -(-parse_quantity(str(raw)) // 1)  # ceil: whole bytes
        except ValueError:
            return None  # validation rejects it first
        problem = str(getattr(self.runner, "memory_limit_problem", "") or "")
        if problem:
            self._limit_not_enforced(st, rec, spec, problem)
            return None
        return int(limit) if limit > 0 else None

    def _limit_not_enforced(self, st: PodState, rec: ContainerRecord, spec: Obj,
                            problem: str) -> None:
        raw = ((spec.get("resources") or {}).get("limits") or {}).get("memory")
        self._event(st, "Warning", "MemoryLimitNotEnforced",
                    f"resources.limits.memory {raw} of container {rec.name} is not enforced "
                    f"on node {self.node_name}: {problem}", rec.name)

    async def _write_status(self, pod: Obj, st: PodState, *, terminal: bool = False) -> None:
        status = pod_status(pod, list(st.records.values()),
                            pod_ip=st.sandbox.ip if st.sandbox else "",
                            host_ip=self.node_ip, start_time=st.start_time,
                            sandbox_ready=st.sandbox is not None and not terminal,
                            terminal=terminal)
        if status["phase"] in ("Succeeded", "Failed") and not st.terminal:
            st.terminal = True
            for p in st.probes.values():
                self._spawn(p.close(), name=f"probes-close {st.key}")
            st.probes.clear()
        digest = status_digest(status)
        if st.last_status == digest:
            return
        if same_status(pod.get("status") or {}, status):
            st.last_status = digest
            return
        body = {**status, "message": None, "reason": None}
        await self.client.patch("pods", st.name, {"status": body}, namespace=st.namespace,
                                subresource="status")
        st.last_status = digest

    # -- termination
    async def _terminate(self, st: PodState, pod: Obj) -> None:
        try:
            for p in st.probes.values():
                await p.stop_restart_probes()
            deadline = asyncio.get_running_loop().time() + st.grace
            specs = container_specs(pod)
            await asyncio.gather(*(self._kill(st, r, specs.get(r.name) or {}, deadline)
                                   for r in st.records.values() if r.running))
            for p in st.probes.values():
                await p.close()
            st.probes.clear()
            for r in st.records.values():
                r.waiting = None if r.current is not None else r.waiting
                r.ready = False
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self._write_status(pod, st, terminal=True)
            await self.runner.remove_pod(st.uid)
            await self._remove_fs(st)
            await self.network.teardown(st.uid)
            self.backoff.forget_prefix(st.uid + "/")
            with contextlib.suppress(errors.NotFound, errors.Conflict):
                await self.client.delete("pods", st.name, namespace=st.namespace,
                                         opts=DeleteOptions(grace_period_seconds=0,
                                                            preconditions={"uid": st.uid}))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("pod %s: termination failed; retrying", st.key)
            st.terminating = None
            self.enqueue_after(st.key, 1.0)

    async def _kill(self, st: PodState, rec: ContainerRecord, spec: Obj,
                    deadline: float) -> None:
        """Run the preStop hook (within the grace period), then SIGTERM .. SIGKILL."""
        assert rec.current is not None
        self._event(st, "Normal", "Killing", f"Stopping container {rec.name}", rec.name)
        loop = asyncio.get_running_loop()
        hook = (spec.get("lifecycle") or {}).get("preStop")
        if hook and st.sandbox is not None and not self.runner.simulated:
            left = max(deadline - loop.time(), 0.0)
            try:
                if "sleep" in hook:
                    await asyncio.sleep(min(float(hook["sleep"].get("seconds") or 0), left))
                else:
                    ok, msg = await run_probe(hook, network=self.network, sandbox=st.sandbox,
                                              container=spec, env=st.envs.get(rec.name, {}),
                                              timeout=max(left, 0.1))
                    if not ok:
                        log.info("pod %s container %s: preStop hook failed: %s", st.key,
                                 rec.name, msg)
            except Exception as exc:
                log.info("pod %s container %s: preStop hook failed: %s", st.key, rec.name, exc)
        # As upstream's killContainer: never less than 2 s between SIGTERM and SIGKILL.
        left = max(deadline - loop.time(), MIN_GRACE)
        await self.runner.stop(rec.current.id, grace_period=left)

    async def _remove(self, st: PodState) -> None:
        """The pod object is gone (or replaced): make sure nothing of it is left."""
        self.by_key.pop(st.key, None)
        if st.terminating is not None and not st.terminating.done():
            # Removed (force-deleted) while still terminating: no more waiting.
            st.terminating.cancel()
            await asyncio.gather(st.terminating, return_exceptions=True)
        for p in st.probes.values():
            await p.close()
        running = [r.current.id for r in st.records.values()
                   if r.current is not None and r.current.running]
        await asyncio.gather(*(self.runner.stop(c, grace_period=MIN_GRACE) for c in running))
        await self.runner.remove_pod(st.uid)
        await self._remove_fs(st)
        await self.network.teardown(st.uid)
        self.backoff.forget_prefix(st.uid + "/")

    async def _remove_fs(self, st: PodState) -> None:
        if self.sandboxes is not None:
            st.fs = None
            await self.sandboxes.remove(st.uid)

    async def refresh_volumes(self, pod: Obj) -> None:
        """Re-write the pod's configMap/secret/downwardAPI/projected volume files from their
        current sources (the agent's periodic volume sync)."""
        st = self.by_key.get(object_key_of(pod))
        if self.sandboxes is None or st is None or st.fs is None or st.terminal:
            return
        try:
            await self.sandboxes.refresh(pod)
        except VolumeError as exc:
            self._event(st, "Warning", "FailedMount", exc.event_message)
