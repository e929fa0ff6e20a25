"""The API server's relay of pods/exec, attach and portforward to the node agent: upstream's
checks before relaying, the agent's address from the Node, the request as the agent gets it
(no Authorization), an answer that refuses the upgrade passed back as it is, and — after a
101 — bytes copied both ways whatever the protocol (here an SPDY-style upgrade, which
aiohttp itself does not treat as one)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from kubesvc import errors
from kubesvc.apiserver.http.app import ApiApp
from kubesvc.apiserver.http.proxy import direct_dial
from kubesvc.apiserver.http.streamrelay import KubeletClient, check_pod


class _Backend:
    def __init__(self, objs: dict[tuple[str, str], dict[str, Any]]) -> None:
        self.objs = objs

    async def get(self, resource: str, name: str, *, namespace: str | None = None,
                  subresource: str = "") -> dict[str, Any]:
        try:
            return self.objs[(resource, name)]
        except KeyError:
            raise errors.NotFound(f'{resource} "{name}" not found') from None


def _pod(name: str, *, phase: str = "Running", node: str = "n1",
         containers: tuple[str, ...] = ("c",)) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": c} for c in containers]},
            "status": {"phase": phase}}


def test_checks_before_relaying() -> None:
    assert check_pod(_pod("p"), "exec", "") == "c"
    with pytest.raises(errors.BadRequest, match=r"a container name must be specified for pod "
                                                r"p, choose one of: \[a b\]"):
        check_pod(_pod("p", containers=("a", "b")), "exec", "")
    with pytest.raises(errors.BadRequest, match="container x is not valid for pod p"):
        check_pod(_pod("p"), "attach", "x")
    with pytest.raises(errors.BadRequest, match="cannot exec into a container in a completed "
                                                "pod; current phase is Failed"):
        check_pod(_pod("p", phase="Failed"), "exec", "c")
    with pytest.raises(errors.BadRequest, match="pod p does not have a host assigned"):
        check_pod(_pod("p", node=""), "exec", "c")
    assert check_pod(_pod("p", containers=("a", "b")), "portforward", "") == ""


class FakeAgent:
    """A raw TCP 'node agent': records the request head; for /upgrade answers 101 and then
    upper-cases what it gets; otherwise a plain 404."""

    def __init__(self) -> None:
        self.heads: list[bytes] = []
        self.server: asyncio.AbstractServer | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # the API server's unused spare connection
            writer.close()
            return
        self.heads.append(head)
        if b" /portforward/" in head.split(b"\r\n", 1)[0]:
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io"
                         b"\r\n\r\n")
            while data := await reader.read(65536):
                writer.write(data.upper())
                await writer.drain()
        else:
            body = b'container not found ("c")'
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])


async def test_relay_after_an_upgrade_and_a_refused_upgrade() -> None:
    agent = FakeAgent()
    port = await agent.start()
    backend = _Backend({
        ("pods", "p"): _pod("p"),
        ("nodes", "n1"): {"status": {"addresses": [{"type": "InternalIP",
                                                    "address": "127.0.0.1"}],
                                     "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}},
    })
    api = ApiApp(backend, tokens=None, server_address="127.0.0.1:1",  # type: ignore[arg-type]
                 kubelet=KubeletClient(direct_dial, None))
    server = TestServer(api.make_app())
    await server.start_server()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /api/v1/namespaces/default/pods/p/portforward?ports=80 HTTP/1.1\r\n"
                     b"Host: x\r\nAuthorization: Bearer secret\r\nConnection: Upgrade\r\n"
                     b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n"
                     b"Content-Length: 0\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert b"X-Stream-Protocol-Version: portforward.k8s.io" in head
        writer.write(b"hello ")
        writer.write(b"spdy")
        await writer.drain()
        got = b""
        while len(got) < 10:
            got += await asyncio.wait_for(reader.read(100), 5)
        assert got == b"HELLO SPDY"
        writer.close()
        await writer.wait_closed()
        sent = agent.heads[0].decode()
        assert sent.startswith("POST /portforward/default/p?ports=80 HTTP/1.1\r\n")
        assert "Upgrade: SPDY/3.1" in sent and "Authorization" not in sent

        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"POST /api/v1/namespaces/default/pods/p/exec?command=true&stdout=1 "
                     b"HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                     b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
                     b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 5)
        assert answer.startswith(b"HTTP/1.1 404 ")
        assert answer.endswith(b'container not found ("c")')
        assert agent.heads[1].startswith(b"POST /exec/default/p/c?command=true&stdout=1 ")
        writer.close()
        await writer.wait_closed()
    finally:
        api.kubelet.close()  # type: ignore[union-attr]
        await server.close()
        assert agent.server is not None
        agent.server.close()
        await asyncio.sleep(0.1)  # the agent's handlers see their connections close
        await agent.server.wait_closed()
