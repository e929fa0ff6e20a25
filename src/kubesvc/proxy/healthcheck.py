"""Health-check node ports for ``externalTrafficPolicy: Local`` Services, answered as
upstream kube-proxy's service health server does: ``200`` with the count of local endpoints
when this node has any, ``503`` otherwise, and a JSON body naming the Service. Shared by
both backends (the nftables backend serves it from the node's namespace)."""

from __future__ import annotations

import asyncio
import contextlib

import orjson


class HealthCheckServer:
    def __init__(self, namespace: str, name: str, *, host: str, port: int) -> None:
        self.namespace = namespace
        self.name = name
        self.host = host
        self.port = port
        self.local_endpoints = 0
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def response(self) -> bytes:
        n = self.local_endpoints
        body = orjson.dumps({
            "service": {"namespace": self.namespace, "name": self.name},
            "localEndpoints": n,
            "serviceProxyHealthy": True,
        })
        status = "200 OK" if n > 0 else "503 Service Unavailable"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"X-Content-Type-Options: nosniff\r\nX-Load-Balancing-Endpoint-Weight: {n}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                                     TimeoutError, ConnectionError):
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
                writer.write(self.response())
                await writer.drain()
        finally:
            writer.close()
