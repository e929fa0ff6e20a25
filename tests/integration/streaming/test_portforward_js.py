"""The official JavaScript client's PortForward (@kubernetes/client-node 1.4, the WebSocket
channel protocol, offering v5..v1 and getting v4) against the stand-in API server, through
tests/js/portforward.mjs. Its packages come from ``make js-deps`` (npm ci in tests/js)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.streaming.harness import NS, POD, UID, FakeApiServer

JS = Path(__file__).resolve().parents[2] / "js"
NODE = shutil.which("node")
pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node is not installed"),
    pytest.mark.skipif(not (JS / "node_modules" / "@kubernetes" / "client-node").is_dir(),
                       reason="tests/js packages are not installed (make js-deps)"),
]


def js_forward(api: FakeApiServer, port: int, payload: str) -> dict[str, str]:
    assert NODE is not None
    r = subprocess.run([NODE, str(JS / "portforward.mjs"), api.url, NS, POD, str(port),
                        payload], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    result: dict[str, str] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def test_js_client_port_forward(api: FakeApiServer) -> None:
    assert js_forward(api, api.echo, "hello from js " * 1000) == {
        "out": "hello from js " * 1000, "err": ""}
    assert api.requests[-1]["protocols"].startswith("v5.channel.k8s.io,v4.channel.k8s.io")


def test_js_client_refused_port(api: FakeApiServer) -> None:
    got = js_forward(api, api.refused, "x")
    assert got["out"] == ""
    assert got["err"].startswith(f"error forwarding port {api.refused} to pod {UID}, uid : "
                                 "failed to execute portforward in network namespace")
