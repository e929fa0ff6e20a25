"""Real ``kubectl get`` renders our Tables as it renders kube-apiserver's.

A throwaway HTTP server on 127.0.0.1 answers discovery and returns :func:`to_table` output;
kubectl (v1.32, when installed) prints it. Skips when kubectl is absent.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from kubesvc.api.tables import to_table
from kubesvc.api.timefmt import parse_time_epoch

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")

T0 = "2024-01-01T00:00:00Z"
NOW = parse_time_epoch("2024-01-01T00:00:05Z")

SERVICE = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "my-app-service", "namespace": "default", "resourceVersion": "7",
                 "uid": "u1", "creationTimestamp": T0},
    "spec": {"type": "NodePort", "clusterIP": "10.96.0.12", "clusterIPs": ["10.96.0.12"],
             "selector": {"app": "my-app"},
             "ports": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}]},
    "status": {"loadBalancer": {}},
}
ENDPOINTS = {
    "apiVersion": "v1", "kind": "Endpoints",
    "metadata": {"name": "my-app-service", "namespace": "default", "resourceVersion": "8",
                 "uid": "u2", "creationTimestamp": T0},
    "subsets": [{"addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}],
                 "ports": [{"port": 8080, "protocol": "TCP"}]}],
}
POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "my-app-7d9f", "namespace": "default", "resourceVersion": "9",
                 "uid": "u3", "creationTimestamp": T0},
    "spec": {"nodeName": "node-a", "containers": [{"name": "app", "image": "agnhost"}]},
    "status": {"phase": "Running", "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
               "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0,
                                      "state": {"running": {"startedAt": T0}}}]},
}
OBJECTS: dict[str, list[dict[str, Any]]] = {
    "services": [SERVICE], "endpoints": [ENDPOINTS], "pods": [POD]}
RESOURCES = [
    {"name": "services", "singularName": "service", "namespaced": True, "kind": "Service",
     "verbs": ["get", "list"], "shortNames": ["svc"], "categories": ["all"]},
    {"name": "endpoints", "singularName": "endpoints", "namespaced": True, "kind": "Endpoints",
     "verbs": ["get", "list"], "shortNames": ["ep"]},
    {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
     "verbs": ["get", "list"], "shortNames": ["po"], "categories": ["all"]},
]


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlparse(self.path).path
        if path == "/api":
            self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                             "serverAddressByClientCIDRs": []})
        elif path == "/apis":
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": "v1", "resources": RESOURCES})
        elif path.startswith("/api/v1/namespaces/default/"):
            parts = path.split("/")[5:]
            items = OBJECTS.get(parts[0])
            if items is None:
                self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "reason": "NotFound", "code": 404})
                return
            if "as=Table" not in (self.headers.get("Accept") or ""):
                self._send(406, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                 "reason": "NotAcceptable", "code": 406})
                return
            if len(parts) > 1:
                body = to_table(parts[0], items[0], now=NOW)
            else:
                body = to_table(parts[0], {"metadata": {"resourceVersion": "10"},
                                           "items": items}, now=NOW)
            self._send(200, body)
        else:
            self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "NotFound", "code": 404})


@pytest.fixture(scope="module")
def kubectl_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-apiserver", daemon=True)
    thread.start()
    home = tmp_path_factory.mktemp("kubectl-home")
    cfg = Path(home) / "config"
    cfg.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {
            "server": f"http://127.0.0.1:{server.server_address[1]}"}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "u",
                                               "namespace": "default"}}],
        "users": [{"name": "u", "user": {}}],
    }))
    try:
        yield {"KUBECONFIG": str(cfg), "HOME": str(home), "PATH": "/usr/bin:/bin"}
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def kubectl(env: dict[str, str], *args: str) -> str:
    assert KUBECTL is not None
    proc = subprocess.run([KUBECTL, *args], env=env, capture_output=True, text=True,
                          timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_get_services(kubectl_env: dict[str, str]) -> None:
    assert kubectl(kubectl_env, "get", "services") == (
        "NAME             TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE\n"
        "my-app-service   NodePort   10.96.0.12   <none>        80:30080/TCP   5s\n")
    assert kubectl(kubectl_env, "get", "svc", "my-app-service", "-o", "wide") == (
        "NAME             TYPE       CLUSTER-IP   EXTERNAL-IP   PORT(S)        AGE   SELECTOR\n"
        "my-app-service   NodePort   10.96.0.12   <none>        80:30080/TCP   5s    app=my-app\n")


def test_get_endpoints(kubectl_env: dict[str, str]) -> None:
    assert kubectl(kubectl_env, "get", "endpoints", "my-app-service") == (
        "NAME             ENDPOINTS                         AGE\n"
        "my-app-service   10.244.0.5:8080,10.244.0.6:8080   5s\n")


def test_get_pods_wide(kubectl_env: dict[str, str]) -> None:
    assert kubectl(kubectl_env, "get", "pods", "-o", "wide") == (
        "NAME          READY   STATUS    RESTARTS   AGE   IP           NODE     "
        "NOMINATED NODE   READINESS GATES\n"
        "my-app-7d9f   1/1     Running   0          5s    10.244.0.5   node-a   "
        "<none>           <none>\n")
