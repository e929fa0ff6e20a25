"""agnhost ``serve-hostname`` as upstream's: answers the pod's hostname over HTTP (default),
raw TCP (``--tcp``) and/or UDP (``--udp``) on ``--port`` (9376); HTTP cannot be combined with
TCP/UDP (``--http=false`` is needed). On SIGTERM it logs and keeps serving for 60 s, as
upstream does while "awaiting pod deletion" (the agent SIGKILLs it after the grace period).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any, cast

from kubesvc.runtime.agnhost.common import (
    HTTPProtocol,
    Request,
    Response,
    UDPProtocol,
    bind_address,
    fatal,
    flush_logs,
    hostname,
    log,
    parse_flags,
    run,
)

FLAGS: dict[str, Any] = {"tcp": False, "udp": False, "http": True, "close": False,
                         "port": 9376}


class _TCP(asyncio.Protocol):
    def __init__(self, name: bytes) -> None:
        self.name = name

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername") or ("", 0)
        log(f"TCP request from {peer[0]}:{peer[1]}")
        cast(asyncio.Transport, transport).write(self.name)
        transport.close()


async def serve(flags: dict[str, Any]) -> None:
    if flags["http"] and (flags["tcp"] or flags["udp"]):
        fatal("Can't server TCP/UDP mode and HTTP mode at the same time")
    name = hostname().encode()

    def answer(_data: bytes, addr: tuple[Any, ...]) -> bytes:
        log(f"UDP request from {addr[0]}:{addr[1]}")
        return name

    host = bind_address() or None
    port = int(flags["port"])
    loop = asyncio.get_running_loop()
    try:
        if flags["tcp"]:
            await loop.create_server(lambda: _TCP(name), host=host, port=port,
                                     reuse_address=True)
        if flags["udp"]:
            await loop.create_datagram_endpoint(lambda: UDPProtocol(answer),
                                                local_addr=(host or "0.0.0.0", port))
        if flags["http"]:
            close = bool(flags["close"])

            def handle(req: Request) -> Response:
                log(f"HTTP request from {req.remote_addr}")
                return Response(200, name, {"Connection": "close"} if close else {})

            await loop.create_server(lambda: HTTPProtocol(handle), host=host, port=port,
                                     reuse_address=True, backlog=1024)
    except OSError as exc:
        fatal(f"Error from net.Listen(): listen tcp {host or ''}:{port}: {exc.strerror}")
    log(f"Serving on port {port}.")
    flush_logs()
    got = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, got.set)
    await got.wait()
    log("Shutting down after receiving signal: terminated.")
    log("Awaiting pod deletion.")
    flush_logs()
    await asyncio.sleep(60)


def main(args: list[str]) -> None:
    run(serve(parse_flags(args, FLAGS)))
