"""Test helpers for the node agent: a FakeClient with graceful pod deletion (as the API
server does: a delete with a grace period only sets deletionTimestamp; grace 0 removes),
pod builders, a running-agent context manager, and a polling ``wait_for``."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import subprocess
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.client.options import DeleteOptions, WriteOptions
from kubesvc.runtime.agent import NodeAgent
from kubesvc.runtime.netns import ETC_NETNS, netns_available
from tests.fakes.client import FakeClient

HIDDEN = "kubesvc.test/pending-grace"


class GracefulClient(FakeClient):
    def __init__(self) -> None:
        super().__init__()
        self.deletes: list[tuple[str, str, int | None]] = []

    async def update(
        self, resource: str, obj: Obj, *, namespace: str | None = None, subresource: str = "",
        opts: WriteOptions = WriteOptions(),
    ) -> Obj:
        """Writes to a pod in its grace period keep it (FakeClient would drop any marked
        object without finalizers); a hidden finalizer stands in for the pending grace."""
        ns = namespace or obj["metadata"].get("namespace") or "default"
        cur = self._bucket(resource).get((ns, obj["metadata"]["name"]))
        if resource != "pods" or cur is None or not cur["metadata"].get(
                "deletionGracePeriodSeconds"):
            return await super().update(resource, obj, namespace=namespace,
                                        subresource=subresource, opts=opts)
        obj = copy.deepcopy(obj)
        obj["metadata"]["finalizers"] = [HIDDEN]
        cur["metadata"]["finalizers"] = [HIDDEN]  # status writes copy the stored object
        obj["metadata"]["deletionTimestamp"] = cur["metadata"]["deletionTimestamp"]
        obj["metadata"]["deletionGracePeriodSeconds"] = cur["metadata"][
            "deletionGracePeriodSeconds"]
        out = await super().update(resource, obj, namespace=namespace,
                                   subresource=subresource, opts=opts)
        stored = self._bucket(resource).get((ns, obj["metadata"]["name"]))
        for o in (out, stored):
            if o is not None:
                o["metadata"].pop("finalizers", None)
        return out

    async def delete(
        self, resource: str, name: str, *, namespace: str | None = None,
        opts: DeleteOptions = DeleteOptions(),
    ) -> Obj:
        self.deletes.append((resource, name, opts.grace_period_seconds))
        if resource == "pods":
            ns = namespace or "default"
            bucket = self._bucket(resource)
            cur = bucket.get((ns, name))
            if cur is None:
                raise self._not_found(resource, name)
            if opts.preconditions and opts.preconditions.get("uid") not in (
                    None, cur["metadata"]["uid"]):
                raise errors.Conflict("Precondition failed: UID in precondition")
            grace = opts.grace_period_seconds
            if grace is None:
                grace = cur["spec"].get("terminationGracePeriodSeconds", 30)
            if grace > 0 and cur["spec"].get("nodeName"):
                cur = copy.deepcopy(cur)
                md = cur["metadata"]
                if not md.get("deletionTimestamp"):
                    md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
                    md["deletionGracePeriodSeconds"] = grace
                    self.rv += 1
                    md["resourceVersion"] = str(self.rv)
                    bucket[(ns, name)] = cur
                    self._emit(resource, ns, "MODIFIED", cur)
                return copy.deepcopy(cur)
        return await super().delete(resource, name, namespace=namespace, opts=opts)


def pod(name: str, *, node: str = "node-1", ns: str = "default", image: str = "busybox",
        command: list[str] | None = None, args: list[str] | None = None,
        containers: list[Obj] | None = None, **spec: Any) -> Obj:
    c: Obj = {"name": "main", "image": image}
    if command is not None:
        c["command"] = command
    if args is not None:
        c["args"] = args
    body: Obj = {"containers": containers or [c], **spec}
    if node:
        body["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": body}


async def wait_for(pred: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        val = pred()
        if val:
            return val
        assert loop.time() < end, f"condition not met in time: {what}"
        await asyncio.sleep(0.01)


def stored(client: FakeClient, name: str, ns: str = "default") -> Obj | None:
    return client.objects.get("pods", {}).get((ns, name))


def cstatus(client: FakeClient, name: str, container: str = "main") -> Obj:
    obj = stored(client, name) or {}
    for s in (obj.get("status") or {}).get("containerStatuses") or []:
        if s["name"] == container:
            return dict(s)
    return {}


def condition(client: FakeClient, name: str, typ: str) -> Obj:
    obj = stored(client, name) or {}
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c["type"] == typ:
            return dict(c)
    return {}


@contextlib.asynccontextmanager
async def running(agent: NodeAgent) -> AsyncIterator[NodeAgent]:
    stop = asyncio.Event()
    task = asyncio.create_task(agent.run(stop))
    try:
        await wait_for(lambda: agent.synced() or task.done(), what="agent synced")
        if task.done():
            task.result()
        yield agent
    finally:
        stop.set()
        done, _ = await asyncio.wait({task}, timeout=10)
        if not done:
            stacks = "\n".join(f"{t.get_name()}: {t.get_stack(limit=8)}"
                               for t in asyncio.all_tasks() if not t.done())
            task.cancel()
            raise AssertionError(f"agent did not stop within 10 s; tasks:\n{stacks}")
        task.result()


def make_agent(client: FakeClient, tmp: Path, **kw: Any) -> NodeAgent:
    kw.setdefault("node_name", "node-1")
    kw.setdefault("backoff_base", 0.2)
    kw.setdefault("lease_renew_interval", 0.05)
    # These tests watch their pods' processes through host files (marks under tmp), which a
    # pod sandbox hides; the sandbox's own tests (test_sandbox_*.py) pass sandbox="auto".
    kw.setdefault("sandbox", "off")
    return NodeAgent(client, data_dir=tmp, **kw)


def netns_usable() -> tuple[bool, str]:
    """Whether these tests can make network namespaces here, and why not: netns mode's own
    check, then whether ``ip netns`` works at all (it does not in some containers)."""
    ok, why = netns_available()
    if ok:
        probe = subprocess.run(["ip", "netns", "list"], capture_output=True)
        if probe.returncode != 0:
            return False, f"`ip netns` does not work here: {probe.stderr.decode().strip()}"
    return ok, why or ("" if ok else "netns unavailable")


def remove_netns(node: str, prefix: str) -> None:
    """Delete a test's node namespace, every pod namespace named ``prefix*`` and their
    /etc/netns files (what NetnsNetwork made)."""
    for name in subprocess.run(["ip", "netns", "list"], capture_output=True,
                               text=True).stdout.split():
        if name.startswith(prefix) or name == node:
            subprocess.run(["ip", "netns", "del", name], check=False)
    for d in ETC_NETNS.glob(f"{prefix}*"):
        subprocess.run(["rm", "-rf", str(d)], check=False)
