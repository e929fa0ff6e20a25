"""Deployment + ReplicaSet controllers together against FakeClient + real Informers; pod
readiness is driven by patching pod status, as a kubelet would."""

from __future__ import annotations

import asyncio
from typing import Any

from kubesvc.controllers.deployment import DeploymentController
from kubesvc.controllers.events import EventRecorder
from kubesvc.controllers.replicaset import ReplicaSetController
from kubesvc.controllers.workloads import template_hash
from tests.unit.controllers.helpers import Harness, Obj, wait_for

DEPLOY = "deployments.apps"
RS = "replicasets.apps"


def deployment(name: str, replicas: int, image: str = "img:1", **strategy: Any) -> Obj:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy or {"type": "RollingUpdate"},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "c", "image": image}]}},
        },
    }


def setup() -> tuple[Harness, list[Any]]:
    h = Harness()
    rec = EventRecorder(h.client, component="deployment-controller")
    rs = ReplicaSetController(h.client, replicasets=h.informer(RS), pods=h.informer("pods"),
                              recorder=rec)
    dc = DeploymentController(h.client, deployments=h.informer(DEPLOY),
                              replicasets=h.informer(RS), recorder=rec)
    return h, [rs, dc, rec]


def pods(h: Harness) -> list[Obj]:
    return [p for p in h.items("pods") if not p["metadata"].get("deletionTimestamp")]


def ready_pods(h: Harness) -> list[Obj]:
    return [p for p in pods(h) if any(c["type"] == "Ready" and c["status"] == "True"
                                      for c in (p.get("status") or {}).get("conditions", []))]


async def make_ready(h: Harness, limit: int | None = None) -> int:
    """Mark up to ``limit`` not-ready pods Ready (as the node agent would)."""
    n = 0
    for i, p in enumerate(pods(h)):
        if p in ready_pods(h):
            continue
        if limit is not None and n >= limit:
            break
        await h.client.patch("pods", p["metadata"]["name"], {"status": {
            "phase": "Running", "podIP": f"10.9.0.{i + 1}",
            "conditions": [{"type": "Ready", "status": "True"}]}}, subresource="status")
        n += 1
    return n


def dep(h: Harness, name: str) -> Obj:
    return h.client.objects[DEPLOY][("default", name)]


def rollout_complete(d: Obj) -> bool:
    """kubectl rollout status's test for a Deployment."""
    st = d.get("status") or {}
    want = d["spec"]["replicas"]
    return bool(d["metadata"].get("generation", 0) <= st.get("observedGeneration", 0)
                and st.get("updatedReplicas", 0) == want and st.get("replicas", 0) == want
                and st.get("availableReplicas", 0) == want)


async def test_scale_up_and_down() -> None:
    h, runnables = setup()
    await h.client.create(DEPLOY, deployment("web", 3))
    async with h.running(*runnables):
        await wait_for(lambda: len(pods(h)) == 3, what="3 pods")
        [rs] = h.items(RS)
        tpl_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["metadata"]["name"] == f"web-{tpl_hash}"
        assert rs["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
        assert rs["spec"]["selector"]["matchLabels"] == {"app": "web",
                                                         "pod-template-hash": tpl_hash}
        for p in pods(h):
            name = p["metadata"]["name"]
            assert name.startswith(f"web-{tpl_hash}-") and len(name) == len(rs["metadata"][
                "name"]) + 6
            [ref] = p["metadata"]["ownerReferences"]
            assert ref["kind"] == "ReplicaSet" and ref["controller"] is True
            assert p["metadata"]["labels"]["pod-template-hash"] == tpl_hash
        await make_ready(h)
        await wait_for(lambda: rollout_complete(dep(h, "web")), what="rollout complete")
        st = dep(h, "web")["status"]
        assert (st["readyReplicas"], st["updatedReplicas"], st["availableReplicas"]) == (3, 3, 3)
        conds = {c["type"]: c for c in st["conditions"]}
        assert conds["Available"]["status"] == "True"
        assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"
        assert dep(h, "web")["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"] == "1"

        await h.client.patch(DEPLOY, "web", {"spec": {"replicas": 5}})
        await wait_for(lambda: len(pods(h)) == 5, what="5 pods")
        await make_ready(h)
        await wait_for(lambda: dep(h, "web")["status"]["readyReplicas"] == 5)
        await h.client.patch(DEPLOY, "web", {"spec": {"replicas": 1}})
        await wait_for(lambda: len(pods(h)) == 1, what="1 pod")
        await wait_for(lambda: rollout_complete(dep(h, "web")))
        await asyncio.sleep(0.05)
        assert len(pods(h)) == 1 and len(h.items(RS)) == 1
        msgs = [e["message"] for e in h.items("events") if e["reason"] == "ScalingReplicaSet"]
        assert f"Scaled up replica set web-{tpl_hash} from 0 to 3" in msgs
        assert f"Scaled down replica set web-{tpl_hash} from 5 to 1" in msgs
        assert any(e["reason"] == "SuccessfulCreate" for e in h.items("events"))


async def test_replicaset_replaces_deleted_pod_without_overshoot() -> None:
    h, runnables = setup()
    await h.client.create(DEPLOY, deployment("web", 2))
    async with h.running(*runnables):
        await wait_for(lambda: len(pods(h)) == 2)
        victim = pods(h)[0]["metadata"]["name"]
        await h.client.delete("pods", victim)
        await wait_for(lambda: len(pods(h)) == 2 and victim not in
                       [p["metadata"]["name"] for p in pods(h)])
        await asyncio.sleep(0.05)
        assert len(pods(h)) == 2


async def rolling(h: Harness, *, surge: int, unavailable: int, replicas: int) -> None:
    """Update the template and drive readiness one pod at a time, checking the bounds."""
    await h.client.patch(DEPLOY, "web", {"metadata": {"generation": 2}, "spec": {"template": {
        "spec": {"containers": [{"name": "c", "image": "img:2"}]}}}})
    loop = asyncio.get_running_loop()
    end = loop.time() + 5
    while not rollout_complete(dep(h, "web")) or dep(h, "web")["status"].get(
            "observedGeneration") != 2:
        assert loop.time() < end, f"rollout did not finish: {dep(h, 'web')['status']}"
        assert len(pods(h)) <= replicas + surge, "maxSurge exceeded"
        assert len(ready_pods(h)) >= replicas - unavailable, "maxUnavailable exceeded"
        await asyncio.sleep(0.01)
        await make_ready(h, limit=1)
    images = {p["spec"]["containers"][0]["image"] for p in pods(h)}
    assert images == {"img:2"} and len(pods(h)) == replicas


async def test_rolling_update_respects_surge_and_unavailable() -> None:
    h, runnables = setup()
    await h.client.create(DEPLOY, deployment("web", 4, type="RollingUpdate", rollingUpdate={
        "maxSurge": 1, "maxUnavailable": 0}))
    async with h.running(*runnables):
        await wait_for(lambda: len(pods(h)) == 4)
        await make_ready(h)
        await wait_for(lambda: rollout_complete(dep(h, "web")))
        await rolling(h, surge=1, unavailable=0, replicas=4)
        rss = h.items(RS)
        assert len(rss) == 2
        revs = sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                      for r in rss)
        assert revs == ["1", "2"]
        old = [r for r in rss if r["spec"]["replicas"] == 0]
        assert len(old) == 1


