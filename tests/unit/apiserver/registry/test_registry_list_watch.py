"""List (selectors, pagination, resourceVersion) and watch (translation, filtering,
bookmarks, Gone) semantics."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from kubesvc.apiserver.registry.listing import decode_continue, encode_continue
from kubesvc.client.options import ListOptions, WatchOptions
from kubesvc.client.protocol import WatchEventDict
from kubesvc.storage.store import Store
from tests.unit.apiserver.registry.registry_helpers import cm, pod


async def next_event(it: AsyncIterator[WatchEventDict], timeout: float = 2.0) -> WatchEventDict:
    return await asyncio.wait_for(it.__anext__(), timeout)


async def next_non_bookmark(it: AsyncIterator[WatchEventDict]) -> WatchEventDict:
    while True:
        ev = await next_event(it)
        if ev["type"] != "BOOKMARK":
            return ev


def names(lst: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in lst["items"]]


async def test_list_envelope_and_label_selector(reg: Registry) -> None:
    for i in range(5):
        await reg.create("configmaps", cm(f"c{i}", labels={"tier": "a" if i % 2 else "b"}))
    out = await reg.list("configmaps", namespace="default",
                         opts=ListOptions(label_selector="tier=a"))
    assert out["kind"] == "ConfigMapList" and out["apiVersion"] == "v1"
    assert names(out) == ["c1", "c3"]
    assert int(out["metadata"]["resourceVersion"]) >= 5
    out = await reg.list("configmaps", namespace="default",
                         opts=ListOptions(label_selector="tier in (a,b),tier!=a"))
    assert names(out) == ["c0", "c2", "c4"]
    with pytest.raises(errors.BadRequest):
        await reg.list("configmaps", opts=ListOptions(label_selector="tier in ("))


async def test_field_selectors(reg: Registry) -> None:
    await reg.create("pods", pod("a", node="n1"))
    await reg.create("pods", pod("b"))
    out = await reg.list("pods", opts=ListOptions(field_selector="spec.nodeName=n1"))
    assert names(out) == ["a"]
    out = await reg.list("pods",
                         opts=ListOptions(field_selector="metadata.name!=a,status.phase=Pending"))
    assert names(out) == ["b"]
    with pytest.raises(errors.BadRequest):
        await reg.list("pods", opts=ListOptions(field_selector="spec.bogus=1"))


async def test_namespaced_and_cluster_wide_lists(reg: Registry) -> None:
    await reg.create("namespaces", {"metadata": {"name": "other"}})
    await reg.create("configmaps", cm("x"))
    await reg.create("configmaps", cm("y", ns="other"), namespace="other")
    assert names(await reg.list("configmaps", namespace="other")) == ["y"]
    assert sorted(names(await reg.list("configmaps"))) == ["x", "y"]
    ns = names(await reg.list("namespaces"))
    assert {"default", "kube-system", "kube-public", "kube-node-lease", "other"} <= set(ns)


async def test_pagination_is_consistent(reg: Registry) -> None:
    for i in range(7):
        await reg.create("configmaps", cm(f"c{i}", labels={"even": str(i % 2 == 0).lower()}))
    page1 = await reg.list("configmaps", namespace="default", opts=ListOptions(limit=3))
    assert names(page1) == ["c0", "c1", "c2"]
    token = page1["metadata"]["continue"]
    rev, start = decode_continue(token)
    assert rev == int(page1["metadata"]["resourceVersion"]) and start == "c2"
    await reg.create("configmaps", cm("c00"))  # after the snapshot: must not show up
    page2 = await reg.list("configmaps", namespace="default",
                           opts=ListOptions(limit=3, continue_token=token))
    assert names(page2) == ["c3", "c4", "c5"]
    assert page2["metadata"]["resourceVersion"] == page1["metadata"]["resourceVersion"]
    page3 = await reg.list("configmaps", namespace="default",
                           opts=ListOptions(limit=3, continue_token=page2["metadata"]["continue"]))
    assert names(page3) == ["c6"] and "continue" not in page3["metadata"]
    # With a selector every page holds ``limit`` matches.
    sel = await reg.list("configmaps", namespace="default",
                         opts=ListOptions(limit=2, label_selector="even=true"))
    assert names(sel) == ["c0", "c2"]
    sel2 = await reg.list("configmaps", namespace="default",
                          opts=ListOptions(limit=2, label_selector="even=true",
                                           continue_token=sel["metadata"]["continue"]))
    assert names(sel2) == ["c4", "c6"]


async def test_bad_continue_token(reg: Registry) -> None:
    with pytest.raises(errors.BadRequest):
        await reg.list("configmaps", opts=ListOptions(continue_token="not-a-token"))
    with pytest.raises(errors.BadRequest):
        await reg.list("configmaps", opts=ListOptions(continue_token=encode_continue(1, "../x")))


async def test_expired_continue_token_is_gone(reg: Registry, store: Store) -> None:
    for i in range(4):
        await reg.create("configmaps", cm(f"c{i}"))
    page = await reg.list("configmaps", namespace="default", opts=ListOptions(limit=2))
    for i in range(3):
        await reg.patch("configmaps", "c3", {"data": {"i": str(i)}}, namespace="default")
    await store.compact(await store.revision())
    with pytest.raises(errors.Gone) as ei:
        await reg.list("configmaps", namespace="default",
                       opts=ListOptions(limit=2, continue_token=page["metadata"]["continue"]))
    assert ei.value.message.startswith("The provided continue parameter is too old")
    assert ei.value.code == 410


async def test_resource_version_semantics(reg: Registry, store: Store) -> None:
    a = await reg.create("configmaps", cm("a", x="1"))
    rv_a = a["metadata"]["resourceVersion"]
    await reg.patch("configmaps", "a", {"data": {"x": "2"}}, namespace="default")
    now = await reg.list("configmaps", namespace="default", opts=ListOptions(resource_version="0"))
    assert now["items"][0]["data"] == {"x": "2"}
    exact = await reg.list("configmaps", namespace="default",
                           opts=ListOptions(resource_version=rv_a, limit=10))
    assert exact["items"][0]["data"] == {"x": "1"}
    assert exact["metadata"]["resourceVersion"] == rv_a
    not_older = await reg.list("configmaps", namespace="default",
                               opts=ListOptions(resource_version=rv_a))
    assert not_older["items"][0]["data"] == {"x": "2"}
    with pytest.raises(errors.Timeout) as ei:
        await reg.list("configmaps",
                       opts=ListOptions(resource_version=str(await store.revision() + 100)))
    assert ei.value.message.startswith("Too large resource version")
    with pytest.raises(errors.BadRequest):
        await reg.list("configmaps", opts=ListOptions(resource_version="abc"))


async def test_watch_from_resource_version(reg: Registry) -> None:
    start = await reg.list("configmaps", namespace="default")
    w = reg.watch("configmaps", namespace="default",
                  opts=WatchOptions(resource_version=start["metadata"]["resourceVersion"],
                                    allow_bookmarks=False))
    a = await reg.create("configmaps", cm("a", x="1"))
    b = await reg.patch("configmaps", "a", {"data": {"x": "2"}}, namespace="default")
    await reg.delete("configmaps", "a", namespace="default")
    ev1, ev2, ev3 = (await next_event(w), await next_event(w), await next_event(w))
    assert ev1["type"] == "ADDED" and ev1["object"] == a
    assert ev2["type"] == "MODIFIED" and ev2["object"] == b
    assert ev3["type"] == "DELETED" and ev3["object"]["data"] == {"x": "2"}
    assert int(ev3["object"]["metadata"]["resourceVersion"]) > int(b["metadata"]["resourceVersion"])
    await w.aclose()  # type: ignore[attr-defined]


async def test_watchers_of_one_change_share_one_decoded_object(reg: Registry) -> None:
    """A change is decoded once: every watcher gets the same (read-only) object, so the
    informers of all components hold one copy of it."""
    rv = (await reg.list("configmaps"))["metadata"]["resourceVersion"]
    w1 = reg.watch("configmaps", opts=WatchOptions(resource_version=rv, allow_bookmarks=False))
    w2 = reg.watch("configmaps", namespace="default",
                   opts=WatchOptions(resource_version=rv, allow_bookmarks=False))
    await reg.create("configmaps", cm("a", x="1"))
    await reg.delete("configmaps", "a", namespace="default")
    added1, added2 = await next_event(w1), await next_event(w2)
    assert added1["object"] is added2["object"]
    assert added1["object"]["data"] == {"x": "1"}
    deleted1, deleted2 = await next_event(w1), await next_event(w2)
    assert deleted1["type"] == deleted2["type"] == "DELETED"
    assert deleted1["object"] is deleted2["object"]
    assert deleted1["object"] is not added1["object"]  # stamped with the delete's revision
    await w1.aclose()  # type: ignore[attr-defined]
    await w2.aclose()  # type: ignore[attr-defined]


async def test_watch_without_resource_version_sends_initial_state(reg: Registry) -> None:
    await reg.create("configmaps", cm("a"))
    await reg.create("configmaps", cm("b"))
    w = reg.watch("configmaps", namespace="default", opts=WatchOptions(allow_bookmarks=False))
    got = [await next_event(w), await next_event(w)]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in got] == [
        ("ADDED", "a"), ("ADDED", "b")]
    await reg.create("configmaps", cm("c"))
    ev = await next_event(w)
    assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "c")
    await w.aclose()  # type: ignore[attr-defined]


async def test_watch_filtering_transitions(reg: Registry) -> None:
    rv = (await reg.list("configmaps"))["metadata"]["resourceVersion"]
    w = reg.watch("configmaps", namespace="default",
                  opts=WatchOptions(label_selector="app=web", resource_version=rv,
                                    allow_bookmarks=False))
    await reg.create("configmaps", cm("other", labels={"app": "db"}))
    await reg.create("configmaps", cm("a", labels={"app": "db"}))
    await reg.patch("configmaps", "a", {"metadata": {"labels": {"app": "web"}}},
                    namespace="default")
    ev = await next_event(w)
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "a"
    await reg.patch("configmaps", "a", {"data": {"k": "v"}}, namespace="default")
    ev = await next_event(w)
    assert ev["type"] == "MODIFIED"
    moved = await reg.patch("configmaps", "a", {"metadata": {"labels": {"app": "db"}}},
                            namespace="default")
    ev = await next_event(w)
    assert ev["type"] == "DELETED"
    assert ev["object"]["metadata"]["labels"] == {"app": "web"}  # last matching state
    assert ev["object"]["metadata"]["resourceVersion"] == moved["metadata"]["resourceVersion"]
    await reg.delete("configmaps", "a", namespace="default")  # not matching: no event
    await reg.create("configmaps", cm("b", labels={"app": "web"}))
    ev = await next_event(w)
    assert ev["type"] == "ADDED" and ev["object"]["metadata"]["name"] == "b"
    await w.aclose()  # type: ignore[attr-defined]


async def test_watch_field_selector(reg: Registry) -> None:
    rv = (await reg.list("pods"))["metadata"]["resourceVersion"]
    w = reg.watch("pods",
                  opts=WatchOptions(field_selector="spec.nodeName=n1", resource_version=rv,
                                    allow_bookmarks=False))
    await reg.create("pods", pod("a"))
    await reg.create("pods", pod("b", node="n1"))
    ev = await next_event(w)
    assert ev["object"]["metadata"]["name"] == "b"
    await w.aclose()  # type: ignore[attr-defined]


async def test_watch_bookmarks(reg: Registry) -> None:
    rv = (await reg.list("configmaps"))["metadata"]["resourceVersion"]
    w = reg.watch("configmaps", opts=WatchOptions(resource_version=rv, allow_bookmarks=True))
    ev = await next_event(w)
    assert ev["type"] == "BOOKMARK"
    assert ev["object"]["kind"] == "ConfigMap"
    assert ev["object"]["metadata"]["resourceVersion"] == rv
    created = await reg.create("configmaps", cm("a"))
    ev = await next_non_bookmark(w)
    assert ev["type"] == "ADDED"
    ev = await next_event(w)
    assert ev["type"] == "BOOKMARK"
    assert ev["object"]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    await w.aclose()  # type: ignore[attr-defined]


async def test_watch_timeout_ends_stream(reg: Registry) -> None:
    rv = (await reg.list("configmaps"))["metadata"]["resourceVersion"]
    w = reg.watch("configmaps",
                  opts=WatchOptions(resource_version=rv, allow_bookmarks=False, timeout_seconds=1))
    events = [ev async for ev in w]
    assert events == []


async def test_watch_too_old_is_gone(reg: Registry, store: Store) -> None:
    await reg.create("configmaps", cm("a"))
    await reg.patch("configmaps", "a", {"data": {"x": "1"}}, namespace="default")
    head = await store.revision()
    await store.compact(head)
    w = reg.watch("configmaps", opts=WatchOptions(resource_version="2"))
    with pytest.raises(errors.Gone) as ei:
        await next_event(w)
    assert ei.value.message == f"too old resource version: 2 ({head})"


async def test_watch_rejects_bad_selector_before_streaming(reg: Registry) -> None:
    with pytest.raises(errors.BadRequest):
        reg.watch("pods", opts=WatchOptions(field_selector="spec.bogus=1"))


async def test_compactor_forgets_old_revisions(store: Store) -> None:
    reg = Registry(store, compact_interval=0.05, repair_interval=0)
    await reg.start()
    try:
        first = await reg.create("configmaps", cm("a"))
        for _ in range(200):  # wait for two compaction rounds
            try:
                await reg.list("configmaps", opts=ListOptions(resource_version="1", limit=1))
            except errors.Gone:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("revision 1 was never compacted")
        await reg.patch("configmaps", "a", {"data": {"x": "1"}}, namespace="default")
        with pytest.raises(errors.Gone):
            w = reg.watch("configmaps", opts=WatchOptions(resource_version="1"))
            await next_event(w)
        # Recent history is still there.
        w = reg.watch("configmaps",
                      opts=WatchOptions(resource_version=first["metadata"]["resourceVersion"],
                                        allow_bookmarks=False))
        ev = await next_event(w)
        assert ev["type"] == "MODIFIED"
        await w.aclose()  # type: ignore[attr-defined]
    finally:
        await reg.stop()
