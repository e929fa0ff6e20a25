"""Upstream's DefaultTolerationSeconds admission plugin: a pod created without a toleration
of the ``node.kubernetes.io/not-ready`` / ``node.kubernetes.io/unreachable`` NoExecute
taints gets one of each, ``operator: Exists`` for 300 s (kube-apiserver's
``--default-not-ready-toleration-seconds`` / ``--default-unreachable-toleration-seconds``),
so its pods are evicted five minutes after their node goes away. Pure; called by
:class:`kubesvc.apiserver.registry.strategies.PodStrategy` on create.
"""

from __future__ import annotations

from kubesvc.api.objects import Obj

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


def _tolerates(tolerations: list[Obj], key: str) -> bool:
    """As upstream: a toleration of that key (or of every key) for NoExecute (or for every
    effect) already covers it."""
    return any((t.get("key") or "") in (key, "") and (t.get("effect") or "") in
               ("NoExecute", "") for t in tolerations if isinstance(t, dict))


def add_default_tolerations(pod: Obj, *, not_ready_seconds: int = DEFAULT_SECONDS,
                            unreachable_seconds: int = DEFAULT_SECONDS) -> None:
    spec = pod.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    added = False
    for key, seconds in ((NOT_READY, not_ready_seconds), (UNREACHABLE, unreachable_seconds)):
        if not _tolerates(tolerations, key):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": seconds})
            added = True
    if added:
        spec["tolerations"] = tolerations
