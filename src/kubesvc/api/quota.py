"""ResourceQuota arithmetic (upstream pkg/quota/v1 and its evaluators, v1.32): quantities,
what one object uses of each quota resource name, a namespace's usage, and the admission
check with upstream's ``exceeded quota`` message.

Resource names handled: object counts (``pods``, ``services``, ``configmaps``, ``secrets``,
``replicationcontrollers``, ``persistentvolumeclaims``, ``resourcequotas``,
``services.nodeports``, ``services.loadbalancers``, ``count/<resource>[.<group>]``) and pod
compute (``requests.cpu``/``cpu``, ``requests.memory``/``memory``, ``limits.cpu``,
``limits.memory``) summed over a pod's containers (the init-container maximum, as
upstream's ``PodRequests``). Terminal pods (Succeeded/Failed) use nothing, as upstream's
pod evaluator. Pure code; used by the API server's quota admission and the resource-quota
controller.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from kubesvc.api.objects import Obj

_SUFFIX = {
    "": Fraction(1), "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}
_Q = re.compile(r"^([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))"
                r"(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]?))$")
QUANTITY_ERROR = ("quantities must match the regular expression "
                  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")

#: The object-count resource names and the resource key each counts.
COUNTED: dict[str, str] = {
    "pods": "pods", "services": "services", "configmaps": "configmaps",
    "secrets": "secrets", "replicationcontrollers": "replicationcontrollers",
    "persistentvolumeclaims": "persistentvolumeclaims", "resourcequotas": "resourcequotas",
}
COMPUTE = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory", "cpu", "memory")
SERVICE_TYPES = {"services.nodeports": "NodePort", "services.loadbalancers": "LoadBalancer"}
TERMINAL = ("Succeeded", "Failed")


def parse_quantity(text: Any) -> Fraction:
    """A quantity's exact value; ValueError for what is not one."""
    m = _Q.match(str(text).strip())
    if not m:
        raise ValueError(QUANTITY_ERROR)
    num = Fraction(m.group(1))
    if m.group(2) is not None:
        return num * Fraction(10) ** int(m.group(2))
    return num * _SUFFIX[m.group(3) or ""]


def format_quantity(v: Fraction, *, binary: bool = False) -> str:
    """A canonical spelling: integers plain (or in Ki/Mi/Gi when ``binary`` and exact),
    fractions in milli-units (``500m``)."""
    if v.denominator == 1:
        n = int(v)
        if binary and n:
            for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
                unit = int(_SUFFIX[suffix])
                if n % unit == 0:
                    return f"{n // unit}{suffix}"
        return str(n)
    milli = v * 1000
    if milli.denominator == 1:
        return f"{int(milli)}m"
    return f"{int(-(-milli // 1))}m"  # upstream rounds sub-milli values up


def count_resource(name: str) -> str | None:
    """The resource key ``name`` counts objects of (``count/deployments.apps`` ->
    ``deployments.apps``, ``pods`` -> ``pods``); None for a compute resource."""
    if name in COUNTED:
        return COUNTED[name]
    if name.startswith("count/"):
        return name[len("count/"):]
    return None


def is_terminal(pod: Obj) -> bool:
    return str((pod.get("status") or {}).get("phase") or "") in TERMINAL


def _pod_compute(pod: Obj, kind: str, res: str) -> Fraction:
    spec = pod.get("spec") or {}

    def of(c: Mapping[str, Any]) -> Fraction:
        raw = ((c.get("resources") or {}).get(kind) or {}).get(res)
        if raw is None and kind == "requests":  # a limit without a request defaults it
            raw = ((c.get("resources") or {}).get("limits") or {}).get(res)
        try:
            return parse_quantity(raw) if raw is not None else Fraction(0)
        except ValueError:
            return Fraction(0)

    total = sum((of(c) for c in spec.get("containers") or ()), Fraction(0))
    init = max((of(c) for c in spec.get("initContainers") or ()), default=Fraction(0))
    return max(total, init)


def usage(resource: str, obj: Obj, names: Iterable[str]) -> dict[str, Fraction]:
    """What ``obj`` (of resource key ``resource``) uses of each quota resource in ``names``."""
    out: dict[str, Fraction] = {}
    terminal_pod = resource == "pods" and is_terminal(obj)
    for n in names:
        counted = count_resource(n)
        if counted is not None:
            if counted == resource and not terminal_pod:
                out[n] = Fraction(1)
        elif resource == "services" and n in SERVICE_TYPES:
            if (obj.get("spec") or {}).get("type") == SERVICE_TYPES[n]:
                out[n] = Fraction(1)
        elif resource == "pods" and n in COMPUTE and not terminal_pod:
            kind, _, res = n.rpartition(".")
            out[n] = _pod_compute(obj, kind or "requests", res)
    return out


def total_usage(resource: str, objs: Iterable[Obj], names: Iterable[str]) -> dict[str, Fraction]:
    wanted = list(names)
    out: dict[str, Fraction] = {}
    for o in objs:
        for k, v in usage(resource, o, wanted).items():
            out[k] = out.get(k, Fraction(0)) + v
    return out


def hard_of(quota: Obj) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for k, v in ((quota.get("spec") or {}).get("hard") or {}).items():
        try:
            out[str(k)] = parse_quantity(v)
        except ValueError:
            continue
    return out


def relevant(resource: str, quota: Obj) -> list[str]:
    """The quota's hard resource names an object of ``resource`` can use."""
    out = []
    for n in hard_of(quota):
        if count_resource(n) == resource or (
                resource == "services" and n in SERVICE_TYPES) or (
                resource == "pods" and n in COMPUTE):
            out.append(n)
    return out


def show(name: str, v: Fraction) -> str:
    return format_quantity(v, binary=name.endswith("memory"))


def _pretty(values: Mapping[str, Fraction]) -> str:
    return ",".join(f"{k}={show(k, values[k])}" for k in sorted(values))


def exceeded(quota: Obj, requested: Mapping[str, Fraction],
             used: Mapping[str, Fraction]) -> str | None:
    """Upstream's ``exceeded quota: NAME, requested: r=1, used: r=2, limited: r=2`` when
    ``used + requested`` goes over a hard limit, else None. Only resources with a non-zero
    request are checked (upstream masks usage to what the object requests)."""
    hard = hard_of(quota)
    over = sorted(k for k, v in requested.items()
                  if v and k in hard and used.get(k, Fraction(0)) + v > hard[k])
    if not over:
        return None
    name = str((quota.get("metadata") or {}).get("name") or "")
    return (f"exceeded quota: {name}, "
            f"requested: {_pretty({k: requested[k] for k in over})}, "
            f"used: {_pretty({k: used.get(k, Fraction(0)) for k in over})}, "
            f"limited: {_pretty({k: hard[k] for k in over})}")


def status_of(quota: Obj, used: Mapping[str, Fraction]) -> dict[str, dict[str, str]]:
    """``status`` the controller writes: ``hard`` as in spec, ``used`` for every hard name."""
    spec_hard = (quota.get("spec") or {}).get("hard") or {}
    hard = hard_of(quota)
    return {"hard": {str(k): str(v) for k, v in spec_hard.items()},
            "used": {k: show(k, used.get(k, Fraction(0))) for k in hard}}
