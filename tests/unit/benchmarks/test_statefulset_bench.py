"""The statefulset benchmark's pure parts: the manifests it sends pass the API server's
validation, and its done-checks read the status fields kubectl reads."""

from __future__ import annotations

from benchmarks.statefulset_bench import (
    deployment,
    deployment_done,
    statefulset,
    statefulset_done,
)
from kubesvc.api.defaults import apply_defaults
from kubesvc.api.validation import validate_create


def test_manifests_are_valid() -> None:
    for key, obj in (("deployments.apps", deployment("ns", 100)),
                     ("statefulsets.apps", statefulset("ns", 100))):
        apply_defaults(key, obj)
        assert validate_create(key, obj) == []
    assert statefulset("ns", 5)["spec"]["podManagementPolicy"] == "Parallel"


def test_done_checks() -> None:
    assert deployment_done({"status": {"availableReplicas": 3, "updatedReplicas": 3}}, 3)
    assert not deployment_done({"status": {"availableReplicas": 2, "updatedReplicas": 3}}, 3)
    ok = {"replicas": 3, "readyReplicas": 3, "currentRevision": "a", "updateRevision": "a"}
    assert statefulset_done({"status": ok}, 3)
    assert not statefulset_done({"status": {**ok, "updateRevision": "b"}}, 3)
    assert not statefulset_done({"status": {**ok, "readyReplicas": 2}}, 3)
