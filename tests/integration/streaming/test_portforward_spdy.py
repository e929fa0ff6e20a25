"""Port-forward over SPDY/3.1, plain upgrade and tunneled in a WebSocket, driven by the
minimal client of :mod:`spdyclient` against :func:`serve_portforward` (kubelet's
httpstream.go semantics: stream pairs by requestID, header validation, the error stream,
the connection surviving a refused port)."""

from __future__ import annotations

import asyncio
import os
import time

import aiohttp
import pytest

from tests.integration.streaming.harness import NS, OPEN, POD, UID, FakeApiServer
from tests.integration.streaming.spdyclient import (
    SpdyClient,
    connect_spdy,
    connect_tunneled,
    forward,
    pf_headers,
)

PATH = f"/api/v1/namespaces/{NS}/pods/{POD}/portforward"


async def _client(api: FakeApiServer, mode: str) -> SpdyClient:
    if mode == "tunneled":
        return await connect_tunneled(api.url, PATH)
    client, status, raw = await connect_spdy(api.url, PATH)
    assert status == 101, raw
    assert b"X-Stream-Protocol-Version: portforward.k8s.io" in raw
    assert client is not None
    return client


async def _roundtrip(client: SpdyClient, port: int, request_id: int, payload: bytes) -> bytes:
    error, data = await forward(client, port, request_id)
    data.write(payload)
    data.close()
    got = await data.read_all()
    assert await error.read_all() == b""
    return got


@pytest.mark.parametrize("mode", ["plain", "tunneled"])
async def test_echo_many_concurrent_connections_over_one_connection(
        api: FakeApiServer, mode: str) -> None:
    client = await _client(api, mode)
    try:
        payloads = [os.urandom(1 + i * 997) for i in range(60)]
        got = await asyncio.gather(*(_roundtrip(client, api.echo, i, p)
                                     for i, p in enumerate(payloads)))
        assert got == payloads
        await client.ping(7)  # the server echoes the client's (odd) pings
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["plain", "tunneled"])
async def test_bulk_both_ways_and_several_ports(api: FakeApiServer, mode: str) -> None:
    client = await _client(api, mode)
    try:
        size = 8 << 20
        error, data = await forward(client, api.source, 1)
        data.write(f"{size}\n".encode())
        blob = await data.read_all(timeout=30)
        assert len(blob) == size
        big = os.urandom(4 << 20)
        assert await _roundtrip(client, api.echo, 2, big) == big
        assert await error.read_all() == b""
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["plain", "tunneled"])
async def test_refused_port_reports_upstream_error_and_keeps_the_connection(
        api: FakeApiServer, mode: str) -> None:
    client = await _client(api, mode)
    try:
        error, data = await forward(client, api.refused, 1)
        message = (await error.read_all()).decode()
        p = api.refused
        assert message == (
            f"error forwarding port {p} to pod {UID}, uid : failed to execute portforward in "
            f'network namespace "host": failed to connect to 127.0.0.1:{p} inside namespace '
            f'"{UID}", IPv4: dial tcp4 127.0.0.1:{p}: connect: connection refused IPv6 dial '
            "tcp6: address localhost: no suitable address found ")
        assert await data.read_all() == b""
        assert await _roundtrip(client, api.echo, 2, b"still up") == b"still up"
    finally:
        await client.close()


async def test_old_clients_without_request_id_pair_by_stream_id(api: FakeApiServer) -> None:
    client = await _client(api, "plain")
    try:
        assert await _roundtrip(client, api.echo, None, b"old") == b"old"  # type: ignore[arg-type]
        assert await _roundtrip(client, api.echo, None, b"older") == b"older"  # type: ignore[arg-type]
    finally:
        await client.close()


