"""The official clients' own end-to-end suites against one real ``kubesvc up``.

- Python: ``kubernetes/e2e_test`` of the official client (vendored in tests/e2e/pyclient,
  since no registry package ships it), run in a subprocess with ``KUBECONFIG`` pointing at
  the cluster; every test must pass except those in :data:`PY_SKIPS`, each with its reason.
- JavaScript: tests/js/integration.mjs, the equivalent of @kubernetes/client-node's
  integration tests (the npm package ships only ``dist/``), run with node.

One cluster for the module; the suites' results are parsed from JUnit XML / TAP so a
failure names the client test that failed.
"""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def suite_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if MISSING:
        pytest.skip(MISSING)
    c = start_cluster(tmp_path_factory.mktemp("fidelity-suites") / "data")
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
    args = [
        sys.executable, "-c", _RUNNER, str(PYCLIENT),
        "-q", "-p", "no:cacheprovider", "-c", str(ini), "--rootdir", str(PYCLIENT),
        "--confcutdir", str(PYCLIENT), f"--junitxml={report}", "-o", "junit_family=xunit1",
        "-p", "no:asyncio",
    ]
    for test_id in PY_SKIPS:
        args += ["--deselect", f"{PYCLIENT / 'e2e_test'}/{test_id}"]
    args.append(str(PYCLIENT / "e2e_test"))
    env = {**suite_cluster.env, "KUBESVC_CLIENT_SUITE": "1"}
    r = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path,
                       timeout=300)
    assert report.exists(), f"no report:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    results = _junit_results(report)
    failed = {k: v for k, v in results.items() if v[0] != "passed"}
    passed = len(results) - len(failed)
    print(f"python client e2e: {passed} passed, {len(failed)} failed, "
          f"{len(PY_SKIPS)} skipped (listed)")
    assert not failed, "\n\n".join(f"{k}: {v[0]}\n{v[1]}" for k, v in sorted(failed.items()))
    assert passed + len(PY_SKIPS) >= 45, sorted(results)
