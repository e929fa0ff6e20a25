"""Garbage collector: background cascade, foreground and orphan deletion."""

from __future__ import annotations

from typing import Any

from kubesvc.controllers.gc import GarbageCollector
from tests.unit.controllers.helpers import Harness, Obj, pod, wait_for

DEPLOY = "deployments.apps"
RS = "replicasets.apps"
SLICES = "endpointslices.discovery.k8s.io"


def ref(owner: Obj, *, block: bool = True) -> dict[str, Any]:
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"],
            "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
            "controller": True, "blockOwnerDeletion": block}


def with_owner(obj: Obj, owner: Obj, **kw: Any) -> Obj:
    obj["metadata"]["ownerReferences"] = [ref(owner, **kw)]
    return obj


async def tree(h: Harness, *, finalizers: list[str] | None = None) -> tuple[Obj, Obj, Obj]:
    d = await h.client.create(DEPLOY, {"apiVersion": "apps/v1", "kind": "Deployment",
                                       "metadata": {"name": "web", "namespace": "default",
                                                    "finalizers": finalizers or []},
                                       "spec": {}})
    rs = await h.client.create(RS, with_owner({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                               "metadata": {"name": "web-1",
                                                            "namespace": "default"},
                                               "spec": {}}, d))
    p = await h.client.create("pods", with_owner(pod("web-1-abcde"), rs))
    return d, rs, p


def gc(h: Harness) -> GarbageCollector:
    return GarbageCollector(h.client, {r: h.informer(r) for r in (
        DEPLOY, RS, "pods", "services", SLICES)})


def names(h: Harness, res: str) -> list[str]:
    return [o["metadata"]["name"] for o in h.items(res)]


async def test_background_cascade() -> None:
    h = Harness()
    await tree(h)
    svc = await h.client.create("services", {"apiVersion": "v1", "kind": "Service",
                                             "metadata": {"name": "web"}, "spec": {}})
    await h.client.create(SLICES, with_owner({"metadata": {"name": "web-xyz"},
                                              "addressType": "IPv4", "endpoints": []}, svc))
    keep = await h.client.create("pods", pod("standalone"))
    c = gc(h)
    async with h.running(c):
        await h.client.delete(DEPLOY, "web")
        await wait_for(lambda: names(h, RS) == [] and names(h, "pods") == ["standalone"],
                       what="cascade")
        await h.client.delete("services", "web")
        await wait_for(lambda: names(h, SLICES) == [])
    assert keep["metadata"]["name"] == "standalone"


async def test_orphans_found_at_startup_are_collected() -> None:
    h = Harness()
    ghost = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "gone", "uid": "no-such-uid"}}
    await h.client.create("pods", with_owner(pod("orphaned"), ghost))
    c = gc(h)
    async with h.running(c):
        await wait_for(lambda: names(h, "pods") == [])


async def test_foreground_deletes_dependents_first() -> None:
    h = Harness()
    await tree(h, finalizers=["foregroundDeletion"])
    c = gc(h)
    async with h.running(c):
        await h.client.delete(DEPLOY, "web")  # finalizer: marked, not removed
        await wait_for(lambda: names(h, DEPLOY) == [], what="owner removed last")
        assert names(h, RS) == [] and names(h, "pods") == []
    gone = [res for res, _, ev in h.client.history if ev["type"] == "DELETED"]
    assert gone.index(RS) < gone.index(DEPLOY)  # the owner goes last


async def test_orphan_strips_owner_references() -> None:
    h = Harness()
    await tree(h, finalizers=["orphan"])
    c = gc(h)
    async with h.running(c):
        await h.client.delete(DEPLOY, "web")
        await wait_for(lambda: names(h, DEPLOY) == [], what="owner removed")
        [rs] = h.items(RS)
        assert not rs["metadata"].get("ownerReferences")
        # the pod still belongs to the (kept) ReplicaSet
        [p] = h.items("pods")
        assert p["metadata"]["ownerReferences"][0]["name"] == "web-1"


async def test_dependent_with_a_live_second_owner_is_kept() -> None:
    h = Harness()
    a = await h.client.create("services", {"apiVersion": "v1", "kind": "Service",
                                           "metadata": {"name": "a"}, "spec": {}})
    b = await h.client.create("services", {"apiVersion": "v1", "kind": "Service",
                                           "metadata": {"name": "b"}, "spec": {}})
    p = pod("shared")
    p["metadata"]["ownerReferences"] = [ref(a, block=False), ref(b, block=False)]
    await h.client.create("pods", p)
    c = gc(h)
    async with h.running(c):
        await h.client.delete("services", "a")
        await wait_for(lambda: [r["name"] for r in h.items("pods")[0]["metadata"][
            "ownerReferences"]] == ["b"])
        assert names(h, "pods") == ["shared"]
