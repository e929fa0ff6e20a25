"""core/v1 ResourceQuota through the real kubectl: ``kubectl create quota``, the ``quota``
short name and its NAME/AGE/REQUEST/LIMIT table, describe, validation with the field path,
and quota admission turning away the pod past ``pods=1`` with upstream's 403 message."""

from __future__ import annotations

import json

from tests.integration.apiserver.harness import Kubectl

POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  containers:
  - name: c
    image: busybox
    resources: {{requests: {{cpu: 100m}}, limits: {{cpu: 200m}}}}
"""


def test_quota_create_get_describe_and_admission(kubectl: Kubectl) -> None:
    kubectl("create", "namespace", "quota-a")
    ns = ("-n", "quota-a")
    kubectl("create", "quota", "q", "--hard=pods=1,requests.cpu=1", *ns)
    got = json.loads(kubectl("get", "resourcequota", "q", "-o", "json", *ns).stdout)
    assert got["spec"]["hard"] == {"pods": "1", "requests.cpu": "1"}
    table = kubectl("get", "quota", *ns).stdout.split("\n")
    assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert table[1].split()[0] == "q"
    desc = kubectl("describe", "quota", "q", *ns).stdout
    # (no resource-quota controller in this harness, so status.hard/used - what describe
    # lists - stay empty; the controller is tested in tests/unit/controllers)
    assert "Name:       q" in desc and "Resource    Used  Hard" in desc
    kubectl("apply", "-f", "-", *ns, input=POD.format(name="p1"))
    second = kubectl("apply", "-f", "-", *ns, input=POD.format(name="p2"), check=False)
    assert second.returncode != 0
    assert ('pods "p2" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, '
            'limited: pods=1') in second.stderr, second.stderr
    # another namespace is not bound by it
    kubectl("apply", "-f", "-", "-n", "default", input=POD.format(name="p3"))
    bad = kubectl("create", "quota", "bad", "--hard=pods=-1", *ns, check=False)
    assert bad.returncode != 0 and "spec.hard[pods]" in bad.stderr, bad.stderr
    kubectl("delete", "quota", "q", *ns)
    kubectl("apply", "-f", "-", *ns, input=POD.format(name="p2"))