@pytest.mark.parametrize(("headers", "ok"), [
    ({"streamType": "data"}, False),
    ({"streamType": "data", "port": "x"}, False),
    ({"streamType": "data", "port": "0"}, False),
    ({"streamType": "bogus", "port": "80"}, False),
    ({"port": "80"}, False),
])
async def test_streams_with_bad_headers_are_reset(api: FakeApiServer, headers: dict[str, str],
                                                  ok: bool) -> None:
    client = await _client(api, "plain")
    try:
        with pytest.raises(ConnectionResetError):
            await client.create_stream(headers)
        assert await _roundtrip(client, api.echo, 9, b"after") == b"after"
    finally:
        await client.close()


async def test_a_lone_stream_times_out_on_its_error_stream(api: FakeApiServer) -> None:
    api.stream_creation_timeout = 0.3
    client = await _client(api, "plain")
    try:
        error = await client.create_stream(pf_headers(api.echo, "error", 5))
        message = (await error.read()).decode()
        assert message.startswith("(conn=") and message.endswith(
            ", request=5) timed out waiting for streams"), message
    finally:
        api.stream_creation_timeout = 30.0
        await client.close()


async def test_protocol_negotiation(api: FakeApiServer) -> None:
    client, status, raw = await connect_spdy(api.url, PATH, protocols=("v9.example",))
    assert client is None and status == 403
    assert b"X-Accepted-Stream-Protocol-Versions: portforward.k8s.io" in raw
    assert raw.endswith(b"unable to upgrade: unable to negotiate protocol: client supports "
                        b"[v9.example], server accepts [portforward.k8s.io]\n")
    client, status, raw = await connect_spdy(api.url, PATH,
                                             protocols=("v9.example, portforward.k8s.io",))
    assert status == 101 and client is not None
    await client.close()


async def test_client_reset_of_the_data_stream_ends_the_forward(api: FakeApiServer) -> None:
    client = await _client(api, "plain")
    try:
        error, data = await forward(client, api.echo, 1)
        data.write(b"x")
        assert await data.read_exactly(1) == b"x"
        data.reset()  # what kubectl does once it saw the remote side end
        assert await error.read_all() == b""  # the server closes the error stream
    finally:
        await client.close()


@pytest.mark.parametrize("mode", ["plain", "tunneled"])
async def test_a_dropped_client_closes_its_pod_connections(api: FakeApiServer, mode: str) -> None:
    before = OPEN["echo"]
    client = await _client(api, mode)
    pairs = [await forward(client, api.echo, i) for i in range(5)]
    for _, data in pairs:
        data.write(b"hi")
        assert await data.read_exactly(2) == b"hi"
    assert OPEN["echo"] == before + 5
    await client.close()  # no FIN or RST on any stream: the connection just goes
    for _ in range(200):
        if OPEN["echo"] == before:
            break
        await asyncio.sleep(0.02)
    assert OPEN["echo"] == before


@pytest.mark.parametrize("mode", ["plain", "tunneled"])
async def test_an_idle_connection_is_closed(api: FakeApiServer, mode: str) -> None:
    api.idle_timeout = 0.5
    try:
        client = await _client(api, mode)
        try:
            for _ in range(6):  # traffic keeps it open past the timeout
                await asyncio.sleep(0.15)
                await client.ping()
            assert not client.goaway
            async with asyncio.timeout(5):
                while not client.goaway:
                    await asyncio.sleep(0.05)
        finally:
            await client.close()
    finally:
        api.idle_timeout = 4 * 3600.0


@pytest.mark.parametrize("mode", ["plain", "tunneled", "channels"])
async def test_server_shutdown_ends_live_streams(mode: str) -> None:
    """close_streams on app.on_shutdown: aiohttp would otherwise wait for the handlers."""
    server = FakeApiServer().start()
    try:
        if mode == "channels":
            session = aiohttp.ClientSession()
            ws = await session.ws_connect(f"{server.url}{PATH}?ports={server.echo}",
                                          protocols=("v4.channel.k8s.io",))
            await ws.receive_bytes()
        else:
            client = await _client(server, mode)
            await forward(client, server.echo, 1)
        t0 = time.monotonic()
        await asyncio.to_thread(server.stop)
        assert time.monotonic() - t0 < 5
    finally:
        if mode == "channels":
            await session.close()
        else:
            await client.close()
