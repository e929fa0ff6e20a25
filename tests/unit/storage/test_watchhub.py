"""WatchHub fan-out: watches are grouped by resource, and every watch still gets exactly
the events whose key starts with its prefix (resource-wide, one namespace, a prefix that
spans resources, a key shorter than a resource root)."""

from __future__ import annotations

import asyncio

from kubesvc.storage.store import KeyValue, WatchEvent
from kubesvc.storage.watchhub import WatchHub, _root

KEYS = [
    "/registry/core/pods/ns1/a",
    "/registry/core/pods/ns2/b",
    "/registry/core/podsx/ns1/c",  # shares the text "pods" but is another resource
    "/registry/core/services/ns1/s",
    "/registry/ranges/serviceips",
    "/registry/discovery.k8s.io/endpointslices/ns1/e",
]
PREFIXES = [
    "/registry/core/pods/",
    "/registry/core/pods/ns1/",
    "/registry/core/pods",  # no trailing slash: matches podsx too, as startswith does
    "/registry/",
    "/registry/ranges/",
    "/registry/ranges/serviceips",
    "/",
]


def test_root_is_the_first_four_path_segments() -> None:
    assert _root("/registry/core/pods/ns/a") == "/registry/core/pods/"
    assert _root("/registry/core/pods/") == "/registry/core/pods/"
    assert _root("/registry/core/pods") == ""
    assert _root("/registry/ranges/serviceips") == ""


async def test_every_watch_gets_exactly_its_prefix_events() -> None:
    hub = WatchHub()
    watches = {p: hub.add(p, 0) for p in PREFIXES}
    for rev, key in enumerate(KEYS, 1):
        hub.dispatch(WatchEvent("PUT", KeyValue(key, b"{}", rev, rev), None))
    for prefix, w in watches.items():
        want = [k for k in KEYS if k.startswith(prefix)]
        got: list[str] = []
        if want:
            it = aiter(w)
            batch = await asyncio.wait_for(anext(it), 1)
            got = [ev.kv.key for ev in batch]
        assert got == want, prefix
    assert hub.rev == len(KEYS)


async def test_a_closed_watch_leaves_its_group() -> None:
    hub = WatchHub()
    a = hub.add("/registry/core/pods/", 0)
    b = hub.add("/registry/core/pods/", 0)
    await a.close()
    hub.dispatch(WatchEvent("PUT", KeyValue("/registry/core/pods/ns/x", b"{}", 1, 1), None))
    batch = await asyncio.wait_for(anext(aiter(b)), 1)
    assert [ev.kv.key for ev in batch] == ["/registry/core/pods/ns/x"]
    await b.close()
    assert hub._by_root == {}
