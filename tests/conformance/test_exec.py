"""Upstream exec, attach, ``kubectl run -i``, cp and logs cases (Kubernetes v1.32:
``test/e2e/kubectl/kubectl.go`` "Simple pod" and "Kubectl copy", ``test/e2e/kubectl/
logs.go``, the WebSocket cases of ``test/e2e/common/node/pods.go``), written anew against
kubesvc with the real kubectl and, for the WebSocket cases, aiohttp's client speaking
``channel.k8s.io`` / ``binary.k8s.io`` as upstream's ``e2ewebsocket`` does. busybox pods
stand in for upstream's httpd pod. Run by pytest; uses :mod:`.framework`.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.conformance.framework import Api, core, create_pod_sync, poll, unique
from tests.e2e.conftest import Cluster

BUSYBOX = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1"
TIMEOUT = "--pod-running-timeout=1m0s"


def _busybox(name: str, command: list[str], **container: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": BUSYBOX, "command": command,
                                     **container}]}}


def _kubectl(cluster: Cluster, ns: str, *args: str, input: str | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return cluster.kubectl("-n", ns, *args, check=False, input=input, timeout=timeout)


def _simple_pod(api: Api, ns: str) -> str:
    name = "httpd"
    create_pod_sync(api, ns, _busybox(name, ["sleep", "3600"]))
    return name


def test_should_support_exec(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should support exec"""
    pod = _simple_pod(api, ns)
    r = _kubectl(cluster, ns, "exec", TIMEOUT, pod, "--", "echo", "running", "in", "container")
    assert r.returncode == 0 and r.stdout.strip() == "running in container", r.stderr
    very_long = "a" * 20000
    r = _kubectl(cluster, ns, "exec", TIMEOUT, pod, "--", "echo", very_long)
    assert r.stdout.strip() == very_long
    r = _kubectl(cluster, ns, "exec", "-i", TIMEOUT, pod, "--", "cat", input="abcd1234")
    assert r.stdout == "abcd1234"
    # pretend to be a user in an interactive shell
    r = _kubectl(cluster, ns, "exec", "-i", TIMEOUT, pod, "--", "sh", input="echo hi\nexit\n")
    assert r.stdout.strip() == "hi"


