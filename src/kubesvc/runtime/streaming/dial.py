"""Opening the pod's port for a port-forward, with the error text containerd's CRI plugin
gives (``failed to execute portforward in network namespace "...": failed to connect to
localhost:81 inside namespace "...", IPv4: dial tcp4 127.0.0.1:81: connect: connection
refused IPv6 dial tcp6 [::1]:81: connect: connection refused ``), so kubectl prints what
it prints against a containerd node.

In netns mode the socket is made inside the pod's namespace (a worker thread setns-es in,
:func:`kubesvc.runtime.netns.socket_in_netns`) and dials its localhost, IPv4 first then
IPv6, as containerd does; in host mode the pod's "localhost" is its pod IP. The agent's
``connect`` callback for :func:`.portforward.serve_portforward` is a :class:`PodDialer`.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass

from kubesvc.runtime.netns import socket_in_netns


class DialError(ConnectionRefusedError):
    """Connecting to the pod's port failed; ``str()`` is the message for the client."""


def go_errno_text(exc: OSError) -> str:
    """Go's syscall.Errno text (``connection refused``) for a Python OSError."""
    if exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


async def _dial(family: int, host: str, port: int, netns: str | None,
                timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    loop = asyncio.get_running_loop()
    if netns is None:
        sock = socket.socket(family, socket.SOCK_STREAM)
    else:
        sock = await loop.run_in_executor(None, socket_in_netns, netns, family,
                                          socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, (host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return await asyncio.open_connection(sock=sock, limit=1 << 20)
    except BaseException:
        sock.close()
        raise


def _dial_text(net: str, host: str, port: int, exc: BaseException) -> str:
    addr = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(exc, TimeoutError):
        return f"dial {net} {addr}: i/o timeout"
    reason = go_errno_text(exc) if isinstance(exc, OSError) else str(exc)
    return f"dial {net} {addr}: connect: {reason}"


async def dial_pod(port: int, *, sandbox: str, pod_ip: str = "127.0.0.1",
                   netns: str | None = None, ipv6: bool | None = None,
                   timeout: float = 10.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to ``port`` of a pod. ``sandbox`` names the pod in errors (containerd names
    its sandbox ID; the agent passes the pod UID). ``netns`` is the pod's namespace name
    (``/run/netns/<netns>``) or None in host mode. ``ipv6`` tries ``[::1]`` after IPv4
    fails (default: in netns mode only, as a host-mode pod binds its IPv4 pod IP)."""
    host4 = "127.0.0.1" if netns is not None else pod_ip
    try6 = netns is not None if ipv6 is None else ipv6
    try:
        return await _dial(socket.AF_INET, host4, port, netns, timeout)
    except (OSError, TimeoutError) as exc4:
        err4 = _dial_text("tcp4", host4, port, exc4)
    if try6:
        try:
            return await _dial(socket.AF_INET6, "::1", port, netns, timeout)
        except (OSError, TimeoutError) as exc6:
            err6 = _dial_text("tcp6", "::1", port, exc6)
    else:
        err6 = "dial tcp6: address localhost: no suitable address found"
    where = f"/run/netns/{netns}" if netns is not None else "host"
    target = "localhost" if netns is not None else pod_ip
    raise DialError(f'failed to execute portforward in network namespace "{where}": failed to '
                    f'connect to {target}:{port} inside namespace "{sandbox}", IPv4: {err4} '
                    f"IPv6 {err6} ")


@dataclass(frozen=True, slots=True)
class PodDialer:
    """``connect(port)`` for one pod: :func:`dial_pod` with its sandbox (the pod UID, which
    names the pod in errors as containerd's sandbox ID does), pod IP and namespace."""

    sandbox: str
    pod_ip: str
    netns: str | None = None

    async def __call__(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await dial_pod(port, sandbox=self.sandbox, pod_ip=self.pod_ip,
                              netns=self.netns)
