"""agnhost ``netexec`` as upstream's (test/images/agnhost/netexec): an HTTP server
(``--http-port``, default 8080) with ``/``, ``/clientip``, ``/dial``, ``/echo``, ``/exit``,
``/healthz``, ``/hostname``, ``/hostName``, ``/redirect``, ``/shutdown`` (``/shell`` and
``/upload`` are not offered: they would run commands / write files on the host), and a UDP
server (``--udp-port``, default 8081, -1 disables) answering ``hostname``, ``echo <msg>``
and ``clientip``. ``/healthz`` is 200 only while the UDP server runs, as upstream.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from typing import Any

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
    parse_duration,
    parse_flags,
    run,
)

FLAGS: dict[str, Any] = {"http-port": 8080, "udp-port": 8081, "sctp-port": -1,
                         "tls-cert-file": "", "tls-private-key-file": "", "http-override": "",
                         "udp-listen-addresses": "", "delay-shutdown": 0}


class Netexec:
    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = flags
        self.name = hostname()
        self.udp_ready = False
        self.override = str(flags["http-override"])
        self.sigterm_received = False
        self._tasks: set[asyncio.Task[None]] = set()

    # -- HTTP
    def handle(self, req: Request) -> Response | None:
        if self.override:
            req = Request("GET", self.override, {}, b"", req.peer)
            req.path = self.override.split("?", 1)[0]
        path = req.path
        if path in ("/hostname", "/hostName"):
            log(f"GET {path}")
            return Response(200, self.name.encode())
        if path == "/clientip":
            log("GET /clientip")
            return Response(200, req.remote_addr.encode())
        if path == "/echo":
            msg, code = req.arg("msg"), req.arg("code")
            log(f"GET /echo?msg={msg}&code={code}")
            if code:
                if not code.lstrip("-").isdigit():
                    return Response(200, f"argument 'code' must be an integer or empty, "
                                         f"got \"{code}\"\n".encode())
                return Response(int(code), msg.encode())
            return Response(200, msg.encode())
        if path == "/readyz":
            log("GET /readyz")
            return Response(503 if self.sigterm_received else 200)
        if path == "/healthz":
            log("GET /healthz")
            return Response(200 if self.udp_ready else 412)
        if path == "/exit":
            return self._exit(req)
        if path == "/shutdown":
            log("GET /shutdown")
            flush_logs()
            os._exit(0)
        if path == "/redirect":
            loc, code = req.arg("location"), req.arg("code") or "302"
            log(f"{req.method} /redirect?msg={loc}&code={code}")
            if not code.isdigit():
                return Response(200, f"argument 'code' must be an integer or empty, "
                                     f"got \"{code}\"\n".encode())
            return Response(int(code), b"", {"Location": loc})
        if path == "/dial":
            task = asyncio.create_task(self._dial(req), name="netexec-dial")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return None
        log("GET /")
        return Response(200, f"NOW: {time.strftime('%Y-%m-%d %H:%M:%S %z %Z')}".encode())

    def _exit(self, req: Request) -> Response | None:
        code_s, timeout_s, wait_s = req.arg("code"), req.arg("timeout"), req.arg("wait")
        log(f"GET /exit?code={code_s}&timeout={timeout_s}&wait={wait_s}")
        try:
            timeout = parse_duration(timeout_s)
        except ValueError:
            return Response(200, f"argument 'timeout' must be a valid golang duration or "
                                 f"empty, got \"{timeout_s}\"\n".encode())
        try:
            wait = parse_duration(wait_s)
        except ValueError:
            return Response(200, f"argument 'wait' must be a valid golang duration or empty, "
                                 f"got \"{wait_s}\"\n".encode())
        if code_s and not code_s.isdigit():
            return Response(200, f"argument 'code' must be an integer [0-127] or empty, "
                                 f"got \"{code_s}\"\n".encode())
        code = int(code_s or 0)
        loop = asyncio.get_running_loop()

        def bye() -> None:
            flush_logs()
            os._exit(code)

        loop.call_later(wait + (timeout if timeout > 0 else 0), bye)
        return None

    async def _dial(self, req: Request) -> None:
        host, port, request = req.arg("host"), req.arg("port"), req.arg("request")
        protocol, tries_s = req.arg("protocol").lower(), req.arg("tries") or "1"
        log(f"GET /dial?host={host}&protocol={protocol}&port={port}&request={request}"
            f"&tries={tries_s}")
        resp: Response
        if not tries_s.isdigit():
            resp = Response(400, f"tries parameter is invalid. {tries_s}\n".encode())
        elif not request:
            resp = Response(400, b"request parameter not specified. <nil>\n")
        elif protocol not in ("", "http", "udp") or not port.isdigit():
            resp = Response(400, f"unsupported protocol. {protocol}\n".encode())
        else:
            responses: list[str] = []
            errs: list[str] = []
            last = ""
            for _ in range(int(tries_s)):
                try:
                    if protocol == "udp":
                        last = await _dial_udp(host, int(port), request)
                    else:
                        last = await _dial_http(host, int(port), request)
                    responses.append(last)
                except Exception as exc:
                    last = ""
                    errs.append(str(exc) or exc.__class__.__name__)
            out: dict[str, list[str]] = {}
            if last:
                out["responses"] = responses
            if errs:
                out["errors"] = errs
            resp = Response(200, json.dumps(out, separators=(",", ":")).encode())
        if req.reply is not None:
            req.reply(resp)

    # -- UDP
    def udp_answer(self, data: bytes, addr: tuple[Any, ...]) -> bytes | None:
        text = data.decode("utf-8", "replace").strip().lower()
        if text == "hostname":
            log("Sending udp hostName response")
            return self.name.encode()
        if text.startswith("echo "):
            msg = text.split(" ", 1)[1]
            log(f"Echoing {msg} to UDP client {addr[0]}:{addr[1]}")
            return msg.encode()
        if text == "clientip":
            log(f"Sending clientip back to UDP client {addr[0]}:{addr[1]}")
            return f"{addr[0]}:{addr[1]}".encode()
        if text:
            log(f"Unknown UDP command received from {addr[0]}:{addr[1]}: {text}")
        return None

    def _on_sigterm(self) -> None:
        """Upstream: /readyz turns 503, then exit 0 after ``--delay-shutdown`` seconds."""
        self.sigterm_received = True
        delay = int(self.flags["delay-shutdown"])
        if delay > 0:
            log(f"Sleeping {delay} seconds before terminating...")
        flush_logs()
        asyncio.get_running_loop().call_later(max(delay, 0), _exit_now)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._on_sigterm)
        host = bind_address() or None
        udp_port = int(self.flags["udp-port"])
        if udp_port != -1:
            addrs = [a for a in str(self.flags["udp-listen-addresses"]).split(",") if a]
            for addr in addrs or [host or ""]:
                try:
                    await loop.create_datagram_endpoint(
                        lambda: UDPProtocol(self.udp_answer), local_addr=(addr or "0.0.0.0",
                                                                    udp_port))
                except OSError as exc:
                    fatal(f"Error occurred: failed to create listener for UDP address "
                          f"{addr}:{udp_port}:{exc}")
                log(f"Started UDP server on port {addr or ''} {udp_port}")
            self.udp_ready = True
        http_port = int(self.flags["http-port"])

        try:
            server = await loop.create_server(lambda: HTTPProtocol(self.handle), host=host,
                                              port=http_port, reuse_address=True,
                                              backlog=1024)
        except OSError as exc:
            fatal(f"listen tcp {host or ''}:{http_port}: {exc.strerror}")
            return
        log(f"Started HTTP server on port {http_port}")
        flush_logs()
        async with server:
            await server.serve_forever()


def _exit_now() -> None:
    flush_logs()
    os._exit(0)


async def _dial_http(host: str, port: int, request: str) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
    try:
        path = request if request.startswith("/") else "/" + request
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                     "Connection: close\r\n\r\n".encode())
        data = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    _, _, body = data.partition(b"\r\n\r\n")
    return body.decode("utf-8", "replace")


async def _dial_udp(host: str, port: int, request: str) -> str:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
            if not fut.done():
                fut.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(P, remote_addr=(host, port))
    try:
        transport.sendto(request.encode())
        try:
            data = await asyncio.wait_for(fut, 5)
        except TimeoutError:
            raise OSError("reading from udp connection failed. err:'i/o timeout'") from None
        return data.decode("utf-8", "replace")
    finally:
        transport.close()


def main(args: list[str]) -> None:
    run(Netexec(parse_flags(args, FLAGS)).serve())
