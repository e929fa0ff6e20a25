"""e2e with the real kubectl against one ``kubesvc up`` (host mode, with an
``--image-map`` file): ``kubectl debug`` —
an ephemeral container attached interactively (``-it --target``), ``--copy-to`` and
``debug node/NAME`` (hostPath ``/`` at ``/host``, no unknown-field warning) — and
``kubectl port-forward`` to a pod, ``svc/NAME`` and ``deploy/NAME`` with several ports and
many concurrent connections, a port nothing listens on (upstream's error; the official
Python client's tunnel stays up for its other port); the official JavaScript client's
Exec and Cp (tests/js/exec.mjs, cp.mjs)."""

from __future__ import annotations

import gc
import json
import re
import shutil
import subprocess
import urllib.request
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from .conftest import MISSING, Cluster, start_cluster
from .test_exec import run_in_pty

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def _netexec(name: str, port: int) -> dict[str, Any]:
    return {"name": name, "image": AGNHOST, "args": [
        "netexec", f"--http-port={port}", "--udp-port=-1"], "ports": [{"containerPort": port}],
        # ready once it listens: kubectl port-forward gives up on a refused connection
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 1}}


IMAGE_MAP = """images:
  - image: "example.com/kubesvc/hello:*"
    command: ["sh", "-c", "echo mapped-by-file $0"]
    args: ["default-arg"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """This module's cluster, with an ``--image-map`` file (host mode)."""
    if MISSING:
        pytest.skip(MISSING)
    work = tmp_path_factory.mktemp("debug-pf")
    (work / "images.yaml").write_text(IMAGE_MAP)
    c = start_cluster(work / "data", "--image-map", str(work / "images.yaml"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def dc(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                         "items": [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "pf"},
         "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "pf"}},
                  "template": {"metadata": {"labels": {"app": "pf"}}, "spec": {
                      "terminationGracePeriodSeconds": 0,
                      "containers": [_netexec("web", 8080), _netexec("admin", 8090)]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pf"},
         "spec": {"selector": {"app": "pf"}, "ports": [
             {"name": "web", "port": 80, "targetPort": 8080},
             {"name": "admin", "port": 90, "targetPort": 8090}]}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "target"},
         "spec": {"terminationGracePeriodSeconds": 0, "containers": [
             {"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]}}]}))
    cluster.kubectl("rollout", "status", "deploy/pf", "--timeout=30s", timeout=40)
    cluster.wait_for(lambda: cluster.kubectl_json("get", "pod", "target")["status"].get(
        "phase") == "Running", what="pod target running")
    return cluster


def _pf_pod(c: Cluster) -> str:
    pods = c.kubectl_json("get", "pods", "-l", "app=pf")["items"]
    return str(pods[0]["metadata"]["name"])


def test_image_map_file_in_host_mode(dc: Cluster) -> None:
    dc.kubectl("run", "mapped", "--image=example.com/kubesvc/hello:1", "--restart=Never")
    dc.wait_for(lambda: dc.kubectl("logs", "mapped", check=False).stdout
                == "mapped-by-file default-arg\n", what="the mapped image's output")


# -- kubectl debug


def _ephemeral_status(c: Cluster, pod: str, name: str) -> dict[str, Any]:
    statuses = c.kubectl_json("get", "pod", pod)["status"].get("ephemeralContainerStatuses")
    return next((s for s in statuses or [] if s["name"] == name), {})


def test_debug_ephemeral_container_interactive(dc: Cluster) -> None:
    rc, out = run_in_pty(
        ["kubectl", "debug", "-it", "target", "--image=busybox", "--target=app", "-c", "dbg",
         "--", "sh"], dc.env,
        [(3.0, b"echo in-debug-$((2+3)); ps -e -o args | grep -c '^slee[p] 3600'; "
               b"cat /etc/hostname; exit\r")], timeout=60)
    assert rc == 0, out  # kubectl debug ends as the session does, not with its exit code
    assert 'Targeting container "app"' in out, out
    assert "in-debug-5" in out and "\n1\r" in out, out  # the target's process is visible
    assert "target" in out.split("in-debug-5", 1)[1]  # the pod's hostname (its UTS)
    dc.wait_for(lambda: "terminated" in _ephemeral_status(dc, "target", "dbg").get("state", {}),
                what="ephemeral container done")
    st = _ephemeral_status(dc, "target", "dbg")
    assert st["image"] == "busybox" and st["ready"] is False
    pod = dc.kubectl_json("get", "pod", "target")
    ec = pod["spec"]["ephemeralContainers"][0]
    assert (ec["name"], ec["targetContainerName"], ec["stdin"], ec["tty"]) == (
        "dbg", "app", True, True)
    assert pod["status"]["phase"] == "Running"  # the pod's own containers carry on
    # A second debug container beside the first; a name already in use is refused.
    r = dc.kubectl("debug", "target", "--image=busybox", "-c", "dbg2", "--", "sh", "-c",
                   "echo second")
    assert r.returncode == 0
    dc.wait_for(lambda: dc.kubectl("logs", "target", "-c", "dbg2", check=False).stdout
                == "second\n", what="dbg2's log")
    r = dc.kubectl("debug", "target", "--image=busybox", "-c", "app", "--", "true",
                   check=False)
    assert r.returncode != 0 and 'Duplicate value: "app"' in r.stderr, r.stderr


def test_debug_copy_to(dc: Cluster) -> None:
    dc.kubectl("debug", "target", "--image=busybox", "--copy-to=target-copy",
               "--share-processes", "-c", "dbg", "--", "sh", "-c", "echo copy-ok; sleep 3600")
    dc.wait_for(lambda: dc.kubectl("logs", "target-copy", "-c", "dbg", check=False).stdout
                == "copy-ok\n", what="the copy's debug container")
    copy = dc.kubectl_json("get", "pod", "target-copy")
    assert [c["name"] for c in copy["spec"]["containers"]] == ["app", "dbg"]
    assert copy["spec"]["shareProcessNamespace"] is True
    assert "ephemeralContainers" not in copy["spec"]
    dc.kubectl("delete", "pod", "target-copy", "--wait=false")


def test_debug_node(dc: Cluster) -> None:
    node = dc.kubectl_json("get", "nodes")["items"][0]["metadata"]["name"]
    r = dc.kubectl("debug", f"node/{node}", "--image=busybox", "--", "sh", "-c",
                   "cat /host/etc/hostname; test -d /host/usr/bin && echo host-root")
    assert "unknown field" not in r.stderr, r.stderr
    name = re.search(r"Creating debugging pod (\S+)", r.stdout + r.stderr)
    assert name, r.stdout + r.stderr
    pod = dc.kubectl_json("get", "pod", name[1])
    assert pod["spec"]["volumes"][0] == {"name": "host-root",
                                         "hostPath": {"path": "/", "type": ""}}
    assert pod["spec"]["hostNetwork"] is True and pod["spec"]["hostPID"] is True
    with open("/etc/hostname") as f:
        want = f.read()
    dc.wait_for(lambda: dc.kubectl("logs", name[1], check=False).stdout
                == f"{want}host-root\n", what="the node debugger's log")


# -- kubectl port-forward


@contextmanager
def port_forward(c: Cluster, target: str, *remote: str,
                 env: dict[str, str] | None = None
                 ) -> Iterator[tuple[subprocess.Popen[str], dict[int, int]]]:
    """kubectl port-forward TARGET :P...; yields it and remote -> local port."""
    proc = subprocess.Popen(["kubectl", "port-forward", target, "--address", "127.0.0.1",
                             *remote], env={**c.env, **(env or {})}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        local: dict[int, int] = {}
        assert proc.stdout is not None
        while len(local) < len(remote):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "kubectl exited"
            m = re.match(r"Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)", line)
            if m:
                local[int(m[2])] = int(m[1])
        yield proc, local
    finally:
        if proc.poll() is None:
            proc.terminate()
        proc.communicate(timeout=10)


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=20) as r:
        return str(r.read().decode())


@pytest.mark.parametrize("transport", ["websocket", "spdy"])
def test_port_forward_pod_several_ports_many_connections(dc: Cluster, transport: str) -> None:
    pod = _pf_pod(dc)
    env = {"KUBECTL_PORT_FORWARD_WEBSOCKETS": "false"} if transport == "spdy" else {}
    with port_forward(dc, f"pod/{pod}", ":8080", ":8090", env=env) as (proc, local):
        with ThreadPoolExecutor(16) as pool:
            got = list(pool.map(lambda i: _get(local[8080 if i % 2 else 8090],
                                               f"/echo?msg=conn-{i}"), range(60)))
        assert got == [f"conn-{i}" for i in range(60)]
        assert _get(local[8080], "/hostname") == pod
        big = "x" * 7000  # (a request line under aiohttp's 8190-byte limit)
        assert _get(local[8090], f"/echo?msg={big}") == big
        assert proc.poll() is None


def test_port_forward_svc_and_deploy(dc: Cluster) -> None:
    pod = _pf_pod(dc)
    with port_forward(dc, "svc/pf", ":80", ":90") as (_, local):
        assert set(local) == {8080, 8090}  # kubectl forwards to the targetPorts
        assert _get(local[8080], "/hostname") == pod
        assert _get(local[8090], "/echo?msg=svc") == "svc"
    with port_forward(dc, "deploy/pf", ":8090") as (_, local):
        assert _get(local[8090], "/hostname") == pod


def test_port_forward_refused_port(dc: Cluster) -> None:
    pod = _pf_pod(dc)
    uid = dc.kubectl_json("get", "pod", pod)["metadata"]["uid"]
    with port_forward(dc, f"pod/{pod}", ":8099") as (proc, local):
        with pytest.raises(OSError):
            _get(local[8099], "/")
        _, err = proc.communicate(timeout=20)
    assert (f"an error occurred forwarding {local[8099]} -> 8099: error forwarding port 8099 "
            f"to pod {uid}, uid : failed to execute portforward in network namespace "
            '\\"host\\": failed to connect to ') in err, err
    assert "connect: connection refused" in err
    assert "error: lost connection to pod" in err and proc.returncode == 1  # as kubectl 1.32


def test_python_client_portforward_keeps_the_tunnel(dc: Cluster) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import portforward

    pod = _pf_pod(dc)
    api_client = kubernetes.config.new_client_from_config(str(dc.kubeconfig))
    core = kubernetes.client.CoreV1Api(api_client)
    pf = portforward(core.connect_get_namespaced_pod_portforward, pod, "default",
                     ports="8099,8080")
    try:
        refused = pf.socket(8099)
        assert refused.recv(10) == b""
        assert "error forwarding port 8099 to pod" in str(pf.error(8099))
        web = pf.socket(8080)  # the same WebSocket still carries the other port
        web.setblocking(True)
        web.sendall(b"GET /hostname HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := web.recv(1 << 16):
            out += chunk
        assert out.startswith(b"HTTP/1.1 200") and out.endswith(pod.encode()), out
        assert pf.error(8080) is None
    finally:
        pf.close()
        api_client.close()
    del pf, core, api_client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()



# -- the official JavaScript client (tests/js, `make js-deps`)

JS = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")
needs_js = pytest.mark.skipif(
    NODE is None or not (JS / "node_modules" / "@kubernetes" / "client-node").is_dir(),
    reason="needs node and the tests/js packages (make js-deps)")


def _node(c: Cluster, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run([NODE, str(JS / script), *args], env=c.env, capture_output=True,
                          text=True, timeout=60)


@needs_js
def test_js_client_exec(dc: Cluster) -> None:
    r = _node(dc, "exec.mjs", "default", "target", "app", "from-js", "--", "sh", "-c",
              "cat; echo oops >&2; exit 3")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert (got["out"], got["err"]) == ("from-js", "oops\n")
    assert got["status"]["status"] == "Failure"
    assert got["status"]["reason"] == "NonZeroExitCode"
    assert got["status"]["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    r = _node(dc, "exec.mjs", "default", "target", "app", "", "--", "echo", "ok")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["out"] == "ok\n" and got["status"]["status"] == "Success"


@needs_js
def test_js_client_cp_both_ways(dc: Cluster, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "js-file.txt").write_text("copied by the js client\n")
    r = _node(dc, "cp.mjs", "to", "default", "target", "app", str(src), "/tmp")
    assert r.returncode == 0, r.stderr
    assert dc.kubectl("exec", "target", "-c", "app", "--", "cat", "/tmp/js-file.txt"
                      ).stdout == "copied by the js client\n"
    dc.kubectl("exec", "target", "-c", "app", "--", "sh", "-c", "echo from-pod > /tmp/back.txt")
    dst = tmp_path / "dst"
    dst.mkdir()
    r = _node(dc, "cp.mjs", "from", "default", "target", "app", "back.txt", str(dst), "/tmp")
    assert r.returncode == 0, r.stderr
    assert (dst / "back.txt").read_text() == "from-pod\n"
