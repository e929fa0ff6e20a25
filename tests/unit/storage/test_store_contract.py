"""The Store contract, run against every backend (memory, sqlite, etcd).

The etcd server is shared by the session, so every test works under its own ``prefix`` and
states revisions relative to what it observed.
"""

from __future__ import annotations

import asyncio

import pytest

from kubesvc import errors
from kubesvc.storage.store import KeyValue, Store

from .conftest import Events


async def test_create_get_and_revision(store: Store, prefix: str) -> None:
    before = await store.revision()
    kv = await store.create(prefix + "a", b"v1")
    assert kv == KeyValue(prefix + "a", b"v1", before + 1, before + 1)
    assert await store.get(prefix + "a") == kv
    assert await store.get(prefix + "missing") is None
    assert await store.revision() == before + 1
    with pytest.raises(errors.AlreadyExists):
        await store.create(prefix + "a", b"again")
    assert await store.revision() == before + 1  # a failed create writes nothing
    assert (await store.get(prefix + "a")) == kv


async def test_update_compare_and_swap(store: Store, prefix: str) -> None:
    kv1 = await store.create(prefix + "a", b"v1")
    kv2 = await store.update(prefix + "a", b"v2", expected_mod_revision=kv1.mod_revision)
    assert kv2.value == b"v2"
    assert kv2.create_revision == kv1.create_revision
    assert kv2.mod_revision == kv1.mod_revision + 1
    with pytest.raises(errors.Conflict):
        await store.update(prefix + "a", b"stale", expected_mod_revision=kv1.mod_revision)
    assert await store.get(prefix + "a") == kv2
    kv3 = await store.update(prefix + "a", b"v3")  # unconditional
    assert kv3.mod_revision == kv2.mod_revision + 1 and kv3.value == b"v3"
    with pytest.raises(errors.NotFound):
        await store.update(prefix + "missing", b"x")
    with pytest.raises(errors.NotFound):
        await store.update(prefix + "missing", b"x", expected_mod_revision=kv3.mod_revision)


async def test_delete_compare_and_swap(store: Store, prefix: str) -> None:
    kv1 = await store.create(prefix + "a", b"v1")
    kv2 = await store.update(prefix + "a", b"v2")
    with pytest.raises(errors.Conflict):
        await store.delete(prefix + "a", expected_mod_revision=kv1.mod_revision)
    prev = await store.delete(prefix + "a", expected_mod_revision=kv2.mod_revision)
    assert prev == kv2
    assert await store.get(prefix + "a") is None
    assert await store.revision() == kv2.mod_revision + 1
    with pytest.raises(errors.NotFound):
        await store.delete(prefix + "a")
    again = await store.create(prefix + "a", b"new")
    assert again.create_revision == again.mod_revision == kv2.mod_revision + 2


async def test_list_prefix_order_limit_and_paging(store: Store, prefix: str) -> None:
    names = ["b", "a", "c/x", "c", "d"]
    for n in names:
        await store.create(prefix + n, n.encode())
    await store.create(prefix.rstrip("/") + "-sibling", b"not under prefix")
    await store.create(prefix.rstrip("/"), b"the prefix minus slash")
    rev = await store.revision()

    res = await store.list(prefix)
    assert [kv.key for kv in res.items] == [prefix + n for n in sorted(names)]
    assert [kv.value for kv in res.items] == [n.encode() for n in sorted(names)]
    assert res.revision == rev and not res.more

    page = await store.list(prefix, limit=2)
    assert [kv.key for kv in page.items] == [prefix + "a", prefix + "b"] and page.more
    seen: list[str] = []
    after = ""
    while True:
        page = await store.list(prefix, limit=2, start_after=after)
        seen += [kv.key for kv in page.items]
        if not page.more:
            break
        after = page.items[-1].key
    assert seen == [prefix + n for n in sorted(names)]

    exact = await store.list(prefix, limit=len(names))
    assert len(exact.items) == len(names) and not exact.more
    assert (await store.list(prefix + "zzz")).items == []


async def test_list_at_past_revision(store: Store, prefix: str) -> None:
    a1 = await store.create(prefix + "a", b"a1")
    b1 = await store.create(prefix + "b", b"b1")
    r1 = await store.revision()
    a2 = await store.update(prefix + "a", b"a2")
    await store.delete(prefix + "b")
    c1 = await store.create(prefix + "c", b"c1")

    then = await store.list(prefix, revision=r1)
    assert then.items == [a1, b1] and then.revision == r1
    paged = await store.list(prefix, revision=r1, limit=1, start_after=prefix + "a")
    assert paged.items == [b1] and not paged.more
    first = await store.list(prefix, revision=a1.mod_revision)
    assert first.items == [a1]
    now = await store.list(prefix, revision=await store.revision())
    assert now.items == [a2, c1]
    assert (await store.list(prefix)).items == [a2, c1]


async def test_list_future_revision_is_too_large(store: Store, prefix: str) -> None:
    await store.create(prefix + "a", b"x")
    with pytest.raises(errors.Timeout):
        await store.list(prefix, revision=await store.revision() + 1000)