async def test_rolling_update_with_unavailable_budget() -> None:
    h, runnables = setup()
    await h.client.create(DEPLOY, deployment("web", 4, type="RollingUpdate", rollingUpdate={
        "maxSurge": 0, "maxUnavailable": "50%"}))
    async with h.running(*runnables):
        await wait_for(lambda: len(pods(h)) == 4)
        await make_ready(h)
        await wait_for(lambda: rollout_complete(dep(h, "web")))
        await rolling(h, surge=0, unavailable=2, replicas=4)


async def test_recreate_strategy() -> None:
    h, runnables = setup()
    await h.client.create(DEPLOY, deployment("web", 2, type="Recreate"))
    async with h.running(*runnables):
        await wait_for(lambda: len(pods(h)) == 2)
        await make_ready(h)
        await wait_for(lambda: rollout_complete(dep(h, "web")))
        old_names = {p["metadata"]["name"] for p in pods(h)}
        await h.client.patch(DEPLOY, "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "c", "image": "img:2"}]}}}})
        await wait_for(lambda: len(pods(h)) == 2 and not old_names & {
            p["metadata"]["name"] for p in pods(h)}, what="recreated")
        assert {p["spec"]["containers"][0]["image"] for p in pods(h)} == {"img:2"}


def test_template_hash_is_stable_and_safe() -> None:
    t = {"spec": {"containers": [{"name": "c", "image": "x"}]}}
    assert template_hash(t) == template_hash({"spec": {"containers": [{"image": "x",
                                                                       "name": "c"}]}})
    assert template_hash(t) != template_hash(t, 1)
    assert set(template_hash(t)) <= set("bcdfghjklmnpqrstvwxz2456789")


async def test_replicaset_adopts_orphans_and_releases_relabelled_pods() -> None:
    h, runnables = setup()
    orphan = {"metadata": {"name": "stray", "namespace": "default", "labels": {"app": "x"}},
              "spec": {"containers": [{"name": "c", "image": "i"}]}}
    await h.client.create("pods", orphan)
    await h.client.create(RS, {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "x"}},
                 "template": {"metadata": {"labels": {"app": "x"}},
                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
    async with h.running(*runnables):
        await wait_for(lambda: len(pods(h)) == 2, what="one adopted + one created")
        stray = h.client.objects["pods"][("default", "stray")]
        assert stray["metadata"]["ownerReferences"][0]["name"] == "x"
        await h.client.patch("pods", "stray", {"metadata": {"labels": {"app": "y"}}})
        await wait_for(lambda: len(pods(h)) == 3, what="replacement for the released pod")
        await wait_for(lambda: not h.client.objects["pods"][("default", "stray")][
            "metadata"].get("ownerReferences"), what="released")
        await wait_for(lambda: h.client.objects[RS][("default", "x")].get(
            "status", {}).get("replicas") == 2)


async def test_revision_history_limit_cleans_old_replicasets() -> None:
    h, runnables = setup()
    d = deployment("web", 1)
    d["spec"]["revisionHistoryLimit"] = 1
    await h.client.create(DEPLOY, d)
    async with h.running(*runnables):
        for gen, image in enumerate(("img:1", "img:2", "img:3", "img:4"), start=1):
            if gen > 1:
                await h.client.patch(DEPLOY, "web", {"metadata": {"generation": gen}, "spec": {
                    "template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
            for _ in range(300):  # drive readiness until the rollout completes
                await make_ready(h)
                if rollout_complete(dep(h, "web")) and dep(h, "web")["status"][
                        "observedGeneration"] == gen:
                    break
                await asyncio.sleep(0.01)
            assert {p["spec"]["containers"][0]["image"] for p in pods(h)} == {image}
        await wait_for(lambda: len(h.items(RS)) == 2, what="history trimmed to 1 old RS")
        revs = sorted(int(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                      for r in h.items(RS))
        assert revs == [3, 4]
