"""The ingress controller: informers -> :func:`render` -> a :class:`DataPlane` (HAProxy).

It ensures the IngressClass ``kubesvc`` (controller ``kubesvc.io/ingress-haproxy``, the
default class) exists, re-renders on any change of Ingresses, IngressClasses, Services,
EndpointSlices or Secrets (changes within ``min_interval`` batch into one sync), applies
the result (rendered from the last applied output's backend layout, so that new routes
and Services are runtime API updates, no reload), then writes
``status.loadBalancer.ingress`` = ``[{ip: ADDRESS}]`` on each Ingress it serves (and
removes it from one that left its class). Problems (a bad TLS Secret, a configuration
HAProxy refused, HAProxy not installed) become Warning Events on the Ingresses concerned
and log lines; without a data plane the status stays empty. The informers are the
caller's (shared in ``kubesvc up``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import rfc3339
from kubesvc.client.protocol import Client
from kubesvc.informers import Informer
from kubesvc.ingress.haproxy import DataPlane
from kubesvc.ingress.layout import Layout
from kubesvc.ingress.render import (
    DEFAULT_CLASS_ANNOTATION,
    Inputs,
    Problem,
    Settings,
    render,
)

log = logging.getLogger(__name__)

INGRESSES = "ingresses.networking.k8s.io"
CLASSES = "ingressclasses.networking.k8s.io"
COMPONENT = "kubesvc-ingress-controller"


def ingress_class(settings: Settings) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": settings.class_name,
                         "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
            "spec": {"controller": settings.controller}}


class IngressController:
    def __init__(
        self,
        client: Client,
        *,
        settings: Settings,
        plane: DataPlane | None,
        informers: dict[str, Informer],
        missing: str = "",
        min_interval: float = 0.05,
    ) -> None:
        """``informers`` by resource: ``INGRESSES``, ``CLASSES``, ``services``,
        ``endpointslices.discovery.k8s.io``, ``secrets``. ``plane`` None means no data
        plane; ``missing`` says why (used in Events)."""
        self.client = client
        self.settings = settings
        self.plane = plane
        self.missing = missing or "no data plane"
        self.informers = informers
        self.min_interval = min_interval
        self._wake = asyncio.Event()
        self._synced = False
        self._reported: set[tuple[str, str, str, str]] = set()
        self._layout: Layout | None = None  # the last applied: Services keep their backends
        self.applied = 0
        self.last_error = ""
        for inf in informers.values():
            inf.add_handler(on_add=self._kick, on_update=lambda _o, _n: self._kick(),
                            on_delete=self._kick)

    def _kick(self, _obj: Obj | None = None) -> None:
        self._wake.set()

    def synced(self) -> bool:
        return self._synced

    async def ensure_class(self) -> None:
        try:
            await self.client.get(CLASSES, self.settings.class_name)
        except errors.NotFound:
            try:
                await self.client.create(CLASSES, ingress_class(self.settings))
                log.info("ingress: created IngressClass %s (default)", self.settings.class_name)
            except errors.AlreadyExists:
                pass

    async def run(self, stop: asyncio.Event) -> None:
        if self.plane is None:
            log.warning("ingress: %s; Ingresses of class %s are not served",
                        self.missing, self.settings.class_name)
        stop_wait = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                try:
                    await self.ensure_class()
                    break
                except Exception as exc:  # the API may not be ready yet
                    log.warning("ingress: cannot ensure IngressClass: %s", exc)
                    await asyncio.wait({stop_wait}, timeout=1)
            for inf in self.informers.values():
                await inf.wait_synced()
            self._wake.set()
            backoff = 0.0
            while not stop.is_set():
                wake = asyncio.ensure_future(self._wake.wait())
                await asyncio.wait({wake, stop_wait}, timeout=60,
                                   return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                if stop.is_set():
                    return
                await asyncio.sleep(max(self.min_interval, backoff))
                self._wake.clear()
                try:
                    await self.sync()
                    backoff = 0.0
                except Exception as exc:
                    self.last_error = str(exc)
                    log.error("ingress: sync failed: %s", exc)
                    backoff = min(max(backoff * 2, 0.2), 10.0)
                    self._wake.set()
        finally:
            stop_wait.cancel()
            if self.plane is not None:
                await self.plane.close()

    def inputs(self) -> Inputs:
        def items(res: str) -> list[Obj]:
            return list(self.informers[res].indexer.list())

        return Inputs(ingresses=items(INGRESSES), classes=items(CLASSES),
                      services=items("services"), slices=items("endpointslices.discovery.k8s.io"),
                      secrets=items("secrets"))

    async def sync(self) -> None:
        start = time.monotonic()
        inputs = self.inputs()
        out = render(inputs, self.settings, self._layout)
        by_key = {(i["metadata"].get("namespace", ""), i["metadata"]["name"]): i
                  for i in inputs.ingresses}
        problems = list(out.problems)
        if self.plane is None:
            problems += [Problem(ns, n, "NoDataPlane", f"{self.missing}; not served")
                         for ns, n in out.served]
        else:
            try:
                await self.plane.apply(out.config, out.files)
            except Exception as exc:
                if str(exc) != self.last_error:  # once per distinct failure, not per retry
                    for ns, n in out.served:
                        await self._event(by_key.get((ns, n)), Problem(
                            ns, n, "ConfigRejected", str(exc)[:1000]))
                raise
            self.applied += 1
            self._layout = out.layout
            self.last_error = ""
        previous, self._reported = self._reported, set()
        for p in problems:  # each once while it lasts; again if it comes back
            pkey = (p.namespace, p.name, p.reason, p.message)
            self._reported.add(pkey)
            if pkey not in previous:
                await self._event(by_key.get((p.namespace, p.name)), p)
        if self.plane is not None:
            for served in out.served:
                ing = by_key.get(served)
                if ing is not None:
                    await self._status(ing)
        served_set = set(out.served)
        for key, ing in by_key.items():  # no longer ours (class changed): our address goes
            if key not in served_set and self._has_our_address(ing):
                await self._status(ing, clear=True)
        self._synced = True
        log.debug("ingress: synced %d Ingresses in %.0f ms", len(out.served),
                  (time.monotonic() - start) * 1000)

    def _has_our_address(self, ing: Obj) -> bool:
        lb = (ing.get("status") or {}).get("loadBalancer") or {}
        return any(e.get("ip") == self.settings.address for e in lb.get("ingress") or [])

    async def _status(self, ing: Obj, *, clear: bool = False) -> None:
        want = None if clear else [{"ip": self.settings.address}]
        lb = (ing.get("status") or {}).get("loadBalancer") or {}
        if lb.get("ingress") == want:
            return
        md = ing["metadata"]
        try:
            await self.client.patch(INGRESSES, md["name"], {"status": {"loadBalancer": {
                "ingress": want}}}, namespace=md.get("namespace"), subresource="status")
        except errors.NotFound:
            pass

    async def _event(self, ing: Obj | None, p: Problem) -> None:
        log.warning("ingress %s/%s: %s: %s", p.namespace, p.name, p.reason, p.message)
        if ing is None:
            return
        md = ing["metadata"]
        now = rfc3339()
        body: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{p.name}.{time.time_ns():x}", "namespace": p.namespace},
            "involvedObject": {"kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
                               "namespace": p.namespace, "name": p.name,
                               "uid": md.get("uid", "")},
            "reason": p.reason, "message": p.message, "type": "Warning", "count": 1,
            "firstTimestamp": now, "lastTimestamp": now,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "reportingInstance": COMPONENT,
        }
        try:
            await self.client.create("events", body, namespace=p.namespace)
        except Exception as exc:  # an Event is best effort
            log.warning("ingress: event %s not written: %s", p.reason, exc)
