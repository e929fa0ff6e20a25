"""The walkthrough of docs/tutorial.md, run exactly as written.

The tutorial's ``<!-- file: NAME -->`` YAML blocks are written to a work directory and its
``<!-- step: NAME -->`` shell blocks are run in order in one bash session per step (sharing
the directory and KUBECONFIG); each step's output is then checked here. The cluster runs
with ``kubesvc up``'s defaults (API 6443, DNS 127.0.0.1:10053, Services in 127.96.0.0/16,
NodePort 30080), as the tutorial assumes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MISSING, Cluster, start_cluster

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
BLOCK = re.compile(r"<!-- (step|file): (\S+) -->\n```\w*\n(.*?)```", re.S)

pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=MISSING or "ok"),
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="the seed Service listens on port 80: binding it needs root"),
]


def blocks() -> list[tuple[str, str, str]]:
    return [(kind, name, body) for kind, name, body in BLOCK.findall(TUTORIAL.read_text())]


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, Path]]:
    for port in ("6443", "10053"):
        r = subprocess.run(["ss", "-Hltnu", f"sport = :{port}"], capture_output=True,
                           text=True)
        if r.stdout.strip():
            pytest.skip(f"port {port} is taken (is a `make up` running?)")
    work = tmp_path_factory.mktemp("walkthrough")
    cluster = start_cluster(work / ".kubesvc", api_port=6443, dns_port=10053,
                            service_cidr="127.96.0.0/16", lb_pool="127.100.0.0/24")
    try:
        yield cluster, work
    finally:
        cluster.stop()


def run_step(work: Path, name: str, body: str) -> str:
    script = "set -euo pipefail\n" + body
    r = subprocess.run(["bash", "-c", script], cwd=work, capture_output=True, text=True,
                       timeout=120,
                       env={**os.environ, "PWD": str(work),
                            # what the setup step exports, for the steps after it
                            "KUBECONFIG": str(work / ".kubesvc" / "kubeconfig")})
    assert r.returncode == 0, f"step {name} failed:\n{body}\n--- out ---\n{r.stdout}\n" \
                              f"--- err ---\n{r.stderr}"
    return r.stdout


def test_tutorial_runs_as_written(walk: tuple[Cluster, Path]) -> None:
    cluster, work = walk
    assert shutil.which("bash")
    out: dict[str, str] = {}
    for kind, name, body in blocks():
        if kind == "file":
            (work / name).write_text(body)
            continue
        out[name] = run_step(work, name, body)
        check = CHECKS.get(name)
        if check is not None:
            check(out[name], cluster)
    assert set(CHECKS) <= set(out), "the tutorial lost a step the test checks"


def _check_setup(o: str, c: Cluster) -> None:
    assert o.splitlines()[0] == "ok"
    assert re.search(r"^kubesvc-node\s+Ready\s", o, re.M), o


def _check_deploy(o: str, c: Cluster) -> None:
    assert 'deployment "my-app" successfully rolled out' in o
    pods = [line for line in o.splitlines() if line.startswith("my-app-")]
    assert len(pods) == 3, o
    assert all(re.search(r"\s1/1\s+Running\s", p) for p in pods), o


def _check_expose(o: str, c: Cluster) -> None:
    assert re.search(r"^my-app-service\s+ClusterIP\s+127\.96\.\d+\.\d+\s+<none>\s+80/TCP", o,
                     re.M), o
    row = [line for line in o.splitlines() if line.startswith("my-app-service ")][-1]
    eps = row.split()[1].split(",")
    assert len(eps) == 3 and all(e.startswith("127.1.") and e.endswith(":8080") for e in eps)


def _check_reach(o: str, c: Cluster) -> None:
    lines = o.split()
    hostnames = [x for x in lines if x.startswith("my-app-")]
    assert len(set(hostnames[:6])) >= 2, o  # spread over replicas
    assert any(re.fullmatch(r"127\.96\.\d+\.\d+", x) for x in lines), o


def _check_scale(o: str, c: Cluster) -> None:
    row = [line for line in o.splitlines() if line.startswith("my-app-service ")][-1]
    assert "+ 2 more..." in row or len(row.split()[1].split(",")) == 5, row


def _check_kill(o: str, c: Cluster) -> None:
    names = [line for line in o.splitlines() if line.startswith("my-app-")]
    assert len(names) == 5, o


def _check_nodeport(o: str, c: Cluster) -> None:
    assert re.search(r"my-app-service\s+NodePort\s+\S+\s+<none>\s+80:30080/TCP", o), o
    assert o.strip().splitlines()[-1].startswith("my-app-"), o


def _check_lb(o: str, c: Cluster) -> None:
    assert re.search(r"my-app-service\s+LoadBalancer\s+\S+\s+127\.100\.0\.\d+\s+80:30080/TCP",
                     o), o
    assert o.strip().splitlines()[-1].startswith("my-app-"), o


def _check_more(o: str, c: Cluster) -> None:
    assert re.search(r"my-database\.default\.svc\.cluster\.local\.\s+5\s+IN\s+CNAME\s+"
                     r"my\.external-database\.com\.", o), o
    a_records = re.findall(r"^127\.1\.\d+\.\d+$", o, re.M)
    assert len(a_records) == 5, o
    assert re.search(r"^0 100 443 my-app-multi\.default\.svc\.cluster\.local\.$", o, re.M), o


def _check_inspect(o: str, c: Cluster) -> None:
    assert re.search(r"^Name:\s+my-app-service$", o, re.M), o
    assert re.search(r"^Selector:\s+app=my-app$", o, re.M), o
    assert re.search(r"^Type:\s+LoadBalancer$", o, re.M), o
    assert re.search(r"^Endpoints:\s+127\.1\.", o, re.M), o
    tail = o.strip().splitlines()
    assert tail[-1].startswith("kubernetes ") and tail[-2].startswith("NAME"), tail[-3:]


CHECKS = {
    "setup": _check_setup,
    "deploy": _check_deploy,
    "expose": _check_expose,
    "reach": _check_reach,
    "scale": _check_scale,
    "kill": _check_kill,
    "nodeport": _check_nodeport,
    "loadbalancer": _check_lb,
    "more": _check_more,
    "inspect": _check_inspect,
}
