"""DefaultTolerationSeconds: created pods get the not-ready/unreachable NoExecute tolerations
for 300 s unless they already tolerate those taints; updates add nothing."""

from __future__ import annotations

from typing import Any

from kubesvc.apiserver.registry import Registry
from kubesvc.apiserver.registry.podtolerations import add_default_tolerations

DEFAULTS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
     "tolerationSeconds": 300},
]


def _pod(name: str, tolerations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


async def test_created_pods_get_the_default_tolerations(reg: Registry) -> None:
    p = await reg.create("pods", _pod("plain"))
    assert p["spec"]["tolerations"] == DEFAULTS
    mine = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    p = await reg.create("pods", _pod("own", [mine]))
    assert p["spec"]["tolerations"] == [mine, *DEFAULTS]


def test_existing_tolerations_are_kept() -> None:
    short = {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
             "effect": "NoExecute", "tolerationSeconds": 10}
    p = _pod("p", [short])
    add_default_tolerations(p)
    assert p["spec"]["tolerations"] == [short, DEFAULTS[0]]
    everything = {"operator": "Exists"}  # tolerates every taint: nothing to add
    p = _pod("p", [everything])
    add_default_tolerations(p)
    assert p["spec"]["tolerations"] == [everything]
    no_schedule_only = {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                        "effect": "NoSchedule"}
    p = _pod("p", [no_schedule_only])
    add_default_tolerations(p)
    assert p["spec"]["tolerations"] == [no_schedule_only, *DEFAULTS]
