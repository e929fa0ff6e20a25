"""The registry serving CustomResourceDefinitions, on the memory store and on a real etcd:
the CRD controller establishes a CRD (and refuses a name another CRD of the group holds),
custom objects are defaulted and validated, and deleting the CRD adds the cleanup
finalizer, refuses creates while terminating, waits for objects held by their own
finalizers, then removes everything."""

from __future__ import annotations

import asyncio
import copy
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api import resources
from kubesvc.apiserver.registry import Registry
from kubesvc.storage import open_store
from kubesvc.storage.memory import MemoryStore
from kubesvc.storage.store import Store
from tests.unit.storage.conftest import ETCD, EtcdProcess

CRDS = "customresourcedefinitions.apiextensions.k8s.io"
CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "things.reg.example.com"},
    "spec": {"group": "reg.example.com", "scope": "Namespaced",
             "names": {"plural": "things", "kind": "Thing"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                               "spec": {"type": "object", "properties": {
                                   "n": {"type": "integer", "default": 5,
                                         "maximum": 9}}}}}}}]}}


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    if ETCD is None:
        pytest.skip("etcd binary not installed (Debian package etcd-server)")
    d = tempfile.mkdtemp(prefix="kubesvc-crd-etcd-")
    proc = EtcdProcess(Path(d))
    proc.start()
    yield proc
    proc.kill()
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["memory", "etcd"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        st: Store = MemoryStore()
    else:
        st = await open_store(request.getfixturevalue("etcd").url)
    yield st
    await st.close()


@pytest.fixture
async def reg(store: Store) -> AsyncIterator[Registry]:
    # a fresh group per test: an etcd outlives one test
    r = Registry(store, compact_interval=0, repair_interval=0)
    await r.start()
    yield r
    await r.stop()


async def _until(pred: Any, timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = await pred()
        if got:
            return got
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def _crd(group: str, plural: str = "things", kind: str = "Thing") -> dict[str, Any]:
    crd = copy.deepcopy(CRD)
    crd["metadata"]["name"] = f"{plural}.{group}"
    crd["spec"]["group"] = group
    crd["spec"]["names"] = {"plural": plural, "kind": kind}
    return crd


def _group() -> str:
    return f"g{time.monotonic_ns() % 10**9}.example.com"


async def _conditions(reg: Registry, name: str) -> dict[str, str]:
    crd = await reg.get(CRDS, name)
    return {c["type"]: c["status"] for c in crd["status"].get("conditions") or []}


async def test_established_defaulted_validated(reg: Registry) -> None:
    group = _group()
    await reg.create(CRDS, _crd(group))
    await _until(lambda: _established(reg, f"things.{group}"))

    async def published() -> bool:  # the served table may follow the condition's write
        return f"things.{group}" in resources.BY_KEY
    await _until(published)
    obj = await reg.create(f"things.{group}", {
        "apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "a"}, "spec": {}},
        namespace="default")
    assert obj["spec"] == {"n": 5} and obj["metadata"]["generation"] == 1
    with pytest.raises(errors.Invalid) as exc:
        await reg.create(f"things.{group}", {
            "apiVersion": f"{group}/v1", "kind": "Thing", "metadata": {"name": "b"},
            "spec": {"n": 10}}, namespace="default")
    assert exc.value.message == (f'Thing.{group} "b" is invalid: spec.n: Invalid value: 10: '
                                 "spec.n in body should be less than or equal to 9")


async def _established(reg: Registry, name: str) -> bool:
    return (await _conditions(reg, name)).get("Established") == "True"


async def test_names_conflict_within_a_group(reg: Registry) -> None:
    group = _group()
    await reg.create(CRDS, _crd(group))
    await _until(lambda: _established(reg, f"things.{group}"))
    await reg.create(CRDS, _crd(group, plural="others", kind="Thing"))

    async def refused() -> bool:
        return (await _conditions(reg, f"others.{group}")).get("NamesAccepted") == "False"

    await _until(refused)
    crd = await reg.get(CRDS, f"others.{group}")
    cond = next(c for c in crd["status"]["conditions"] if c["type"] == "NamesAccepted")
    assert cond["reason"] == "SingularConflict"  # "thing", defaulted from the kind
    assert (await _conditions(reg, f"others.{group}"))["Established"] == "False"


async def test_delete_waits_for_object_finalizers_then_cleans_up(reg: Registry) -> None:
    group = _group()
    key = f"things.{group}"
    await reg.create(CRDS, _crd(group))
    await _until(lambda: _established(reg, key))
    await reg.create(key, {"apiVersion": f"{group}/v1", "kind": "Thing",
                           "metadata": {"name": "held", "finalizers": ["example.com/x"]}},
                     namespace="default")
    await reg.create(key, {"apiVersion": f"{group}/v1", "kind": "Thing",
                           "metadata": {"name": "free"}}, namespace="default")
    out = await reg.delete(CRDS, key)
    assert "customresourcecleanup.apiextensions.k8s.io" in out["metadata"]["finalizers"]

    async def terminating() -> bool:
        return (await _conditions(reg, key)).get("Terminating") == "True"

    await _until(terminating)
    with pytest.raises(errors.MethodNotAllowed):
        await reg.create(key, {"apiVersion": f"{group}/v1", "kind": "Thing",
                               "metadata": {"name": "late"}}, namespace="default")

    async def only_held_left() -> bool:
        names = [i["metadata"]["name"] for i in (await reg.list(key))["items"]]
        return names == ["held"]

    await _until(only_held_left)
    assert (await reg.get(CRDS, key))["metadata"]["deletionTimestamp"]
    held = await reg.get(key, "held", namespace="default")
    held["metadata"]["finalizers"] = []
    await reg.update(key, held, namespace="default")

    async def gone() -> bool:
        return await reg.store.get(resources.BY_KEY[CRDS].storage_key(key)) is None

    await _until(gone)
    await _until(lambda: _not_served(key))


async def _not_served(key: str) -> bool:
    return key not in resources.BY_KEY


async def test_namespace_deletion_removes_custom_objects(reg: Registry) -> None:
    group = _group()
    key = f"things.{group}"
    await reg.create(CRDS, _crd(group))
    await _until(lambda: _established(reg, key))
    ns = f"ns-{time.monotonic_ns() % 10**6}"
    await reg.create("namespaces", {"metadata": {"name": ns}})
    await reg.create(key, {"apiVersion": f"{group}/v1", "kind": "Thing",
                           "metadata": {"name": "inside"}}, namespace=ns)
    await reg.delete("namespaces", ns)

    async def emptied() -> bool:
        return not (await reg.list(key, namespace=ns))["items"]

    await _until(emptied)
