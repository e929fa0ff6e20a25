"""EtcdStore beyond the shared contract: endpoint parsing, failover to a live endpoint,
and a watch that survives an etcd restart (resuming from the last seen revision)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kubesvc import errors
from kubesvc.storage.etcd import EtcdStore, parse_endpoints
from kubesvc.storage.factory import open_store

from .conftest import EtcdProcess, Events, free_port


def test_parse_endpoints() -> None:
    assert parse_endpoints("etcd://127.0.0.1:2379,127.0.0.1:22379/") == [
        ("127.0.0.1", 2379), ("127.0.0.1", 22379),
    ]
    assert parse_endpoints("etcd://[::1]:2379,localhost") == [("[::1]", 2379), ("localhost", 2379)]
    with pytest.raises(errors.BadRequest):
        parse_endpoints("etcd://")


async def test_connect_fails_over_from_a_dead_endpoint(etcd_server: EtcdProcess) -> None:
    dead = free_port()
    s = await open_store(f"etcd://127.0.0.1:{dead},127.0.0.1:{etcd_server.client_port}")
    assert isinstance(s, EtcdStore)
    kv = await s.create("/failover/a", b"x")
    assert (await s.get("/failover/a")) == kv
    await s.delete("/failover/a")
    await s.close()


async def test_connect_to_nothing_is_service_unavailable() -> None:
    with pytest.raises(errors.ServiceUnavailable):
        await EtcdStore.connect(f"etcd://127.0.0.1:{free_port()}", retry_timeout=0.5)


async def test_watch_resumes_after_etcd_restart(etcd_factory: Callable[[], EtcdProcess]) -> None:
    etcd = etcd_factory()
    etcd.start()
    s = await EtcdStore.connect(etcd.url)
    a1 = await s.create("/w/a", b"1")
    w = await s.watch("/w/", start_revision=0)
    ev = Events(w)
    a2 = await s.update("/w/a", b"2")
    assert (await ev.next()).kv == a2

    etcd.kill()
    with pytest.raises(errors.ServiceUnavailable):
        await EtcdStore.connect(etcd.url, retry_timeout=0.2)
    etcd.start()  # same data dir and ports

    a3 = await s.update("/w/a", b"3", expected_mod_revision=a2.mod_revision)  # retried reads
    b1 = await s.create("/w/b", b"1")
    got = await ev.take(2, timeout=10)
    assert [e.kv for e in got] == [a3, b1]
    assert got[0].prev_kv == a2
    assert (await s.list("/w/")).items == [a3, b1]
    assert a1.create_revision == a3.create_revision
    await w.close()
    await s.close()
