"""Ingress admission: upstream's DefaultIngressClass plugin. An Ingress created without
``spec.ingressClassName`` (and without the deprecated ``kubernetes.io/ingress.class``
annotation) gets the IngressClass annotated ``ingressclass.kubernetes.io/is-default-class:
"true"``; with several such classes, the newest (then the first by name), as v1.32 picks.
Used by :class:`~kubesvc.apiserver.registry.core.Registry` for ``ingresses``."""

from __future__ import annotations

from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.strategies import NOOP_TXN, Strategy, Txn

DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
CLASSES = "ingressclasses.networking.k8s.io"


def default_class(classes: list[Obj]) -> str | None:
    """The name of the default IngressClass among ``classes``, or None."""
    marked = [c for c in classes
              if ((c.get("metadata") or {}).get("annotations") or {}).get(
                  DEFAULT_CLASS_ANNOTATION) == "true"]
    if not marked:
        return None

    def order(c: Obj) -> tuple[str, str]:
        m = c.get("metadata") or {}
        return str(m.get("creationTimestamp") or ""), str(m.get("name") or "")

    newest = max(order(c) for c in marked)
    # newest first; equal times: the first name
    same = sorted(c["metadata"]["name"] for c in marked if order(c)[0] == newest[0])
    return str(same[0])


class IngressStrategy(Strategy):
    async def admit_create(self, obj: Obj, *, dry_run: bool) -> Txn:
        spec = obj.setdefault("spec", {})
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        if spec.get("ingressClassName") is None and LEGACY_CLASS_ANNOTATION not in annotations:
            listed = await self.registry.list(CLASSES)
            name = default_class(list(listed.get("items") or []))
            if name is not None:
                spec["ingressClassName"] = name
        return NOOP_TXN
