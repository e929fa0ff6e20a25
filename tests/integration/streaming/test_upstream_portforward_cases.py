"""Upstream's port-forward e2e cases (test/e2e/kubectl/portforward.go: "With a server
listening on 0.0.0.0 / localhost"), here with the real kubectl and the agnhost
port-forward-tester process standing for the pod behind the stand-in API server. The
same cases against a whole cluster belong in tests/conformance once the API server
relays pods/portforward to the agent; "with a pod being removed" needs that cluster."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import pytest

from tests.integration.streaming.harness import KUBECTL, NS, POD, FakeApiServer, free_port
from tests.integration.streaming.test_portforward_kubectl import port_forward

BINDS = ["0.0.0.0", "localhost"]


@pytest.fixture(scope="module")
def api() -> Iterator[FakeApiServer]:
    """One loop here (the protocol tests cover both): these cases are about the flows."""
    server = FakeApiServer(loop="uvloop").start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def pf_tester(bind: str, expected: str, chunks: str, size: str, interval: str
           ) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """pfPod(expectedClientData, chunks, chunkSize, chunkIntervalMillis, bindAddress)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kubesvc.runtime.agnhost", "port-forward-tester"], text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "KUBESVC_BIND_ADDRESS": "127.0.0.1", "BIND_ADDRESS": bind,
             "BIND_PORT": str(port), "EXPECTED_CLIENT_DATA": expected, "CHUNKS": chunks,
             "CHUNK_SIZE": size, "CHUNK_INTERVAL": interval})
    try:
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            with socket.socket() as probe:  # listening yet? (it serves one client: no connect)
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    break
            time.sleep(0.02)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def read_all(conn: socket.socket) -> bytes:
    out = bytearray()
    while chunk := conn.recv(65536):
        out += chunk
    return bytes(out)


def logs(proc: subprocess.Popen[str]) -> str:
    out, _ = proc.communicate(timeout=20)
    return out


needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


@needs_kubectl
@pytest.mark.parametrize("bind", BINDS)
def test_expects_a_client_request_connects_sends_nothing_disconnects(
        api: FakeApiServer, tmp_path: Path, bind: str) -> None:
    with pf_tester(bind, "abc", "1", "1", "1") as (port, proc), \
            port_forward(api, tmp_path, "websocket", port) as (_, local):
        socket.create_connection(("127.0.0.1", local[port]), timeout=10).close()
        out = logs(proc)
    assert "Accepted client connection" in out
    assert "Expected to read 3 bytes from client, but got 0 instead" in out


@needs_kubectl
@pytest.mark.parametrize("mode", ["websocket", "spdy"])
@pytest.mark.parametrize("bind", BINDS)
def test_expects_a_client_request_connects_sends_data_disconnects(
        api: FakeApiServer, tmp_path: Path, bind: str, mode: str) -> None:
    with pf_tester(bind, "abc", "10", "10", "100") as (port, proc), \
            port_forward(api, tmp_path, mode, port) as (_, local):
        with socket.create_connection(("127.0.0.1", local[port]), timeout=20) as conn:
            conn.sendall(b"abc")
            assert read_all(conn) == b"x" * 100
            conn.shutdown(socket.SHUT_WR)
        out = logs(proc)
    for line in ("Accepted client connection", "Received expected client data", "Done"):
        assert line in out


@needs_kubectl
@pytest.mark.parametrize("bind", BINDS)
def test_expects_no_client_request_connects_sends_data_disconnects(
        api: FakeApiServer, tmp_path: Path, bind: str) -> None:
    with pf_tester(bind, "", "10", "10", "100") as (port, proc), \
            port_forward(api, tmp_path, "websocket", port) as (_, local):
        with socket.create_connection(("127.0.0.1", local[port]), timeout=20) as conn:
            assert read_all(conn) == b"x" * 100
        out = logs(proc)
    assert "Accepted client connection" in out and "Done" in out


@pytest.mark.parametrize("bind", BINDS)
async def test_forwarding_over_websockets(api: FakeApiServer, bind: str) -> None:
    with pf_tester(bind, "def", "10", "10", "100") as (port, proc):
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{api.url}/api/v1/namespaces/{NS}/pods/{POD}/portforward?ports={port}",
                protocols=("v4.channel.k8s.io",)) as ws:
            first = await ws.receive_bytes(timeout=10)
            assert first[0] == 0 and struct.unpack("<H", first[1:])[0] == port
            second = await ws.receive_bytes(timeout=10)
            assert second[0] == 1 and struct.unpack("<H", second[1:])[0] == port
            await ws.send_bytes(b"\x00def")
            data = b""
            while len(data) < 100:
                msg = await ws.receive_bytes(timeout=10)
                assert msg[0] == 0
                data += msg[1:]
            assert data == b"x" * 100
        out = await asyncio.to_thread(logs, proc)
    assert "Accepted client connection" in out and "Received expected client data" in out
