"""The Job strategy (upstream pkg/registry/batch/job/strategy.go): on create, unless
``spec.manualSelector`` is true, the selector is generated from the new uid
(``batch.kubernetes.io/controller-uid``) and the template gets the controller-uid and
job-name labels (the ``batch.kubernetes.io/`` ones and the legacy unprefixed ones), so pods
of two Jobs can never be confused; status starts empty.

Called by :class:`~.core.Registry` (its strategy table); calls :class:`~.strategies.Strategy`.
"""

from __future__ import annotations

from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.strategies import Strategy

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"


def generate_selector(job: Obj) -> None:
    """``generateSelector``: fill the labels and selector of a Job without manualSelector."""
    md = job.get("metadata") or {}
    spec = job.setdefault("spec", {})
    if spec.get("manualSelector") is True:
        return
    uid, name = str(md.get("uid") or ""), str(md.get("name") or "")
    template = spec.setdefault("template", {})
    tmd = template.get("metadata")
    if not isinstance(tmd, dict):
        tmd = template["metadata"] = {}
    labels = tmd.get("labels")
    if not isinstance(labels, dict):
        labels = tmd["labels"] = {}
    labels.setdefault(LEGACY_CONTROLLER_UID, uid)
    labels.setdefault(LEGACY_JOB_NAME, name)
    labels.setdefault(CONTROLLER_UID, uid)
    labels.setdefault(JOB_NAME, name)
    sel = spec.get("selector")
    if not isinstance(sel, dict):
        sel = spec["selector"] = {}
    ml = sel.get("matchLabels")
    if not isinstance(ml, dict):
        ml = sel["matchLabels"] = {}
    ml.setdefault(CONTROLLER_UID, uid)


class JobStrategy(Strategy):
    def prepare_create(self, obj: Obj) -> None:
        super().prepare_create(obj)
        generate_selector(obj)
