"""Pure EndpointSlice reconciliation: (Service, its pods, its existing slices) -> slices to
create, update and delete. No I/O; called by :mod:`.controller` and by the mirroring
controller's tests of the same packing rules.

As upstream's reconciler (staging/src/k8s.io/endpointslice/reconciler.go):
- endpoints are grouped by their resolved port set (a pod lacking a named port lands in the
  group without that port), one group per slice family;
- an unchanged endpoint keeps its place and an unchanged slice is not written;
- new endpoints go first into slices that are being updated anyway, then into the fullest
  unchanged slice that can take them all, then into new slices of at most ``max_endpoints``;
- creates that coincide with deletes reuse the doomed slice's name (one update instead of
  a delete plus a create);
- a Service with no endpoints keeps one empty placeholder slice.
Beyond upstream, when a group occupies more slices than ``ceil(n / max)`` the smallest slices
are dissolved into the others' free room, so slices merge back after a scale-down.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kubesvc.api.meta import generate_name
from kubesvc.api.objects import LABEL_SERVICE_NAME, Obj, meta
from kubesvc.controllers.base import labels_of, owner_ref, pod_ready
from kubesvc.controllers.podutil import find_port, hostname_for, pod_ip, should_pod_be_in_endpoints

LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
LABEL_HEADLESS = "service.kubernetes.io/headless"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
LABEL_ZONE = "topology.kubernetes.io/zone"

PortKey = tuple[tuple[str, int, str, str], ...]
EpKey = tuple[str, str]


@dataclass(slots=True)
class Plan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def port_key(ports: Iterable[dict[str, Any]]) -> PortKey:
    return tuple(
        sorted(
            (
                str(p.get("name") or ""),
                int(p.get("port") or 0),
                str(p.get("protocol") or "TCP"),
                str(p.get("appProtocol") or ""),
            )
            for p in ports
        )
    )


def ep_key(ep: dict[str, Any]) -> EpKey:
    addrs = ep.get("addresses") or [""]
    ref = ep.get("targetRef") or {}
    return (str(addrs[0]), str(ref.get("uid") or ref.get("name") or ""))


def address_type(svc: Obj) -> str:
    fams = (svc.get("spec") or {}).get("ipFamilies") or []
    return "IPv6" if fams and fams[0] == "IPv6" else "IPv4"


def slice_labels(svc: Obj, managed_by: str = CONTROLLER_NAME) -> dict[str, str]:
    """Service labels plus the reserved ones (upstream ``setEndpointSliceLabels``)."""
    out = {
        k: v
        for k, v in labels_of(svc).items()
        if k not in (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
    }
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        out[LABEL_HEADLESS] = ""
    out[LABEL_SERVICE_NAME] = str(meta(svc).get("name", ""))
    out[LABEL_MANAGED_BY] = managed_by
    return out


def pod_to_endpoint(pod: Obj, svc: Obj, *, ip: str, zone: str) -> dict[str, Any]:
    """Upstream ``podToEndpoint``: ready = serving and not terminating (or
    publishNotReadyAddresses); serving = pod Ready; terminating = deletionTimestamp set."""
    md = meta(pod)
    serving = pod_ready(pod)
    terminating = bool(md.get("deletionTimestamp"))
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    ready = publish or (serving and not terminating)
    ep: dict[str, Any] = {
        "addresses": [ip],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {
            "kind": "Pod",
            "namespace": md.get("namespace", ""),
            "name": md.get("name", ""),
            "uid": md.get("uid", ""),
        },
    }
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        ep["nodeName"] = node
    if zone:
        ep["zone"] = zone
    hostname = hostname_for(pod, svc)
    if hostname:
        ep["hostname"] = hostname
    return ep


def endpoint_ports(pod: Obj, svc: Obj) -> list[dict[str, Any]]:
    """The Service's ports as this pod serves them (named targetPorts resolved per pod;
    ports the pod lacks are left out)."""
    out: list[dict[str, Any]] = []
    for sp in (svc.get("spec") or {}).get("ports") or ():
        num = find_port(pod, sp)
        if num is None:
            continue
        p: dict[str, Any] = {
            "name": str(sp.get("name") or ""),
            "port": num,
            "protocol": str(sp.get("protocol") or "TCP"),
        }
        if sp.get("appProtocol"):
            p["appProtocol"] = sp["appProtocol"]
        out.append(p)
    return out


@dataclass(slots=True)
class _Group:
    ports: list[dict[str, Any]]
    desired: dict[EpKey, dict[str, Any]]


@dataclass(slots=True)
class EndpointMemo:
    """Per-Service cache of per-pod results (port set and endpoint), reused while both the
    Service object and the pod object are the very ones seen last time — informer caches
    replace an object on every change, so identity is a cheap, exact validity test. This
    makes a sync of a large Service O(pods) dict look-ups instead of O(pods) builds."""

    svc: Obj | None = None
    by_pod: dict[str, tuple[Obj, PortKey, list[dict[str, Any]], dict[str, Any] | None]] = (
        field(default_factory=dict)
    )


def copy_endpoint(ep: dict[str, Any]) -> dict[str, Any]:
    """Two-level copy of an endpoint/address dict (fast; their values nest one deep)."""
    return {
        k: dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v
        for k, v in ep.items()
    }


def desired_groups(
    svc: Obj,
    pods: Iterable[Obj],
    *,
    zone_of: Callable[[str], str],
    memo: EndpointMemo | None = None,
) -> dict[PortKey, _Group]:
    groups: dict[PortKey, _Group] = {}
    fam = address_type(svc)
    if memo is not None and memo.svc is not svc:
        memo.svc, memo.by_pod = svc, {}
    old = memo.by_pod if memo is not None else {}
    new: dict[str, tuple[Obj, PortKey, list[dict[str, Any]], dict[str, Any] | None]] = {}
    for pod in pods:
        name = str(meta(pod).get("name", ""))
        hit = old.get(name)
        if hit is not None and hit[0] is pod:
            entry = hit
        else:
            ep: dict[str, Any] | None = None
            ports: list[dict[str, Any]] = []
            pk: PortKey = ()
            ip = pod_ip(pod, fam) if should_pod_be_in_endpoints(
                pod, include_terminating=True) else ""
            if ip:
                ports = endpoint_ports(pod, svc)
                pk = port_key(ports)
                node = (pod.get("spec") or {}).get("nodeName") or ""
                ep = pod_to_endpoint(pod, svc, ip=ip, zone=zone_of(node) if node else "")
            entry = (pod, pk, ports, ep)
        new[name] = entry
        if entry[3] is None:
            continue
        g = groups.get(entry[1])
        if g is None:
            g = groups[entry[1]] = _Group(entry[2], {})
        g.desired[ep_key(entry[3])] = entry[3]
    if memo is not None:
        memo.by_pod = new
    return groups


@dataclass(slots=True)
class _SliceState:
    obj: Obj
    eps: list[dict[str, Any]]
    changed: bool


def _sort_eps(eps: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(eps, key=lambda e: ((e.get("targetRef") or {}).get("name", ""), ep_key(e)))


def reconcile(
    svc: Obj,
    pods: Iterable[Obj],
    *,
    existing: Iterable[Obj] = (),
    zone_of: Callable[[str], str] = lambda _node: "",
    max_endpoints: int = 100,
    managed_by: str = CONTROLLER_NAME,
    memo: EndpointMemo | None = None,
) -> Plan:
    """The writes that bring ``existing`` (this Service's slices managed by us) in line
    with ``pods`` (the pods its selector matches). Objects in the plan are fresh dicts."""
    groups = desired_groups(svc, pods, zone_of=zone_of, memo=memo)
    return reconcile_groups(
        svc,
        {pk: (g.ports, g.desired) for pk, g in groups.items()},
        existing=existing,
        max_endpoints=max_endpoints,
        labels=slice_labels(svc, managed_by),
        owner=owner_ref(svc, api_version="v1", kind="Service"),
        addr_type=address_type(svc),
    )


def reconcile_groups(
    svc: Obj,
    groups: dict[PortKey, tuple[list[dict[str, Any]], dict[EpKey, dict[str, Any]]]],
    *,
    existing: Iterable[Obj],
    max_endpoints: int,
    labels: dict[str, str],
    owner: dict[str, Any],
    addr_type: str,
    placeholder: bool = True,
) -> Plan:
    """Shared by the EndpointSlice and mirroring controllers: desired endpoints per port
    group -> plan, with the packing rules in this module's docstring."""
    max_endpoints = max(1, max_endpoints)
    current = list(existing)
    plan = Plan()
    to_delete: list[Obj] = []
    by_group: dict[PortKey, list[Obj]] = {}
    for s in sorted(current, key=lambda o: str(meta(o).get("name", ""))):
        if s.get("addressType", "IPv4") != addr_type:
            to_delete.append(s)
            continue
        pk = port_key(s.get("ports") or ())
        if pk not in groups:
            to_delete.append(s)
            continue
        by_group.setdefault(pk, []).append(s)

    new_slices: list[tuple[list[dict[str, Any]], list[dict[str, Any]]]] = []  # (ports, eps)
    for pk, (ports, desired_all) in groups.items():
        remaining = dict(desired_all)
        states: list[_SliceState] = []
        for s in by_group.get(pk, ()):
            eps: list[dict[str, Any]] = []
            changed = False
            for ep in s.get("endpoints") or ():
                k = ep_key(ep)
                want = remaining.pop(k, None)
                if want is None:
                    changed = True  # gone (or a duplicate of one kept elsewhere)
                    continue
                if want != ep:
                    changed = True
                eps.append(want)
            if len(eps) > max_endpoints:  # max lowered since the slice was written
                for ep in eps[max_endpoints:]:
                    remaining[ep_key(ep)] = ep
                eps = eps[:max_endpoints]
                changed = True
            if not eps:
                to_delete.append(s)
                continue
            states.append(_SliceState(s, eps, changed))

        # Merge back: dissolve the smallest slices while the rest can absorb them.
        total = sum(len(st.eps) for st in states) + len(remaining)
        needed = max(1, math.ceil(total / max_endpoints))
        dissolved = False
        states.sort(key=lambda st: len(st.eps))
        while len(states) > needed:
            smallest = states[0]
            room = sum(max_endpoints - len(st.eps) for st in states[1:])
            if room < len(smallest.eps) + len(remaining):
                break
            for ep in smallest.eps:
                remaining[ep_key(ep)] = ep
            to_delete.append(smallest.obj)
            states.pop(0)
            dissolved = True

        pending = _sort_eps(remaining.values())
        # 1. slices being written anyway
        for st in states:
            if not pending:
                break
            if st.changed and len(st.eps) < max_endpoints:
                take = max_endpoints - len(st.eps)
                st.eps.extend(pending[:take])
                pending = pending[take:]
        # 2. the fullest unchanged slice that takes them all; after a merge, any room
        while pending:
            fits = [st for st in states if max_endpoints - len(st.eps) >= len(pending)]
            if fits and len(pending) < max_endpoints:
                st = max(fits, key=lambda s: len(s.eps))
            elif dissolved:
                roomy = [st for st in states if len(st.eps) < max_endpoints]
                if not roomy:
                    break
                st = min(roomy, key=lambda s: len(s.eps))
            else:
                break
            take = max_endpoints - len(st.eps)
            st.eps.extend(pending[:take])
            pending = pending[take:]
            st.changed = True
        # 3. new slices
        for i in range(0, len(pending), max_endpoints):
            new_slices.append((ports, pending[i : i + max_endpoints]))

        for st in states:
            md = meta(st.obj)
            # Ports are equal by construction (same group key); order is not compared.
            meta_changed = (
                labels_of(st.obj) != labels
                or (md.get("ownerReferences") or []) != [owner]
                or st.obj.get("addressType") != addr_type
            )
            if st.changed or meta_changed:
                plan.update.append(_build(st.obj, svc, ports=ports, eps=st.eps, labels=labels,
                                          owner=owner, addr_type=addr_type))

    # Placeholder: a Service with no endpoints keeps one empty slice.
    if placeholder and not new_slices and len(to_delete) == len(current):
        if len(to_delete) == 1 and _is_placeholder(
            to_delete[0], labels=labels, owner=owner, at=addr_type
        ):
            to_delete = []
        else:
            new_slices.append(([], []))

    # Creates reuse the names of slices about to be deleted.
    for ports_, eps_ in new_slices:
        if to_delete:
            old = to_delete.pop(0)
            plan.update.append(_build(old, svc, ports=ports_, eps=eps_, labels=labels,
                                      owner=owner, addr_type=addr_type))
        else:
            plan.create.append(_build(None, svc, ports=ports_, eps=eps_, labels=labels,
                                      owner=owner, addr_type=addr_type))
    plan.delete.extend(to_delete)
    return plan


def _is_placeholder(
    s: Obj, *, labels: dict[str, str], owner: dict[str, Any], at: str
) -> bool:
    return (
        not s.get("endpoints")
        and not s.get("ports")
        and s.get("addressType", "IPv4") == at
        and labels_of(s) == labels
        and (meta(s).get("ownerReferences") or []) == [owner]
    )


def _build(
    base: Obj | None,
    svc: Obj,
    *,
    ports: list[dict[str, Any]],
    eps: list[dict[str, Any]],
    labels: dict[str, str],
    owner: dict[str, Any],
    addr_type: str,
) -> Obj:
    if base is None:
        prefix = f"{meta(svc).get('name', '')}-"
        md: dict[str, Any] = {
            "name": generate_name(prefix),
            "generateName": prefix,
            "namespace": meta(svc).get("namespace", ""),
        }
    else:
        md = copy.deepcopy(meta(base))
    md["labels"] = dict(labels)
    md["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": md,
        "addressType": addr_type,
        # Copies: desired endpoints are memoised across syncs and must not be shared
        # with whatever the client does to the object it is given.
        "endpoints": [copy_endpoint(e) for e in eps],
        "ports": [dict(p) for p in ports],
    }
