"""ResourceQuota against the real in-process Registry: admission on create (upstream's 403
message, terminal pods not counted, concurrent creates cannot overshoot), the
resource-quota controller's status, and the ReplicationController's ReplicaFailure
condition while a quota blocks its pods."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore
from tests.unit.controllers.test_batch_on_registry import cluster
from tests.unit.controllers.test_with_registry import poll

NS = "default"


def quota(name: str, **hard: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
            "spec": {"hard": hard}}


def pod(name: str, **resources: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": resources}]}}


async def registry() -> Registry:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    return reg


async def test_admission_rejects_over_quota_with_upstream_message() -> None:
    reg = await registry()
    try:
        await reg.create("resourcequotas", quota("q", pods="2", configmaps="1"), namespace=NS)
        await reg.create("pods", pod("a"), namespace=NS)
        await reg.create("pods", pod("b"), namespace=NS)
        with pytest.raises(errors.Forbidden) as exc:
            await reg.create("pods", pod("c"), namespace=NS)
        assert exc.value.code == 403
        assert str(exc.value) == ('pods "c" is forbidden: exceeded quota: q, requested: '
                                  'pods=1, used: pods=2, limited: pods=2')
        # a terminal pod frees its unit
        await reg.patch("pods", "a", {"status": {"phase": "Succeeded"}}, namespace=NS,
                        subresource="status")
        await reg.create("pods", pod("c"), namespace=NS)
        # other namespaces and kinds without a hard limit are not limited
        await reg.create("namespaces", {"metadata": {"name": "other"}})
        await reg.create("pods", pod("d"), namespace="other")
        await reg.create("secrets", {"metadata": {"name": "s"}}, namespace=NS)
        await reg.create("configmaps", {"metadata": {"name": "c1"}}, namespace=NS)
        with pytest.raises(errors.Forbidden, match=re.escape(
                "requested: configmaps=1, used: configmaps=1, limited: configmaps=1")):
            await reg.create("configmaps", {"metadata": {"name": "c2"}}, namespace=NS)
    finally:
        await reg.stop()


async def test_compute_quota_and_concurrent_creates() -> None:
    reg = await registry()
    try:
        await reg.create("resourcequotas", quota("cpu", **{"requests.cpu": "1"}),
                         namespace=NS)
        await reg.create("pods", pod("a", requests={"cpu": "600m"}), namespace=NS)
        with pytest.raises(errors.Forbidden, match=re.escape(
                "requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1")):
            await reg.create("pods", pod("b", requests={"cpu": "600m"}), namespace=NS)
        await reg.create("pods", pod("c", requests={"cpu": "400m"}), namespace=NS)
        await reg.create("resourcequotas", quota("count", pods="5"), namespace=NS)
        results = await asyncio.gather(
            *(reg.create("pods", pod(f"p{i}"), namespace=NS) for i in range(6)),
            return_exceptions=True)
        assert sum(1 for r in results if isinstance(r, errors.Forbidden)) == 3
        assert len((await reg.list("pods", namespace=NS))["items"]) == 5
    finally:
        await reg.stop()


async def test_controller_status_and_replica_failure_condition() -> None:
    async with cluster() as reg:
        await reg.create("resourcequotas", quota("condition-test", pods="2",
                                                 **{"count/secrets": "9"}), namespace=NS)

        async def used(want: dict[str, str]) -> bool:
            st = (await reg.get("resourcequotas", "condition-test", namespace=NS)).get(
                "status") or {}
            return st.get("hard") == {"pods": "2", "count/secrets": "9"} and st.get(
                "used") == want

        await poll(lambda: used({"pods": "0", "count/secrets": "0"}), "quota status")
        await reg.create("replicationcontrollers", {
            "apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "condition-test"},
            "spec": {"replicas": 3, "selector": {"name": "condition-test"}, "template": {
                "metadata": {"labels": {"name": "condition-test"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]}}}}, namespace=NS)

        async def failure() -> Obj | None:
            rc = await reg.get("replicationcontrollers", "condition-test", namespace=NS)
            for c in (rc.get("status") or {}).get("conditions") or ():
                if c["type"] == "ReplicaFailure":
                    return dict(c)
            return None

        await poll(failure, "ReplicaFailure condition")
        cond = await failure()
        assert cond is not None
        assert cond["status"] == "True" and cond["reason"] == "FailedCreate"
        assert "is forbidden: exceeded quota: condition-test, requested: pods=1, used: " \
               "pods=2, limited: pods=2" in cond["message"]
        await poll(lambda: used({"pods": "2", "count/secrets": "0"}), "quota used 2")
        await reg.patch("replicationcontrollers", "condition-test", {"spec": {"replicas": 2}},
                        namespace=NS, subresource="scale")

        async def cleared() -> bool:
            return await failure() is None

        await poll(cleared, "ReplicaFailure removed")
