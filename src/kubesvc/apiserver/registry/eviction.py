"""The ``pods/{name}/eviction`` subresource (upstream pkg/registry/core/pod/storage/
eviction.go, v1.32): a policy/v1 Eviction POST deletes the pod unless that would violate the
one PodDisruptionBudget selecting it.

Rules kept from upstream: a pod that is terminal, Pending or already being deleted is
deleted without consulting budgets; more than one budget is a 500 ("This pod has more than
one PodDisruptionBudget, which the eviction subresource does not support."); a budget whose
status is older than its generation, or with ``disruptionsAllowed`` 0, answers 429
``Cannot evict pod as it would violate the pod's disruption budget.`` with a
``DisruptionBudget`` cause; otherwise ``disruptionsAllowed`` is decremented and the pod is
recorded in ``status.disruptedPods`` (compare-and-swap on the budget) before the delete, so
two concurrent evictions cannot both spend the last disruption. A not-ready pod is deleted
without spending a disruption when the budget is healthy (``IfHealthyBudget``, the default)
or when ``unhealthyPodEvictionPolicy: AlwaysAllow``. A running pod gets the
``DisruptionTarget`` condition (``EvictionByEvictionAPI``) before its delete. The answer is a
Success Status, 201.

Called by :class:`~.core.Registry` (``create(..., subresource="eviction")``); calls the
registry's list/delete paths and the ``Store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import selectors
from kubesvc.api.objects import Obj
from kubesvc.api.resources import BY_KEY
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry.codec import decode, encode, not_found
from kubesvc.client.options import DeleteOptions

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

PDBS = "poddisruptionbudgets.policy"
MAX_DISRUPTED_PODS = 2000
DISRUPTION = "DisruptionTarget"
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."
_RETRIES = 16


def _ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def can_ignore_pdb(pod: Obj) -> bool:
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(
        (pod.get("metadata") or {}).get("deletionTimestamp"))


def matching_pdbs(pdbs: list[Obj], pod: Obj) -> list[Obj]:
    """Budgets whose selector selects the pod (a nil or empty selector selects nothing)."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    out = []
    for pdb in pdbs:
        sel = (pdb.get("spec") or {}).get("selector")
        if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            continue
        try:
            if selectors.from_label_selector_dict(sel).matches(labels):
                out.append(pdb)
        except errors.KubeError:
            continue
    return out


def too_many_requests(message: str) -> errors.TooManyRequests:
    return errors.TooManyRequests(message=VIOLATION, causes=[
        errors.Cause(reason="DisruptionBudget", message=message)])


def check_budget(pdb: Obj) -> None:
    """Raise what upstream's ``checkAndDecrement`` raises before spending a disruption."""
    md, st = pdb.get("metadata") or {}, pdb.get("status") or {}
    name = md.get("name", "")
    if int(st.get("observedGeneration") or 0) < int(md.get("generation") or 1):
        raise too_many_requests(f"The disruption budget {name} is still being processed by "
                                "the server.")
    allowed = int(st.get("disruptionsAllowed") or 0)
    if allowed < 0:
        raise errors.Forbidden(message="pdb disruptions allowed is negative")
    if len(st.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.Forbidden(message="DisruptedPods map too big - too many evictions not "
                               "confirmed by PDB controller")
    if allowed == 0:
        raise too_many_requests(
            f"The disruption budget {name} needs {int(st.get('desiredHealthy') or 0)} healthy "
            f"pods and has {int(st.get('currentHealthy') or 0)} currently")


def _spend(pdb: Obj, pod_name: str, now: str) -> None:
    st = pdb.setdefault("status", {})
    st["disruptionsAllowed"] = int(st.get("disruptionsAllowed") or 0) - 1
    if st["disruptionsAllowed"] == 0:
        conds = [c for c in st.get("conditions") or () if c.get("type") != "DisruptionAllowed"]
        conds.append({"type": "DisruptionAllowed", "status": "False",
                      "reason": "InsufficientPods", "message": "",
                      "observedGeneration": int((pdb.get("metadata") or {}).get("generation")
                                                or 1),
                      "lastTransitionTime": now})
        st["conditions"] = conds
    disrupted = dict(st.get("disruptedPods") or {})
    disrupted[pod_name] = now
    st["disruptedPods"] = disrupted


def _delete_options(eviction: Obj, dry_run: bool) -> DeleteOptions:
    do: dict[str, Any] = eviction.get("deleteOptions") or {}
    grace = do.get("gracePeriodSeconds")
    pre = do.get("preconditions")
    return DeleteOptions(
        grace_period_seconds=int(grace) if isinstance(grace, int) else None,
        propagation_policy=str(do.get("propagationPolicy") or ""),
        preconditions={k: str(v) for k, v in pre.items() if v is not None}
        if isinstance(pre, dict) else None,
        dry_run=dry_run or bool(do.get("dryRun")),
    )


async def evict(reg: Registry, eviction: Obj, ns: str, *, name: str,
                dry_run: bool = False) -> Obj:
    if not isinstance(eviction, dict):
        raise errors.BadRequest(message="the body of the request was not a JSON object")
    emeta = eviction.get("metadata") or {}
    if emeta.get("name") and name and emeta["name"] != name:
        raise errors.BadRequest(message="name in URL does not match name in Eviction object")
    info = BY_KEY["pods"]
    kv = await reg.store.get(reg.key(info, name, ns))
    if kv is None:
        raise not_found(info, name)
    pod = decode(kv)
    opts = _delete_options(eviction, dry_run)
    if not can_ignore_pdb(pod):
        await _consult_budgets(reg, pod, ns, name, dry_run=opts.dry_run)
    phase = (pod.get("status") or {}).get("phase")
    if phase not in ("Succeeded", "Failed") and not opts.dry_run:
        await _mark_disruption_target(reg, ns, name)
    await reg.delete("pods", name, namespace=ns, opts=opts)
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}


