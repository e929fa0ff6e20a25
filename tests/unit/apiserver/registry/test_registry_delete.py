"""Deletion: preconditions, propagation finalizers, graceful pods, finalizers,
deletecollection, namespace lifecycle."""

from __future__ import annotations

import asyncio

import pytest

from kubesvc import errors
from kubesvc.apiserver.registry import Registry
from kubesvc.client.options import DeleteOptions, ListOptions
from tests.unit.apiserver.registry.registry_helpers import cm, deployment, pod, svc


async def test_plain_delete_returns_last_state(reg: Registry) -> None:
    a = await reg.create("configmaps", cm("a", x="1"))
    out = await reg.delete("configmaps", "a", namespace="default")
    assert out["data"] == {"x": "1"} and out["metadata"]["uid"] == a["metadata"]["uid"]
    with pytest.raises(errors.NotFound):
        await reg.get("configmaps", "a", namespace="default")
    with pytest.raises(errors.NotFound) as ei:
        await reg.delete("configmaps", "a", namespace="default")
    assert ei.value.message == 'configmaps "a" not found'


async def test_preconditions(reg: Registry) -> None:
    a = await reg.create("configmaps", cm("a"))
    with pytest.raises(errors.Conflict) as ei:
        await reg.delete("configmaps", "a", namespace="default",
                         opts=DeleteOptions(preconditions={"uid": "x"}))
    assert ei.value.message == (
        'Operation cannot be fulfilled on configmaps "a": Precondition failed: UID in '
        f"precondition: x, UID in object meta: {a['metadata']['uid']}"
    )
    with pytest.raises(errors.Conflict) as ei:
        await reg.delete("configmaps", "a", namespace="default",
                         opts=DeleteOptions(preconditions={"resourceVersion": "1"}))
    assert "Precondition failed: ResourceVersion in precondition: 1" in ei.value.message
    await reg.delete("configmaps", "a", namespace="default",
                     opts=DeleteOptions(preconditions={
                         "uid": a["metadata"]["uid"],
                         "resourceVersion": a["metadata"]["resourceVersion"]}))


async def test_propagation_policies_set_gc_finalizers(reg: Registry) -> None:
    await reg.create("deployments.apps", deployment("fg"))
    out = await reg.delete("deployments.apps", "fg", namespace="default",
                           opts=DeleteOptions(propagation_policy="Foreground"))
    md = out["metadata"]
    assert md["finalizers"] == ["foregroundDeletion"]
    assert md["deletionTimestamp"] and md["deletionGracePeriodSeconds"] == 0
    assert md["generation"] == 2
    # Still there until the garbage collector removes the finalizer.
    got = await reg.get("deployments.apps", "fg", namespace="default")
    assert got["metadata"]["deletionTimestamp"] == md["deletionTimestamp"]
    await reg.create("deployments.apps", deployment("or"))
    out = await reg.delete("deployments.apps", "or", namespace="default",
                           opts=DeleteOptions(propagation_policy="Orphan"))
    assert out["metadata"]["finalizers"] == ["orphan"]
    # Removing the last finalizer deletes it.
    cur = await reg.get("deployments.apps", "or", namespace="default")
    cur["metadata"]["finalizers"] = []
    await reg.update("deployments.apps", cur)
    with pytest.raises(errors.NotFound):
        await reg.get("deployments.apps", "or", namespace="default")
    await reg.create("deployments.apps", deployment("bg"))
    await reg.delete("deployments.apps", "bg", namespace="default",
                     opts=DeleteOptions(propagation_policy="Background"))
    with pytest.raises(errors.NotFound):
        await reg.get("deployments.apps", "bg", namespace="default")
    with pytest.raises(errors.BadRequest):
        await reg.delete("deployments.apps", "fg", namespace="default",
                         opts=DeleteOptions(propagation_policy="X"))


