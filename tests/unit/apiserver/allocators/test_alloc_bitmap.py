"""The persisted bitmap, the two ranges' geometry, and start-up repair."""

from __future__ import annotations

import asyncio
import random

import orjson

from kubesvc.apiserver.allocators import (
    ClusterIPAllocator,
    NodePortAllocator,
    PeriodicRepair,
    RangeAllocator,
    repair_allocators,
)
from kubesvc.apiserver.allocators.bitmap import Bitmap
from kubesvc.apiserver.allocators.cluster_ip import SERVICE_IPS_KEY, range_offset
from kubesvc.apiserver.allocators.node_port import range_offset as port_range_offset
from kubesvc.storage.memory import MemoryStore
from kubesvc.storage.store import Store


def test_bitmap_basics() -> None:
    bm = Bitmap(21)
    assert bm.first_free(0, 21) == 0
    for i in range(17):
        assert bm.set(i)
    assert not bm.set(3)
    assert bm.used == 17
    assert bm.first_free(0, 21) == 17
    assert bm.first_free(0, 17) is None
    assert bm.clear(9) and not bm.clear(9)
    assert bm.first_free(0, 21) == 9
    assert bm.first_free(10, 21) == 17
    assert list(bm)[:3] == [0, 1, 2]
    big = Bitmap(5000)
    for i in range(4000):
        big.set(i)
    assert big.first_free(0, 5000) == 4000 and big.first_free(4001, 4003) == 4001


def test_range_geometry() -> None:
    st = MemoryStore()
    ips = ClusterIPAllocator(st, "10.96.0.0/12")
    assert ips.range.size == 2**20 - 2
    assert ips.range.static_band == 256
    assert ips.nth(1) == "10.96.0.1" and ips.nth(10) == "10.96.0.10"
    assert ips.offset_of("10.96.0.0") is None  # network address
    assert ips.offset_of("10.111.255.255") is None  # broadcast
    assert ips.offset_of("10.111.255.254") == ips.range.size - 1
    assert ips.offset_of("10.112.0.1") is None and ips.offset_of("nonsense") is None
    assert range_offset(8) == 0 and range_offset(256) == 16 and range_offset(2**16) == 256
    v6 = ClusterIPAllocator(st, "fd00::/108")
    assert v6.range.size == 65535 and v6.family == "IPv6"
    ports = NodePortAllocator(st)
    assert ports.range.size == 2768 and ports.range.static_band == 86
    assert port_range_offset(16) == 0 and port_range_offset(100) == 16
    assert port_range_offset(60000) == 128
    assert ports.contains(30000) and ports.contains(32767) and not ports.contains(32768)


async def test_dynamic_allocation_avoids_the_static_band_until_full() -> None:
    st = MemoryStore()
    r = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=40, static_band=10,
                       rng=random.Random(7))
    out = await r.commit(take_next=30)
    assert out.ok and sorted(out.values) == list(range(10, 40))
    out = await r.commit(take_next=1)
    assert out.ok and out.values[0] < 10
    out = await r.commit(take_next=10)
    assert not out.ok and out.reason == "full"
    assert r.used == 31  # the failed call changed nothing


async def test_take_is_all_or_nothing_and_release() -> None:
    st = MemoryStore()
    r = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=20, static_band=0)
    assert (await r.commit(take=[3])).ok
    out = await r.commit(take=[4, 3, 5])
    assert not out.ok and out.failed == 3 and out.reason == "allocated"
    assert not r.has(4) and not r.has(5)
    assert (await r.commit(release=[3, 7])).ok
    assert not r.has(3)
    dry = await r.commit(take=[1], take_next=2, dry_run=True)
    assert dry.ok and len(dry.values) == 2 and r.used == 0


async def test_state_is_persisted_in_blocks_and_reloaded() -> None:
    st = MemoryStore()
    a = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=5000, static_band=0)
    await a.commit(take=[5, 50, 4999])
    keys = [kv.key for kv in (await st.list("/registry/ranges/t/")).items]
    assert keys == ["/registry/ranges/t/00000", "/registry/ranges/t/00002"]
    kv = await st.get("/registry/ranges/t/00000")
    assert kv is not None and len(kv.value) < 600  # a small write per change
    doc = orjson.loads(kv.value)
    assert doc["kind"] == "RangeAllocation" and doc["range"] == "t"
    b = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=5000, static_band=0)
    await b.load()
    assert b.allocated() == [5, 50, 4999] and b.used == 3
    # A different configured range ignores the stored blocks (repair rebuilds them).
    c = RangeAllocator(st, "/registry/ranges/t", range_spec="other", size=5000, static_band=0)
    await c.load()
    assert c.used == 0
    await c.reset([7])
    d = RangeAllocator(st, "/registry/ranges/t", range_spec="other", size=5000, static_band=0)
    await d.load()
    assert d.allocated() == [7]


