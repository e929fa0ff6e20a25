"""The real ``kubectl port-forward`` (v1.32) against the stand-in API server: its default
(SPDY tunneled in a WebSocket) and ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false`` (the plain
SPDY upgrade). Several ports, many concurrent connections, bulk data, and a refused port
giving kubelet/containerd's message (on which kubectl 1.32 itself gives up: "lost
connection to pod")."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.integration.streaming.harness import KUBECTL, UID, FakeApiServer

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
MODES = {"websocket": {}, "spdy": {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"}}


@contextmanager
def port_forward(api: FakeApiServer, tmp: Path, mode: str, *remote: int
                 ) -> Iterator[tuple[subprocess.Popen[str], dict[int, int]]]:
    """Runs kubectl port-forward to ``remote`` ports; yields it and remote -> local port."""
    assert KUBECTL is not None
    env = dict(os.environ, KUBECONFIG=str(api.kubeconfig(tmp / "kubeconfig")),
               HOME=str(tmp), **MODES[mode])
    proc = subprocess.Popen([KUBECTL, "port-forward", "pod/web", "--address", "127.0.0.1",
                             *(f":{p}" for p in remote)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        local: dict[int, int] = {}
        assert proc.stdout is not None
        while len(local) < len(remote):
            line = proc.stdout.readline()
            m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
            assert line, proc.stderr.read() if proc.stderr else "kubectl exited"
            if m:
                local[int(m[2])] = int(m[1])
        yield proc, local
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=10)


def echo_once(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        out = bytearray()
        while chunk := s.recv(1 << 16):
            out += chunk
        return bytes(out)


def download(port: int, size: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"{size}\n".encode())
        got = 0
        while chunk := s.recv(1 << 20):
            got += len(chunk)
        return got


@pytest.mark.parametrize("mode", list(MODES))
def test_kubectl_several_ports_many_connections(api: FakeApiServer, tmp_path: Path,
                                                mode: str) -> None:
    with port_forward(api, tmp_path, mode, api.echo, api.source) as (proc, local):
        payloads = [os.urandom(100 + 4099 * i) for i in range(40)]
        with ThreadPoolExecutor(16) as pool:
            echoed = list(pool.map(lambda p: echo_once(local[api.echo], p), payloads))
            sizes = list(pool.map(lambda n: download(local[api.source], n),
                                  [8 << 20, 1 << 20, 1]))
        assert echoed == payloads
        assert sizes == [8 << 20, 1 << 20, 1]
        assert proc.poll() is None
    last = api.requests[-1]
    if mode == "websocket":
        assert (last["upgrade"], last["protocols"]) == ("websocket",
                                                        "SPDY/3.1+portforward.k8s.io")
    else:
        assert (last["upgrade"], last["protocols"]) == ("SPDY/3.1", "portforward.k8s.io")


@pytest.mark.parametrize("mode", list(MODES))
def test_kubectl_refused_port_shows_the_upstream_error(api: FakeApiServer, tmp_path: Path,
                                                       mode: str) -> None:
    with port_forward(api, tmp_path, mode, api.refused) as (proc, local):
        assert echo_once(local[api.refused], b"x") == b""
        _, err = proc.communicate(timeout=20)
    p, lp = api.refused, local[api.refused]
    assert (f"an error occurred forwarding {lp} -> {p}: error forwarding port {p} to pod {UID}, "
            f'uid : failed to execute portforward in network namespace \\"host\\": failed to '
            f"connect to 127.0.0.1:{p} inside namespace") in err, err
    assert f"IPv4: dial tcp4 127.0.0.1:{p}: connect: connection refused" in err
    assert "error: lost connection to pod" in err  # kubectl 1.32 closes on any error
    assert proc.returncode == 1


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("mode", list(MODES))
def test_kubectl_over_tls(tmp_path: Path, mode: str, loop: str) -> None:
    """The agent's endpoint is HTTPS: the SPDY hijack and the tunnel work on TLS transports
    of both loops."""
    api = FakeApiServer(loop=loop, tls_dir=tmp_path / "tls").start()
    try:
        with port_forward(api, tmp_path, mode, api.echo, api.source) as (_, local):
            payload = os.urandom(3 << 20)
            assert echo_once(local[api.echo], payload) == payload
            assert download(local[api.source], 5 << 20) == 5 << 20
    finally:
        api.stop()
