"""Table printers for Nodes, Namespaces, Events, ConfigMaps, Secrets, ServiceAccounts, Leases.

Role: the rows ``kubectl get`` shows for these kinds (node STATUS ``Ready,SchedulingDisabled``
and ROLES, event LAST SEEN / OBJECT, data counts, lease holders). events.k8s.io/v1 Events
are mapped onto the core/v1 fields first, as upstream prints both with one printer.
Callers: :mod:`kubesvc.api.tables`. Calls: :mod:`.columns`, :mod:`.common`, :mod:`.descriptions`.
Reference: pkg/printers/internalversion/printers.go printNode, printNamespace, printEvent,
printConfigMap, printSecret, printServiceAccount, printLease (v1.32).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api.objects import meta
from kubesvc.api.tables import descriptions as d
from kubesvc.api.tables.columns import AGE, NAME, Column, Printer
from kubesvc.api.tables.common import Obj, age, as_int, get, name, since

LABEL_NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_LABEL_ROLE = "kubernetes.io/role"

NODE_COLUMNS = (
    NAME,
    Column("Status", description="The status of the node"),
    Column("Roles", description="The roles of the node"),
    AGE,
    Column("Version", description=d.KUBELET_VERSION),
    Column("Internal-IP", priority=1, description=d.NODE_ADDRESSES),
    Column("External-IP", priority=1, description=d.NODE_ADDRESSES),
    Column("OS-Image", priority=1, description=d.OS_IMAGE),
    Column("Kernel-Version", priority=1, description=d.KERNEL_VERSION),
    Column("Container-Runtime", priority=1, description=d.CONTAINER_RUNTIME_VERSION),
)


def node_roles(node: Obj) -> list[str]:
    """findNodeRoles: ``node-role.kubernetes.io/<role>`` keys and ``kubernetes.io/role``."""
    roles: set[str] = set()
    for k, v in (meta(node).get("labels") or {}).items():
        if k.startswith(LABEL_NODE_ROLE_PREFIX):
            role = k[len(LABEL_NODE_ROLE_PREFIX) :]
            if role:
                roles.add(role)
        elif k == NODE_LABEL_ROLE and v:
            roles.add(str(v))
    return sorted(roles)


def node_status(node: Obj) -> str:
    """``Ready`` / ``NotReady`` / ``Unknown``, plus ``,SchedulingDisabled`` if cordoned."""
    ready: Mapping[str, Any] | None = None
    for cond in get(node, "status", "conditions", default=[]):
        if cond.get("type") == "Ready":
            ready = cond  # conditionMap keeps the last one of a type
    status = []
    if ready is not None:
        status.append("Ready" if ready.get("status") == "True" else "NotReady")
    if not status:
        status.append("Unknown")
    if get(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def _node_address(node: Obj, kind: str) -> str:
    for a in get(node, "status", "addresses", default=[]):
        if a.get("type") == kind:
            return str(a.get("address") or "")
    return "<none>"


def node_cells(node: Obj, now: float, wide: bool = True) -> list[Any]:
    info: Mapping[str, Any] = get(node, "status", "nodeInfo", default={})
    return [
        name(node),
        node_status(node),
        ",".join(node_roles(node)) or "<none>",
        age(node, now),
        str(info.get("kubeletVersion") or ""),
        _node_address(node, "InternalIP"),
        _node_address(node, "ExternalIP"),
        str(info.get("osImage") or "") or "<unknown>",
        str(info.get("kernelVersion") or "") or "<unknown>",
        str(info.get("containerRuntimeVersion") or "") or "<unknown>",
    ]


NAMESPACE_COLUMNS = (NAME, Column("Status", description="The status of the namespace"), AGE)


def namespace_cells(ns: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(ns), str(get(ns, "status", "phase", default="")), age(ns, now)]


CONFIGMAP_COLUMNS = (NAME, Column("Data", description=d.CONFIGMAP_DATA), AGE)


def configmap_cells(cm: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(cm), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age(cm, now)]


SECRET_COLUMNS = (
    NAME,
    Column("Type", description=d.SECRET_TYPE),
    Column("Data", description=d.SECRET_DATA),
    AGE,
)


def secret_cells(sec: Obj, now: float, wide: bool = True) -> list[Any]:
    # Upstream counts the internal object's data, into which stringData has been merged.
    keys = set(sec.get("data") or {}) | set(sec.get("stringData") or {})
    return [name(sec), str(sec.get("type") or ""), len(keys), age(sec, now)]


SERVICE_ACCOUNT_COLUMNS = (NAME, Column("Secrets", description=d.SA_SECRETS), AGE)


def service_account_cells(sa: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(sa), len(sa.get("secrets") or []), age(sa, now)]


LEASE_COLUMNS = (NAME, Column("Holder", description=d.LEASE_HOLDER), AGE)


def lease_cells(lease: Obj, now: float, wide: bool = True) -> list[Any]:
    return [name(lease), str(get(lease, "spec", "holderIdentity", default="")), age(lease, now)]


EVENT_COLUMNS = (
    Column("Last Seen", description=d.EVENT_LAST_TIMESTAMP),
    Column("Type", description=d.EVENT_TYPE),
    Column("Reason", description=d.EVENT_REASON),
    Column("Object", description=d.EVENT_INVOLVED_OBJECT),
    Column("Subobject", priority=1, description=d.EVENT_FIELD_PATH),
    Column("Source", priority=1, description=d.EVENT_SOURCE),
    Column("Message", description=d.EVENT_MESSAGE),
    Column("First Seen", priority=1, description=d.EVENT_FIRST_TIMESTAMP),
    Column("Count", priority=1, description=d.EVENT_COUNT),
    Column("Name", priority=1, format="name", description=d.NAME),
)


def core_event(ev: Obj) -> Obj:
    """An events.k8s.io/v1 Event in core/v1 field names (the conversion upstream applies)."""
    if "regarding" not in ev and "note" not in ev and "deprecatedSource" not in ev:
        return ev
    return {
        "metadata": ev.get("metadata") or {},
        "involvedObject": ev.get("regarding") or {},
        "reason": ev.get("reason") or "",
        "message": ev.get("note") or "",
        "source": ev.get("deprecatedSource") or {},
        "firstTimestamp": ev.get("deprecatedFirstTimestamp"),
        "lastTimestamp": ev.get("deprecatedLastTimestamp"),
        "count": ev.get("deprecatedCount") or 0,
        "type": ev.get("type") or "",
        "eventTime": ev.get("eventTime"),
        "series": ev.get("series"),
        "reportingComponent": ev.get("reportingController") or "",
        "reportingInstance": ev.get("reportingInstance") or "",
    }


def _first_non_empty(*values: Any) -> str:
    for v in values:
        if v:
            return str(v)
    return ""


def event_cells(raw: Obj, now: float, wide: bool = True) -> list[Any]:
    ev = core_event(raw)
    first = since(ev.get("firstTimestamp"), now)
    if not ev.get("firstTimestamp"):
        first = since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = as_int(ev.get("count"))
    series = ev.get("series")
    if series is not None:
        last = since(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1  # singleton events carry no count in the new API
    involved: Mapping[str, Any] = ev.get("involvedObject") or {}
    kind = str(involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    source: Mapping[str, Any] = ev.get("source") or {}
    component = _first_non_empty(source.get("component"), ev.get("reportingComponent"))
    instance = _first_non_empty(source.get("host"), ev.get("reportingInstance"))
    return [
        last,
        str(ev.get("type") or ""),
        str(ev.get("reason") or ""),
        target,
        str(involved.get("fieldPath") or ""),
        f"{component}, {instance}" if instance else component,
        str(ev.get("message") or "").strip(),
        first,
        count,
        name(ev),
    ]


NODE = Printer(NODE_COLUMNS, node_cells)
NAMESPACE = Printer(NAMESPACE_COLUMNS, namespace_cells)
CONFIGMAP = Printer(CONFIGMAP_COLUMNS, configmap_cells)
SECRET = Printer(SECRET_COLUMNS, secret_cells)
SERVICE_ACCOUNT = Printer(SERVICE_ACCOUNT_COLUMNS, service_account_cells)
LEASE = Printer(LEASE_COLUMNS, lease_cells)
EVENT = Printer(EVENT_COLUMNS, event_cells)
