"""A TCP relay from an address inside a network namespace to the API server's unix socket.

``kubesvc up --network netns`` puts the control plane on the cluster network this way: it
listens on ``172.20.0.1:6443`` in the bridge namespace and splices each connection to the
ApiServer's unix socket (TLS end to end), so node agents reach the API server over their own
link (cut the link and the node stops heartbeating, as a real node would). The listening
socket is created inside the namespace (:func:`kubesvc.runtime.netns.socket_in_netns`);
nothing is configured in the root namespace. Called by :mod:`.up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

from kubesvc.runtime.netns import socket_in_netns

_CHUNK = 256 * 1024


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()


class ApiRelay:
    def __init__(self, *, netns: str, host: str, port: int, unix_socket: Path,
                 scheme: str = "http") -> None:
        """``scheme``: what the socket speaks (the relay passes bytes through: TLS ends
        in the API server, so client certificates reach it)."""
        self.scheme = scheme
        self.netns = netns
        self.host = host
        self.port = port
        self.unix_socket = unix_socket
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sock = await loop.run_in_executor(None, socket_in_netns, self.netns,
                                          socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.setblocking(False)
            self._server = await asyncio.start_server(self._relay, sock=sock, backlog=256)
        except BaseException:
            sock.close()
            raise

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_unix_connection(str(self.unix_socket))
            except OSError:
                return
            try:
                await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()
            self._conns.discard(task)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._conns):
                t.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
