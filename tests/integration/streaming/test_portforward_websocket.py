"""The WebSocket channel protocol of port-forward (kubelet's websocket.go): the official
Python client's ``kubernetes.stream.portforward`` (it offers v5 and v4 and gets v4), and
raw aiohttp clients for the base64 variant, no subprotocol, and the ``?ports=`` checks."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import pytest
from kubernetes import client
from kubernetes.stream import portforward

from tests.integration.streaming.harness import NS, POD, UID, FakeApiServer

PATH = f"/api/v1/namespaces/{NS}/pods/{POD}/portforward"


def _core(api: FakeApiServer) -> client.CoreV1Api:
    cfg = client.Configuration()
    cfg.host = api.url
    return client.CoreV1Api(client.ApiClient(cfg))


def _recv_all(sock: object, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(1 << 16)  # type: ignore[attr-defined]
        if not chunk:
            break
        out += chunk
    return bytes(out)


def test_python_client_two_ports_and_a_refused_one(api: FakeApiServer) -> None:
    pf = portforward(_core(api).connect_get_namespaced_pod_portforward, POD, NS,
                     ports=f"{api.echo},{api.source},{api.refused}")
    try:
        echo = pf.socket(api.echo)
        echo.setblocking(True)
        payload = os.urandom(300_000)
        echo.sendall(payload)
        assert _recv_all(echo, len(payload)) == payload
        src = pf.socket(api.source)
        src.setblocking(True)
        src.sendall(b"2000000\n")
        assert len(_recv_all(src, 2_000_000)) == 2_000_000
        refused = pf.socket(api.refused)
        assert refused.recv(10) == b""  # the client closes the socket on an error message
        assert pf.error(api.refused) == (
            f"error forwarding port {api.refused} to pod {UID}, uid : failed to execute "
            f'portforward in network namespace "host": failed to connect to 127.0.0.1:'
            f'{api.refused} inside namespace "{UID}", IPv4: dial tcp4 127.0.0.1:{api.refused}: '
            "connect: connection refused IPv6 dial tcp6: address localhost: no suitable "
            "address found ")
        assert pf.error(api.echo) is None
    finally:
        pf.close()
    assert api.requests[-1]["protocols"] == "v5.channel.k8s.io,v4.channel.k8s.io"


def test_python_client_many_concurrent_forwards(api: FakeApiServer) -> None:
    core = _core(api)

    def one(i: int) -> bytes:
        pf = portforward(core.connect_get_namespaced_pod_portforward, POD, NS,
                         ports=str(api.echo))
        try:
            s = pf.socket(api.echo)
            s.setblocking(True)
            s.sendall(b"conn %d" % i)
            return _recv_all(s, len(b"conn %d" % i))
        finally:
            pf.close()

    with ThreadPoolExecutor(10) as pool:
        assert list(pool.map(one, range(30))) == [b"conn %d" % i for i in range(30)]


@pytest.mark.parametrize("protocol", ["v4.base64.channel.k8s.io", None])
async def test_raw_websocket_variants(api: FakeApiServer, protocol: str | None) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(
            f"{api.url}{PATH}?ports={api.echo}",
            protocols=(protocol,) if protocol else ()) as ws:
        assert ws.protocol == protocol
        prefix = struct.pack("<H", api.echo)
        if protocol:
            first = [await ws.receive_str(), await ws.receive_str()]
            assert first == ["0" + base64.b64encode(prefix).decode(),
                             "1" + base64.b64encode(prefix).decode()]
            await ws.send_str("0" + base64.b64encode(b"ping!").decode())
            assert await ws.receive_str() == "0" + base64.b64encode(b"ping!").decode()
        else:
            assert [await ws.receive_bytes(), await ws.receive_bytes()] == [
                b"\x00" + prefix, b"\x01" + prefix]
            await ws.send_bytes(b"\x00ping!")
            assert await ws.receive_bytes() == b"\x00ping!"


@pytest.mark.parametrize(("query", "message"), [
    ("", 'query parameter "port" is required'),
    ("?ports=", 'query parameter "port" cannot be empty'),
    ("?ports=0", 'port "0" must be > 0'),
    ("?ports=http", 'unable to parse "http" as a port: strconv.ParseUint: parsing "http": '
                    "invalid syntax"),
])
async def test_bad_ports_query(api: FakeApiServer, query: str, message: str) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(f"{api.url}{PATH}{query}",
                                     protocols=("v4.channel.k8s.io",))
        assert info.value.status == 400
        async with session.get(f"{api.url}{PATH}{query}", headers={
                "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}) as resp:
            assert resp.status == 400
            assert (await resp.text()).strip() == message


async def test_an_idle_websocket_is_closed(api: FakeApiServer) -> None:
    api.idle_timeout = 0.5
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{api.url}{PATH}?ports={api.echo}", protocols=("v4.channel.k8s.io",)) as ws:
            await ws.receive_bytes(timeout=5)
            await ws.receive_bytes(timeout=5)
            for _ in range(6):  # traffic keeps it open past the timeout
                await asyncio.sleep(0.15)
                await ws.send_bytes(b"\x00tick")
                assert await ws.receive_bytes(timeout=5) == b"\x00tick"
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        api.idle_timeout = 4 * 3600.0