async def test_finalizers_hold_the_object(reg: Registry) -> None:
    await reg.create("configmaps", {**cm("a"), "metadata": {
        "name": "a", "namespace": "default", "finalizers": ["example.com/hold"]}})
    out = await reg.delete("configmaps", "a", namespace="default")
    assert out["metadata"]["deletionTimestamp"]
    again = await reg.delete("configmaps", "a", namespace="default")
    assert again["metadata"]["resourceVersion"] == out["metadata"]["resourceVersion"]
    cur = await reg.get("configmaps", "a", namespace="default")
    cur["metadata"]["finalizers"] = ["example.com/hold", "example.com/other"]
    with pytest.raises(errors.Invalid):  # no new finalizers once deleting
        await reg.update("configmaps", cur)
    await reg.patch("configmaps", "a", {"metadata": {"finalizers": None}}, namespace="default")
    with pytest.raises(errors.NotFound):
        await reg.get("configmaps", "a", namespace="default")


async def test_graceful_pod_deletion(reg: Registry) -> None:
    await reg.create("pods", pod("p", node="n1", grace=20))
    out = await reg.delete("pods", "p", namespace="default")
    md = out["metadata"]
    assert md["deletionGracePeriodSeconds"] == 20 and md["deletionTimestamp"]
    assert (await reg.get("pods", "p", namespace="default"))["metadata"]["deletionTimestamp"]
    shorter = await reg.delete("pods", "p", namespace="default",
                               opts=DeleteOptions(grace_period_seconds=5))
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 5
    assert shorter["metadata"]["deletionTimestamp"] < md["deletionTimestamp"]
    same = await reg.delete("pods", "p", namespace="default")
    assert same["metadata"]["deletionGracePeriodSeconds"] == 5
    # The node agent finishes it with grace 0.
    await reg.delete("pods", "p", namespace="default", opts=DeleteOptions(grace_period_seconds=0))
    with pytest.raises(errors.NotFound):
        await reg.get("pods", "p", namespace="default")


async def test_unbound_and_default_grace_pods(reg: Registry) -> None:
    await reg.create("pods", pod("unbound"))
    await reg.delete("pods", "unbound", namespace="default")
    with pytest.raises(errors.NotFound):
        await reg.get("pods", "unbound", namespace="default")
    await reg.create("pods", pod("bound", node="n1"))
    out = await reg.delete("pods", "bound", namespace="default")
    assert out["metadata"]["deletionGracePeriodSeconds"] == 30  # defaulted spec value
    await reg.create("pods", pod("done", node="n1"))
    cur = await reg.get("pods", "done", namespace="default")
    cur["status"] = {"phase": "Succeeded"}
    await reg.update("pods", cur, subresource="status")
    await reg.delete("pods", "done", namespace="default")
    with pytest.raises(errors.NotFound):
        await reg.get("pods", "done", namespace="default")


async def test_delete_collection(reg: Registry) -> None:
    for i in range(4):
        await reg.create("configmaps", cm(f"c{i}", labels={"del": "yes" if i < 3 else "no"}))
    out = await reg.delete_collection("configmaps", namespace="default",
                                      list_opts=ListOptions(label_selector="del=yes"))
    assert out["kind"] == "ConfigMapList"
    assert sorted(i["metadata"]["name"] for i in out["items"]) == ["c0", "c1", "c2"]
    left = await reg.list("configmaps", namespace="default")
    assert [i["metadata"]["name"] for i in left["items"]] == ["c3"]


async def test_immortal_namespaces(reg: Registry) -> None:
    for ns in ("default", "kube-system", "kube-public"):
        with pytest.raises(errors.Forbidden) as ei:
            await reg.delete("namespaces", ns)
        assert ei.value.message == (
            f'namespaces "{ns}" is forbidden: this namespace may not be deleted'
        )


