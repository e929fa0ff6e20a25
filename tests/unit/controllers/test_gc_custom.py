"""Garbage collector and custom resources: as a CRD is established the collector starts
watching its resource, so a custom object whose owner is deleted is collected. Runs on
the in-process Registry (the Client of ``kubesvc up``'s controllers) over the memory
store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from kubesvc.controllers.gc import CRD_KEY, GarbageCollector
from kubesvc.informers import Informer
from kubesvc.storage.memory import MemoryStore

GROUP = "gc.example.com"
KEY = f"widgets.{GROUP}"
CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
       "metadata": {"name": KEY},
       "spec": {"group": GROUP, "scope": "Namespaced",
                "names": {"plural": "widgets", "kind": "Widget"},
                "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                    "openAPIV3Schema": {"type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True}}}]}}


@pytest.fixture
async def reg() -> AsyncIterator[Registry]:
    r = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await r.start()
    yield r
    await r.stop()


def _ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"]}


async def _gone(reg: Registry, key: str, name: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            await reg.get(key, name, namespace="default")
        except errors.NotFound:
            return
        assert time.monotonic() < deadline, f"{key}/{name} was never collected"
        await asyncio.sleep(0.02)


async def test_custom_objects_with_deleted_owners_are_collected(reg: Registry) -> None:
    stop = asyncio.Event()
    cms = Informer(reg, "configmaps")
    crds = Informer(reg, CRD_KEY)
    gc = GarbageCollector(reg, {"configmaps": cms}, crds=crds)
    tasks = [asyncio.create_task(x.run(stop)) for x in (cms, crds, gc)]
    try:
        await reg.create(CRD_KEY, dict(CRD))
        owner = await reg.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                                "metadata": {"name": "owner"}},
                                 namespace="default")
        deadline = time.monotonic() + 10
        while KEY not in gc.custom_resources() or KEY not in gc._custom:
            assert time.monotonic() < deadline, "the collector never followed the CRD"
            await asyncio.sleep(0.02)
        parent = await reg.create(KEY, {
            "apiVersion": f"{GROUP}/v1", "kind": "Widget",
            "metadata": {"name": "parent", "ownerReferences": [_ref(owner)]}},
            namespace="default")
        await reg.create(KEY, {
            "apiVersion": f"{GROUP}/v1", "kind": "Widget",
            "metadata": {"name": "child", "ownerReferences": [_ref(parent)]}},
            namespace="default")
        await reg.delete("configmaps", "owner", namespace="default")
        await _gone(reg, KEY, "parent")
        await _gone(reg, KEY, "child")  # a custom owner's dependents cascade too
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
