"""dial_pod: host mode dials the pod IP; netns mode dials localhost inside the pod's
namespace (IPv4, then IPv6); failures read as containerd's."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from kubesvc.runtime.netns import netns_available
from kubesvc.runtime.streaming.dial import DialError, dial_pod
from tests.integration.streaming.harness import free_port


async def test_host_mode_refused() -> None:
    port = free_port()
    with pytest.raises(DialError) as info:
        await dial_pod(port, sandbox="uid-1", pod_ip="127.0.0.1")
    assert str(info.value) == (
        f'failed to execute portforward in network namespace "host": failed to connect to '
        f'127.0.0.1:{port} inside namespace "uid-1", IPv4: dial tcp4 127.0.0.1:{port}: '
        "connect: connection refused IPv6 dial tcp6: address localhost: no suitable address "
        "found ")


async def test_host_mode_connects_to_the_pod_ip() -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await dial_pod(port, sandbox="x", pod_ip="127.0.0.1")
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def netns() -> Iterator[str]:
    ok, why = netns_available()
    if not ok:
        pytest.skip(why)
    name = f"kubesvc-dialtest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


async def test_netns_mode_dials_localhost_inside_the_namespace(netns: str) -> None:
    port = free_port()
    listener = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, "-c",
         "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); "
         "s.listen(); print('up', flush=True); c,_=s.accept(); c.sendall(b'inside'); c.close()",
         str(port)], stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert listener.stdout is not None and listener.stdout.readline() == "up\n"
        # nothing listens on that port in this (the root) namespace
        with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", port))
        reader, writer = await dial_pod(port, sandbox="sb", netns=netns)
        assert await reader.read() == b"inside"
        writer.close()
        await writer.wait_closed()
        with pytest.raises(DialError) as info:
            await dial_pod(port + 1 if port < 65535 else port - 1, sandbox="sb", netns=netns)
        text = str(info.value)
        assert text.startswith(f'failed to execute portforward in network namespace '
                               f'"/run/netns/{netns}": failed to connect to localhost:')
        assert "IPv4: dial tcp4 127.0.0.1:" in text and "IPv6 dial tcp6 [::1]:" in text
        assert text.endswith(": connect: connection refused ")
    finally:
        listener.kill()
        listener.communicate()
