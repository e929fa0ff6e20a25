"""agnhost port-forward-tester: one connection, the expected client data checked, CHUNKS
chunks written, upstream's log lines and exit codes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

from tests.integration.streaming.harness import free_port


def _start(port: int, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kubesvc.runtime.agnhost", "port-forward-tester"], text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "KUBESVC_BIND_ADDRESS": "127.0.0.1", "BIND_PORT": str(port),
             "CHUNKS": "3", "CHUNK_SIZE": "1000", "CHUNK_INTERVAL": "10", **env})


def _connect(port: int) -> socket.socket:
    deadline = time.monotonic() + 10
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=10)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_sends_chunks_after_the_expected_data() -> None:
    port = free_port()
    proc = _start(port, EXPECTED_CLIENT_DATA="abc")
    with _connect(port) as s:
        s.sendall(b"abc")
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    out, _ = proc.communicate(timeout=10)
    assert got == b"x" * 3000
    assert out.splitlines() == ["Accepted client connection", "Received expected client data",
                                "Shutting down connection", "Done"]
    assert proc.returncode == 0


def test_other_client_data_exits_3() -> None:
    port = free_port()
    proc = _start(port, EXPECTED_CLIENT_DATA="abc")
    with _connect(port) as s:
        s.sendall(b"abd")
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 3
    assert out.splitlines()[-1] == 'Expect to read "abc", but got "abd". err=<nil>'
