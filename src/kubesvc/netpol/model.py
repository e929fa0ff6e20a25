"""Slim projections of what NetworkPolicy enforcement reads: :class:`Pod` (namespace,
labels, IP, node, named container ports), :class:`Namespace` (labels) and :class:`Policy`
(the parsed spec: selectors, rules, ports, peers). Built from API dicts (defaulted and
validated by the API server) by :func:`pod_from`, :func:`namespace_from`,
:func:`policy_from`; read by :mod:`.render`. Pure code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubesvc.api.objects import Obj
from kubesvc.api.selectors import LabelSelector, from_label_selector_dict
from kubesvc.errors import BadRequest


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    labels: Mapping[str, str]
    ip: str
    node: str
    # (name, protocol, number) of each named container port
    named_ports: tuple[tuple[str, str, int], ...] = ()

    def port_named(self, name: str, protocol: str) -> int | None:
        for n, proto, number in self.named_ports:
            if n == name and proto == protocol:
                return number
        return None


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Port:
    protocol: str  # TCP, UDP, SCTP
    port: int | str | None = None  # None: every port of the protocol; str: a named port
    end_port: int | None = None


@dataclass(frozen=True, slots=True)
class Peer:
    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    cidr: str = ""  # an ipBlock peer when set
    except_: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    ports: tuple[Port, ...] = ()  # empty: every port and protocol
    peers: tuple[Peer, ...] = ()  # empty: every source (ingress) / destination (egress)


@dataclass(frozen=True, slots=True)
class Policy:
    namespace: str
    name: str
    pod_selector: LabelSelector
    # None: the policy is not of that type (does not isolate in that direction)
    ingress: tuple[Rule, ...] | None = None
    egress: tuple[Rule, ...] | None = None


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _selector(sel: Any) -> LabelSelector | None:
    if sel is None:
        return None
    try:
        return from_label_selector_dict(_m(sel))
    except BadRequest:
        return LabelSelector.nothing()


def _port(p: Mapping[str, Any]) -> Port:
    value = p.get("port")
    end = p.get("endPort")
    return Port(protocol=str(p.get("protocol") or "TCP"),
                port=value if isinstance(value, (int, str)) else None,
                end_port=end if isinstance(end, int) else None)


def _peer(p: Mapping[str, Any]) -> Peer:
    block = _m(p.get("ipBlock"))
    if block:
        return Peer(cidr=str(block.get("cidr") or ""),
                    except_=tuple(str(e) for e in _l(block.get("except"))))
    return Peer(pod_selector=_selector(p.get("podSelector")),
                namespace_selector=_selector(p.get("namespaceSelector")))


def _rules(items: Any, peers_field: str) -> tuple[Rule, ...]:
    return tuple(Rule(ports=tuple(_port(_m(p)) for p in _l(_m(r).get("ports"))),
                      peers=tuple(_peer(_m(p)) for p in _l(_m(r).get(peers_field))))
                 for r in _l(items))


def policy_from(obj: Obj) -> Policy:
    md = _m(obj.get("metadata"))
    spec = _m(obj.get("spec"))
    types = _l(spec.get("policyTypes")) or (
        ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    return Policy(
        namespace=str(md.get("namespace") or ""), name=str(md.get("name") or ""),
        pod_selector=_selector(spec.get("podSelector") or {}) or LabelSelector.everything(),
        ingress=_rules(spec.get("ingress"), "from") if "Ingress" in types else None,
        egress=_rules(spec.get("egress"), "to") if "Egress" in types else None)


def pod_from(obj: Obj) -> Pod | None:
    """None for pods that take no part: no IP yet, host network (their address is the
    node's), or finished."""
    md = _m(obj.get("metadata"))
    spec = _m(obj.get("spec"))
    status = _m(obj.get("status"))
    ip = str(status.get("podIP") or "")
    if not ip or ":" in ip or spec.get("hostNetwork"):
        return None
    if status.get("phase") in ("Succeeded", "Failed"):
        return None
    named: list[tuple[str, str, int]] = []
    for c in _l(spec.get("containers")):
        for p in _l(_m(c).get("ports")):
            p = _m(p)
            if p.get("name") and isinstance(p.get("containerPort"), int):
                named.append((str(p["name"]), str(p.get("protocol") or "TCP"),
                              int(p["containerPort"])))
    labels = {str(k): str(v) for k, v in _m(md.get("labels")).items()}
    return Pod(namespace=str(md.get("namespace") or ""), name=str(md.get("name") or ""),
               labels=labels, ip=ip, node=str(spec.get("nodeName") or ""),
               named_ports=tuple(named))


def namespace_from(obj: Obj) -> Namespace:
    md = _m(obj.get("metadata"))
    return Namespace(name=str(md.get("name") or ""),
                     labels={str(k): str(v) for k, v in _m(md.get("labels")).items()})
