"""The Pod Table row: READY, STATUS and RESTARTS derived exactly as upstream printPod."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc.api.tables import column_definitions, to_table
from kubesvc.api.timefmt import parse_time_epoch

T0 = "2024-09-17T11:00:00Z"
NOW = parse_time_epoch("2024-09-17T12:00:00Z")
assert NOW is not None


def pod(*, containers: int = 1, statuses: list[dict[str, Any]] | None = None,
        phase: str = "Running", **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "default", "creationTimestamp": T0},
        "spec": {"containers": [{"name": f"c{i}", "image": "img"} for i in range(containers)],
                 "nodeName": "node-a"},
        "status": {"phase": phase, "podIP": "10.244.0.5", "podIPs": [{"ip": "10.244.0.5"}],
                   "containerStatuses": statuses or []},
    }
    for k, v in extra.items():
        p[k].update(v) if isinstance(v, dict) else p.__setitem__(k, v)
    return p


def running(ready: bool = True, restarts: int = 0, finished: str | None = None,
            ) -> dict[str, Any]:
    s: dict[str, Any] = {"name": "c0", "ready": ready, "restartCount": restarts,
                         "state": {"running": {"startedAt": T0}}}
    if finished:
        s["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return s


def row(p: dict[str, Any]) -> list[Any]:
    cells: list[Any] = to_table("pods", p, now=NOW)["rows"][0]["cells"]
    return cells


def test_columns() -> None:
    cols = column_definitions("pods")
    assert [c["name"] for c in cols] == ["Name", "Ready", "Status", "Restarts", "Age", "IP",
                                         "Node", "Nominated Node", "Readiness Gates"]
    assert [c["priority"] for c in cols] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert cols[3]["type"] == "string"


def test_running_pod() -> None:
    assert row(pod(statuses=[running()])) == [
        "web-1", "1/1", "Running", "0", "60m", "10.244.0.5", "node-a", "<none>", "<none>"]


def test_restarts_with_last_restart_age() -> None:
    p = pod(statuses=[running(restarts=3, finished="2024-09-17T11:55:00Z")])
    assert row(p)[3] == "3 (5m ago)"
    assert row(pod(statuses=[running(restarts=2)]))[3] == "2"


@pytest.mark.parametrize(
    ("state", "want"),
    [
        ({"waiting": {"reason": "ContainerCreating"}}, "ContainerCreating"),
        ({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}}, "CrashLoopBackOff"),
        ({"waiting": {"reason": "ImagePullBackOff"}}, "ImagePullBackOff"),
        ({"terminated": {"exitCode": 0, "reason": "Completed"}}, "Completed"),
        ({"terminated": {"exitCode": 137, "reason": "OOMKilled"}}, "OOMKilled"),
        ({"terminated": {"exitCode": 2}}, "ExitCode:2"),
        ({"terminated": {"exitCode": 0, "signal": 9}}, "Signal:9"),
    ],
)
def test_container_states(state: dict[str, Any], want: str) -> None:
    p = pod(statuses=[{"name": "c0", "ready": False, "restartCount": 0, "state": state}],
            phase="Pending")
    assert row(p)[1:3] == ["0/1", want]


def test_pending_pod_without_statuses_and_pod_reason() -> None:
    p = pod(phase="Pending")
    p["status"] = {"phase": "Pending"}
    p["spec"].pop("nodeName")
    assert row(p)[1:3] == ["0/1", "Pending"]
    assert row(p)[5:7] == ["<none>", "<none>"]
    evicted = pod(phase="Failed")
    evicted["status"]["reason"] = "Evicted"
    assert row(evicted)[2] == "Evicted"


def test_scheduling_gated() -> None:
    p = pod(phase="Pending")
    p["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                  "reason": "SchedulingGated"}]
    assert row(p)[2] == "SchedulingGated"


def test_first_container_wins_and_completed_with_running_sidecar() -> None:
    # Statuses are walked backwards, so the first container's state is reported.
    p = pod(containers=2, statuses=[
        {"name": "c0", "ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
        {"name": "c1", "ready": True, "state": {"running": {}}}])
    assert row(p)[1:3] == ["1/2", "CrashLoopBackOff"]
    done = pod(containers=2, statuses=[
        {"name": "c0", "ready": False, "state": {"terminated": {"exitCode": 0,
                                                                "reason": "Completed"}}},
        {"name": "c1", "ready": True, "state": {"running": {}}}])
    assert row(done)[2] == "NotReady"
    done["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    assert row(done)[2] == "Running"


def test_init_containers() -> None:
    p = pod(phase="Pending")
    p["spec"]["initContainers"] = [{"name": "i0"}, {"name": "i1"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "i0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
        {"name": "i1", "state": {"running": {}}}]
    p["status"]["containerStatuses"] = [
        {"name": "c0", "ready": False, "state": {"waiting": {"reason": "PodInitializing"}}}]
    assert row(p)[1:3] == ["0/1", "Init:1/2"]
    p["status"]["initContainerStatuses"][1]["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert row(p)[2] == "Init:CrashLoopBackOff"
    p["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 3}}
    assert row(p)[2] == "Init:ExitCode:3"
    p["status"]["initContainerStatuses"][1]["state"] = {"terminated": {"exitCode": 1,
                                                                       "reason": "Error"}}
    p["status"]["initContainerStatuses"][1]["restartCount"] = 4
    assert row(p)[2:4] == ["Init:Error", "4"]


def test_sidecar_counts_toward_ready_and_restarts() -> None:
    p = pod(statuses=[running(restarts=1)])
    p["spec"]["initContainers"] = [{"name": "proxy", "restartPolicy": "Always"}]
    p["status"]["initContainerStatuses"] = [
        {"name": "proxy", "ready": True, "started": True, "restartCount": 2,
         "state": {"running": {}}}]
    p["status"]["conditions"] = [{"type": "Initialized", "status": "True"}]
    assert row(p)[1:4] == ["2/2", "Running", "3"]


def test_terminating_and_node_lost() -> None:
    p = pod(statuses=[running()])
    p["metadata"]["deletionTimestamp"] = "2024-09-17T11:59:00Z"
    assert row(p)[2] == "Terminating"
    p["status"]["reason"] = "NodeLost"
    assert row(p)[2] == "Unknown"
    done = pod(phase="Succeeded", statuses=[
        {"name": "c0", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}])
    done["metadata"]["deletionTimestamp"] = "2024-09-17T11:59:00Z"
    assert row(done)[2] == "Completed"


def test_row_conditions_for_finished_pods() -> None:
    ok = to_table("pods", pod(phase="Succeeded"), now=NOW)["rows"][0]
    assert ok["conditions"] == [{"type": "Completed", "status": "True", "reason": "Succeeded",
                                 "message": "The pod has completed successfully."}]
    assert list(ok) == ["cells", "conditions", "object"]
    failed = to_table("pods", pod(phase="Failed"), now=NOW)["rows"][0]
    assert failed["conditions"][0]["reason"] == "Failed"
    assert "conditions" not in to_table("pods", pod(), now=NOW)["rows"][0]


def test_wide_columns() -> None:
    p = pod(statuses=[running()])
    p["status"]["nominatedNodeName"] = "node-b"
    p["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"},
                                   {"conditionType": "example.com/other"}]
    p["status"]["conditions"] = [{"type": "example.com/lb", "status": "True"}]
    assert row(p)[5:] == ["10.244.0.5", "node-a", "node-b", "1/2"]
    narrow = to_table("pods", p, now=NOW, wide=False)
    assert len(narrow["columnDefinitions"]) == 5
    assert narrow["rows"][0]["cells"] == ["web-1", "1/1", "Running", "0", "60m"]
