"""agnhost ``port-forward-tester`` as upstream's (test/e2e/kubectl/portforward.go uses it):
accepts one TCP connection on ``BIND_ADDRESS`` (default ``localhost``):``BIND_PORT``,
checks it first sends ``EXPECTED_CLIENT_DATA`` when set (exit 2 on a short read, 3 on
other data), writes ``CHUNKS`` chunks of ``CHUNK_SIZE`` bytes ``x`` ``CHUNK_INTERVAL`` ms
apart, half-closes, waits 500 ms (Go's rstAvoidanceDelay) and exits; its stdout lines are
what the e2e tests look for in the pod log.

In host mode a pod's "localhost" is its pod IP (``KUBESVC_BIND_ADDRESS``), the address
port-forward dials there (kubesvc.runtime.streaming.dial).
"""

from __future__ import annotations

import os
import socket
import sys
import time

from kubesvc.runtime.agnhost.common import bind_address


def _env_int(name: str) -> int:
    text = os.environ.get(name, "")
    try:
        return int(text)
    except ValueError:
        print(f'Error parsing {name} "{text}": strconv.Atoi: parsing "{text}": invalid syntax',
              flush=True)
        sys.exit(1)


def main(_args: list[str]) -> None:
    host = os.environ.get("BIND_ADDRESS") or "localhost"
    pod_ip = bind_address()
    if host in ("localhost", "127.0.0.1") and pod_ip:
        host = pod_ip
    port = os.environ.get("BIND_PORT", "")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, int(port)))
        listener.listen(1)
    except (OSError, ValueError) as exc:
        print(f"Error listening: {exc}", flush=True)
        sys.exit(1)
    conn, _ = listener.accept()
    print("Accepted client connection", flush=True)
    expected = os.environ.get("EXPECTED_CLIENT_DATA", "").encode()
    if expected:
        got = conn.recv(len(expected))  # one read, as upstream's conn.Read
        if len(got) != len(expected):
            print(f"Expected to read {len(expected)} bytes from client, but got {len(got)} "
                  "instead. err=<nil>", flush=True)
            sys.exit(2)
        if got != expected:
            print(f'Expect to read "{expected.decode()}", but got "{got.decode(errors="replace")}"'
                  ". err=<nil>", flush=True)
            sys.exit(3)
        print("Received expected client data", flush=True)
    chunks, size, interval = _env_int("CHUNKS"), _env_int("CHUNK_SIZE"), _env_int("CHUNK_INTERVAL")
    data = b"x" * size
    for i in range(chunks):
        try:
            conn.sendall(data)
        except OSError as exc:
            print(f"Expected to write {size} bytes from client, but wrote 0 instead. err={exc}",
                  flush=True)
            sys.exit(4)
        if i + 1 < chunks:
            time.sleep(interval / 1000)
    print("Shutting down connection", flush=True)
    conn.shutdown(socket.SHUT_WR)
    time.sleep(0.5)
    conn.close()
    listener.close()
    print("Done", flush=True)
