"""The service map UI (/ui/) in headless Chromium driven by Playwright, against a real
``kubesvc up``: it signs in with the kubeconfig's token, shows a new Service within a second
of ``kubectl create``, shows a deleted pod going away, and its traffic counters rise while
curl sends requests through the Service. ``KUBESVC_UI_SCREENSHOTS=DIR`` saves screenshots
(docs/ui-service-map.png is made so)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.conftest import Cluster

CHROMIUM = "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api", reason="needs playwright (pip)")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium (scripts/system-deps.sh)")
# Chromium as this machine allows it: no sandbox as root, and none of its background
# connections (refused here, and slow to fail).
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: map-app}
spec:
  replicas: 2
  selector: {matchLabels: {app: map-app}}
  template:
    metadata: {labels: {app: map-app}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {name: map-web}
spec:
  selector: {app: map-app}
  ports: [{name: http, port: 8080, targetPort: 8080}]
"""


def _token(c: Cluster) -> str:
    cfg: dict[str, Any] = yaml.safe_load(c.kubeconfig.read_text())
    return str(cfg["users"][0]["user"]["token"])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(cluster: Cluster, browser: Any) -> Any:
    cluster.kubectl("apply", "-f", "-", input=APP)
    cluster.kubectl("rollout", "status", "deployment/map-app", "--timeout=60s")
    ctx = browser.new_context(ignore_https_errors=True, viewport={"width": 1500,
                                                                    "height": 1000})
    pg = ctx.new_page()
    pg.goto(f"https://127.0.0.1:{cluster.api_port}/ui/#token={_token(cluster)}")
    pg.wait_for_selector('[data-testid="live"]:has-text("live")', timeout=15_000)
    return pg


def _shot(page: Any, name: str) -> None:
    out = os.environ.get("KUBESVC_UI_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / name), full_page=True)


def test_shows_services_pods_and_nodes(page: Any, cluster: Cluster) -> None:
    row = page.locator('[data-testid="svc-default-map-web"]')
    row.wait_for(timeout=5_000)
    assert "ClusterIP" in row.inner_text()
    assert "map-web.default.svc.cluster.local" in row.inner_text()
    page.wait_for_selector('[data-testid="svc-default-map-web"] >> text=2/2', timeout=10_000)
    assert page.locator('[data-testid^="map-pod-default-map-app-"]').count() == 2
    assert page.locator('[data-testid="node-kubesvc-node"]').count() == 1


def test_a_new_service_appears_within_a_second(page: Any, cluster: Cluster) -> None:
    cluster.kubectl("create", "service", "clusterip", "map-new", "--tcp=80:8080")
    created = time.monotonic()
    page.wait_for_selector('[data-testid="svc-default-map-new"]', timeout=1_000)
    assert time.monotonic() - created < 1.0


def test_traffic_counters_rise_with_curl(page: Any, cluster: Cluster) -> None:
    if shutil.which("curl") is None:
        pytest.skip("needs curl")
    ip = cluster.kubectl("get", "svc", "map-web", "-o", "jsonpath={.spec.clusterIP}").stdout
    cell = page.locator('[data-testid="conns-default-map-web"]')
    before = int(cell.inner_text())
    for _ in range(10):
        subprocess.run(["curl", "-sf", "--max-time", "3", f"http://{ip}:8080/hostname"],
                       check=True, capture_output=True)
    page.wait_for_function(
        "n => Number(document.querySelector('[data-testid=\"conns-default-map-web\"]')"
        ".textContent) >= n", arg=before + 10, timeout=5_000)
    for _ in range(3):
        cluster.dig("+short", "map-web.default.svc.cluster.local")
    page.wait_for_selector('[data-testid="dns-map-web.default.svc.cluster.local-A"]',
                           timeout=5_000)
    _shot(page, "ui-service-map.png")


def test_a_deleted_pod_goes_away(page: Any, cluster: Cluster) -> None:
    pods = cluster.kubectl("get", "pods", "-l", "app=map-app", "-o",
                           "jsonpath={.items[*].metadata.name}").stdout.split()
    victim = pods[0]
    cluster.kubectl("delete", "pod", victim, "--wait=false")
    sel = f'[data-testid="pod-default-{victim}"]'
    # terminating first (or straight away gone), then gone; its replacement shows
    page.wait_for_function(
        "sel => { const r = document.querySelector(sel);"
        " return !r || r.dataset.state === 'terminating'; }", arg=sel, timeout=5_000)
    page.wait_for_selector(sel, state="detached", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid^=\"pod-default-map-app-\"]').length"
        " === 2", timeout=30_000)


def test_a_refused_token_gets_the_sign_in_form(cluster: Cluster, browser: Any) -> None:
    pg = browser.new_context(ignore_https_errors=True).new_page()
    pg.goto(f"https://127.0.0.1:{cluster.api_port}/ui/#token=not-a-token")
    pg.wait_for_selector("form.login >> text=401", timeout=10_000)
    # the static page itself needs no token; the data does
    assert pg.locator('[data-testid="live"]').count() == 0
