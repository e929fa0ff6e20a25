"""exec over SPDY (kubelet's remotecommand): the real ``kubectl exec`` with
``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`` and with its default (WebSocket first, which
this SPDY-only route refuses, so kubectl falls back to SPDY), and the minimal SPDY client
for the wire details (v4 Status JSON, v2 text, resize, a client leaving)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.streaming.harness import KUBECTL, NS, POD, FakeApiServer
from tests.integration.streaming.spdyclient import ClientStream, SpdyClient, connect_spdy

EXEC = f"/api/v1/namespaces/{NS}/pods/{POD}/exec"
MODES = {"spdy": {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}, "default": {}}
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def kubectl(api: FakeApiServer, tmp: Path, mode: str, *args: str,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    env = dict(os.environ, KUBECONFIG=str(api.kubeconfig(tmp / "kubeconfig")), HOME=str(tmp),
               **MODES[mode])
    return subprocess.run([KUBECTL, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=60)


@needs_kubectl
@pytest.mark.parametrize("mode", list(MODES))
def test_kubectl_exec_output_exit_code_and_stdin(api: FakeApiServer, tmp_path: Path,
                                                 mode: str) -> None:
    r = kubectl(api, tmp_path, mode, "exec", POD, "--", "sh", "-c",
                "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout) == (3, "out\n")
    assert r.stderr == "err\ncommand terminated with exit code 3\n"
    r = kubectl(api, tmp_path, mode, "exec", "-i", POD, "--", "cat", stdin="x" * 200_000)
    assert (r.returncode, r.stdout, r.stderr) == (0, "x" * 200_000, "")
    r = kubectl(api, tmp_path, mode, "exec", POD, "--", "/nonexistent/cmd")
    assert r.returncode == 1
    assert r.stderr.startswith("error: Internal error occurred: error executing command in "
                               "container: "), r.stderr
    assert api.requests[-1]["upgrade"] == "SPDY/3.1"
    if mode == "default":
        assert api.requests[-2]["upgrade"] == "websocket"  # tried first, refused, fell back


async def _exec(api: FakeApiServer, query: str, *kinds: str,
                protocol: str = "v4.channel.k8s.io") -> tuple[SpdyClient, dict[str, ClientStream]]:
    client, status, raw = await connect_spdy(api.url, f"{EXEC}?{query}", protocols=(protocol,))
    assert status == 101 and client is not None, raw
    streams = {}
    for kind in kinds:
        streams[kind] = await client.create_stream({"streamType": kind})
    return client, streams


async def test_v4_status_json_and_stderr(api: FakeApiServer) -> None:
    client, s = await _exec(api, "command=sh&command=-c&command=echo+hi%3B+echo+oops+>%262%3B"
                                 "exit+7&stdout=1&stderr=1", "error", "stdout", "stderr")
    try:
        assert await s["stdout"].read_all() == b"hi\n"
        assert await s["stderr"].read_all() == b"oops\n"
        status = json.loads(await s["error"].read_all())
        assert status["status"] == "Failure" and status["reason"] == "NonZeroExitCode"
        assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "7"}]
    finally:
        await client.close()
    client, s = await _exec(api, "command=true&stdout=1", "error", "stdout")
    try:
        assert json.loads(await s["error"].read_all()) == {"metadata": {}, "status": "Success"}
    finally:
        await client.close()


async def test_v2_errors_are_text(api: FakeApiServer) -> None:
    client, s = await _exec(api, "command=sh&command=-c&command=exit+2&stdout=1", "error",
                            "stdout", protocol="v2.channel.k8s.io")
    try:
        assert await s["error"].read_all() == b"command terminated with exit code 2"
    finally:
        await client.close()


async def test_tty_drops_stderr_and_forwards_resizes(api: FakeApiServer) -> None:
    api.exec_session.resizes.clear()
    client, s = await _exec(api, "command=cat&stdin=1&stdout=1&stderr=1&tty=1",
                            "error", "stdin", "stdout", "resize")
    try:
        s["resize"].write(b'{"Width":80,"Height":24}{"Width":1')
        s["resize"].write(b'20,"Height":40}')
        s["stdin"].write(b"typed\n")
        assert await s["stdout"].read_exactly(6) == b"typed\n"
        s["stdin"].close()
        assert json.loads(await s["error"].read_all())["status"] == "Success"
        assert api.exec_session.resizes == [(80, 24), (120, 40)]
        assert api.exec_session.started[-1] == (["cat"], True)
    finally:
        await client.close()


async def test_a_client_that_leaves_kills_the_process(api: FakeApiServer) -> None:
    client, _ = await _exec(api, "command=sleep&command=60&stdout=1", "error", "stdout")
    proc = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(
        _last_process(api), api.loop))
    await client.close()
    deadline = time.monotonic() + 10
    while proc.returncode is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert proc.returncode is not None and proc.returncode < 0  # killed


async def _last_process(api: FakeApiServer) -> asyncio.subprocess.Process:
    for _ in range(200):
        processes = api.exec_session.processes
        if processes and processes[-1].argv == ["sleep", "60"]:
            return processes[-1].proc
        await asyncio.sleep(0.02)
    raise AssertionError("sleep was not started")


async def test_option_and_stream_errors(api: FakeApiServer) -> None:
    client, status, raw = await connect_spdy(api.url, f"{EXEC}?command=true",
                                             protocols=("v4.channel.k8s.io",))
    assert client is None and status == 400
    assert raw.endswith(b"you must specify at least 1 of stdin, stdout, stderr\n")
    api.stream_creation_timeout = 0.3
    try:
        client, s = await _exec(api, "command=true&stdout=1", "error")  # no stdout stream
        try:
            assert await s["error"].read_all() == b"timed out waiting for client to create " \
                                                  b"streams"
        finally:
            await client.close()
    finally:
        api.stream_creation_timeout = 30.0


@needs_kubectl
@pytest.mark.skipif(shutil.which("script") is None, reason="script(1) is not installed")
def test_kubectl_exec_tty_sends_the_terminal_size(api: FakeApiServer, tmp_path: Path) -> None:
    """kubectl -it in a terminal (script(1) gives it one): the TTY flag and the resize
    stream arrive; the exit code comes back."""
    assert KUBECTL is not None
    api.exec_session.resizes.clear()
    env = dict(os.environ, KUBECONFIG=str(api.kubeconfig(tmp_path / "kubeconfig")),
               HOME=str(tmp_path), **MODES["spdy"])
    cmd = f"stty cols 91 rows 33; {KUBECTL} exec -it {POD} -- sh -c 'echo hi; exit 4'"
    r = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 4, r
    assert r.stdout.replace("\r", "") == "hi\ncommand terminated with exit code 4\n"
    assert api.exec_session.started[-1] == (["sh", "-c", "echo hi; exit 4"], True)
    assert api.exec_session.resizes[0] == (91, 33)
