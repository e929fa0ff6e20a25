"""A kopf operator with peering against an in-process API server: kopf's own peering
CRDs (KopfPeering, ClusterKopfPeering, as its docs give them) are applied, a small
operator (``kopf run --peering``) handles CronTab creation and stores its handler's result
in the object's status, and announces itself in the KopfPeering's status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.integration.apiserver.harness import Kubectl

pytest.importorskip("kopf")

PEERING_CRDS = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterkopfpeerings.kopf.dev
spec:
  scope: Cluster
  group: kopf.dev
  names:
    kind: ClusterKopfPeering
    plural: clusterkopfpeerings
    singular: clusterkopfpeering
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: kopfpeerings.kopf.dev
spec:
  scope: Namespaced
  group: kopf.dev
  names:
    kind: KopfPeering
    plural: kopfpeerings
    singular: kopfpeering
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
---
apiVersion: kopf.dev/v1
kind: KopfPeering
metadata:
  namespace: default
  name: crd-test
"""

CRONTAB_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: crontabs, singular: crontab, kind: CronTab}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              image: {type: string}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
"""

OPERATOR = textwrap.dedent("""\
    import kopf

    @kopf.on.create("stable.example.com", "v1", "crontabs")
    def created(spec, **_):
        return {"image": spec.get("image"), "seen": True}
    """)


def _wait(pred: object, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return True
        time.sleep(0.2)
    return False


def test_kopf_operator_with_peering(kubectl: Kubectl, kubeconfig: Path,
                                    tmp_path: Path) -> None:
    kubectl("apply", "-f", "-", input=PEERING_CRDS.split("---\napiVersion: kopf.dev/v1")[0])
    kubectl("apply", "-f", "-", input=CRONTAB_CRD)
    kubectl("wait", "--for=condition=Established", "crd/kopfpeerings.kopf.dev",
            "crd/clusterkopfpeerings.kopf.dev", "crd/crontabs.stable.example.com",
            "--timeout=10s")
    kubectl("apply", "-f", "-", input="apiVersion: kopf.dev/v1" +
            PEERING_CRDS.split("---\napiVersion: kopf.dev/v1")[1])
    op = tmp_path / "crontab_operator.py"  # (not operator.py: the stdlib module)
    op.write_text(OPERATOR)
    log = (tmp_path / "kopf.log").open("w")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--verbose",
         "--namespace=default", "--peering=crd-test", str(op)],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        def peered() -> bool:
            r = kubectl("get", "kopfpeering", "crd-test", "-o", "json", check=False)
            return r.returncode == 0 and bool(json.loads(r.stdout).get("status"))

        assert _wait(peered), (tmp_path / "kopf.log").read_text()[-3000:]
        kubectl("apply", "-f", "-", input="apiVersion: stable.example.com/v1\nkind: CronTab\n"
                "metadata: {name: from-kopf}\nspec: {image: busybox}\n")

        def handled() -> bool:
            r = kubectl("get", "crontab", "from-kopf", "-o", "json", check=False)
            return r.returncode == 0 and (json.loads(r.stdout).get("status") or {}).get(
                "created") == {"image": "busybox", "seen": True}

        assert _wait(handled), (tmp_path / "kopf.log").read_text()[-3000:]
        peers = json.loads(kubectl("get", "kopfpeering", "crd-test", "-o",
                                   "json").stdout)["status"]
        # kopf's peering record: {"<identity>": {"priority":..., "lastseen":..., ...}}
        assert any(isinstance(v, dict) and "lastseen" in v for v in peers.values()), peers
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    kubectl("delete", "crd", "crontabs.stable.example.com", "kopfpeerings.kopf.dev",
            "clusterkopfpeerings.kopf.dev")
