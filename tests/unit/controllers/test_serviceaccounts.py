"""The ServiceAccount controller and the root-CA publisher against the in-process
Registry: ``default`` and ``kube-root-ca.crt`` appear in every namespace (also ones made
later), come back when deleted, the ConfigMap's data is put back when edited, and a
terminating namespace gets nothing new."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry.core import Registry
from kubesvc.controllers.manager import ControllerManager, ControllerOptions
from kubesvc.controllers.serviceaccounts import DESCRIPTION, DESCRIPTION_ANNOTATION
from kubesvc.storage.memory import MemoryStore

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.fixture
async def reg() -> AsyncIterator[Registry]:
    r = Registry(MemoryStore(), compact_interval=0)
    await r.start()
    stop = asyncio.Event()
    cm = ControllerManager(r, options=ControllerOptions(
        controllers=frozenset({"serviceaccount", "root-ca-cert-publisher"}), root_ca=CA))
    task = asyncio.create_task(cm.run(stop))
    try:
        yield r
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)
        await r.stop()


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    end = time.monotonic() + 8
    while not await check():
        assert time.monotonic() < end, what
        await asyncio.sleep(0.02)


async def _exists(reg: Registry, resource: str, ns: str, name: str) -> bool:
    try:
        await reg.get(resource, name, namespace=ns)
    except errors.NotFound:
        return False
    return True


async def test_every_namespace_gets_default_and_root_ca(reg: Registry) -> None:
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        await _eventually(lambda ns=ns: _exists(reg, "serviceaccounts", ns, "default"),
                          f"no default ServiceAccount in {ns}")
        await _eventually(lambda ns=ns: _exists(reg, "configmaps", ns, "kube-root-ca.crt"),
                          f"no kube-root-ca.crt in {ns}")
    await reg.create("namespaces", {"metadata": {"name": "fresh"}})
    await _eventually(lambda: _exists(reg, "serviceaccounts", "fresh", "default"),
                      "no default ServiceAccount in a new namespace")
    await _eventually(lambda: _exists(reg, "configmaps", "fresh", "kube-root-ca.crt"),
                      "no kube-root-ca.crt in a new namespace")
    cm = await reg.get("configmaps", "kube-root-ca.crt", namespace="fresh")
    assert cm["data"] == {"ca.crt": CA.decode()}
    assert cm["metadata"]["annotations"] == {DESCRIPTION_ANNOTATION: DESCRIPTION}


async def test_deleted_objects_come_back_and_edits_are_undone(reg: Registry) -> None:
    await _eventually(lambda: _exists(reg, "serviceaccounts", "default", "default"),
                      "no default ServiceAccount")
    old = await reg.get("serviceaccounts", "default", namespace="default")
    await reg.delete("serviceaccounts", "default", namespace="default")

    async def recreated() -> bool:
        try:
            new = await reg.get("serviceaccounts", "default", namespace="default")
        except errors.NotFound:
            return False
        return bool(new["metadata"]["uid"] != old["metadata"]["uid"])

    await _eventually(recreated, "default ServiceAccount not recreated")
    await _eventually(lambda: _exists(reg, "configmaps", "default", "kube-root-ca.crt"),
                      "no kube-root-ca.crt")
    cm = await reg.get("configmaps", "kube-root-ca.crt", namespace="default")
    cm["data"] = {"ca.crt": "tampered"}
    await reg.update("configmaps", cm, namespace="default")

    async def restored() -> bool:
        got = await reg.get("configmaps", "kube-root-ca.crt", namespace="default")
        return bool(got["data"] == {"ca.crt": CA.decode()})

    await _eventually(restored, "kube-root-ca.crt data not restored")
    await reg.delete("configmaps", "kube-root-ca.crt", namespace="default")
    await _eventually(lambda: _exists(reg, "configmaps", "default", "kube-root-ca.crt"),
                      "kube-root-ca.crt not recreated")
