"""The ConfigMaps and Secrets a node's pods mount, watched one object each — the kubelet's
watch-based configMap/secret manager (``pkg/kubelet/util/manager/watch_based_manager.go``):
for every object some running pod's volumes reference, one informer over just that object
(``fieldSelector=metadata.name=<name>`` in its namespace, which the Node authorizer allows
for objects related to the node), started when the first pod references it and stopped
when the last one is gone. Each add, update or delete calls ``on_change`` with the object's
:data:`SourceRef`, and the agent re-writes (``..data`` swap) the volumes of the pods that
reference it at once instead of waiting for the periodic sync.

:func:`volume_sources` is pure; :class:`SourceWatcher` is run by
:class:`~kubesvc.runtime.agent.NodeAgent` (through a factory making the informers, so unit
tests can hand it fakes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from kubesvc.api.objects import Obj
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer

log = logging.getLogger(__name__)

SourceRef = tuple[str, str, str]  # (resource, namespace, name): ("configmaps", "ns", "x")


def volume_sources(pod: Obj) -> set[SourceRef]:
    """Every ConfigMap and Secret the pod's volumes (configMap, secret and the projected
    sources) read."""
    ns = str((pod.get("metadata") or {}).get("namespace") or "default")
    out: set[SourceRef] = set()
    for v in (pod.get("spec") or {}).get("volumes") or []:
        if v.get("configMap"):
            out.add(("configmaps", ns, str(v["configMap"].get("name") or "")))
        elif v.get("secret"):
            out.add(("secrets", ns, str(v["secret"].get("secretName") or "")))
        elif v.get("projected"):
            for s in (v["projected"] or {}).get("sources") or []:
                if s.get("configMap"):
                    out.add(("configmaps", ns, str(s["configMap"].get("name") or "")))
                elif s.get("secret"):
                    out.add(("secrets", ns, str(s["secret"].get("name") or "")))
    return {r for r in out if r[2]}


class Runnable(Protocol):
    """What the watcher runs per object (an :class:`Informer`)."""

    def add_handler(self, *, on_add: Callable[[Obj], None] | None = None,
                    on_update: Callable[[Obj, Obj], None] | None = None,
                    on_delete: Callable[[Obj], None] | None = None) -> None: ...

    async def run(self, stop: asyncio.Event) -> None: ...


def object_informer(client: Client) -> Callable[[SourceRef], Runnable]:
    """Informers over one object each, through ``client``."""
    def make(ref: SourceRef) -> Runnable:
        resource, ns, name = ref
        return Informer(client, resource, namespace=ns,
                        field_selector=f"metadata.name={name}")
    return make


@dataclass(slots=True)
class _Watch:
    stop: asyncio.Event
    task: asyncio.Task[None]


class SourceWatcher:
    """``set_wanted`` with the objects the node's pods reference now; ``on_change`` is
    called (on the event loop) for every event of a watched object, including the first
    list of it."""

    def __init__(self, make: Callable[[SourceRef], Runnable],
                 on_change: Callable[[SourceRef], None]) -> None:
        self._make = make
        self._on_change = on_change
        self._watches: dict[SourceRef, _Watch] = {}

    @property
    def watched(self) -> set[SourceRef]:
        return set(self._watches)

    def set_wanted(self, refs: set[SourceRef]) -> None:
        for ref in set(self._watches) - refs:
            self._watches.pop(ref).stop.set()
        for ref in refs - set(self._watches):
            inf = self._make(ref)
            changed = self._changed(ref)
            inf.add_handler(on_add=changed, on_update=self._updated(ref),
                            on_delete=changed)
            stop = asyncio.Event()
            task = asyncio.create_task(self._run(ref, inf, stop),
                                       name=f"volume-source/{'/'.join(ref)}")
            self._watches[ref] = _Watch(stop, task)

    def _changed(self, ref: SourceRef) -> Callable[[Obj], None]:
        return lambda _obj: self._on_change(ref)

    def _updated(self, ref: SourceRef) -> Callable[[Obj, Obj], None]:
        return lambda _old, _new: self._on_change(ref)

    async def _run(self, ref: SourceRef, inf: Runnable, stop: asyncio.Event) -> None:
        try:
            await inf.run(stop)
        except Exception:  # the informer retries by itself; this is a bug, say so
            log.exception("watch of %s %s/%s ended", *ref)

    async def close(self) -> None:
        tasks = [w.task for w in self._watches.values()]
        for w in self._watches.values():
            w.stop.set()
        self._watches.clear()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(t, 5)
