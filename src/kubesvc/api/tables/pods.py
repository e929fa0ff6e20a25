"""The Pod Table printer: READY, STATUS and RESTARTS computed as upstream's printPod.

Role: the Pod row of ``kubectl get pods`` — the aggregate status string (Running, Pending,
ContainerCreating, CrashLoopBackOff, Init:1/2, Completed, Terminating, ...), ready counts
including restartable init (sidecar) containers, and ``3 (5m ago)`` restarts.
Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`, :mod:`.descriptions`.
Reference: pkg/printers/internalversion/printers.go printPod (v1.32).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.tables import descriptions as d
from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, get, human_duration, name
from kubesvc.api.timefmt import parse_time_epoch

NODE_UNREACHABLE_POD_REASON = "NodeLost"  # k8s.io/kubernetes/pkg/util/node

COLUMNS = (
    NAME,
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        description="The number of times the containers in this pod have been "
        "restarted and when the last container in this pod has restarted.",
    ),
    AGE,
    Column("IP", priority=1, description=d.POD_IP),
    Column("Node", priority=1, description=d.NODE_NAME),
    Column("Nominated Node", priority=1, description=d.NOMINATED_NODE_NAME),
    Column("Readiness Gates", priority=1, description=d.READINESS_GATES),
)


def _restartable(container: Mapping[str, Any] | None) -> bool:
    # podutil.IsRestartableInitContainer: an init container with restartPolicy Always.
    return container is not None and container.get("restartPolicy") == "Always"


def _finished_at(status: Mapping[str, Any]) -> float | None:
    return parse_time_epoch(get(status, "lastState", "terminated", "finishedAt"))


def _later(a: float | None, b: float | None) -> float | None:
    if b is None:
        return a
    return b if a is None or a < b else a


def _initialized(status: Mapping[str, Any]) -> bool:
    # isPodInitializedConditionTrue: the first Initialized condition decides.
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Initialized":
            return bool(cond.get("status") == "True")
    return False


def _has_ready_condition(status: Mapping[str, Any]) -> bool:
    # hasPodReadyCondition: any Ready condition that is True.
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in status.get("conditions") or [])


def pod_status(pod: Obj) -> tuple[int, int, str, int, float | None]:
    """(ready, total, reason, restarts, last restart time) exactly as printPod derives them."""
    spec: Mapping[str, Any] = pod.get("spec") or {}
    status: Mapping[str, Any] = pod.get("status") or {}
    restarts = 0
    sidecar_restarts = 0
    total = len(spec.get("containers") or [])
    ready = 0
    last_restart: float | None = None
    last_sidecar_restart: float | None = None

    phase = str(status.get("phase") or "")
    reason = str(status.get("reason") or "") or phase
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"

    init_specs = spec.get("initContainers") or []
    init_by_name = {c.get("name"): c for c in init_specs}
    total += sum(1 for c in init_specs if _restartable(c))

    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        last_restart = _later(last_restart, _finished_at(cs))
        sidecar = _restartable(init_by_name.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            last_sidecar_restart = _later(last_sidecar_restart, _finished_at(cs))
        state: Mapping[str, Any] = cs.get("state") or {}
        terminated = state.get("terminated")
        waiting = state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if sidecar and cs.get("started"):
            if cs.get("ready"):
                ready += 1
            continue
        if terminated is not None:
            if not terminated.get("reason"):
                if terminated.get("signal"):
                    reason = f"Init:Signal:{int(terminated['signal'])}"
                else:
                    reason = f"Init:ExitCode:{int(terminated.get('exitCode') or 0)}"
            else:
                reason = "Init:" + str(terminated["reason"])
        elif (
            waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing"
        ):
            reason = "Init:" + str(waiting["reason"])
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _initialized(status):
        restarts = sidecar_restarts
        last_restart = last_sidecar_restart
        has_running = False
        # Walked backwards, so the first container's state is the one that sticks.
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last_restart = _later(last_restart, _finished_at(cs))
            state = cs.get("state") or {}
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = str(waiting["reason"])
            elif terminated is not None and terminated.get("reason"):
                reason = str(terminated["reason"])
            elif terminated is not None:
                if terminated.get("signal"):
                    reason = f"Signal:{int(terminated['signal'])}"
                else:
                    reason = f"ExitCode:{int(terminated.get('exitCode') or 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_ready_condition(status) else "NotReady"

    deleting = (pod.get("metadata") or {}).get("deletionTimestamp")
    if deleting and status.get("reason") == NODE_UNREACHABLE_POD_REASON:
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return ready, total, reason, restarts, last_restart


def _pod_ip(status: Mapping[str, Any]) -> str:
    ips = status.get("podIPs") or []
    if ips:
        return str(ips[0].get("ip") or "")
    return str(status.get("podIP") or "")


def cells(pod: Obj, now: float, wide: bool = True) -> list[Any]:
    ready, total, reason, restarts, last_restart = pod_status(pod)
    restarts_str = str(restarts)
    if restarts and last_restart is not None:
        restarts_str = f"{restarts} ({human_duration(now - last_restart)} ago)"
    spec: Mapping[str, Any] = pod.get("spec") or {}
    status: Mapping[str, Any] = pod.get("status") or {}
    gates = spec.get("readinessGates") or []
    readiness = "<none>"
    if gates:
        true_count = 0
        for gate in gates:
            for cond in status.get("conditions") or []:
                if cond.get("type") == gate.get("conditionType"):
                    if cond.get("status") == "True":
                        true_count += 1
                    break
        readiness = f"{true_count}/{len(gates)}"
    return [
        name(pod),
        f"{ready}/{total}",
        reason,
        restarts_str,
        age(pod, now),
        _pod_ip(status) or "<none>",
        str(spec.get("nodeName") or "") or "<none>",
        str(status.get("nominatedNodeName") or "") or "<none>",
        readiness,
    ]


def conditions(pod: Obj) -> list[dict[str, str]] | None:
    phase = get(pod, "status", "phase")
    if phase == "Succeeded":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    if phase == "Failed":
        return [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Failed",
                "message": "The pod failed.",
            }
        ]
    return None


PRINTER = Printer(COLUMNS, cells, conditions)

__all__ = ["PRINTER", "pod_status"]