def test_should_support_exec_using_resource_name(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should support exec using resource/name"""
    pod = _simple_pod(api, ns)
    r = _kubectl(cluster, ns, "exec", TIMEOUT, f"pod/{pod}", "--", "echo", "running", "in",
                 "container")
    assert r.stdout.strip() == "running in container", r.stderr


def test_should_support_exec_through_kubectl_proxy(api: Api, cluster: Cluster,
                                                   ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should support exec through kubectl proxy"""
    pod = _simple_pod(api, ns)
    # (upstream's startProxyServer: --disable-filter, as the default filter rejects exec)
    proxy = subprocess.Popen(["kubectl", "proxy", "--port=0", "--disable-filter"],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=cluster.env)
    try:
        assert proxy.stdout is not None
        m = None
        for _ in range(5):  # (a warning about the disabled filter comes first)
            line = proxy.stdout.readline()
            m = re.search(r"Starting to serve on 127\.0\.0\.1:(\d+)", line)
            if m:
                break
        assert m, line
        r = subprocess.run(["kubectl", f"--server=http://127.0.0.1:{m.group(1)}", "-n", ns,
                            "exec", TIMEOUT, pod, "--", "echo", "running", "in", "container"],
                           capture_output=True, text=True, timeout=60)
        assert r.stdout == "running in container\n", r.stderr
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        if proxy.stdout is not None:
            proxy.stdout.close()


def test_should_return_command_exit_codes_execing_into_a_container_with_a_successful_command(
        api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should return command exit codes execing into a
    container with a successful command"""
    pod = _simple_pod(api, ns)
    r = _kubectl(cluster, ns, "exec", pod, TIMEOUT, "--", "/bin/sh", "-c", "exit 0")
    assert r.returncode == 0, r.stderr


def test_should_return_command_exit_codes_execing_into_a_container_with_a_failing_command(
        api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should return command exit codes execing into a
    container with a failing command"""
    pod = _simple_pod(api, ns)
    r = _kubectl(cluster, ns, "exec", pod, TIMEOUT, "--", "/bin/sh", "-c", "exit 42")
    assert r.returncode == 42, r.stderr


def test_kubectl_run_running_a_successful_command(cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod Kubectl run running a successful command"""
    r = _kubectl(cluster, ns, "run", "-i", f"--image={BUSYBOX}", "--restart=Never", TIMEOUT,
                 "success", "--", "/bin/sh", "-c", "exit 0")
    assert r.returncode == 0, r.stderr


def test_kubectl_run_running_a_failing_command(cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod Kubectl run running a failing command"""
    r = _kubectl(cluster, ns, "run", "-i", f"--image={BUSYBOX}", "--restart=Never", TIMEOUT,
                 "failure-1", "--", "/bin/sh", "-c", "exit 42")
    assert r.returncode == 42, r.stderr


def test_kubectl_run_running_a_failing_command_with_leave_stdin_open(cluster: Cluster,
                                                                     ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod Kubectl run running a failing command with
    --leave-stdin-open [Slow]"""
    r = _kubectl(cluster, ns, "run", "-i", f"--image={BUSYBOX}", "--restart=Never", TIMEOUT,
                 "failure-4", "--leave-stdin-open", "--", "/bin/sh", "-c", "exit 42",
                 input="abcd1234")
    assert r.returncode == 0, r.stderr


def _wait_for_log(cluster: Cluster, ns: str, pod: str, content: str) -> str:
    out = ""

    def seen() -> bool:
        nonlocal out
        out = _kubectl(cluster, ns, "logs", pod).stdout
        return content in out

    poll(seen, timeout=60, interval=0.5, what=f"{content!r} in the log of {pod}")
    return out


def _inline_execution_and_attach(api: Api, cluster: Cluster, ns: str) -> None:
    # run and attach with stdin
    r = _kubectl(cluster, ns, "run", "run-test", f"--image={BUSYBOX}", "--restart=OnFailure",
                 TIMEOUT, "--attach=true", "--stdin", "--", "sh", "-c",
                 "echo -n read: && cat && echo 'stdin closed'", input="value\nabcd1234")
    assert r.returncode == 0, r.stderr
    out = _wait_for_log(cluster, ns, "run-test", "stdin closed")
    assert "read:value" in out and "abcd1234" in out
    api.delete(core(ns, "pods", "run-test"))

    # run and attach without stdin: the container's stdin is empty
    r = _kubectl(cluster, ns, "run", "run-test-2", f"--image={BUSYBOX}",
                 "--restart=OnFailure", TIMEOUT, "--attach=true", "--leave-stdin-open=true",
                 "--", "sh", "-c", "cat && echo 'stdin closed'", input="abcd1234")
    assert r.returncode == 0, r.stderr
    out = _wait_for_log(cluster, ns, "run-test-2", "stdin closed")
    assert "abcd1234" not in out
    api.delete(core(ns, "pods", "run-test-2"))

    # run and attach with stdin left open: the container keeps running
    r = _kubectl(cluster, ns, "run", "run-test-3", f"--image={BUSYBOX}",
                 "--restart=OnFailure", TIMEOUT, "--attach=true", "--leave-stdin-open=true",
                 "--stdin", "--", "sh", "-c", "cat && echo 'stdin closed'", input="abcd1234\n")
    assert r.returncode == 0, r.stderr
    out = _wait_for_log(cluster, ns, "run-test-3", "abcd1234")
    assert "stdin closed" not in out
    pod = api.get(core(ns, "pods", "run-test-3"))
    assert pod["status"]["phase"] == "Running"
    api.delete(core(ns, "pods", "run-test-3"))


def test_should_support_inline_execution_and_attach(api: Api, cluster: Cluster,
                                                    ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should support inline execution and attach"""
    _inline_execution_and_attach(api, cluster, ns)


def test_should_support_inline_execution_and_attach_with_websockets_or_fallback_to_spdy(
        api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should support inline execution and attach with
    websockets or fallback to spdy"""
    _inline_execution_and_attach(api, cluster, ns)


def test_should_contain_last_line_of_the_log(api: Api, cluster: Cluster, ns: str) -> None:
    """[sig-cli] Kubectl client Simple pod should contain last line of the log"""
    r = _kubectl(cluster, ns, "run", "run-log-test", f"--image={BUSYBOX}",
                 "--restart=OnFailure", TIMEOUT, "--", "sh", "-c",
                 "sleep 1; i=1; while [ $i -le 100 ]; do echo $i; i=$((i+1)); sleep 0.01; "
                 "done; echo EOF")
    assert r.returncode == 0, r.stderr
    poll(lambda: api.get(core(ns, "pods", "run-log-test"))["status"].get("phase")
         in ("Running", "Succeeded"), timeout=30, what="run-log-test running")
    out = _kubectl(cluster, ns, "logs", "-f", "run-log-test").stdout
    assert "EOF" in out


def test_kubectl_logs_should_be_able_to_retrieve_and_filter_logs(api: Api, cluster: Cluster,
                                                                  ns: str) -> None:
    """[sig-cli] Kubectl logs logs should be able to retrieve and filter logs
    [Conformance]"""
    name = "logs-generator"
    create_pod_sync(api, ns, _busybox(name, ["sh", "-c",
        "i=0; while [ $i -lt 100 ]; do echo \"$i GET /api/v1/namespaces/kube-system/pods/$i\";"
        " i=$((i+1)); sleep 0.05; done; sleep 3600"]))
    _wait_for_log(cluster, ns, name, "/api/v1/namespaces/kube-system")
    out = _kubectl(cluster, ns, "logs", name, "--tail=1").stdout
    assert out and len(out.rstrip("\n").split("\n")) == 1
    out = _kubectl(cluster, ns, "logs", name, "--limit-bytes=1").stdout
    assert len(out) == 1
    out = _kubectl(cluster, ns, "logs", name, "--tail=1", "--timestamps").stdout
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 1
    stamp = lines[0].split(" ", 1)[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", stamp), stamp
    # restricting to a time range: once it has gone quiet, the last second holds fewer
    # lines than the last day
    _wait_for_log(cluster, ns, name, "99 GET")
    time.sleep(1.5)
    recent = _kubectl(cluster, ns, "logs", name, "--since=1s").stdout
    day = _kubectl(cluster, ns, "logs", name, "--since=24h").stdout
    assert len(recent.splitlines()) < len(day.splitlines()) == 100


def test_kubectl_copy_should_copy_a_file_from_a_running_pod(api: Api, cluster: Cluster,
                                                            ns: str, tmp_path: Path) -> None:
    """[sig-cli] Kubectl client Kubectl copy should copy a file from a running Pod"""
    # the pod's own /tmp (its sandbox's), as upstream's /tmp/foo/bar/foo.bar
    remote = "/tmp/foo/bar/foo.bar"
    create_pod_sync(api, ns, _busybox(unique("busybox"), ["sh", "-c",
        f"mkdir -p /tmp/foo/bar && echo 'foobar' > {remote} && sleep 3600"]))
    pod = api.list(core(ns, "pods"))[0]["metadata"]["name"]
    poll(lambda: _kubectl(cluster, ns, "exec", pod, "--", "test", "-f", remote).returncode
         == 0, timeout=20, what="the pod's file")
    dest = tmp_path / "copy-foobar"
    r = _kubectl(cluster, ns, "cp", f"{pod}:{remote}", str(dest))
    assert r.returncode == 0, r.stderr
    assert dest.read_text() == "foobar\n"


async def _ws_read(api: Api, path: str, protocols: list[str]) -> list[bytes]:
    url = f"https://{api.host}:{api.port}{path}"
    msgs: list[bytes] = []
    async with aiohttp.ClientSession() as s, s.ws_connect(
            url, ssl=api.ctx, protocols=protocols,
            headers={"Authorization": f"Bearer {api.token}"}) as ws:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                msgs.append(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                msgs.append(msg.data.encode())
    # (aiohttp's advice: let the TLS transport finish closing before the loop ends)
    await asyncio.sleep(0.25)
    return msgs


def test_pods_should_support_remote_command_execution_over_websockets(api: Api,
                                                                      ns: str) -> None:
    """[sig-node] Pods should support remote command execution over websockets
    [NodeConformance] [Conformance]"""
    name = unique("pod-exec-websocket")
    create_pod_sync(api, ns, _busybox(name, ["/bin/sh", "-c",
                                             "echo container is alive; sleep 600"]))
    path = (core(ns, "pods", name, "exec") + "?stderr=1&stdout=1&container=main"
            "&command=echo&command=remote+execution+test")
    msgs = asyncio.run(_ws_read(api, path, ["channel.k8s.io"]))
    out = b""
    for msg in msgs:
        if not msg:
            continue
        if msg[0] != 1:
            assert len(msg) == 1, f"a message on a stream other than stdout: {msg!r}"
            continue
        out += msg[1:]
    assert b"remote execution test" in out


def test_pods_should_support_retrieving_logs_from_the_container_over_websockets(
        api: Api, ns: str) -> None:
    """[sig-node] Pods should support retrieving logs from the container over websockets
    [NodeConformance] [Conformance]"""
    name = unique("pod-logs-websocket")
    create_pod_sync(api, ns, _busybox(name, ["/bin/sh", "-c",
                                             "echo container is alive; sleep 10000"]))
    poll(lambda: b"alive" in b"".join(asyncio.run(_ws_read(
        api, core(ns, "pods", name, "log") + "?container=main", ["binary.k8s.io"]))),
        timeout=20, what="the log over a websocket")
    msgs = asyncio.run(_ws_read(api, core(ns, "pods", name, "log") + "?container=main",
                                ["binary.k8s.io"]))
    assert b"".join(m for m in msgs if m.strip()) == b"container is alive\n"