async def test_size_not_a_multiple_of_eight() -> None:
    st = MemoryStore()
    r = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=13, static_band=0)
    out = await r.commit(take_next=13)
    assert out.ok and sorted(out.values) == list(range(13))
    assert not (await r.commit(take_next=1)).ok
    again = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=13, static_band=0)
    await again.load()
    assert again.used == 13


async def test_two_servers_sharing_a_store_never_collide() -> None:
    st = MemoryStore()
    a = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=64, static_band=0,
                       rng=random.Random(1))
    b = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=64, static_band=0,
                       rng=random.Random(1))  # same random sequence: maximal collisions
    outs = await asyncio.gather(*(x.commit(take_next=1) for _ in range(32) for x in (a, b)))
    got = [o.values[0] for o in outs]
    assert all(o.ok for o in outs) and len(set(got)) == 64
    assert not (await a.commit(take_next=1)).ok


async def test_two_servers_multi_block_takes() -> None:
    st = MemoryStore()
    a = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=4100, static_band=0)
    b = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=4100, static_band=0)
    assert (await a.commit(take=[10, 2100, 4099])).ok
    out = await b.commit(take=[11, 2100])  # b's view is stale; the CAS tells it
    assert not out.ok and out.failed == 2100
    assert not b.has(11)
    assert (await b.commit(take=[11, 4000])).ok
    fresh = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=4100, static_band=0)
    await fresh.load()
    assert fresh.allocated() == [10, 11, 2100, 4000, 4099]


async def test_repair_rebuilds_from_services(store: Store) -> None:
    ips = ClusterIPAllocator(store, "10.0.0.0/24")
    ports = NodePortAllocator(store)
    await ips.commit(take=["10.0.0.77"])  # leaked: no Service holds it
    await ports.commit(take=[30500])

    async def put(name: str, spec: dict[str, object]) -> None:
        await store.create(f"/registry/core/services/default/{name}",
                           orjson.dumps({"metadata": {"name": name}, "spec": spec}))

    await put("a", {"type": "NodePort", "clusterIPs": ["10.0.0.5"],
                    "ports": [{"port": 80, "nodePort": 30080}]})
    await put("b", {"type": "LoadBalancer", "clusterIP": "10.0.0.6", "healthCheckNodePort": 31000,
                    "ports": [{"port": 80, "nodePort": 30081}]})
    await put("dup", {"type": "ClusterIP", "clusterIPs": ["10.0.0.5"]})
    await put("ext", {"type": "ExternalName", "externalName": "x.example"})
    await put("headless", {"clusterIP": "None", "clusterIPs": ["None"]})
    report = await repair_allocators(store, ips, ports)
    assert report.services == 5
    assert report.ips == ["10.0.0.5", "10.0.0.6"]
    assert report.ports == [30080, 30081, 31000]
    assert any("also held by" in p for p in report.problems)
    fresh = ClusterIPAllocator(store, "10.0.0.0/24")
    await fresh.load()
    assert fresh.has("10.0.0.5") and not fresh.has("10.0.0.77")
    assert (await store.list(SERVICE_IPS_KEY + "/")).items
    assert not ports.has(30500) and ports.has(31000)


async def test_stale_view_is_refreshed_before_refusing() -> None:
    st = MemoryStore()
    a = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=8, static_band=0)
    b = RangeAllocator(st, "/registry/ranges/t", range_spec="t", size=8, static_band=0)
    assert (await a.commit(take=[3])).ok
    await b.load()
    assert b.has(3)
    assert (await a.commit(release=[3])).ok  # b has not seen this
    assert (await b.commit(take=[3])).ok
    assert (await a.commit(take_next=7)).ok  # a refreshes, then takes the other seven
    assert not (await b.commit(take_next=1)).ok


async def test_periodic_repair_waits_before_releasing_leaks(store: Store) -> None:
    ips = ClusterIPAllocator(store, "10.0.0.0/24")
    ports = NodePortAllocator(store)
    await ips.commit(take=["10.0.0.77"])  # marked, no Service (yet)
    await store.create("/registry/core/services/default/a", orjson.dumps({
        "metadata": {"name": "a"},
        "spec": {"type": "NodePort", "clusterIPs": ["10.0.0.5"],
                 "ports": [{"port": 80, "nodePort": 30080}]}}))  # held, not marked
    rep = PeriodicRepair(store, ips, ports, leak_rounds=3)
    await rep.run_once()
    assert ips.has("10.0.0.5") and ports.has(30080)  # marked at once
    await rep.run_once()
    assert ips.has("10.0.0.77")  # two rounds: still kept
    await rep.run_once()
    assert not ips.has("10.0.0.77")  # third round: released
