"""The pods/eviction subresource on the in-process Registry: PDB checks (429 with the
DisruptionBudget cause, the stale-budget answer, more than one budget), the disruption
spent on the budget, the DisruptionTarget condition, and pods that skip the budgets."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore

PDBS = "poddisruptionbudgets.policy"


async def _reg() -> Registry:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    return reg


async def _pod(reg: Registry, name: str, *, phase: str = "Running", ready: bool = True) -> None:
    await reg.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "labels": {"app": "web"}}, "spec": {"nodeName": "n1", "containers": [
            {"name": "c", "image": "x"}]}}, namespace="default")
    await reg.patch("pods", name, {"status": {"phase": phase, "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}, namespace="default",
        subresource="status")


async def _pdb(reg: Registry, name: str, status: dict[str, Any]) -> None:
    await reg.create(PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                            "metadata": {"name": name}, "spec": {
                                "minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
                     namespace="default")
    await reg.patch(PDBS, name, {"status": {"observedGeneration": 1, **status}},
                    namespace="default", subresource="status")


async def _evict(reg: Registry, name: str) -> dict[str, Any]:
    return await reg.create("pods", {"apiVersion": "policy/v1", "kind": "Eviction",
                                     "metadata": {"name": name}}, namespace="default",
                            subresource="eviction", name=name)


async def test_eviction_spends_a_disruption_and_marks_the_pod() -> None:
    reg = await _reg()
    try:
        await _pod(reg, "a")
        await _pdb(reg, "pdb", {"disruptionsAllowed": 1, "currentHealthy": 2,
                                "desiredHealthy": 1, "expectedPods": 2})
        out = await _evict(reg, "a")
        assert (out["status"], out["code"]) == ("Success", 201)
        pod = await reg.get("pods", "a", namespace="default")
        assert pod["metadata"].get("deletionTimestamp")  # bound: graceful delete
        cond = next(c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert cond["reason"] == "EvictionByEvictionAPI" and cond["status"] == "True"
        st = (await reg.get(PDBS, "pdb", namespace="default"))["status"]
        assert st["disruptionsAllowed"] == 0 and "a" in st["disruptedPods"]
        assert st["conditions"][0]["reason"] == "InsufficientPods"
    finally:
        await reg.stop()


async def test_eviction_refused_by_the_budget() -> None:
    reg = await _reg()
    try:
        await _pod(reg, "a")
        await _pdb(reg, "pdb", {"disruptionsAllowed": 0, "currentHealthy": 1,
                                "desiredHealthy": 1, "expectedPods": 1})
        with pytest.raises(errors.TooManyRequests) as exc:
            await _evict(reg, "a")
        body = exc.value.status()
        assert body["code"] == 429 and body["reason"] == "TooManyRequests"
        assert body["message"] == ("Cannot evict pod as it would violate the pod's disruption "
                                   "budget.")
        assert body["details"]["causes"] == [{
            "reason": "DisruptionBudget",
            "message": "The disruption budget pdb needs 1 healthy pods and has 1 currently"}]
        assert not (await reg.get("pods", "a", namespace="default"))["metadata"].get(
            "deletionTimestamp")
        # A pod that is not running yet skips the budgets.
        await _pod(reg, "pending", phase="Pending")
        await _evict(reg, "pending")
        # A second budget over the same pods: upstream's 500.
        await reg.create(PDBS, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                                "metadata": {"name": "other"}, "spec": {
                                    "maxUnavailable": 1,
                                    "selector": {"matchLabels": {"app": "web"}}}},
                         namespace="default")
        with pytest.raises(errors.InternalError, match="more than one PodDisruptionBudget"):
            await _evict(reg, "a")
    finally:
        await reg.stop()


async def test_unready_pod_evicted_while_the_budget_is_healthy() -> None:
    reg = await _reg()
    try:
        await _pod(reg, "sick", ready=False)
        await _pdb(reg, "pdb", {"disruptionsAllowed": 0, "currentHealthy": 1,
                                "desiredHealthy": 1, "expectedPods": 2})
        await _evict(reg, "sick")  # IfHealthyBudget: 1 >= 1 healthy, so allowed
        st = (await reg.get(PDBS, "pdb", namespace="default"))["status"]
        assert st["disruptionsAllowed"] == 0 and not st.get("disruptedPods")
    finally:
        await reg.stop()
