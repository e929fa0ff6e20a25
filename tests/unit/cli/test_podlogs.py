"""The pod-log socket: what an agent's LogSource yields (or raises) arrives unchanged at
the API server's side (LogSocketSource), including upstream's error statuses and follow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubesvc import errors
from kubesvc.cli.podlogs import LogSocketServer, LogSocketSource


class FakeLogs:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, bool, int | None, bool]] = []
        self.more = asyncio.Event()

    def stream(self, namespace: str, pod: str, *, container: str | None = None,
               follow: bool = False, tail_lines: int | None = None,
               previous: bool = False, options: object = None) -> AsyncIterator[bytes]:
        self.calls.append((namespace, pod, container, follow, tail_lines, previous))
        if pod == "missing":
            raise errors.NotFound(f'pods "{pod}" not found', name=pod, kind="pods")
        if previous:
            raise errors.BadRequest(
                f'previous terminated container "{container}" in pod "{pod}" not found')
        return self._gen(follow)

    async def _gen(self, follow: bool) -> AsyncIterator[bytes]:
        yield b"line 1\n"
        if follow:
            await self.more.wait()
            yield b"line 2\n"


async def collect(it: AsyncIterator[bytes]) -> bytes:
    return b"".join([c async for c in it])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[FakeLogs, LogSocketSource]]:
    logs = FakeLogs()
    server = LogSocketServer(logs, tmp_path / "logs.sock")
    await server.start()
    try:
        yield logs, LogSocketSource(tmp_path / "logs.sock", node="node-1")
    finally:
        await server.stop()
    assert not (tmp_path / "logs.sock").exists()


async def test_streams_with_parameters(served: tuple[FakeLogs, LogSocketSource]) -> None:
    logs, source = served
    out = await collect(source.stream("ns1", "web", container="app", follow=False,
                                      tail_lines=5, previous=False))
    assert out == b"line 1\n"
    assert logs.calls == [("ns1", "web", "app", False, 5, False)]


async def test_follow_streams_until_the_source_ends(
        served: tuple[FakeLogs, LogSocketSource]) -> None:
    logs, source = served
    it = aiter(source.stream("ns1", "web", container="app", follow=True, tail_lines=None,
                             previous=False))
    assert await anext(it) == b"line 1\n"
    logs.more.set()
    assert await collect(it) == b"line 2\n"


@pytest.mark.parametrize(("pod", "previous", "err", "msg"), [
    ("missing", False, errors.NotFound, 'pods "missing" not found'),
    ("web", True, errors.BadRequest,
     'previous terminated container "app" in pod "web" not found'),
])
async def test_errors_arrive_as_upstream_statuses(
        served: tuple[FakeLogs, LogSocketSource], pod: str, previous: bool,
        err: type[errors.KubeError], msg: str) -> None:
    _, source = served
    with pytest.raises(err) as info:
        await collect(source.stream("ns1", pod, container="app", follow=False,
                                    tail_lines=None, previous=previous))
    assert str(info.value) == msg


async def test_a_dead_agent_is_service_unavailable(tmp_path: Path) -> None:
    source = LogSocketSource(tmp_path / "nobody.sock", node="node-2")
    with pytest.raises(errors.ServiceUnavailable, match="node-2"):
        await collect(source.stream("ns1", "web", container="app", follow=False,
                                    tail_lines=None, previous=False))
