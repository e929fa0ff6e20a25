"""e2e: getting into pods with the real kubectl — exec (stdout/stderr, stdin, a PTY, exit
codes), attach, ``run -i/-it --rm``, cp both ways, every ``kubectl logs`` flag, and the
official Python client's ``stream()`` — against ``kubesvc up`` in host mode (one cluster
for the module); exec of ``curl http://<svc>/`` from a pod in netns mode (root); and exec +
logs and port-forward through ``kubesvc server`` with a separate ``kubesvc agent``."""

from __future__ import annotations

import gc
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import KUBESVC, ROOT, Cluster, free_port, start_cluster

BOX = "box"


def _pod(name: str, command: list[str], **container: Any) -> str:
    return json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": name, "image": "busybox", "command": command,
                                 **container}]}})


def _running(c: Cluster, name: str) -> None:
    c.wait_for(lambda: c.kubectl_json("get", "pod", name)["status"].get("phase") == "Running",
               what=f"pod {name} running")


@pytest.fixture(scope="module")
def hc(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", "-", input=_pod(BOX, ["sleep", "3600"],
                                                     workingDir="/tmp"))
    _running(cluster, BOX)
    return cluster


def run_in_pty(argv: list[str], env: dict[str, str], script: list[tuple[float, bytes]], *,
               timeout: float = 30, size: tuple[int, int] = (30, 100)) -> tuple[int, str]:
    """Run ``argv`` on a new terminal, typing each input after its delay; the exit code
    and everything it printed."""
    master, slave = pty.openpty()
    import fcntl
    import struct
    import termios

    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                         start_new_session=True)
    os.close(slave)
    out = b""
    start = time.monotonic()
    pending = list(script)
    try:
        while time.monotonic() - start < timeout:
            if pending and time.monotonic() - start >= pending[0][0]:
                os.write(master, pending.pop(0)[1])
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                out += data
            elif p.poll() is not None and not pending:
                break
        rc = p.wait(timeout=5)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    return rc, out.decode(errors="replace")


# -- exec


def test_exec_stdout_stderr_and_working_dir(hc: Cluster) -> None:
    r = hc.kubectl("exec", BOX, "--", "sh", "-c", "echo out; echo err >&2; pwd")
    assert r.stdout == "out\n/tmp\n"
    assert r.stderr == "err\n"


def test_exec_exit_code(hc: Cluster) -> None:
    r = hc.kubectl("exec", BOX, "--", "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3
    assert "command terminated with exit code 3" in r.stderr


def test_exec_missing_command(hc: Cluster) -> None:
    r = hc.kubectl("exec", BOX, "--", "no-such-binary-here", check=False)
    assert r.returncode != 0
    assert 'exec: "no-such-binary-here": executable file not found in $PATH' in r.stderr


def test_exec_stdin(hc: Cluster) -> None:
    data = "".join(f"line {i}\n" for i in range(2000))
    r = hc.kubectl("exec", "-i", BOX, "--", "sh", "-c", "wc -l; exit 0", input=data)
    assert r.stdout.strip() == "2000"


def test_exec_tty(hc: Cluster) -> None:
    rc, out = run_in_pty(["kubectl", "exec", "-it", BOX, "--", "sh"], hc.env, [
        (1.0, b"tty; stty size; echo sum=$((6*7)); exit 5\r")])
    assert rc == 5, out
    assert "/dev/pts/" in out and "30 100" in out and "sum=42" in out
    assert "command terminated with exit code 5" in out


def test_exec_unknown_container(hc: Cluster) -> None:
    r = hc.kubectl("exec", BOX, "-c", "nope", "--", "true", check=False)
    assert r.returncode != 0
    assert f"container nope is not valid for pod {BOX}" in r.stderr


def test_exec_into_a_completed_or_waiting_container(hc: Cluster) -> None:
    hc.kubectl("apply", "-f", "-", input=_pod("done", ["true"]))
    hc.wait_for(lambda: hc.kubectl_json("get", "pod", "done")["status"].get("phase")
                == "Succeeded", what="pod done completed")
    r = hc.kubectl("exec", "done", "--", "true", check=False)
    assert r.returncode != 0
    assert ("cannot exec into a container in a completed pod; current phase is Succeeded"
            in r.stderr)
    # an image that cannot run: the pod is Pending, the agent has no such container
    hc.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waiting"},
        "spec": {"containers": [{"name": "w", "image": "example.com/not-mapped:1"}]}}))
    hc.wait_for(lambda: hc.kubectl_json("get", "pod", "waiting")["spec"].get("nodeName"),
                what="pod waiting scheduled")
    r = hc.kubectl("exec", "waiting", "--", "true", check=False)
    assert r.returncode != 0
    assert 'unable to upgrade connection: container not found ("w")' in r.stderr
    hc.kubectl("delete", "pod", "done", "waiting", "--wait=false")


