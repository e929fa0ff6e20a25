"""The agent's Node object and its Lease heartbeat, as the kubelet keeps them.

:func:`node_object` builds the Node (labels kubernetes.io/hostname/os/arch, podCIDR,
addresses, capacity/allocatable, nodeInfo, the four kubelet conditions); :class:`NodeHeart`
registers it (create, or update status if it exists), posts status periodically, and renews
``kube-node-lease/<node>`` every ``renew_interval`` (a quarter of the lease duration, 10 s
by default, as upstream). Called by :class:`kubesvc.runtime.agent.NodeAgent`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import uuid
from pathlib import Path

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import micro_time_epoch, rfc3339_epoch
from kubesvc.client.protocol import Client

log = logging.getLogger(__name__)
KUBELET_VERSION = "v1.32.0"
LEASE_NS = "kube-node-lease"


def _arch() -> str:
    m = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}.get(m, m)


def _read(path: str, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def _memory_ki() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return 0


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"


def node_conditions(now: str, old: list[Obj] | None = None) -> list[Obj]:
    prev = {c.get("type"): c for c in old or []}
    spec = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory",
         "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    out = []
    for typ, status, reason, msg in spec:
        p = prev.get(typ)
        ltt = p.get("lastTransitionTime") if p and p.get("status") == status else None
        out.append({"type": typ, "status": status, "lastHeartbeatTime": now,
                    "lastTransitionTime": ltt or now, "reason": reason, "message": msg})
    return out


def node_object(name: str, *, node_ip: str, pod_cidr: str, max_pods: int,
                labels: dict[str, str] | None = None) -> Obj:
    arch = _arch()
    cpu = str(os.cpu_count() or 1)
    mem = f"{_memory_ki()}Ki"
    st = os.statvfs("/")
    disk = f"{st.f_blocks * st.f_frsize // 1024}Ki"
    capacity = {"cpu": cpu, "memory": mem, "pods": str(max_pods), "ephemeral-storage": disk,
                "hugepages-1Gi": "0", "hugepages-2Mi": "0"}
    all_labels = {
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        **(labels or {}),
    }
    now = rfc3339_epoch()
    uname = os.uname()
    machine_id = _read("/etc/machine-id") or uuid.uuid5(uuid.NAMESPACE_DNS, name).hex
    spec: Obj = {}
    if pod_cidr:
        spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": all_labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                            "volumes.kubernetes.io/controller-managed-attach-detach": "true"},
        },
        "spec": spec,
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": node_conditions(now),
            "addresses": [{"type": "InternalIP", "address": node_ip},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine_id,
                "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"kubesvc-node-{name}")),
                "bootID": _read("/proc/sys/kernel/random/boot_id"),
                "kernelVersion": uname.release,
                "osImage": _os_image(),
                "containerRuntimeVersion": "kubesvc://0.1.0",
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": arch,
            },
        },
    }


class NodeHeart:
    def __init__(self, client: Client, node: Obj, *, lease_duration: int = 40,
                 renew_interval: float | None = None,
                 status_interval: float = 300.0) -> None:
        self.client = client
        self.node = node
        self.name = str(node["metadata"]["name"])
        self.lease_duration = lease_duration
        self.renew_interval = renew_interval if renew_interval is not None else (
            lease_duration / 4)
        self.status_interval = status_interval
        self.uid = ""
        self.registered = asyncio.Event()
        self.renewals = 0

    async def register(self) -> None:
        """Create the Node, or refresh the status of an existing one."""
        try:
            created = await self.client.create("nodes", self.node)
            self.uid = str(created["metadata"].get("uid") or "")
            cur = created
            if not created.get("status", {}).get("conditions"):
                # Servers that drop status on create: post it through the subresource.
                cur = dict(created)
                cur["status"] = self.node["status"]
                cur = await self.client.update("nodes", cur, subresource="status")
        except errors.AlreadyExists:
            cur = await self.client.get("nodes", self.name)
            self.uid = str(cur["metadata"].get("uid") or "")
            await self._post_status(cur)
        self.registered.set()

    async def _post_status(self, cur: Obj | None = None) -> None:
        for _ in range(3):
            if cur is None:
                cur = await self.client.get("nodes", self.name)
            new = dict(cur)
            status = dict(self.node["status"])
            status["conditions"] = node_conditions(
                rfc3339_epoch(), (cur.get("status") or {}).get("conditions"))
            new["status"] = status
            try:
                await self.client.update("nodes", new, subresource="status")
                return
            except errors.Conflict:
                cur = None

    def _lease(self) -> Obj:
        owner = {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self.name, "namespace": LEASE_NS,
                         "ownerReferences": [owner] if self.uid else []},
            "spec": {"holderIdentity": self.name,
                     "leaseDurationSeconds": self.lease_duration,
                     "renewTime": micro_time_epoch()},
        }

    async def renew(self) -> None:
        try:
            cur = await self.client.get("leases.coordination.k8s.io", self.name,
                                        namespace=LEASE_NS)
        except errors.NotFound:
            try:
                await self.client.create("leases.coordination.k8s.io", self._lease(),
                                         namespace=LEASE_NS)
            except errors.NotFound:
                # The namespace itself is missing; create it once, as the lease needs it.
                with contextlib.suppress(errors.AlreadyExists):
                    await self.client.create(
                        "namespaces", {"metadata": {"name": LEASE_NS}})
                await self.client.create("leases.coordination.k8s.io", self._lease(),
                                         namespace=LEASE_NS)
            self.renewals += 1
            return
        new = dict(cur)
        spec = dict(cur.get("spec") or {})
        spec.update(holderIdentity=self.name, leaseDurationSeconds=self.lease_duration,
                    renewTime=micro_time_epoch())
        new["spec"] = spec
        await self.client.update("leases.coordination.k8s.io", new, namespace=LEASE_NS)
        self.renewals += 1

    async def run(self, stop: asyncio.Event) -> None:
        """Register (retrying), then renew the lease and post status until ``stop``."""
        delay = 0.2
        while not stop.is_set():
            try:
                await self.register()
                break
            except Exception as exc:
                log.warning("node %s: register failed: %s", self.name, exc)
                await _wait(stop, delay)
                delay = min(delay * 2, 10)
        loop = asyncio.get_running_loop()
        next_status = loop.time() + self.status_interval
        while not stop.is_set():
            try:
                await self.renew()
                if loop.time() >= next_status:
                    await self._post_status()
                    next_status = loop.time() + self.status_interval
            except Exception as exc:
                log.warning("node %s: heartbeat failed: %s", self.name, exc)
            await _wait(stop, self.renew_interval)


async def _wait(stop: asyncio.Event, delay: float) -> None:
    waiter = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({waiter}, timeout=delay)
    finally:
        waiter.cancel()
