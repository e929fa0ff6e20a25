"""The official clients' own end-to-end suites against one real ``kubesvc up``.

- Python: kubesvc's own port of the official client's ``kubernetes/e2e_test`` scenarios is
  tests/e2e/test_pyclient_port.py, which reuses this module's ``suite_cluster`` fixture and
  image map (the upstream suite itself is not vendored: no registry package ships it).
- JavaScript: tests/js/integration.mjs, the equivalent of @kubernetes/client-node's
  integration tests (the npm package ships only ``dist/``), run with node; the ones not
  ported are in :data:`JS_NOT_PORTED` with why.
- kubectl against the same cluster: ``get apiservices`` and ``explain`` type names as
  upstream prints them, ``status: {}`` on create.

One cluster for the module; the JS suite's results are parsed from its JSON lines so a
failure names the client test that failed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MISSING, ROOT, Cluster, start_cluster

pytestmark = pytest.mark.e2e

JS_DIR = ROOT / "tests" / "js"

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