async def test_namespace_deletion_removes_content(reg: Registry) -> None:
    ns = await reg.create("namespaces", {"metadata": {"name": "team"}})
    assert ns["status"]["phase"] == "Active"
    assert ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["metadata"]["labels"]["kubernetes.io/metadata.name"] == "team"
    await reg.create("configmaps", cm("c", ns="team"))
    await reg.create("services", svc("s", ns="team", type="NodePort"))
    node_port = (await reg.get("services", "s", namespace="team"))["spec"]["ports"][0]["nodePort"]
    await reg.create("nodes", {"metadata": {"name": "n1"}})
    await reg.create("pods", pod("running", ns="team", node="n1", grace=30))
    await reg.create("pods", pod("orphan", ns="team", node="gone-node", grace=30))
    out = await reg.delete("namespaces", "team")
    assert out["status"]["phase"] == "Terminating" and out["metadata"]["deletionTimestamp"]
    with pytest.raises(errors.Forbidden) as ei:
        await reg.create("configmaps", cm("late", ns="team"))
    assert ei.value.message == (
        'configmaps "late" is forbidden: unable to create new content in namespace team '
        "because it is being terminated"
    )
    with pytest.raises(errors.Conflict) as ce:
        await reg.delete("namespaces", "team")
    assert "The system is ensuring all content is removed from this namespace." in ce.value.message

    async def until(pred: object) -> None:
        for _ in range(200):
            if await pred():  # type: ignore[operator]
                return
            await asyncio.sleep(0.01)
        raise AssertionError("condition not reached")

    async def only_running_pod_left() -> bool:
        names = []
        for r in ("configmaps", "services", "pods"):
            names += [i["metadata"]["name"] for i in (await reg.list(r, namespace="team"))["items"]]
        return names == ["running"]

    await until(only_running_pod_left)
    running = await reg.get("pods", "running", namespace="team")
    assert running["metadata"]["deletionGracePeriodSeconds"] == 30
    assert (await reg.get("namespaces", "team"))["status"]["phase"] == "Terminating"
    assert not reg.ports.has(node_port)  # the Service's port went back
    await reg.delete("pods", "running", namespace="team",
                     opts=DeleteOptions(grace_period_seconds=0))

    async def namespace_gone() -> bool:
        try:
            await reg.get("namespaces", "team")
        except errors.NotFound:
            return True
        return False

    await until(namespace_gone)


async def test_namespace_without_content_goes_quickly(reg: Registry) -> None:
    await reg.create("namespaces", {"metadata": {"name": "empty"}})
    await reg.delete("namespaces", "empty")
    await reg.namespaces.wait_idle()
    with pytest.raises(errors.NotFound):
        await reg.get("namespaces", "empty")


async def test_namespace_update_keeps_status_and_finalizers(reg: Registry) -> None:
    ns = await reg.create("namespaces", {"metadata": {"name": "x"}})
    ns["status"] = {"phase": "Terminating"}
    ns["spec"] = {"finalizers": []}
    ns["metadata"]["labels"]["team"] = "a"
    out = await reg.update("namespaces", ns)
    assert out["status"]["phase"] == "Active"
    assert out["spec"]["finalizers"] == ["kubernetes"]
    assert out["metadata"]["labels"]["team"] == "a"


async def test_terminating_namespace_resumes_after_restart(reg: Registry) -> None:
    await reg.create("namespaces", {"metadata": {"name": "later"}})
    await reg.create("nodes", {"metadata": {"name": "n1"}})
    await reg.create("pods", pod("p", ns="later", node="n1"))
    await reg.delete("namespaces", "later")
    await reg.stop()
    # The node agent finished the pod while the server was down.
    await reg.store.delete("/registry/core/pods/later/p")
    again = Registry(reg.store, compact_interval=0)
    await again.start()
    try:
        await again.namespaces.wait_idle()
        with pytest.raises(errors.NotFound):
            await again.get("namespaces", "later")
    finally:
        await again.stop()


async def test_namespace_finalize_subresource(reg: Registry) -> None:
    await reg.create("namespaces", {"metadata": {"name": "fin"},
                                    "spec": {"finalizers": ["example.com/x"]}})
    await reg.delete("namespaces", "fin")
    await reg.namespaces.wait_idle()
    ns = await reg.get("namespaces", "fin")
    assert ns["spec"]["finalizers"] == ["example.com/x"]  # ours is gone, theirs holds it
    assert ns["status"]["phase"] == "Terminating"
    ns["spec"]["finalizers"] = []
    await reg.update("namespaces", ns, subresource="finalize")
    with pytest.raises(errors.NotFound):
        await reg.get("namespaces", "fin")
