"""ResourceQuota arithmetic (kubesvc.api.quota), validation and table rows."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from kubesvc.api import quota as q
from kubesvc.api.tables import to_table
from kubesvc.api.validation import validate_create


def rq(hard: dict[str, str], name: str = "q", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": name, "namespace": "ns"}, "spec": {"hard": hard}, **extra}


def pod(phase: str = "Running", *, req: dict[str, str] | None = None,
        lim: dict[str, str] | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if req:
        res["requests"] = req
    if lim:
        res["limits"] = lim
    return {"metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "a", "resources": res}, {"name": "b", "resources": res}]},
        "status": {"phase": phase}}


@pytest.mark.parametrize(("text", "value"), [
    ("2", Fraction(2)), ("500m", Fraction(1, 2)), ("1Gi", Fraction(2**30)),
    ("1e3", Fraction(1000)), ("1.5", Fraction(3, 2))])
def test_parse_quantity(text: str, value: Fraction) -> None:
    assert q.parse_quantity(text) == value


def test_format_quantity() -> None:
    assert q.format_quantity(Fraction(3)) == "3"
    assert q.format_quantity(Fraction(3, 2)) == "1500m"
    assert q.format_quantity(Fraction(2**31), binary=True) == "2Gi"
    assert q.format_quantity(Fraction(1000), binary=True) == "1000"


def test_pods_count_and_terminal_pods_use_nothing() -> None:
    names = ["pods", "requests.cpu", "limits.memory", "count/pods"]
    assert q.usage("pods", pod(), names) == {
        "pods": 1, "count/pods": 1, "requests.cpu": 0, "limits.memory": 0}
    assert q.usage("pods", pod("Succeeded"), names) == {}
    assert q.usage("pods", pod("Failed"), names) == {}


def test_compute_sums_containers_and_limit_defaults_request() -> None:
    p = pod(lim={"cpu": "250m", "memory": "64Mi"})
    got = q.usage("pods", p, ["requests.cpu", "cpu", "limits.memory", "memory"])
    assert got == {"requests.cpu": Fraction(1, 2), "cpu": Fraction(1, 2),
                   "limits.memory": 128 * 2**20, "memory": 128 * 2**20}


def test_count_group_resource_and_service_types() -> None:
    assert q.count_resource("count/deployments.apps") == "deployments.apps"
    svc = {"spec": {"type": "NodePort"}}
    assert q.usage("services", svc, ["services", "services.nodeports",
                                     "services.loadbalancers"]) == {
        "services": 1, "services.nodeports": 1}


def test_exceeded_message_as_upstream() -> None:
    quota = rq({"pods": "2", "configmaps": "5"}, name="condition-test")
    assert q.exceeded(quota, {"pods": Fraction(1)}, {"pods": Fraction(1)}) is None
    assert q.exceeded(quota, {"pods": Fraction(1)}, {"pods": Fraction(2)}) == (
        "exceeded quota: condition-test, requested: pods=1, used: pods=2, limited: pods=2")
    mem = rq({"requests.memory": "1Gi"})
    assert q.exceeded(mem, {"requests.memory": Fraction(2**29)},
                      {"requests.memory": Fraction(3 * 2**28)}) == (
        "exceeded quota: q, requested: requests.memory=512Mi, used: requests.memory=768Mi, "
        "limited: requests.memory=1Gi")


def test_status_lists_every_hard_name() -> None:
    assert q.status_of(rq({"pods": "2", "secrets": "1"}), {"pods": Fraction(1)}) == {
        "hard": {"pods": "2", "secrets": "1"}, "used": {"pods": "1", "secrets": "0"}}


def test_validation() -> None:
    assert validate_create("resourcequotas", rq({"pods": "2", "count/foo.example.com": "3",
                                                 "requests.cpu": "500m"})) == []
    msgs = {c.field: c.message for c in validate_create("resourcequotas", rq(
        {"bogus": "1", "pods": "1500m", "secrets": "-1", "cpu": "x"}))}
    assert msgs["spec.hard[bogus]"] == (
        'Invalid value: "bogus": must be a standard resource for quota')
    assert msgs["spec.hard[pods]"] == 'Invalid value: "1500m": must be an integer'
    assert msgs["spec.hard[secrets]"] == (
        'Invalid value: "-1": must be greater than or equal to 0')
    assert "quantities must match" in msgs["spec.hard[cpu]"]
    bad_scope = rq({"pods": "1"})
    bad_scope["spec"]["scopes"] = ["Nope"]
    assert [c.field for c in validate_create("resourcequotas", bad_scope)] == ["spec.scopes[0]"]


def test_table_row() -> None:
    obj = rq({}, status={"hard": {"pods": "2", "limits.cpu": "2", "requests.cpu": "1"},
                         "used": {"pods": "1", "limits.cpu": "500m"}})
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    table = to_table("resourcequotas", obj)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age", "Request", "Limit"]
    cells = table["rows"][0]["cells"]
    assert cells[0] == "q"
    assert cells[2:] == ["pods: 1/2, requests.cpu: 0/1", "limits.cpu: 500m/2"]
