"""The Local APIServices: one ``apiregistration.k8s.io/v1`` APIService per served
group-version (``v1.``, ``v1.apps``, ...), as upstream's autoregister controller writes
them at start (label ``kube-aggregator.kubernetes.io/automanaged: onstart``, upstream's
group and version priorities) and its availability controller marks them
(``Available: True``, reason ``Local``).

kubesvc aggregates no other server: an APIService that names a Service is stored and
listed as upstream would, but nothing proxies to it (its status stays as written).
Called by :mod:`.bootstrap` (at start) and :mod:`.core` (the strategy); calls the Store.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import meta as apimeta
from kubesvc.api import resources
from kubesvc.api.objects import Obj
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry.codec import encode
from kubesvc.apiserver.registry.strategies import Strategy

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

KEY = "apiservices.apiregistration.k8s.io"
AUTOMANAGED = "kube-aggregator.kubernetes.io/automanaged"
LOCAL_MESSAGE = "Local APIServices are always available"

#: (groupPriorityMinimum, versionPriority) of the built-in group-versions, as upstream's
#: control plane registers them; a group missing here gets 1000/15.
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apiregistration.k8s.io", "v1"): (18000, 15),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
}


def served_group_versions() -> list[tuple[str, str]]:
    """Every group-version this server answers, core first (autoscaling/v1 for Scale)."""
    gvs = {(r.group, r.version) for r in resources.RESOURCES} | {("autoscaling", "v1")}
    return sorted(gvs)


def available_condition(now: datetime) -> dict[str, Any]:
    return {"type": "Available", "status": "True", "lastTransitionTime": rfc3339(now),
            "reason": "Local", "message": LOCAL_MESSAGE}


def local_apiservice(group: str, version: str, now: datetime) -> Obj:
    """The Local APIService of one group-version, as upstream's autoregister writes it."""
    gpm, vp = PRIORITIES.get((group, version), (1000, 15))
    spec: dict[str, Any] = {"version": version, "groupPriorityMinimum": gpm,
                            "versionPriority": vp}
    if group:
        spec = {"group": group, **spec}
    return {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": f"{version}.{group}", "labels": {AUTOMANAGED: "onstart"}},
        "spec": spec,
        "status": {"conditions": [available_condition(now)]},
    }


async def ensure_local_apiservices(reg: Registry) -> None:
    """Create the missing Local APIServices (an existing one is left as it is)."""
    info = resources.BY_KEY[KEY]
    for group, version in served_group_versions():
        obj = local_apiservice(group, version, reg.now())
        key = info.storage_key(obj["metadata"]["name"])
        if await reg.store.get(key) is not None:
            continue
        apimeta.fill_system_fields(info.key, obj, now=reg.now())
        try:
            await reg.store.create(key, encode(obj))
        except errors.AlreadyExists:
            pass


class APIServiceStrategy(Strategy):
    """A Local APIService created through the API is available at once, as upstream's
    availability controller marks it; one that names a Service starts with ``status: {}``."""

    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        if not (obj.get("spec") or {}).get("service"):
            obj["status"] = {"conditions": [available_condition(self.registry.now())]}
