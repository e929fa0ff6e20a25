"""The official clients' own end-to-end suites against one real ``kubesvc up``.

- Python: ``kubernetes/e2e_test`` of the official client (vendored in tests/e2e/pyclient,
  since no registry package ships it), run in a subprocess with ``KUBECONFIG`` pointing at
  the cluster; every test must pass except those in :data:`PY_SKIPS`, each with its reason.
- JavaScript: tests/js/integration.mjs, the equivalent of @kubernetes/client-node's
  integration tests (the npm package ships only ``dist/``), run with node; the ones not
  ported are in :data:`JS_NOT_PORTED` with why.
- kubectl against the same cluster: ``get apiservices`` and ``explain`` type names as
  upstream prints them, ``status: {}`` on create.

One cluster for the module; the suites' results are parsed from JUnit XML / TAP so a
failure names the client test that failed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MISSING, ROOT, Cluster, start_cluster

pytestmark = pytest.mark.e2e

PYCLIENT = ROOT / "tests" / "e2e" / "pyclient"
JS_DIR = ROOT / "tests" / "js"

#: Client tests not run, each with why. Keys are ``<module>::<Class>::<test>``.
PY_SKIPS: dict[str, str] = {
    "test_utils.py::TestUtils::test_metrics_utilities_integration":
        "needs metrics-server (metrics.k8s.io), which kubesvc does not serve",
}

_RUNNER = (
    "import sys, kubernetes; kubernetes.__path__.append(sys.argv[1]); "
    "import pytest; sys.exit(pytest.main(sys.argv[2:]))"
)


# The suites' pods name images kubesvc cannot pull (there is no container runtime), so the
# cluster maps them to host commands as a user would (--image-map): ``nginx`` to a small
# server answering nginx's welcome page on the pod IP's port 80, ``python`` to this Python.
_FAKE_NGINX = (
    "import http.server, os\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        body = b'<html><body><h1>Welcome to nginx!</h1></body></html>'\n"
    "        self.send_response(200); self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers(); self.wfile.write(body)\n"
    "http.server.ThreadingHTTPServer((os.environ.get('POD_IP', '127.0.0.1'), 80), H)"
    ".serve_forever()\n"
)


def _image_map(path: Path) -> Path:
    images = {"images": [
        {"image": "docker.io/library/nginx*", "command": [sys.executable, "-c", _FAKE_NGINX]},
        {"image": "docker.io/library/python*", "command": [sys.executable],
         "paths": {"python": [sys.executable]}},
    ]}
    path.write_text(json.dumps(images))
    return path


@pytest.fixture(scope="module")
def suite_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if MISSING:
        pytest.skip(MISSING)
    base = tmp_path_factory.mktemp("fidelity-suites")
    c = start_cluster(base / "data", "--image-map", str(_image_map(base / "images.yaml")))
    try:
        yield c
    finally:
        c.stop()


def _junit_results(path: Path) -> dict[str, tuple[str, str]]:
    """test id -> (outcome, message) from a JUnit XML report."""
    out: dict[str, tuple[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = (case.get("classname") or "").rsplit(".", 1)
        test_id = f"{module[0].split('.')[-1]}.py::{module[-1]}::{case.get('name')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = tag
                message = (node.get("message") or "") + "\n" + (node.text or "")[-3000:]
                break
        out[test_id] = (outcome, message)
    return out


def test_python_client_e2e_suite(suite_cluster: Cluster, tmp_path: Path) -> None:
    report = tmp_path / "pyclient.xml"
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\n")
    suite = str(PYCLIENT / "kubernetes")
    args = [
        sys.executable, "-c", _RUNNER, suite, "-q", "-p", "no:cacheprovider", "-c", str(ini),
        "--rootdir", suite, "--confcutdir", suite, f"--junitxml={report}",
        "-o", "junit_family=xunit1",
        "-p", "no:asyncio",
    ]
    args.append("kubernetes/e2e_test")
    env = {**suite_cluster.env, "KUBESVC_CLIENT_SUITE": "1"}
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=PYCLIENT,
                       timeout=300)
    assert report.exists(), f"no report:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    results = _junit_results(report)
    # A listed test skips itself (the suite checks for what it needs); anything else
    # that does not pass fails this test, and so does a listed test that stops skipping.
    failed = {k: v for k, v in results.items()
              if v[0] != ("skipped" if k in PY_SKIPS else "passed")}
    passed = sum(1 for v in results.values() if v[0] == "passed")
    skipped = sum(1 for k, v in results.items() if k in PY_SKIPS and v[0] == "skipped")
    print(f"python client e2e: {passed} passed, {len(failed)} failed, {skipped} skipped")
    assert not failed, "\n\n".join(f"{k}: {v[0]}\n{v[1]}" for k, v in sorted(failed.items()))
    assert len(results) >= 45, sorted(results)


#: The client-node integration tests not ported to tests/js/integration.mjs, and why.
JS_NOT_PORTED: dict[str, str] = {
    "cpFromPod": "needs tar inside the pod and exec (the exec/streaming issue; "
                 "tests/e2e/test_exec.py covers kubectl cp)",
    "portForward": "tests/integration/streaming/test_portforward_js.py runs the client's "
                   "PortForward already",
    "informerReconnect": "waits up to 45 s for the server to end a watch; too long for CI",
}

NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="needs node on PATH")
@pytest.mark.skipif(not (JS_DIR / "node_modules" / "@kubernetes" / "client-node").is_dir(),
                    reason="needs `make js-deps` (npm ci in tests/js)")
def test_javascript_client_integration(suite_cluster: Cluster) -> None:
    assert NODE is not None
    r = subprocess.run([NODE, str(JS_DIR / "integration.mjs")], capture_output=True, text=True,
                       env=suite_cluster.env, cwd=JS_DIR, timeout=120)
    results = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    failed = [res for res in results if not res["ok"]]
    print(f"javascript client integration: {len(results) - len(failed)} passed, "
          f"{len(failed)} failed, {len(JS_NOT_PORTED)} not ported")
    assert [res["name"] for res in results] == ["patchNamespace", "watchPods", "informer"], (
        r.stdout + r.stderr)
    assert not failed, "\n\n".join(f"{res['name']}: {res['error']}" for res in failed)
    assert r.returncode == 0, r.stderr


def test_kubectl_sees_upstream_shapes(suite_cluster: Cluster) -> None:
    """What kubectl prints from kubesvc's APIServices and OpenAPI, as against upstream."""
    out = suite_cluster.kubectl("get", "apiservices").stdout.splitlines()
    assert out[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    rows = {line.split()[0]: line.split()[1:3] for line in out[1:]}
    for name in ("v1.", "v1.apps", "v1.batch", "v1.apiregistration.k8s.io"):
        assert rows[name] == ["Local", "True"], out
    explain = suite_cluster.kubectl("explain", "svc.spec.ports.targetPort").stdout
    assert "FIELD: targetPort <IntOrString>" in explain, explain
    explain = suite_cluster.kubectl("explain", "deploy.spec").stdout
    assert "selector\t<LabelSelector> -required-" in explain, explain
    assert "template\t<PodTemplateSpec> -required-" in explain, explain
    explain = suite_cluster.kubectl("explain", "pod.spec.containers").stdout
    assert "FIELD: containers <[]Container>" in explain, explain
    explain = suite_cluster.kubectl("explain", "cm.data").stdout
    assert "FIELD: data <map[string]string>" in explain, explain
    created = suite_cluster.kubectl_json("create", "deployment", "fidelity-zero",
                                         "--image=registry.k8s.io/pause:3.10")
    assert created["status"] == {}, created
