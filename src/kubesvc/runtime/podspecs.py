"""Pure helpers over a pod object for the node agent: the container records a pod starts
with (restart counts carried over from its status) and those of ephemeral containers added
later (``kubectl debug``), its container specs by name, its key, and the pod as the
downward API sees it at container start. Used by :mod:`kubesvc.runtime.containers`.
"""

from __future__ import annotations

from kubesvc.api.objects import Obj
from kubesvc.runtime.podstatus import ContainerRecord


def initial_records(pod: Obj) -> dict[str, ContainerRecord]:
    spec = pod.get("spec") or {}
    old = {s["name"]: s for s in (pod.get("status") or {}).get("containerStatuses") or []}
    old.update({s["name"]: s for s in
                (pod.get("status") or {}).get("initContainerStatuses") or []})
    out: dict[str, ContainerRecord] = {}
    for init, lst in ((True, spec.get("initContainers") or []), (False, spec.get("containers")
                                                                   or [])):
        for c in lst:
            rec = ContainerRecord(c["name"], str(c.get("image") or ""), init=init,
                                  waiting=("PodInitializing" if not init and
                                           spec.get("initContainers") else
                                           "ContainerCreating", ""))
            rec.restart_count = int((old.get(c["name"]) or {}).get("restartCount") or 0)
            out[c["name"]] = rec
    add_ephemeral_records(pod, out)
    return out


def add_ephemeral_records(pod: Obj, records: dict[str, ContainerRecord]) -> bool:
    """Records for the pod's ephemeral containers not known yet (they are only ever added;
    names are unique across all containers); True when one was added."""
    added = False
    for c in (pod.get("spec") or {}).get("ephemeralContainers") or []:
        name = c.get("name") if isinstance(c, dict) else None
        if name and name not in records:
            records[name] = ContainerRecord(name, str(c.get("image") or ""), ephemeral=True)
            added = True
    return added


def container_specs(pod: Obj) -> dict[str, Obj]:
    spec = pod.get("spec") or {}
    return {c["name"]: c for c in [*(spec.get("initContainers") or []),
                                   *(spec.get("containers") or []),
                                   *(spec.get("ephemeralContainers") or [])]}


def object_key_of(pod: Obj) -> str:
    md = pod["metadata"]
    return f"{md.get('namespace', 'default')}/{md['name']}"


def with_ips(pod: Obj, pod_ip: str, host_ip: str) -> Obj:
    """The pod as the downward API sees it at container start (status IPs filled in)."""
    status = dict(pod.get("status") or {})
    status.update(podIP=pod_ip, podIPs=[{"ip": pod_ip}], hostIP=host_ip,
                  hostIPs=[{"ip": host_ip}])
    return {**pod, "status": status}
