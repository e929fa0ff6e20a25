"""Pure decisions of the Job controller (upstream pkg/controller/job: job_controller.go,
indexed_job_utils.go, pod_failure_policy.go, backoff_utils.go, v1.32): how many pods to
run, which completion indexes are still wanted, whether the Job has reached its backoff
limit or deadline, what a pod failure policy says about a failed pod, the conditions
upstream writes and their reasons/messages, and the Indexed pod template additions.

Called by :mod:`kubesvc.controllers.job`; no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kubesvc.api.objects import Obj, meta

INDEX_ANNOTATION = "batch.kubernetes.io/job-completion-index"
INDEX_LABEL = INDEX_ANNOTATION
INDEX_ENV = "JOB_COMPLETION_INDEX"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
#: Every pod the controller makes carries it until its end has been counted in the Job's
#: status (``uncountedTerminatedPods`` first, then the counters), so a finished pod
#: deleted by someone else is still counted.
TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"

BACKOFF_BASE = 10.0  # DefaultJobPodFailureBackOff
BACKOFF_MAX = 360.0  # MaxJobPodFailureBackOff

# Reasons and messages as upstream writes them.
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")
BACKOFF_LIMIT = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE = ("DeadlineExceeded", "Job was active longer than specified deadline")
MAX_FAILED_INDEXES = ("MaxFailedIndexesExceeded", "Job has exceeded the specified maximal "
                      "number of failed indexes")
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
SUSPENDED = ("JobSuspended", "Job suspended")
RESUMED = ("JobResumed", "Job resumed")


def spec_of(job: Obj) -> dict[str, Any]:
    spec = job.get("spec")
    return spec if isinstance(spec, dict) else {}


def is_indexed(job: Obj) -> bool:
    return spec_of(job).get("completionMode") == "Indexed"


def has_condition(job: Obj, typ: str) -> bool:
    return any(c.get("type") == typ and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or ())


def is_finished(job: Obj) -> bool:
    return has_condition(job, "Complete") or has_condition(job, "Failed")


def finish_time(job: Obj) -> str | None:
    for c in (job.get("status") or {}).get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c.get("lastTransitionTime") or "") or None
    return None


def pod_phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def pod_index(pod: Obj) -> int | None:
    """The completion index of an Indexed Job's pod (annotation first, as upstream)."""
    md = meta(pod)
    raw = (md.get("annotations") or {}).get(INDEX_ANNOTATION)
    if raw is None:
        raw = (md.get("labels") or {}).get(INDEX_LABEL)
    try:
        return int(str(raw)) if raw is not None else None
    except ValueError:
        return None


def format_indexes(indexes: Iterable[int]) -> str:
    """``0-2,4,6-7``: the compressed interval form of ``status.completedIndexes``."""
    out: list[str] = []
    xs = sorted(set(indexes))
    i = 0
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and xs[j + 1] == xs[j] + 1:
            j += 1
        out.append(str(xs[i]) if i == j else f"{xs[i]}-{xs[j]}")
        i = j + 1
    return ",".join(out)


def parse_indexes(text: str | None, completions: int) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        if not part:
            continue
        a, dash, b = part.partition("-")
        try:
            lo, hi = int(a), int(b) if dash else int(a)
        except ValueError:
            continue
        out.update(i for i in range(lo, hi + 1) if 0 <= i < completions)
    return out


def wanted_active(job: Obj, *, succeeded: int, active: int) -> int:
    """How many pods should run now (NonIndexed): parallelism, capped by the completions
    still missing; a work-queue Job (no completions) stops once one pod succeeded."""
    spec = spec_of(job)
    parallelism = int(spec.get("parallelism") or 0)
    completions = spec.get("completions")
    if completions is None:
        return 0 if succeeded > 0 else parallelism
    return max(0, min(parallelism, int(completions) - succeeded))


