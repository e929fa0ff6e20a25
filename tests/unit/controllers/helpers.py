"""Shared fixtures for controller tests: object factories and a harness that runs real
Informers over the FakeClient plus the controllers under test."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from kubesvc.api.objects import Obj
from kubesvc.informers import Informer
from tests.fakes.client import FakeClient


def pod(
    name: str,
    *,
    ns: str = "default",
    labels: dict[str, str] | None = None,
    ip: str | None = "10.0.0.1",
    ready: bool = True,
    node: str = "",
    ports: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> Obj:
    status: Obj = {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
    }
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    s: Obj = {"containers": [{"name": "c", "image": "x", "ports": ports or []}], **spec}
    if node:
        s["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": "web"}},
        "spec": s,
        "status": status,
    }


def service(
    name: str,
    *,
    ns: str = "default",
    selector: dict[str, str] | None = None,
    ports: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> Obj:
    s: Obj = {
        "ports": ports if ports is not None else [{"name": "http", "port": 80, "targetPort": 8080,
                                                   "protocol": "TCP"}],
        "clusterIP": "10.96.0.10",
        "type": "ClusterIP",
        **spec,
    }
    if selector is not None:
        s["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns}, "spec": s}


async def wait_for(pred: Callable[[], Any], timeout: float = 3.0, what: str = "") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        try:
            if pred():
                return
        except (KeyError, IndexError, AssertionError, TypeError):
            pass
        if loop.time() > end:
            pred_result = pred()
            raise AssertionError(f"condition not met in time: {what} (last: {pred_result!r})")
        await asyncio.sleep(0.005)


class Harness:
    """Informers (created on demand) + runnables under one TaskGroup."""

    def __init__(self, client: FakeClient | None = None) -> None:
        self.client = client or FakeClient()
        self.informers: dict[str, Informer] = {}

    def informer(self, resource: str, **kw: Any) -> Informer:
        if resource not in self.informers:
            self.informers[resource] = Informer(self.client, resource, **kw)
        return self.informers[resource]

    def items(self, resource: str, ns: str | None = None) -> list[Obj]:
        from kubesvc.api import resources

        key = resources.lookup(resource).key
        return [o for (n, _), o in sorted(self.client.objects.get(key, {}).items())
                if ns is None or n == ns]

    @contextlib.asynccontextmanager
    async def running(self, *runnables: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(i.run(stop)) for i in self.informers.values()]
        tasks += [asyncio.create_task(r.run(stop)) for r in runnables]
        try:
            await asyncio.wait_for(
                asyncio.gather(*(i.wait_synced() for i in self.informers.values())), 3
            )
            yield
        finally:
            stop.set()
            done, pending = await asyncio.wait(tasks, timeout=3)
            for t in pending:
                t.cancel()
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
