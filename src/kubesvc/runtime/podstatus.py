"""Pod status as the kubelet computes it (pure): container statuses from the agent's
per-container records, the phase (upstream ``getPhase``), and the conditions
PodReadyToStartContainers, Initialized, ContainersReady, Ready, PodScheduled with upstream
reasons and messages, keeping ``lastTransitionTime`` when a condition's status is unchanged.

Called by the agent for every pod sync; the result is written through the ``pods/status``
subresource only when it differs from what the API server already holds.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import rfc3339_epoch
from kubesvc.runtime.images import image_id
from kubesvc.runtime.types import ContainerInfo

SCHEME = "kubesvc://"


@dataclass(slots=True)
class ContainerRecord:
    """The agent's view of one container of a pod (spanning its attempts)."""

    name: str
    image: str
    init: bool = False
    ephemeral: bool = False  # a kubectl debug container: started once, never restarted
    restart_count: int = 0
    current: ContainerInfo | None = None  # the running or last finished attempt
    last: ContainerInfo | None = None  # the attempt before it (lastState)
    waiting: tuple[str, str] | None = ("ContainerCreating", "")  # reason, message
    ready: bool = False
    started: bool = False
    resolved: bool = False  # image resolved to a runner (imageID known)
    backoff_until: float = 0.0

    @property
    def running(self) -> bool:
        return self.current is not None and self.current.running


def _terminated(info: ContainerInfo) -> Obj:
    code = info.exit_code if info.exit_code is not None else 0
    reason = info.reason or ("Completed" if code == 0 else "Error")
    out: Obj = {"exitCode": code, "reason": reason, "startedAt": rfc3339_epoch(info.started_at),
                "finishedAt": rfc3339_epoch(info.finished_at), "containerID": SCHEME + info.id}
    if info.signal:
        out["signal"] = info.signal
    if info.message:
        out["message"] = info.message
    return out


def container_status(rec: ContainerRecord) -> Obj:
    state: Obj
    last: Obj = {}
    cur = rec.current
    if cur is not None and cur.running:
        state = {"running": {"startedAt": rfc3339_epoch(cur.started_at)}}
        if rec.last is not None:
            last = {"terminated": _terminated(rec.last)}
    elif rec.waiting is not None:
        w: Obj = {"reason": rec.waiting[0]}
        if rec.waiting[1]:
            w["message"] = rec.waiting[1]
        state = {"waiting": w}
        prev = cur or rec.last
        if prev is not None:
            last = {"terminated": _terminated(prev)}
    elif cur is not None:
        state = {"terminated": _terminated(cur)}
        if rec.last is not None:
            last = {"terminated": _terminated(rec.last)}
    else:
        state = {"waiting": {"reason": "ContainerCreating"}}
    out: Obj = {
        "name": rec.name,
        "state": state,
        "lastState": last,
        "ready": bool(rec.ready and cur is not None and cur.running),
        "restartCount": rec.restart_count,
        "image": rec.image,
        "imageID": image_id(rec.image) if rec.resolved else "",
        "started": bool(rec.started and cur is not None and cur.running),
    }
    if cur is not None:
        out["containerID"] = SCHEME + cur.id
    if rec.init or rec.ephemeral:
        out.pop("started")  # as the kubelet's: only app containers report started
    return out


def _state_kind(st: Obj) -> str:
    return str(next(iter(st["state"])))