def missing_indexes(completions: int, *, succeeded: set[int], active: set[int],
                    failed: set[int] | None = None) -> list[int]:
    """Indexes with neither a succeeded nor an active pod, lowest first."""
    skip = succeeded | active | (failed or set())
    return [i for i in range(completions) if i not in skip]


def restart_count(pods: Iterable[Obj]) -> int:
    total = 0
    for p in pods:
        st = p.get("status") or {}
        for c in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
            total += int(c.get("restartCount") or 0)
    return total


def past_backoff_limit_on_failure(job: Obj, active_pods: Sequence[Obj]) -> bool:
    """Upstream ``pastBackoffLimitOnFailure``: for restartPolicy OnFailure, container
    restarts of active pods count as failures."""
    spec = spec_of(job)
    policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy")
    if policy != "OnFailure":
        return False
    limit = int(spec.get("backoffLimit") or 0)
    restarts = restart_count(active_pods)
    return restarts > 0 if limit == 0 else restarts >= limit


def backoff_delay(failures: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_MAX) -> float:
    """Delay before a replacement pod after ``failures`` consecutive failures."""
    if failures <= 0:
        return 0.0
    return float(min(cap, base * (2 ** (failures - 1))))


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    action: str  # FailJob, FailIndex, Ignore, Count
    message: str = ""


def _exit_codes_match(pod: Obj, req: Obj) -> tuple[str, int] | None:
    st = pod.get("status") or {}
    values = set(req.get("values") or ())
    op = req.get("operator")
    want = req.get("containerName")
    for cs in (st.get("initContainerStatuses") or []) + (st.get("containerStatuses") or []):
        term = (cs.get("state") or {}).get("terminated")
        if not term:
            continue
        code = int(term.get("exitCode") or 0)
        if want and cs.get("name") != want:
            continue
        if code != 0 and ((op == "In" and code in values)
                          or (op == "NotIn" and code not in values)):
            return str(cs.get("name")), code
    return None


def match_pod_failure_policy(job: Obj, pod: Obj) -> PolicyVerdict:
    """Upstream ``matchPodFailurePolicy`` for a failed pod: the first matching rule's
    action (Count when none matches)."""
    pfp = spec_of(job).get("podFailurePolicy")
    if not isinstance(pfp, dict):
        return PolicyVerdict("Count")
    md = meta(pod)
    who = f"{md.get('namespace', '')}/{md.get('name', '')}"
    for i, rule in enumerate(pfp.get("rules") or ()):
        action = str(rule.get("action") or "")
        codes = rule.get("onExitCodes")
        if isinstance(codes, dict):
            hit = _exit_codes_match(pod, codes)
            if hit is not None:
                return PolicyVerdict(action, f"Container {hit[0]} for pod {who} failed with exit "
                                     f"code {hit[1]} matching {action} rule at index {i}")
            continue
        for pattern in rule.get("onPodConditions") or ():
            for c in (pod.get("status") or {}).get("conditions") or ():
                if c.get("type") == pattern.get("type") and c.get("status") == (
                        pattern.get("status") or "True"):
                    return PolicyVerdict(action, f"Pod {who} has condition {c.get('type')} "
                                         f"matching {action} rule at index {i}")
    return PolicyVerdict("Count")


def failed_indexes(job: Obj, failed_pods: Sequence[tuple[Obj, str]]) -> set[int]:
    """Indexes that are failed for good (``backoffLimitPerIndex``): more failed pods than
    the per-index limit, or a pod failure policy ``FailIndex`` verdict; plus the ones
    already in ``status.failedIndexes``. ``failed_pods``: (pod, policy action) pairs of
    counted failures. Empty when the Job has no per-index limit."""
    spec = spec_of(job)
    limit = spec.get("backoffLimitPerIndex")
    if limit is None or not is_indexed(job):
        return set()
    completions = int(spec.get("completions") or 0)
    out = parse_indexes((job.get("status") or {}).get("failedIndexes"), completions)
    counts: dict[int, int] = {}
    for pod, action in failed_pods:
        i = pod_index(pod)
        if i is None or not 0 <= i < completions:
            continue
        counts[i] = counts.get(i, 0) + 1
        if action == "FailIndex" or counts[i] > int(limit):
            out.add(i)
    return out