def test_exec_needs_rbac(hc: Cluster) -> None:
    """``kubectl exec`` is a create of pods/exec (POST): a user who may read pods (the
    ``view`` role) but not that is Forbidden."""
    hc.kubectl("create", "rolebinding", "exec-viewer", "--clusterrole=view", "--user=viewer")
    r = hc.kubectl("exec", "--as=viewer", BOX, "--", "true", check=False)
    assert r.returncode != 0
    assert 'User "viewer" cannot create resource "pods/exec"' in r.stderr


# -- cp (tar over exec)


def test_cp_both_ways(hc: Cluster, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.txt").write_text("alpha\n")
    (src / "sub").mkdir()
    (src / "sub" / "b.bin").write_bytes(bytes(range(256)) * 64)
    remote = f"/tmp/kubesvc-cp-{os.getpid()}"
    try:
        hc.kubectl("cp", str(src), f"{BOX}:{remote}")
        r = hc.kubectl("exec", BOX, "--", "cat", f"{remote}/a.txt")
        assert r.stdout == "alpha\n"
        back = tmp_path / "back"
        hc.kubectl("cp", f"{BOX}:{remote}", str(back))
        assert (back / "a.txt").read_text() == "alpha\n"
        assert (back / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 64
    finally:
        shutil.rmtree(remote, ignore_errors=True)  # host mode: the pod's /tmp is ours


# -- attach and run


def test_attach_with_stdin(hc: Cluster) -> None:
    name = "att"
    hc.kubectl("apply", "-f", "-", input=_pod(
        name, ["sh", "-c", "read l; echo got:$l; exit 0"], stdin=True, stdinOnce=True))
    _running(hc, name)
    r = hc.kubectl("attach", "-i", name, input="hello\n", timeout=30)
    assert "got:hello" in r.stdout
    hc.wait_for(lambda: hc.kubectl_json("get", "pod", name)["status"]["phase"] == "Succeeded",
                what="attached pod done")
    hc.kubectl("delete", "pod", name, "--wait=false")


def test_run_i_rm_pipes_stdin_and_deletes_the_pod(hc: Cluster) -> None:
    r = hc.kubectl("run", "ri", "--rm", "-i", "--image=busybox", "--restart=Never", "--",
                   "sh", "-c", "read l; echo got:$l", input="piped\n", timeout=60)
    assert "got:piped" in r.stdout
    hc.wait_for(lambda: hc.kubectl("get", "pod", "ri", check=False).returncode != 0,
                what="pod ri deleted")


def test_run_it_rm_returns_the_shells_exit_code(hc: Cluster) -> None:
    rc, out = run_in_pty(["kubectl", "run", "rit", "--rm", "-it", "--image=busybox",
                          "--restart=Never", "--", "sh"], hc.env,
                         [(4.0, b"echo in-pod-$((3+4)); exit 7\r")], timeout=60)
    assert "in-pod-7" in out, out
    assert rc == 7, out
    assert 'pod "rit" deleted' in out
    assert hc.kubectl("get", "pod", "rit", check=False).returncode != 0


# -- logs


@pytest.fixture(scope="module")
def logger(hc: Cluster) -> str:
    name = "logger"
    hc.kubectl("apply", "-f", "-", input=_pod(
        name, ["sh", "-c", "for i in 1 2 3; do echo early-$i; done; sleep 2.5; "
                           "for i in 1 2 3; do echo late-$i; done; sleep 3600"]))
    _running(hc, name)
    hc.wait_for(lambda: "late-3" in hc.kubectl("logs", name).stdout, what="late lines",
                timeout=30)
    return name


def test_logs_tail_and_limit_bytes(hc: Cluster, logger: str) -> None:
    assert hc.kubectl("logs", logger, "--tail=2").stdout == "late-2\nlate-3\n"
    assert hc.kubectl("logs", logger, "--limit-bytes=10").stdout == "early-1\nea"


def test_logs_timestamps(hc: Cluster, logger: str) -> None:
    lines = hc.kubectl("logs", logger, "--timestamps", "--tail=1").stdout.splitlines()
    assert len(lines) == 1
    stamp, _, text = lines[0].partition(" ")
    assert text == "late-3"
    assert len(stamp) == 30 and stamp.endswith("Z") and stamp[19] == "."


def test_logs_since_and_since_time(hc: Cluster, logger: str) -> None:
    stamps = [ln.split(" ", 1) for ln in
              hc.kubectl("logs", logger, "--timestamps").stdout.splitlines()]
    late = next(ts for ts, text in stamps if text == "late-1")
    since = hc.kubectl("logs", logger, f"--since-time={late}").stdout
    assert since == "late-1\nlate-2\nlate-3\n"
    # the early lines are at least 2.5 s older than the late ones
    age = time.time() - _epoch(late)
    out = hc.kubectl("logs", logger, f"--since={int(age) + 2}s").stdout
    assert "late-1" in out and "early-1" not in out


def _epoch(stamp: str) -> float:
    from kubesvc.api.timefmt import parse_time_epoch

    t = parse_time_epoch(stamp)
    assert t is not None
    return t


def test_logs_follow(hc: Cluster) -> None:
    name = "follower"
    hc.kubectl("apply", "-f", "-", input=_pod(
        name, ["sh", "-c", "echo one; sleep 1; echo two; exit 0"]))
    r = hc.kubectl("logs", "-f", f"pod/{name}", "--pod-running-timeout=20s", timeout=40)
    assert r.stdout == "one\ntwo\n"


def test_logs_previous(hc: Cluster) -> None:
    name = "restarter"
    doc = json.loads(_pod(name, ["sh", "-c", "echo run-$(date +%s%N); sleep 0.5; exit 1"]))
    doc["spec"]["restartPolicy"] = "Always"
    hc.kubectl("apply", "-f", "-", input=json.dumps(doc))
    hc.wait_for(lambda: (hc.kubectl_json("get", "pod", name)["status"]
                         .get("containerStatuses") or [{}])[0].get("restartCount", 0) >= 1,
                what="a restart", timeout=40)
    prev = hc.kubectl("logs", name, "--previous").stdout
    assert prev.startswith("run-")
    hc.kubectl("delete", "pod", name, "--wait=false")


def test_logs_bad_values_rejected(hc: Cluster, logger: str) -> None:
    r = hc.kubectl("logs", logger, "--since=-1s", check=False)
    assert r.returncode != 0 and "--since must be greater than 0" in r.stderr
    r = hc.kubectl("logs", logger, "--tail=-5", check=False)
    assert r.returncode != 0 and "--tail must be greater than or equal to -1" in r.stderr
    r = hc.kubectl("get", "--raw",
                   f"/api/v1/namespaces/default/pods/{logger}/log?limitBytes=0", check=False)
    assert r.returncode != 0
    assert "limitBytes: Invalid value: 0: must be greater than 0" in r.stderr
    r = hc.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{logger}/log"
                   "?sinceSeconds=5&sinceTime=2024-01-01T00:00:00Z", check=False)
    assert "at most one of `sinceTime` or `sinceSeconds` may be specified" in r.stderr


# -- the official Python client


def test_python_client_stream_exec(hc: Cluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import stream

    api_client = kubernetes.config.new_client_from_config(str(hc.kubeconfig))
    core = kubernetes.client.CoreV1Api(api_client)
    # (_preload_content=False throughout: the preloading form never closes its socket)
    first = stream(core.connect_get_namespaced_pod_exec, BOX, "default",
                   command=["sh", "-c", "echo from-python; exit 4"], stdout=True,
                   stderr=True, stdin=False, tty=False, _preload_content=False)
    first.run_forever(timeout=10)
    assert first.read_stdout() == "from-python\n"
    assert first.returncode == 4  # from the v4 error channel's Status
    first.close()
    resp = stream(core.connect_get_namespaced_pod_exec, BOX, "default",
                  command=["sh", "-c", "cat; exit 0"], stdout=True, stderr=True, stdin=True,
                  tty=False, _preload_content=False)
    resp.write_stdin("piped-in")
    deadline = time.monotonic() + 10
    got = ""
    while "piped-in" not in got and time.monotonic() < deadline:
        resp.update(timeout=1)
        got += resp.read_stdout() if resp.peek_stdout() else ""
    assert got == "piped-in"
    resp.close()  # v4 cannot close stdin alone: closing the stream ends cat
    api_client.close()
    # The client leaves sockets of its own to the garbage collector: collect them here,
    # where their ResourceWarning is not an error of this suite.
    del first, resp, core, api_client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


# -- netns mode


def _netns_why_not() -> str:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "netns mode needs root on Linux"
    for tool in ("ip", "nft", "curl", "nsenter"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` on PATH"
    return ""


@pytest.fixture(scope="module")
def nc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    why = _netns_why_not()
    if why:
        pytest.skip(why)
    c = start_cluster(tmp_path_factory.mktemp("exec-netns") / "data", "--network", "netns",
                      "--nodes", "2", service_cidr="10.96.0.0/12", lb_pool="172.20.0.64/27")
    try:
        yield c
    finally:
        c.stop()


def test_netns_exec_curl_a_service_through_cluster_dns(nc: Cluster) -> None:
    nc.kubectl("create", "deployment", "web", "--port=80",
               "--image=registry.k8s.io/e2e-test-images/agnhost:2.53", "--",
               "/agnhost", "netexec", "--http-port=80")
    nc.kubectl("expose", "deployment", "web", "--port=80")
    nc.kubectl("apply", "-f", "-", input=_pod("client", ["sleep", "3600"]))
    _running(nc, "client")
    nc.wait_for(lambda: nc.kubectl("get", "endpoints", "web", "-o",
                                   "jsonpath={.subsets[0].addresses[0].ip}").stdout,
                what="web endpoints", timeout=30)
    r = nc.kubectl("exec", "client", "--", "sh", "-c",
                   "hostname; grep -c ndots:5 /etc/resolv.conf; curl -s -m 5 http://web/hostname")
    host, ndots, served = r.stdout.splitlines()
    assert host == "client" and ndots == "1"
    assert served.startswith("web-")
    r = nc.kubectl("exec", "client", "--", "sh", "-c", "exit 3", check=False)
    assert r.returncode == 3 and "command terminated with exit code 3" in r.stderr
    rc, out = run_in_pty(["kubectl", "run", "nrit", "--rm", "-it", "--image=busybox",
                          "--restart=Never", "--", "sh"], nc.env,
                         [(4.0, b"echo on-$(hostname); exit 6\r")], timeout=60)
    assert "on-nrit" in out and rc == 6, out


# -- kubesvc server + kubesvc agent


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("exec-split")
    octet = 100 + os.getpid() % 100
    port = free_port()
    procs: list[subprocess.Popen[bytes]] = []
    log = (work / "log").open("ab")
    kubeconfig = work / "kubeconfig"
    try:
        procs.append(subprocess.Popen(
            [*KUBESVC, "server", "--data-dir", str(work / "server"), "--api-port", str(port),
             "--dns-addr", f"127.0.0.1:{free_port()}", "--service-cidr", f"127.{octet}.0.0/16",
             "--lb-pool", f"127.{octet}.200.0/24", "--write-kubeconfig", str(kubeconfig)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
        c = Cluster(procs[0], work / "server", kubeconfig, port, 0, "", "", work / "log")
        c.wait_for(lambda: kubeconfig.exists() and c.kubectl(
            "get", "--raw", "/readyz", check=False).stdout.strip() == "ok",
            what="server ready", timeout=30)
        token = subprocess.run([*KUBESVC, "token", "create", "--kubeconfig", str(kubeconfig)],
                               capture_output=True, text=True, check=True, cwd=ROOT,
                               timeout=20).stdout.strip()
        (work / "token").write_text(token + "\n")
        procs.append(subprocess.Popen(
            [*KUBESVC, "agent", "--server", f"https://127.0.0.1:{port}", "--token-file",
             str(work / "token"), "--ca-file", str(work / "server" / "pki" / "ca.crt"),
             "--node-name", "split-1", "--node-ip", f"127.{octet}.1.1",
             "--pod-cidr", f"127.{octet}.16.0/24", "--data-dir", str(work / "agent"),
             "--proxy", "none", "--streaming-port", "0"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
        c.wait_for(lambda: "split-1" in c.kubectl("get", "nodes", check=False).stdout,
                   what="agent registered", timeout=30)
        yield c
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
        log.close()


def test_server_and_agent_exec_and_logs(split: Cluster) -> None:
    node = split.kubectl_json("get", "node", "split-1")
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    assert port != 10250 and port > 0  # --streaming-port 0: the bound port is published
    split.kubectl("apply", "-f", "-", input=_pod("sp", ["sh", "-c", "echo hi; sleep 3600"]))
    _running(split, "sp")
    r = split.kubectl("exec", "sp", "--", "sh", "-c", "echo via-agent; exit 2", check=False)
    assert r.stdout == "via-agent\n" and r.returncode == 2
    split.wait_for(lambda: split.kubectl("logs", "sp", "--timestamps").stdout
                   .endswith(" hi\n"), what="logs through the agent")
    assert split.kubectl("logs", "sp", "--limit-bytes=1").stdout == "h"


def test_server_and_agent_port_forward(split: Cluster) -> None:
    """kubectl port-forward through the API server to the agent's streaming port."""
    import re
    import urllib.request

    split.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "spf"},
        "spec": {"terminationGracePeriodSeconds": 0, "containers": [{
            "name": "web", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
            "args": ["netexec", "--http-port=8080", "--udp-port=-1"],
            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1}}]}}))
    # ready once it listens: kubectl port-forward gives up on a refused connection
    split.wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in
                               split.kubectl_json("get", "pod", "spf")["status"].get(
                                   "conditions", [])), what="pod spf ready", timeout=30)
    proc = subprocess.Popen(["kubectl", "port-forward", "pod/spf", "--address", "127.0.0.1",
                             ":8080"], env=split.env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> 8080", proc.stdout.readline())
        assert m, proc.stderr.read() if proc.stderr else ""
        for i in range(5):
            with urllib.request.urlopen(f"http://127.0.0.1:{m[1]}/echo?msg=split-{i}",
                                        timeout=20) as r:
                assert r.read() == f"split-{i}".encode()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_netns_debug_container_shares_the_pods_network(nc: Cluster) -> None:
    """An ephemeral container joins its pod's network namespace: the pod's IP, hostname,
    resolv.conf, and cluster DNS + Service routing from there."""
    nc.kubectl("apply", "-f", "-", input=_pod("dbgt", ["sleep", "3600"]))
    _running(nc, "dbgt")
    ip = nc.kubectl_json("get", "pod", "dbgt")["status"]["podIP"]
    nc.kubectl("debug", "dbgt", "--image=busybox", "-c", "dbg", "--", "sh", "-c",
               "hostname; grep -c ndots:5 /etc/resolv.conf; ip -4 -o addr show | grep -c "
               f"'inet {ip}/'")
    nc.wait_for(lambda: nc.kubectl("logs", "dbgt", "-c", "dbg", check=False).stdout
                == "dbgt\n1\n1\n", what="the debug container's view", timeout=30)


def test_server_and_agent_debug(split: Cluster) -> None:
    """kubectl debug through kubesvc server: the agent runs the ephemeral container and
    serves its attach."""
    split.kubectl("apply", "-f", "-", input=_pod("sdbg", ["sleep", "3600"]))
    _running(split, "sdbg")
    rc, out = run_in_pty(["kubectl", "debug", "-it", "sdbg", "--image=busybox", "-c", "dbg",
                          "--", "sh"], split.env,
                         [(3.0, b"echo split-debug-$((1+1)); exit\r")], timeout=60)
    assert rc == 0 and "split-debug-2" in out, out
    split.wait_for(lambda: "terminated" in (split.kubectl_json("get", "pod", "sdbg")["status"]
                                            .get("ephemeralContainerStatuses") or [{}])[0]
                   .get("state", {}), what="the debug container done")