async def _mark_disruption_target(reg: Registry, ns: str, name: str) -> None:
    """Upstream ``addConditionAndDeletePod``: the ``DisruptionTarget`` condition (reason
    ``EvictionByEvictionAPI``) goes on the pod before it is deleted, so a Job's pod failure
    policy can tell an eviction from a crash."""
    info = BY_KEY["pods"]
    key = reg.key(info, name, ns)
    for _ in range(_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            return
        pod = decode(kv)
        status = pod.setdefault("status", {})
        conds = [c for c in status.get("conditions") or () if c.get("type") != DISRUPTION]
        conds.append({"type": DISRUPTION, "status": "True", "reason": "EvictionByEvictionAPI",
                      "message": "Eviction API: evicting", "lastProbeTime": None,
                      "lastTransitionTime": rfc3339(reg.now())})
        status["conditions"] = conds
        try:
            await reg.store.update(key, encode(pod), expected_mod_revision=kv.mod_revision)
        except errors.Conflict:
            continue
        except errors.NotFound:
            return
        return


async def _consult_budgets(reg: Registry, pod: Obj, ns: str, name: str, *,
                           dry_run: bool) -> None:
    pinfo = BY_KEY[PDBS]
    listed = await reg.list(PDBS, namespace=ns)
    pdbs = matching_pdbs(list(listed.get("items") or []), pod)
    if not pdbs:
        return
    if len(pdbs) > 1:
        raise errors.InternalError(message="This pod has more than one PodDisruptionBudget, "
                                   "which the eviction subresource does not support.")
    pdb_name = str((pdbs[0].get("metadata") or {}).get("name"))
    key = reg.key(pinfo, pdb_name, ns)
    for _ in range(_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            return  # the budget went away meanwhile
        pdb = decode(kv)
        st = pdb.get("status") or {}
        policy = (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") or "IfHealthyBudget"
        if not _ready(pod):
            healthy = int(st.get("currentHealthy") or 0) >= int(st.get("desiredHealthy") or 0)
            if policy == "AlwaysAllow" or (healthy and int(st.get("desiredHealthy") or 0) > 0):
                return
        check_budget(pdb)
        if dry_run:
            return
        _spend(pdb, name, rfc3339(reg.now()))
        try:
            await reg.store.update(key, encode(pdb), expected_mod_revision=kv.mod_revision)
        except errors.Conflict:
            continue
        return
    raise errors.Conflict(message=f'Operation cannot be fulfilled on poddisruptionbudgets.policy '
                          f'"{pdb_name}": the object has been modified; please apply your '
                          "changes to the latest version and try again", name=pdb_name,
                          kind="poddisruptionbudgets", group="policy")