def condition(typ: str, reason: str, message: str, now: str, status: str = "True") -> Obj:
    return {"type": typ, "status": status, "reason": reason, "message": message,
            "lastProbeTime": now, "lastTransitionTime": now}


def set_condition(conditions: list[Obj], new: Obj) -> list[Obj]:
    """Replace the condition of the same type (keeping its transition time when its status
    is unchanged), or append it."""
    out: list[Obj] = []
    found = False
    for c in conditions:
        if c.get("type") == new["type"]:
            found = True
            if c.get("status") == new["status"]:
                merged = {**new, "lastTransitionTime": c.get("lastTransitionTime")}
                out.append(merged)
            else:
                out.append(new)
        else:
            out.append(c)
    if not found:
        out.append(new)
    return out


def has_tracking_finalizer(pod: Obj) -> bool:
    return TRACKING_FINALIZER in (meta(pod).get("finalizers") or ())


def without_tracking_finalizer(pod: Obj) -> list[str]:
    return [f for f in meta(pod).get("finalizers") or () if f != TRACKING_FINALIZER]


def uncounted_of(status: Obj) -> tuple[set[str], set[str]]:
    """(succeeded, failed) pod UIDs of ``status.uncountedTerminatedPods``."""
    u = status.get("uncountedTerminatedPods") or {}
    return {str(x) for x in u.get("succeeded") or ()}, {str(x) for x in u.get("failed") or ()}


def uncounted_status(succeeded: set[str], failed: set[str]) -> Obj:
    """The merge-patch value of ``uncountedTerminatedPods`` (null drops an empty list)."""
    return {"succeeded": sorted(succeeded) or None, "failed": sorted(failed) or None}


def pod_template(job: Obj, index: int | None) -> tuple[Obj, str]:
    """The pod to create (without a name) and its generateName prefix. Indexed pods get the
    completion-index annotation and label, hostname ``<job>-<index>`` and the
    JOB_COMPLETION_INDEX variable from the annotation (downward API), as upstream."""
    md = meta(job)
    name = str(md.get("name") or "")
    tpl = copy.deepcopy(spec_of(job).get("template") or {})
    tmd = tpl.get("metadata") or {}
    pod_md: Obj = {
        "labels": dict(tmd.get("labels") or {}),
        "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "Job", "name": name,
            "uid": md.get("uid", ""), "controller": True, "blockOwnerDeletion": True,
        }],
    }
    if tmd.get("annotations"):
        pod_md["annotations"] = dict(tmd["annotations"])
    pod_md["finalizers"] = [*(f for f in tmd.get("finalizers") or ()
                              if f != TRACKING_FINALIZER), TRACKING_FINALIZER]
    spec = tpl.get("spec") or {}
    prefix = f"{name}-"
    if index is not None:
        pod_md.setdefault("annotations", {})[INDEX_ANNOTATION] = str(index)
        pod_md["labels"][INDEX_LABEL] = str(index)
        prefix = f"{name}-{index}-"
        if not spec.get("hostname"):
            spec["hostname"] = f"{name}-{index}"
        env_var = {"name": INDEX_ENV, "valueFrom": {"fieldRef": {
            "apiVersion": "v1", "fieldPath": f"metadata.annotations['{INDEX_ANNOTATION}']"}}}
        for key in ("initContainers", "containers"):
            for c in spec.get(key) or ():
                env = c.setdefault("env", [])
                if not any(e.get("name") == INDEX_ENV for e in env):
                    env.insert(0, dict(env_var))
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": pod_md, "spec": spec}
    return pod, prefix