async def test_watch_from_past_revision_replays_backlog_then_live(
    store: Store, prefix: str, events: type[Events]
) -> None:
    a1 = await store.create(prefix + "a", b"a1")
    await store.create(prefix.rstrip("/") + "-elsewhere", b"other prefix")
    a2 = await store.update(prefix + "a", b"a2")
    b1 = await store.create(prefix + "b", b"b1")
    gone = await store.delete(prefix + "a")

    w = await store.watch(prefix, start_revision=a1.mod_revision)
    ev = events(w)
    got = await ev.take(4)
    assert [(e.type, e.kv.key) for e in got] == [
        ("PUT", prefix + "a"), ("PUT", prefix + "a"), ("PUT", prefix + "b"),
        ("DELETE", prefix + "a"),
    ]
    assert got[0].kv == a1 and got[0].prev_kv is None
    assert got[1].kv == a2 and got[1].prev_kv == a1
    assert got[2].kv == b1 and got[2].prev_kv is None
    delete = got[3]
    assert delete.kv.value == b"" and delete.kv.mod_revision == a2.mod_revision + 2
    assert delete.prev_kv == gone == a2

    b2 = await store.update(prefix + "b", b"b2")
    live = await ev.next()
    assert live.type == "PUT" and live.kv == b2 and live.prev_kv == b1
    await w.close()


async def test_watch_from_now_sees_only_new_events_under_prefix(
    store: Store, prefix: str, events: type[Events]
) -> None:
    await store.create(prefix + "old", b"before the watch")
    w = await store.watch(prefix + "x/", start_revision=0)
    ev = events(w)
    await store.create(prefix + "y/1", b"other prefix")
    await store.update(prefix + "old", b"not watched")
    k1 = await store.create(prefix + "x/1", b"1")
    prev = await store.delete(prefix + "x/1")
    first, second = await ev.take(2)
    assert first.type == "PUT" and first.kv == k1
    assert second.type == "DELETE" and second.prev_kv == prev == k1
    assert second.kv.key == prefix + "x/1" and second.kv.mod_revision == k1.mod_revision + 1
    await w.close()
    await ev.end()  # closing ends the iteration


async def test_watch_from_future_revision_skips_older_events(
    store: Store, prefix: str, events: type[Events]
) -> None:
    start = await store.revision() + 3
    w = await store.watch(prefix, start_revision=start)
    ev = events(w)
    for i in range(4):
        await store.create(f"{prefix}{i}", b"x")
    got = await ev.next()
    assert got.kv.mod_revision == start and got.kv.key == f"{prefix}2"
    assert (await ev.next()).kv.key == f"{prefix}3"
    await w.close()


async def test_watch_many_writes_in_order(store: Store, prefix: str, events: type[Events]) -> None:
    w = await store.watch(prefix, start_revision=0)
    ev = events(w)
    kvs = [await store.create(f"{prefix}{i:03d}", b"v") for i in range(50)]
    got = await ev.take(50)
    assert [e.kv for e in got] == kvs
    await w.close()


async def test_compaction_makes_older_revisions_gone(
    store: Store, prefix: str, events: type[Events]
) -> None:
    a1 = await store.create(prefix + "a", b"a1")
    b1 = await store.create(prefix + "b", b"b1")
    await store.update(prefix + "b", b"b2")
    await store.delete(prefix + "b")
    c1 = await store.create(prefix + "c", b"c1")
    r = await store.revision()
    before = await store.list(prefix, revision=r)
    a2 = await store.update(prefix + "a", b"a2")

    await store.compact(r)
    with pytest.raises(errors.Gone):
        await store.list(prefix, revision=r - 1)
    with pytest.raises(errors.Gone):
        await store.list(prefix, revision=b1.mod_revision)
    with pytest.raises(errors.Gone):
        await store.watch(prefix, start_revision=r - 1)
    # The compaction revision itself and everything after it stay readable.
    assert (await store.list(prefix, revision=r)).items == before.items == [a1, c1]
    assert (await store.list(prefix)).items == [a2, c1]
    w = await store.watch(prefix, start_revision=r)
    ev = events(w)
    got = await ev.take(2)
    assert got[0].kv == c1
    assert got[1].kv == a2 and got[1].prev_kv == a1  # prev_kv older than r survives
    await w.close()
    await store.compact(r)  # compacting again (or older) is harmless
    await store.compact(r - 1)
    assert (await store.list(prefix)).items == [a2, c1]


async def test_concurrent_writes_reach_every_watcher_once_in_order(
    store: Store, prefix: str, events: type[Events]
) -> None:
    """A watch opened from a past revision while writes are in flight gets each event exactly
    once (the backlog/live hand-over neither drops nor repeats)."""
    start = await store.revision() + 1
    early = events(await store.watch(prefix, start_revision=0))

    async def writer(n: int) -> None:
        kv = await store.create(f"{prefix}{n}", b"0")
        for i in range(1, 4):
            kv = await store.update(kv.key, str(i).encode(), expected_mod_revision=kv.mod_revision)

    tasks = [asyncio.create_task(writer(n)) for n in range(10)]
    await asyncio.sleep(0)
    late_watch = await store.watch(prefix, start_revision=start)
    late = events(late_watch)
    await asyncio.gather(*tasks)
    end = await store.revision()
    for ev in (early, late):
        got = await ev.take(40)
        revs = [e.kv.mod_revision for e in got]
        assert revs == list(range(start, end + 1))
        per_key: dict[str, bytes] = {}
        for e in got:  # each event's prev_kv is the key's previous event
            assert e.prev_kv == (None if e.kv.key not in per_key else e.prev_kv)
            assert e.prev_kv is None or e.prev_kv.value == per_key[e.kv.key]
            per_key[e.kv.key] = e.kv.value
        assert sorted(per_key.values()) == [b"3"] * 10
    await late_watch.close()
