"""NodeAgent with the real ProcessRunner: agnhost netexec on a 127.x pod IP answering over
real HTTP, restarts after a kill, readiness without restart, liveness with restart, SIGTERM
before SIGKILL on graceful deletion, logs with tail and previous, agent restart adoption."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.runtime.agent import NodeAgent
from kubesvc.runtime.process import ProcessRunner
from tests.unit.runtime.helpers import (
    GracefulClient,
    condition,
    cstatus,
    make_agent,
    pod,
    running,
    stored,
    wait_for,
)

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="needs Linux loopback 127/8")


@pytest.fixture(autouse=True)
def _no_leaked_processes(tmp_path: Path) -> Iterator[None]:
    """Whatever a failing test leaves running under its data dir is killed afterwards."""
    yield
    for rec in (tmp_path / "containers").glob("*.json"):
        pid = int(json.loads(rec.read_text()).get("pid") or 0)
        if pid > 0:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


async def http_get(url: str) -> tuple[int, str]:
    def get() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(url, timeout=3) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, ""
    return await asyncio.to_thread(get)


def netexec(name: str, **spec: Any) -> dict[str, Any]:
    return pod(name, image=AGNHOST, args=["netexec", "--http-port=8080", "--udp-port=-1"],
               **spec)


async def collect(agent: NodeAgent, name: str, **kw: Any) -> bytes:
    out = b""
    async for chunk in agent.logs.stream("default", name, **kw):
        out += chunk
    return out


async def test_netexec_serves_hostname_and_restarts_after_kill(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.241.0.0/24", probe_scale=0.05)
    async with running(agent):
        ready = {"httpGet": {"path": "/hostname", "port": 8080}, "periodSeconds": 1}
        p = netexec("web-1")
        p["spec"]["containers"][0]["readinessProbe"] = ready
        await client.create("pods", p)
        await wait_for(lambda: cstatus(client, "web-1").get("ready"), 10, "web-1 ready")
        ip = stored(client, "web-1")["status"]["podIP"]  # type: ignore[index]
        assert ip.startswith("127.241.0.")
        assert await http_get(f"http://{ip}:8080/hostname") == (200, "web-1")
        assert (await http_get(f"http://{ip}:8080/echo?msg=hey"))[1] == "hey"
        await wait_for(lambda: b"GET /hostname" in _log(tmp_path), 3, "log line")
        logs = await collect(agent, "web-1")
        assert b"Started HTTP server on port 8080" in logs
        assert b"GET /echo?msg=hey" in logs
        assert (await collect(agent, "web-1", tail_lines=1)).count(b"\n") == 1
        with pytest.raises(errors.BadRequest, match="previous terminated container"):
            agent.logs.stream("default", "web-1", previous=True)

        pid = agent.pod_state("default", "web-1").records["main"].current.pid  # type: ignore[union-attr]
        assert pid
        os.kill(pid, signal.SIGKILL)
        await wait_for(lambda: cstatus(client, "web-1").get("restartCount") == 1
                       and cstatus(client, "web-1").get("ready"), 10, "restarted and ready")
        last = cstatus(client, "web-1")["lastState"]["terminated"]
        assert (last["exitCode"], last["signal"], last["reason"]) == (137, 9, "Error")
        assert await http_get(f"http://{ip}:8080/hostname") == (200, "web-1")
        previous = await collect(agent, "web-1", previous=True)
        assert b"GET /echo?msg=hey" in previous
        assert b"GET /echo" not in await collect(agent, "web-1")


def _log(tmp: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (tmp / "pods").rglob("*.log"))


async def test_readiness_failure_unready_without_restart(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.242.0.0/24", probe_scale=0.05)
    async with running(agent):
        p = netexec("sad")
        p["spec"]["containers"][0]["readinessProbe"] = {
            "httpGet": {"path": "/echo?code=503", "port": 8080}, "periodSeconds": 1,
            "failureThreshold": 1}
        p["spec"]["containers"][0]["livenessProbe"] = {
            "tcpSocket": {"port": 8080}, "periodSeconds": 1, "initialDelaySeconds": 20}
        await client.create("pods", p)
        await wait_for(lambda: "running" in cstatus(client, "sad").get("state", {}), 10)
        ip = stored(client, "sad")["status"]["podIP"]  # type: ignore[index]
        await wait_for(lambda: _listening(ip), 10, "serving")
        await asyncio.sleep(1.0)  # many probe periods (50 ms each), liveness from 1 s on
        assert (await http_get(f"http://{ip}:8080/hostname"))[0] == 200
        cs = cstatus(client, "sad")
        assert cs["ready"] is False and cs["restartCount"] == 0
        assert condition(client, "sad", "Ready")["reason"] == "ContainersNotReady"
        assert stored(client, "sad")["status"]["phase"] == "Running"  # type: ignore[index]


async def test_liveness_failure_restarts(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.243.0.0/24", probe_scale=0.05)
    async with running(agent):
        p = netexec("sick", terminationGracePeriodSeconds=1)
        p["spec"]["containers"][0]["livenessProbe"] = {
            "httpGet": {"path": "/echo?code=500", "port": 8080}, "periodSeconds": 1,
            "failureThreshold": 2}
        await client.create("pods", p)
        await wait_for(lambda: cstatus(client, "sick").get("restartCount", 0) >= 1, 10,
                       "liveness restart")
        term = cstatus(client, "sick")["lastState"]["terminated"]
        assert term["exitCode"] in (137, 143)


async def test_graceful_delete_sends_sigterm_first(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.244.0.0/24")
    mark = tmp_path / "got-term"
    script = (f'trap "echo TERM > {mark}; exit 0" TERM; echo up; '
              "while true; do sleep 0.05; done")
    stubborn = 'trap "echo ignored" TERM; while true; do sleep 0.05; done'
    async with running(agent):
        await client.create("pods", pod("polite", command=["sh", "-c", script],
                                        terminationGracePeriodSeconds=10))
        await client.create("pods", pod("stubborn", command=["sh", "-c", stubborn],
                                        terminationGracePeriodSeconds=1))
        await wait_for(lambda: cstatus(client, "polite").get("ready")
                       and cstatus(client, "stubborn").get("ready"), 10)
        st = agent.pod_state("default", "stubborn")
        assert st is not None
        pid = st.records["main"].current.pid  # type: ignore[union-attr]
        await client.delete("pods", "polite")
        await client.delete("pods", "stubborn")
        await wait_for(lambda: stored(client, "polite") is None, 10, "polite deleted")
        assert mark.read_text() == "TERM\n"
        await wait_for(lambda: stored(client, "stubborn") is None, 10, "stubborn deleted")
        with pytest.raises(ProcessLookupError):
            os.kill(pid or -1, 0)  # SIGKILLed after its 1 s grace
        assert ("pods", "polite", 0) in client.deletes


async def test_start_error_and_image_map_file(tmp_path: Path) -> None:
    (tmp_path / "images.yaml").write_text(
        "images:\n  - image: 'example.com/tool:*'\n    command: ['sh', '-c']\n"
        "    args: ['echo from-map; sleep 30']\n")
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.245.0.0/24")
    async with running(agent):
        await client.create("pods", pod("mapped", image="example.com/tool:1"))
        await client.create("pods", pod("broken", command=["/nonexistent/binary"]))
        await wait_for(lambda: cstatus(client, "mapped").get("ready"), 10)
        await wait_for(lambda: b"from-map" in _log(tmp_path), 5)
        await wait_for(lambda: cstatus(client, "broken").get("restartCount", 0) >= 1, 10)
        term = (cstatus(client, "broken").get("lastState") or {}).get("terminated") or {}
        assert term.get("reason") == "StartError" and term.get("exitCode") == 128


async def test_agent_restart_adopts_process(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.246.0.0/24", stop_pods_on_exit=False)
    async with running(agent):
        await client.create("pods", netexec("stay"))
        await wait_for(lambda: cstatus(client, "stay").get("ready"), 10)
        ip = stored(client, "stay")["status"]["podIP"]  # type: ignore[index]
        await wait_for(lambda: _listening(ip), 5, "listening")
        pid = agent.pod_state("default", "stay").records["main"].current.pid  # type: ignore[union-attr]
        cid = cstatus(client, "stay")["containerID"]
    # The agent is gone; its process is not.
    os.kill(pid or -1, 0)
    runner = ProcessRunner(tmp_path)
    agent2 = make_agent(client, tmp_path, pod_cidr="127.246.0.0/24", runner=runner)
    async with running(agent2):
        rec = agent2.pod_state("default", "stay").records["main"]  # type: ignore[union-attr]
        assert rec.current is not None and rec.current.pid == pid
        assert await http_get(f"http://{ip}:8080/hostname") == (200, "stay")
        assert cstatus(client, "stay")["containerID"] == cid
        os.kill(pid or -1, signal.SIGKILL)
        await wait_for(lambda: cstatus(client, "stay").get("restartCount") == 1
                       and cstatus(client, "stay").get("ready"), 10, "restart after adopt")
        new_pid = rec.current.pid if rec.current else None
        assert new_pid != pid
    await asyncio.sleep(0.05)


def _listening(ip: str) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex((ip, 8080)) == 0


async def test_follow_logs_prestop_and_image_map_reload(tmp_path: Path) -> None:
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.247.0.0/24", backoff_base=0.1)
    hook = tmp_path / "prestop"
    ticker = "for i in 1 2 3; do echo tick $i; sleep 0.1; done; sleep 30"
    async with running(agent):
        p = pod("ticker", command=["sh", "-c", ticker], terminationGracePeriodSeconds=5)
        p["spec"]["containers"][0]["lifecycle"] = {
            "preStop": {"exec": {"command": ["sh", "-c", f"echo hook > {hook}"]}}}
        await client.create("pods", p)
        await client.create("pods", pod("later", image="example.org/later:1"))
        await wait_for(lambda: cstatus(client, "ticker").get("ready"), 10)
        # follow: streams lines as they are written, ends when the container exits.
        got = b""

        async def follow() -> None:
            nonlocal got
            async for chunk in agent.logs.stream("default", "ticker", follow=True):
                got += chunk

        task = asyncio.create_task(follow())
        await wait_for(lambda: b"tick 3" in got, 5, "followed output")
        assert not task.done()
        await client.delete("pods", "ticker")
        await asyncio.wait_for(task, 10)  # the stream ends with the container
        assert got == b"tick 1\ntick 2\ntick 3\n"
        await wait_for(lambda: stored(client, "ticker") is None, 10)
        assert hook.read_text() == "hook\n"
        # An image without a runner waits; adding a mapping makes it run, no restart.
        await wait_for(lambda: cstatus(client, "later").get("state", {}).get("waiting", {})
                       .get("reason") == "ErrImageNeverPull", 5)
        (tmp_path / "images.yaml").write_text(
            "images:\n- image: 'example.org/later:*'\n  command: [sleep, '30']\n")
        await wait_for(lambda: cstatus(client, "later").get("ready"), 10, "mapped image runs")


async def _wait_port(ip: str, port: int) -> None:
    await wait_for(lambda: _listening_on(ip, port), 10, f"{ip}:{port} listening")


def _listening_on(ip: str, port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex((ip, port)) == 0


def _udp(ip: str, port: int, msg: bytes) -> bytes:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(msg, (ip, port))
        return s.recv(2048)


async def test_agnhost_serve_hostname_and_netexec_udp() -> None:
    env = {**os.environ, "HOSTNAME": "pod-x", "KUBESVC_BIND_ADDRESS": "127.248.0.7"}
    py = [sys.executable, "-m", "kubesvc.runtime.agnhost"]
    procs = [
        await asyncio.create_subprocess_exec(
            *py, "serve-hostname", "--tcp", "--udp", "--http=false", "--port=9376", env=env,
            stderr=asyncio.subprocess.DEVNULL),
        await asyncio.create_subprocess_exec(
            *py, "netexec", "--http-port=8080", "--udp-port=8081", env=env,
            stderr=asyncio.subprocess.DEVNULL),
    ]
    try:
        await _wait_port("127.248.0.7", 9376)
        await _wait_port("127.248.0.7", 8080)
        reader, writer = await asyncio.open_connection("127.248.0.7", 9376)
        assert await reader.read() == b"pod-x"  # raw TCP: hostname, then close
        writer.close()
        assert await asyncio.to_thread(_udp, "127.248.0.7", 9376, b"x") == b"pod-x"
        assert await asyncio.to_thread(_udp, "127.248.0.7", 8081, b"hostname") == b"pod-x"
        assert await asyncio.to_thread(_udp, "127.248.0.7", 8081, b"echo Hi") == b"hi"
        assert (await http_get("http://127.248.0.7:8080/healthz"))[0] == 200
        code, body = await http_get(
            "http://127.248.0.7:8080/dial?host=127.248.0.7&port=8081&request=hostname"
            "&protocol=udp&tries=2")
        assert (code, json.loads(body)) == (200, {"responses": ["pod-x", "pod-x"]})
        assert (await http_get("http://127.248.0.7:8080/echo?msg=x&code=418"))[0] == 418
        # /exit?code= ends the process with that code, as upstream.
        with contextlib.suppress(Exception):
            await http_get("http://127.248.0.7:8080/exit?code=7")
        assert await asyncio.wait_for(procs[1].wait(), 5) == 7
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()


async def test_netexec_delay_shutdown_turns_readyz_503_then_exits() -> None:
    """Upstream agnhost: SIGTERM makes /readyz answer 503, the process exits 0 after
    ``--delay-shutdown`` seconds (what the PublishNotReadyAddresses cases rely on)."""
    env = {**os.environ, "HOSTNAME": "pod-y", "KUBESVC_BIND_ADDRESS": "127.248.0.8"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubesvc.runtime.agnhost", "netexec", "--http-port=8080",
        "--udp-port=-1", "--delay-shutdown=2", env=env, stderr=asyncio.subprocess.DEVNULL)
    try:
        await _wait_port("127.248.0.8", 8080)
        assert (await http_get("http://127.248.0.8:8080/readyz"))[0] == 200
        proc.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.3)
        assert (await http_get("http://127.248.0.8:8080/readyz"))[0] == 503
        assert proc.returncode is None  # still serving during the delay
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_readiness_still_probed_while_terminating(tmp_path: Path) -> None:
    """Upstream's prober keeps the readiness probe of a terminating pod running (only
    liveness/startup stop): the pod turns NotReady before its container exits."""
    client = GracefulClient()
    agent = make_agent(client, tmp_path, pod_cidr="127.245.0.0/24", probe_scale=0.1)
    async with running(agent):
        p = pod("draining", image=AGNHOST,
                args=["netexec", "--http-port=8080", "--udp-port=-1", "--delay-shutdown=5"],
                terminationGracePeriodSeconds=20)
        p["spec"]["containers"][0]["readinessProbe"] = {
            "httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1,
            "failureThreshold": 1}
        await client.create("pods", p)
        await wait_for(lambda: cstatus(client, "draining").get("ready") is True, 10, "ready")
        await client.delete("pods", "draining")
        await wait_for(lambda: cstatus(client, "draining").get("ready") is False, 5,
                       "not ready while terminating")
        assert "running" in cstatus(client, "draining").get("state", {})  # still draining
        await wait_for(lambda: stored(client, "draining") is None, 15, "deleted")
