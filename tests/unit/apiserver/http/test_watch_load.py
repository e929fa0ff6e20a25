"""Watch under load: one encoding of an event shared by every watcher, and a watcher that
reads nothing closed once its buffer stays full while the others keep receiving."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from kubesvc.apiserver.http.app import ApiApp
from kubesvc.apiserver.http.watch import EncodedEvents
from kubesvc.apiserver.registry import Registry
from kubesvc.storage.memory import MemoryStore

SIZE = 1_000_000
PATH = "/api/v1/namespaces/default/configmaps"


def _cm(blob: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
            "data": {"blob": blob}}


@pytest.fixture
async def api() -> AsyncIterator[tuple[Registry, ApiApp, TestServer]]:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    app = ApiApp(reg, tokens=None, server_address="127.0.0.1:1")  # type: ignore[arg-type]
    server = TestServer(app.make_app())
    await server.start_server()
    try:
        yield reg, app, server
    finally:
        await app.watcher.close_all()
        await server.close()
        await reg.stop()


def _idle_watch(server: TestServer, rv: str) -> socket.socket:
    """A watch whose client never reads (a tiny receive window)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", server.port or 0))
    s.sendall(f"GET {PATH}?watch=true&resourceVersion={rv} HTTP/1.1\r\n"
              f"Host: x\r\n\r\n".encode())
    return s


def test_encoded_events_share_one_line_per_object() -> None:
    enc = EncodedEvents(max_entries=2)
    obj: dict[str, Any] = {"metadata": {"name": "a"}}
    one = enc.line({"type": "MODIFIED", "object": obj})
    assert enc.line({"type": "MODIFIED", "object": obj}) is one
    assert orjson.loads(one) == {"type": "MODIFIED", "object": obj} and one.endswith(b"\n")
    assert enc.line({"type": "DELETED", "object": obj}) is not one
    enc.line({"type": "ADDED", "object": {}})
    assert enc.line({"type": "MODIFIED", "object": obj}) is not one  # evicted (2 entries)


async def test_a_watcher_that_reads_nothing_is_closed_and_others_keep_receiving(
        api: tuple[Registry, ApiApp, TestServer]) -> None:
    reg, app, server = api
    app.watcher.buffer_size = 2
    app.watcher.unresponsive_after = 0.3
    created = await reg.create("configmaps", _cm("a" * SIZE), namespace="default")
    rv = created["metadata"]["resourceVersion"]
    slow = _idle_watch(server, rv)
    got: list[str] = []
    updates = 12
    async with TestClient(server) as client:
        resp = await client.get(PATH, params={"watch": "true", "resourceVersion": rv})

        async def read() -> None:
            buf = b""
            while len(got) < updates:
                chunk = await resp.content.read(1 << 20)
                assert chunk, "the fast watch ended"
                buf += chunk
                *lines, buf = buf.split(b"\n")
                got.extend(orjson.loads(ln)["object"]["metadata"]["resourceVersion"]
                           for ln in lines)

        reader = asyncio.create_task(read())
        cur = created
        for i in range(updates):
            cur = await reg.update("configmaps", _cm(chr(98 + i) * SIZE), namespace="default")
        await asyncio.wait_for(reader, 30)
        assert got[-1] == cur["metadata"]["resourceVersion"]
        resp.close()
    # the slow watch was aborted: after what the kernel buffered, the stream ends
    slow.settimeout(10)
    ended = False
    try:
        while slow.recv(1 << 20):
            pass
        ended = True
    except ConnectionResetError:
        ended = True
    finally:
        slow.close()
    assert ended


async def test_idle_watchers_of_a_1mb_object_share_its_encoding(
        api: tuple[Registry, ApiApp, TestServer]) -> None:
    reg, app, server = api
    created = await reg.create("configmaps", _cm("a" * SIZE), namespace="default")
    rv = created["metadata"]["resourceVersion"]
    n = 20
    socks = [_idle_watch(server, rv)]

    async def growth(fill: str) -> int:
        while len(app.watcher.active) < len(socks):
            await asyncio.sleep(0.01)
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            await reg.update("configmaps", _cm(fill * SIZE), namespace="default")
            for _ in range(50):  # let every watcher take the event and fill its transport
                await asyncio.sleep(0.01)
            return tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()

    try:
        one = await growth("b")  # the shared costs: store value, decoded object, one line
        socks += [_idle_watch(server, rv) for _ in range(n)]
        more = await growth("c")
        # what n more watchers add: about a write slice each; a copy each would be n * SIZE
        assert more - one < n * SIZE // 4, (one, more)
    finally:
        for s in socks:
            s.close()


async def test_queued_small_lines_are_written_together_and_a_big_one_in_slices() -> None:
    from kubesvc.apiserver.http.watch import WRITE_SLICE, _write

    class Resp:
        def __init__(self) -> None:
            self.writes: list[bytes] = []

        async def write(self, data: bytes | memoryview) -> None:
            self.writes.append(bytes(data))

    big = b"x" * (2 * WRITE_SLICE + 10) + b"\n"
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    for item in (b"a\n", b"b\n", big, b"c\n", None):
        queue.put_nowait(item)
    resp = Resp()
    await _write(resp, queue)  # type: ignore[arg-type]
    assert resp.writes[0] == b"a\nb\n"
    assert [len(w) for w in resp.writes[1:4]] == [WRITE_SLICE, WRITE_SLICE, 11]
    assert resp.writes[4:] == [b"c\n"] and b"".join(resp.writes) == b"a\nb\n" + big + b"c\n"