def phase(pod: Obj, inits: list[Obj], mains: list[Obj], *, terminal: bool = False) -> str:
    """Upstream kubelet ``getPhase`` over computed container statuses."""
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    pending_init = failed_init = 0
    for st in inits:
        kind = _state_kind(st)
        if kind == "running":
            pending_init += 1
        elif kind == "terminated":
            if st["state"]["terminated"]["exitCode"] != 0:
                failed_init += 1
        else:
            lt = (st.get("lastState") or {}).get("terminated")
            if lt is not None and lt["exitCode"] != 0:
                failed_init += 1
            elif lt is None:
                pending_init += 1
    running = waiting = stopped = succeeded = 0
    for st in mains:
        kind = _state_kind(st)
        if kind == "running":
            running += 1
        elif kind == "terminated":
            stopped += 1
            if st["state"]["terminated"]["exitCode"] == 0:
                succeeded += 1
        elif (st.get("lastState") or {}).get("terminated") is not None:
            stopped += 1
        else:
            waiting += 1
    if failed_init > 0 and policy == "Never":
        return "Failed"
    if pending_init > 0 or waiting > 0:
        if terminal:
            return "Failed"
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if terminal:
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _cond(typ: str, ok: bool, old: dict[str, Obj], now: str, reason: str = "",
          message: str = "") -> Obj:
    status = "True" if ok else "False"
    prev = old.get(typ)
    ltt = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
    c: Obj = {"type": typ, "status": status, "lastProbeTime": None,
              "lastTransitionTime": ltt or now}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def conditions(pod: Obj, inits: list[Obj], mains: list[Obj], pod_phase: str, *,
               sandbox_ready: bool, now: str) -> list[Obj]:
    old = {c.get("type"): c for c in (pod.get("status") or {}).get("conditions") or []}
    done = pod_phase == "Succeeded"
    not_init = [s["name"] for s in inits
                if _state_kind(s) != "terminated" or s["state"]["terminated"]["exitCode"] != 0]
    if pod_phase in ("Running", "Succeeded", "Failed") and not inits:
        not_init = []
    unready = [s["name"] for s in mains if not s["ready"]]
    out = [_cond("PodReadyToStartContainers", sandbox_ready, old, now)]
    if done:
        out.append(_cond("Initialized", True, old, now, "PodCompleted"))
    elif not_init:
        out.append(_cond("Initialized", False, old, now, "ContainersNotInitialized",
                         f"containers with incomplete status: [{' '.join(not_init)}]"))
    else:
        out.append(_cond("Initialized", True, old, now))
    gates = [g.get("conditionType") for g in (pod.get("spec") or {}).get("readinessGates") or []]
    missing_gates = [g for g in gates if (old.get(g) or {}).get("status") != "True"]
    if done:
        out.append(_cond("ContainersReady", False, old, now, "PodCompleted"))
        out.append(_cond("Ready", False, old, now, "PodCompleted"))
    elif not_init:
        msg = f"containers with incomplete status: [{' '.join(not_init)}]"
        out.append(_cond("ContainersReady", False, old, now, "ContainersNotInitialized", msg))
        out.append(_cond("Ready", False, old, now, "ContainersNotInitialized", msg))
    elif unready:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        out.append(_cond("ContainersReady", False, old, now, "ContainersNotReady", msg))
        out.append(_cond("Ready", False, old, now, "ContainersNotReady", msg))
    else:
        out.append(_cond("ContainersReady", True, old, now))
        if missing_gates:
            out.append(_cond("Ready", False, old, now, "ReadinessGatesNotReady",
                             f"corresponding condition of pod readiness gate \"{missing_gates[0]}\""
                             " does not exist."))
        else:
            out.append(_cond("Ready", True, old, now))
    sched = old.get("PodScheduled")
    out.append(sched if sched else _cond("PodScheduled", True, old, now))
    # Conditions owned by others (readiness gates, DisruptionTarget, ...) are kept.
    mine = {c["type"] for c in out}
    out += [c for t, c in old.items() if t not in mine]
    return out


def pod_status(pod: Obj, records: list[ContainerRecord], *, pod_ip: str, host_ip: str,
               start_time: str, sandbox_ready: bool, terminal: bool = False,
               now: str | None = None) -> Obj:
    """The full ``status`` for a pod (merge-patched over the stored one)."""
    now = now or rfc3339_epoch()
    inits = [container_status(r) for r in records if r.init]
    mains = [container_status(r) for r in records if not r.init and not r.ephemeral]
    ephemerals = [container_status(r) for r in records if r.ephemeral]
    ph = phase(pod, inits, mains, terminal=terminal)
    old_phase = (pod.get("status") or {}).get("phase")
    if old_phase in ("Succeeded", "Failed"):
        ph = old_phase  # terminal phases never change
    status: Obj = {
        "phase": ph,
        "conditions": conditions(pod, inits, mains, ph, sandbox_ready=sandbox_ready, now=now),
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}] if host_ip else [],
        "startTime": start_time,
        "containerStatuses": mains,
    }
    if pod_ip:
        status["podIP"] = pod_ip
        status["podIPs"] = [{"ip": pod_ip}]
    if inits:
        status["initContainerStatuses"] = inits
    if ephemerals:
        status["ephemeralContainerStatuses"] = ephemerals
    return status


def status_digest(status: Obj) -> bytes:
    """A 16-byte digest of a status as :func:`pod_status` builds it (equal statuses, equal
    digests)."""
    return hashlib.blake2b(orjson.dumps(status, option=orjson.OPT_SORT_KEYS),
                           digest_size=16).digest()


def same_status(old: Obj, new: Obj) -> bool:
    """True when writing ``new`` would change nothing that matters."""
    return all(old.get(k) == v for k, v in new.items())
