"""Table printers for the issue-21 kinds: Jobs (NAME STATUS COMPLETIONS DURATION AGE),
CronJobs (SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE), DaemonSets (DESIRED CURRENT READY
UP-TO-DATE AVAILABLE NODE SELECTOR), ReplicationControllers (DESIRED CURRENT READY) and
PodDisruptionBudgets (MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS), with the wide
CONTAINERS, IMAGES and SELECTOR columns where upstream has them.

Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`,
:mod:`kubesvc.api.selectors`. Reference: pkg/printers/internalversion/printers.go printJob,
printCronJob, printDaemonSet, printReplicationController, printPodDisruptionBudget (v1.32).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.selectors import format_labels, from_label_selector_dict
from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import (
    Obj,
    age,
    as_int,
    get,
    human_duration,
    layout_containers,
    name,
    since,
)
from kubesvc.api.timefmt import parse_time_epoch
from kubesvc.errors import BadRequest

_CONTAINERS = Column(
    "Containers", priority=1, description="Names of each container in the template."
)
_IMAGES = Column(
    "Images", priority=1, description="Images referenced by each container in the template."
)


def _selector(sel: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: ``<none>`` when empty, ``<error>`` when invalid."""
    if sel is None:
        return "<none>"
    try:
        out = str(from_label_selector_dict(sel))
    except BadRequest:
        return "<error>"
    return out or "<none>"


def _has_condition(obj: Obj, typ: str) -> bool:
    return any(c.get("type") == typ and c.get("status") == "True"
               for c in get(obj, "status", "conditions") or ())


JOB_COLUMNS = (
    NAME,
    Column("Status", description="Status of the job."),
    Column("Completions", description="The desired number of successfully finished pods the "
           "job should be run with."),
    Column("Duration", description="Time required to complete the job."),
    AGE,
    _CONTAINERS,
    _IMAGES,
    Column("Selector", priority=1, description="A label query over pods that should match the "
           "pod count."),
)


def job_status(job: Obj) -> str:
    if _has_condition(job, "Complete"):
        return "Complete"
    if _has_condition(job, "Failed"):
        return "Failed"
    if get(job, "metadata", "deletionTimestamp"):
        return "Terminating"
    if _has_condition(job, "Suspended"):
        return "Suspended"
    if _has_condition(job, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def job_cells(job: Obj, now: float, wide: bool = True) -> list[Any]:
    spec: Mapping[str, Any] = job.get("spec") or {}
    status: Mapping[str, Any] = job.get("status") or {}
    succeeded = as_int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{as_int(spec['completions'])}"
    elif as_int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {as_int(spec['parallelism'])}"
    else:
        completions = f"{succeeded}/1"
    start = parse_time_epoch(status.get("startTime"))
    done = parse_time_epoch(status.get("completionTime"))
    if start is None:
        duration = ""
    elif done is None:
        duration = human_duration(now - start)
    else:
        duration = human_duration(done - start)
    names, images = layout_containers(get(job, "spec", "template", "spec", "containers"))
    return [name(job), job_status(job), completions, duration, age(job, now), names, images,
            _selector(spec.get("selector"))]


CRONJOB_COLUMNS = (
    NAME,
    Column("Schedule", description="The schedule in Cron format, see "
           "https://en.wikipedia.org/wiki/Cron."),
    Column("Timezone", description="The time zone name for the given schedule, see "
           "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    Column("Suspend", type="boolean", description="This flag tells the controller to suspend "
           "subsequent executions, it does not apply to already started executions."),
    Column("Active", type="integer", description="A list of pointers to currently running "
           "jobs."),
    Column("Last Schedule", description="Information when was the last time the job was "
           "successfully scheduled."),
    AGE,
    _CONTAINERS,
    _IMAGES,
    Column("Selector", priority=1, description="A label query over pods that should match the "
           "pod count."),
)


def cronjob_cells(cj: Obj, now: float, wide: bool = True) -> list[Any]:
    spec: Mapping[str, Any] = cj.get("spec") or {}
    status: Mapping[str, Any] = cj.get("status") or {}
    last = status.get("lastScheduleTime")
    suspend = spec.get("suspend")
    names, images = layout_containers(
        get(cj, "spec", "jobTemplate", "spec", "template", "spec", "containers"))
    return [
        name(cj),
        str(spec.get("schedule") or ""),
        str(spec["timeZone"]) if spec.get("timeZone") is not None else "<none>",
        "<unset>" if suspend is None else bool(suspend),  # printBoolPtr
        len(status.get("active") or ()),
        since(last, now) if last else "<none>",
        age(cj, now),
        names,
        images,
        _selector(get(cj, "spec", "jobTemplate", "spec", "selector")),
    ]


DAEMONSET_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description="The total number of nodes that should be "
           "running the daemon pod (including nodes correctly running the daemon pod)."),
    Column("Current", type="integer", description="The number of nodes that are running at "
           "least 1 daemon pod and are supposed to run the daemon pod."),
    Column("Ready", type="integer", description="numberReady is the number of nodes that "
           "should be running the daemon pod and have one or more of the daemon pod running "
           "with a Ready Condition."),
    Column("Up-to-date", type="integer", description="The total number of nodes that are "
           "running updated daemon pod"),
    Column("Available", type="integer", description="The number of nodes that should be "
           "running the daemon pod and have one or more of the daemon pod running and "
           "available (ready for at least spec.minReadySeconds)"),
    Column("Node Selector", description="NodeSelector is a selector which must be true for the "
           "pod to fit on a node. Selector which must match a node's labels for the pod to be "
           "scheduled on that node."),
    AGE,
    _CONTAINERS,
    _IMAGES,
    Column("Selector", priority=1, description="A label query over pods that are managed by "
           "the daemon set."),
)


