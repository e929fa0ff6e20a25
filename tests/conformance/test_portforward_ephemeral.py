"""Upstream's port-forward cases (Kubernetes v1.32 ``test/e2e/kubectl/portforward.go``,
"With a server listening on 0.0.0.0 / localhost") and the [Conformance] ephemeral
container cases (``test/e2e/common/node/ephemeral_containers.go``), written anew against
kubesvc: the real ``kubectl port-forward`` to an agnhost ``port-forward-tester`` pod, the
WebSocket ``v4.channel.k8s.io`` port-forward of the API server (aiohttp, as upstream's
``e2ewebsocket``), and the ``pods/ephemeralcontainers`` subresource. Run by pytest; uses
:mod:`.framework`.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import struct
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import aiohttp

from tests.conformance.framework import AGNHOST, Api, core, create_pod_sync, poll, unique
from tests.e2e.conftest import Cluster, free_port

BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"


# -- port-forward


def _pf_pod(name: str, *, bind: str, port: int, expected: str, chunks: str = "1",
            size: str = "1", interval: str = "1") -> dict[str, Any]:
    """upstream pfPod(expectedClientData, chunks, chunkSize, chunkIntervalMillis, bind)."""
    env = {"BIND_PORT": str(port), "EXPECTED_CLIENT_DATA": expected, "CHUNKS": chunks,
           "CHUNK_SIZE": size, "CHUNK_INTERVAL": interval, "BIND_ADDRESS": bind}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name,
                                                            "labels": {"name": name}},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "portforwardtester", "image": AGNHOST,
                                     "args": ["port-forward-tester"],
                                     "env": [{"name": k, "value": v}
                                             for k, v in env.items()]}]}}


def _listening(ip: str, port: int) -> bool:
    """Whether the tester listens yet, without connecting (it serves one client only)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((ip, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
        return False


def _start_tester(api: Api, ns: str, bind: str, expected: str, **kw: str) -> tuple[str, int]:
    name = unique("pfpod")
    port = free_port()
    create_pod_sync(api, ns, _pf_pod(name, bind=bind, port=port, expected=expected, **kw))
    ip = api.get(core(ns, "pods", name))["status"]["podIP"]
    poll(lambda: _listening(ip, port), timeout=20, interval=0.05, what="the tester listening")
    return name, port


@contextmanager
def _kubectl_pf(cluster: Cluster, ns: str, pod: str, port: int) -> Iterator[int]:
    proc = subprocess.Popen(["kubectl", "-n", ns, "port-forward", pod, "--address",
                             "127.0.0.1", f":{port}"], env=cluster.env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        m = re.match(rf"Forwarding from 127\.0\.0\.1:(\d+) -> {port}", proc.stdout.readline())
        assert m, proc.stderr.read() if proc.stderr else "kubectl exited"
        yield int(m[1])
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=10)


def _read_all(conn: socket.socket) -> bytes:
    out = bytearray()
    while chunk := conn.recv(65536):
        out += chunk
    return bytes(out)


def _wait_done_and_logs(cluster: Cluster, api: Api, ns: str, pod: str) -> str:
    """Waits for the tester to stop running, then its log (upstream: "Waiting for the
    target pod to stop running", "Verifying logs")."""
    poll(lambda: api.get(core(ns, "pods", pod))["status"].get("phase")
         in ("Succeeded", "Failed"), timeout=30, what="the tester done")
    return cluster.kubectl("-n", ns, "logs", pod, "-c", "portforwardtester").stdout


def _sends_no_data(api: Api, cluster: Cluster, ns: str, bind: str) -> None:
    pod, port = _start_tester(api, ns, bind, "abc")
    with _kubectl_pf(cluster, ns, pod, port) as local:
        socket.create_connection(("127.0.0.1", local), timeout=10).close()
        out = _wait_done_and_logs(cluster, api, ns, pod)
    assert "Accepted client connection" in out
    assert "Expected to read 3 bytes from client, but got 0 instead" in out


def _sends_data(api: Api, cluster: Cluster, ns: str, bind: str, *, expected: str) -> None:
    pod, port = _start_tester(api, ns, bind, expected, chunks="10", size="10",
                              interval="100")
    with _kubectl_pf(cluster, ns, pod, port) as local:
        with socket.create_connection(("127.0.0.1", local), timeout=20) as conn:
            if expected:
                conn.sendall(expected.encode())
            assert _read_all(conn) == b"x" * 100
            conn.shutdown(socket.SHUT_WR)
        out = _wait_done_and_logs(cluster, api, ns, pod)
    assert "Accepted client connection" in out and "Done" in out
    if expected:
        assert "Received expected client data" in out


async def _ws_forward(api: Api, ns: str, pod: str, port: int) -> bytes:
    url = f"https://{api.host}:{api.port}{core(ns, 'pods', pod, 'portforward')}?ports={port}"
    async with aiohttp.ClientSession() as s, s.ws_connect(
            url, ssl=api.ctx, protocols=("v4.channel.k8s.io",),
            headers={"Authorization": f"Bearer {api.token}"}) as ws:
        first = await ws.receive_bytes(timeout=10)  # data channel: its port
        assert first[0] == 0 and struct.unpack("<H", first[1:])[0] == port
        second = await ws.receive_bytes(timeout=10)  # error channel: its port
        assert second[0] == 1 and struct.unpack("<H", second[1:])[0] == port
        await ws.send_bytes(b"\x00def")
        data = b""
        while len(data) < 100:
            msg = await ws.receive_bytes(timeout=10)
            assert msg[0] == 0, msg
            data += msg[1:]
    await asyncio.sleep(0.25)  # (let the TLS transport close before the loop ends)
    return data


def _websockets(api: Api, cluster: Cluster, ns: str, bind: str) -> None:
    pod, port = _start_tester(api, ns, bind, "def", chunks="10", size="10", interval="100")
    assert asyncio.run(_ws_forward(api, ns, pod, port)) == b"x" * 100
    out = _wait_done_and_logs(cluster, api, ns, pod)
    assert "Accepted client connection" in out and "Received expected client data" in out


def test_pf_any_expects_request_sends_no_data(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on 0.0.0.0 that expects a
    client request should support a client that connects, sends NO DATA, and disconnects"""
    _sends_no_data(api, cluster, ns, "0.0.0.0")


def test_pf_any_expects_request_sends_data(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on 0.0.0.0 that expects a
    client request should support a client that connects, sends DATA, and disconnects"""
    _sends_data(api, cluster, ns, "0.0.0.0", expected="abc")


def test_pf_any_expects_no_request_sends_data(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on 0.0.0.0 that expects NO
    client request should support a client that connects, sends DATA, and disconnects"""
    _sends_data(api, cluster, ns, "0.0.0.0", expected="")


def test_pf_any_websockets(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on 0.0.0.0 should support
    forwarding over websockets"""
    _websockets(api, cluster, ns, "0.0.0.0")


def test_pf_localhost_expects_request_sends_no_data(api: Api, cluster: Cluster,
                                                    ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on localhost that expects
    a client request should support a client that connects, sends NO DATA, and
    disconnects"""
    _sends_no_data(api, cluster, ns, "localhost")


def test_pf_localhost_expects_request_sends_data(api: Api, cluster: Cluster,
                                                 ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on localhost that expects
    a client request should support a client that connects, sends DATA, and disconnects"""
    _sends_data(api, cluster, ns, "localhost", expected="abc")


def test_pf_localhost_expects_no_request_sends_data(api: Api, cluster: Cluster,
                                                    ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on localhost that expects
    NO client request should support a client that connects, sends DATA, and disconnects"""
    _sends_data(api, cluster, ns, "localhost", expected="")


def test_pf_localhost_websockets(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl Port forwarding With a server listening on localhost should
    support forwarding over websockets"""
    _websockets(api, cluster, ns, "localhost")


# -- ephemeral containers


def _target_pod(api: Api, ns: str) -> str:
    name = "ephemeral-containers-target-pod"
    create_pod_sync(api, ns, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "test-container-1", "image": BUSYBOX, "command": ["/bin/sleep"],
            "args": ["10000"]}]}})
    return name


def _debugger(name: str) -> dict[str, Any]:
    return {"name": name, "image": BUSYBOX, "stdin": True, "tty": True,
            "command": ["/bin/sh", "-c", "while true; do echo polo; sleep 2; done"]}


def _ec_running(api: Api, ns: str, pod: str, name: str) -> bool:
    """upstream AddEphemeralContainerSync's wait: the container's status is running."""
    statuses = api.get(core(ns, "pods", pod))["status"].get("ephemeralContainerStatuses")
    return any(s["name"] == name and "running" in s.get("state", {})
               for s in statuses or [])


def _marco_polo(api: Api, cluster: Cluster, ns: str, pod: str, ec: str) -> None:
    """"checking pod container endpoints": exec into it, and its log."""
    r = cluster.kubectl("-n", ns, "exec", pod, "-c", ec, "--", "/bin/echo", "marco")
    assert "marco" in r.stdout
    poll(lambda: "polo" in cluster.kubectl("-n", ns, "logs", pod, "-c", ec).stdout,
         timeout=20, what="the ephemeral container's log")


def test_ephemeral_container_starts_in_an_existing_pod(api: Api, cluster: Cluster,
                                                       ns: str) -> None:
    """[sig-node] Ephemeral Containers [NodeConformance] will start an ephemeral container
    in an existing pod [Conformance]"""
    pod = _target_pod(api, ns)
    api.patch(core(ns, "pods", pod, "ephemeralcontainers"),
              {"spec": {"ephemeralContainers": [_debugger("debugger")]}}, kind="strategic")
    poll(lambda: _ec_running(api, ns, pod, "debugger"), timeout=60,
         what="the ephemeral container running")
    _marco_polo(api, cluster, ns, pod, "debugger")


def test_ephemeral_containers_update_in_an_existing_pod(api: Api, cluster: Cluster,
                                                        ns: str) -> None:
    """[sig-node] Ephemeral Containers [NodeConformance] should update the ephemeral
    containers in an existing pod [Conformance]"""
    pod = _target_pod(api, ns)
    path = core(ns, "pods", pod, "ephemeralcontainers")
    api.patch(path, {"spec": {"ephemeralContainers": [_debugger("debugger")]}},
              kind="strategic")
    poll(lambda: _ec_running(api, ns, pod, "debugger"), timeout=60,
         what="the ephemeral container running")
    _marco_polo(api, cluster, ns, pod, "debugger")
    # "checking pod "ephemeral-containers-target-pod" has only one ephemeralcontainer"
    got = api.get(path)
    assert got["kind"] == "Pod" and len(got["spec"]["ephemeralContainers"]) == 1
    # "adding another ephemeralcontainer to pod" through an update of the subresource
    got["spec"]["ephemeralContainers"].append(_debugger("debugger2"))
    api.update(path, got)
    assert len(api.get(path)["spec"]["ephemeralContainers"]) == 2
    poll(lambda: _ec_running(api, ns, pod, "debugger2"), timeout=60,
         what="the second ephemeral container running")
