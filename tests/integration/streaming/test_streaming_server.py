"""The node agent's streaming server over real HTTPS with client certificates, driven by
aiohttp's WebSocket client as kubectl (v5) and the official Python client (v4) speak to it:
exec with stdin/close/exit code, a PTY with resize, a dropped client killing the process,
attach to a container's main process (ProcessRunner with stdin), logs with options, and the
authentication the API server's certificate passes and others do not."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions
from kubesvc.apiserver.http.tls import ensure_kubelet_client, ensure_tls
from kubesvc.runtime.process import ProcessRunner
from kubesvc.runtime.streaming import wsexec
from kubesvc.runtime.streaming.exec import ContainerTarget
from kubesvc.runtime.streaming.server import StreamingServer, ensure_serving_cert
from kubesvc.runtime.types import ContainerLaunch


@dataclass
class FakeLogs:
    calls: list[LogOptions | None] = field(default_factory=list)

    def stream(self, namespace: str, pod: str, *, container: str | None = None,
               follow: bool = False, tail_lines: int | None = None, previous: bool = False,
               options: LogOptions | None = None) -> AsyncIterator[bytes]:
        self.calls.append(options)
        if pod == "missing":
            raise errors.NotFound(f'pods "{pod}" not found', name=pod, kind="pods")
        return self._gen(f"{namespace}/{pod}/{container}\n".encode())

    async def _gen(self, data: bytes) -> AsyncIterator[bytes]:
        yield data


@dataclass
class FakeNode:
    workdir: str
    attach: Any = None
    logs: FakeLogs = field(default_factory=FakeLogs)

    def container_target(self, namespace: str, pod: str, container: str) -> ContainerTarget:
        if pod == "gone":
            raise errors.NotFound(f'container not found ("{container}")')
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MARK": f"{pod}/{container}"}
        return ContainerTarget(namespace, pod, container, pid=None, env=env,
                               workdir=self.workdir, attach=self.attach)

    def pod_connector(self, namespace: str, pod: str) -> Any:
        raise errors.NotFound("no pods here")

    @property
    def log_source(self) -> FakeLogs:
        return self.logs


@dataclass
class Env:
    url: str
    ctx: ssl.SSLContext
    node: FakeNode
    pki: Path


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    tls = ensure_tls(tmp_path)
    cert, key = ensure_kubelet_client(tmp_path)
    node = FakeNode(workdir=str(tmp_path))
    srv = StreamingServer(node, host="127.0.0.1", port=0, cert_dir=tmp_path / "kubelet",
                          client_ca=tls.ca_cert)
    port = await srv.start()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(str(cert), str(key))
    try:
        yield Env(f"https://127.0.0.1:{port}", ctx, node, tmp_path)
    finally:
        await srv.stop()


async def _collect(ws: aiohttp.ClientWebSocketResponse) -> dict[int, bytes]:
    got: dict[int, bytes] = {}
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY and msg.data:
            got[msg.data[0]] = got.get(msg.data[0], b"") + msg.data[1:]
    return got


def _q(command: list[str], **flags: bool) -> list[tuple[str, str]]:
    return [*(("command", c) for c in command),
            *((k, "true") for k, v in flags.items() if v)]


async def test_v5_exec_stdin_close_and_exit_code(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{env.url}/exec/ns1/p1/c1", ssl=env.ctx, protocols=[wsexec.V5, wsexec.V4],
            params=_q(["sh", "-c", 'cat; echo "$MARK $(pwd)" >&2; exit 3'], stdin=True,
                      stdout=True, stderr=True)) as ws:
        assert ws.protocol == wsexec.V5
        await ws.send_bytes(b"\x00hello ")
        await ws.send_bytes(b"\x00world")
        await ws.send_bytes(bytes((wsexec.CLOSE, wsexec.STDIN)))  # stdin EOF: cat ends
        got = await asyncio.wait_for(_collect(ws), 10)
    assert got[wsexec.STDOUT] == b"hello world"
    assert got[wsexec.STDERR] == f"p1/c1 {env.pki}\n".encode()  # env and workdir
    status = json.loads(got[wsexec.ERROR])
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]


async def test_v4_exec_success_as_the_python_client(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{env.url}/exec/ns1/p1/c1", ssl=env.ctx, protocols=[wsexec.V4],
            params=_q(["echo", "ok"], stdout=True, stderr=True)) as ws:
        assert ws.protocol == wsexec.V4
        got = await asyncio.wait_for(_collect(ws), 10)
    assert got[wsexec.STDOUT] == b"ok\n"
    assert json.loads(got[wsexec.ERROR]) == {"metadata": {}, "status": "Success"}


async def test_exec_of_a_missing_command_reports_on_the_error_channel(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{env.url}/exec/ns1/p1/c1", ssl=env.ctx, protocols=[wsexec.V5],
            params=_q(["no-such-command-xyz"], stdout=True)) as ws:
        got = await asyncio.wait_for(_collect(ws), 10)
    status = json.loads(got[wsexec.ERROR])
    assert status["reason"] == "InternalError"
    assert 'exec: "no-such-command-xyz": executable file not found in $PATH' in status["message"]


async def test_tty_has_a_terminal_and_resize(env: Env) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{env.url}/exec/ns1/p1/c1", ssl=env.ctx, protocols=[wsexec.V5],
            params=_q(["sh", "-c", "read x; stty size; test -t 0 && echo is-a-tty"],
                      stdin=True, stdout=True, tty=True)) as ws:
        await ws.send_bytes(b"\x04" + json.dumps({"Width": 123, "Height": 45}).encode())
        await asyncio.sleep(0.1)
        await ws.send_bytes(b"\x00go\r")
        got = await asyncio.wait_for(_collect(ws), 10)
    out = got[wsexec.STDOUT].replace(b"\r\n", b"\n")
    assert b"45 123\n" in out and b"is-a-tty\n" in out
    assert wsexec.STDERR not in got  # a terminal has one output stream
    assert json.loads(got[wsexec.ERROR])["status"] == "Success"


def _pids_with(marker: str) -> list[int]:
    r = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]


@pytest.mark.skipif(shutil.which("pgrep") is None, reason="needs pgrep (procps)")
async def test_a_dropped_client_kills_the_process_group(env: Env) -> None:
    marker = f"sleep 31{os.getpid() % 1000:03d}"
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(f"{env.url}/exec/ns1/p1/c1", ssl=env.ctx,
                                protocols=[wsexec.V5],
                                params=_q(["sh", "-c", f"{marker} & {marker}; :"], stdout=True))
        for _ in range(50):
            if len(_pids_with(marker)) >= 2:
                break
            await asyncio.sleep(0.05)
        assert len(_pids_with(marker)) >= 2
        await ws.close()
    for _ in range(50):
        if not _pids_with(marker):
            break
        await asyncio.sleep(0.05)
    assert _pids_with(marker) == []


async def test_attach_to_a_main_process_with_stdin(env: Env, tmp_path: Path) -> None:
    runner = ProcessRunner(tmp_path / "node", die_with_agent=True)
    exited = asyncio.Event()
    info = await runner.start(ContainerLaunch(
        namespace="ns1", pod="p1", pod_uid="u1", container="c1", attempt=0,
        argv=["sh", "-c", "echo started; read line; echo got:$line; exit 4"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, stdin=True, stdin_once=True),
        on_exit=lambda _i: exited.set())
    env.node.attach = runner.attach_point(info.id)
    assert env.node.attach is not None
    async with aiohttp.ClientSession() as s, s.ws_connect(
            f"{env.url}/attach/ns1/p1/c1", ssl=env.ctx, protocols=[wsexec.V5],
            params=[("stdin", "true"), ("stdout", "true"), ("stderr", "true")]) as ws:
        await ws.send_bytes(b"\x00abc\n")
        got = await asyncio.wait_for(_collect(ws), 10)
    assert b"got:abc\n" in got[wsexec.STDOUT]
    assert json.loads(got[wsexec.ERROR])["status"] == "Success"  # the code is the pod's
    await asyncio.wait_for(exited.wait(), 5)
    status = runner.status(info.id)
    assert status is not None and status.exit_code == 4
    log = Path(status.log_path).read_bytes()
    assert log == b"started\ngot:abc\n"  # attached output also went to the log
    await runner.close()


async def test_refusals_before_the_upgrade(env: Env) -> None:
    async with aiohttp.ClientSession() as s:
        for path, params, code, text in [
            ("/exec/ns1/p1/c1", [("command", "true")], 400,
             "you must specify at least 1 of stdin, stdout, stderr"),
            ("/exec/ns1/p1/c1", [("stdout", "true")], 400,
             "you must specify at least one command for the container"),
            ("/exec/ns1/gone/c1", _q(["true"], stdout=True), 404,
             'container not found ("c1")'),
            ("/attach/ns1/p1/c1", [("stdout", "true")], 400,
             "container c1 cannot be attached to"),
        ]:
            async with s.get(env.url + path, params=params, ssl=env.ctx,
                             headers={"Connection": "Upgrade", "Upgrade": "websocket"}) as r:
                assert r.status == code, path
                assert (await r.text()).startswith(text)


async def test_port_forward_route_without_its_module(env: Env) -> None:
    if importlib.util.find_spec("kubesvc.runtime.streaming.portforward") is not None:
        pytest.skip("the port-forward module is present (its own tests cover the route)")
    async with aiohttp.ClientSession() as s, s.post(
            f"{env.url}/portforward/ns1/p1", ssl=env.ctx) as r:
        assert r.status == 501


async def test_container_logs_with_options(env: Env) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{env.url}/containerLogs/ns1/p1/c1", ssl=env.ctx,
                         params={"timestamps": "true", "limitBytes": "10",
                                 "sinceSeconds": "5"}) as r:
            assert r.status == 200
            assert await r.text() == "ns1/p1/c1\n"
        opts = env.node.logs.calls[-1]
        assert opts is not None
        assert (opts.timestamps, opts.limit_bytes, opts.since_seconds) == (True, 10, 5)
        async with s.get(f"{env.url}/containerLogs/ns1/p1/c1", ssl=env.ctx,
                         params={"tailLines": "-1"}) as r:
            assert r.status == 422
            assert "tailLines: Invalid value: -1" in (await r.json())["message"]


async def test_only_the_api_servers_certificate_gets_in(env: Env, tmp_path: Path) -> None:
    plain = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    plain.check_hostname = False
    plain.verify_mode = ssl.CERT_NONE
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientError):  # no client certificate: no handshake
            async with s.get(f"{env.url}/healthz", ssl=plain) as r:
                await r.read()
        # a certificate the cluster CA did not sign
        cert, key = ensure_serving_cert(tmp_path / "other", "127.0.0.1")
        other = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        other.check_hostname = False
        other.verify_mode = ssl.CERT_NONE
        other.load_cert_chain(str(cert), str(key))
        with pytest.raises(aiohttp.ClientError):
            async with s.get(f"{env.url}/healthz", ssl=other) as r:
                await r.read()
        async with s.get(f"{env.url}/healthz", ssl=env.ctx) as r:
            assert r.status == 200