def daemonset_cells(ds: Obj, now: float, wide: bool = True) -> list[Any]:
    st: Mapping[str, Any] = ds.get("status") or {}
    names, images = layout_containers(get(ds, "spec", "template", "spec", "containers"))
    return [
        name(ds),
        as_int(st.get("desiredNumberScheduled")),
        as_int(st.get("currentNumberScheduled")),
        as_int(st.get("numberReady")),
        as_int(st.get("updatedNumberScheduled")),
        as_int(st.get("numberAvailable")),
        format_labels(get(ds, "spec", "template", "spec", "nodeSelector")),
        age(ds, now),
        names,
        images,
        _selector(get(ds, "spec", "selector")),
    ]


RC_COLUMNS = (
    NAME,
    Column("Desired", type="integer", description="Replicas is the number of desired "
           "replicas."),
    Column("Current", type="integer", description="Replicas is the most recently observed "
           "number of replicas."),
    Column("Ready", type="integer", description="The number of ready replicas for this "
           "replication controller."),
    AGE,
    _CONTAINERS,
    _IMAGES,
    Column("Selector", priority=1, description="Selector is a label query over pods that "
           "should match the Replicas count."),
)


def rc_cells(rc: Obj, now: float, wide: bool = True) -> list[Any]:
    st: Mapping[str, Any] = rc.get("status") or {}
    names, images = layout_containers(get(rc, "spec", "template", "spec", "containers"))
    return [
        name(rc),
        as_int(get(rc, "spec", "replicas"), 1),
        as_int(st.get("replicas")),
        as_int(st.get("readyReplicas")),
        age(rc, now),
        names,
        images,
        format_labels(get(rc, "spec", "selector")),
    ]


PDB_COLUMNS = (
    NAME,
    Column("Min Available", description="The minimum number of pods that must be available, "
           "either as an absolute number or a percentage."),
    Column("Max Unavailable", description="The maximum number of pods that may be "
           "unavailable, either as an absolute number or a percentage."),
    Column("Allowed Disruptions", type="integer", description="Number of pod disruptions that "
           "are currently allowed."),
    AGE,
)


def pdb_cells(pdb: Obj, now: float, wide: bool = True) -> list[Any]:
    spec: Mapping[str, Any] = pdb.get("spec") or {}
    mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        name(pdb),
        "N/A" if mn is None else str(mn),
        "N/A" if mx is None else str(mx),
        as_int(get(pdb, "status", "disruptionsAllowed")),
        age(pdb, now),
    ]


JOB = Printer(JOB_COLUMNS, job_cells)
CRONJOB = Printer(CRONJOB_COLUMNS, cronjob_cells)
DAEMONSET = Printer(DAEMONSET_COLUMNS, daemonset_cells)
REPLICATION_CONTROLLER = Printer(RC_COLUMNS, rc_cells)
PDB = Printer(PDB_COLUMNS, pdb_cells)
