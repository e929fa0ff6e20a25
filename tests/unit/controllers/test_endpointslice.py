"""EndpointSlice controller against FakeClient + real Informers, and the pure reconciler."""

from __future__ import annotations

from typing import Any

from kubesvc.controllers.endpointslice import EndpointSliceController
from kubesvc.controllers.endpointslice.reconciler import reconcile
from kubesvc.controllers.servicepods import ServicePodIndex
from tests.unit.controllers.helpers import Harness, Obj, pod, service, wait_for

SLICES = "endpointslices.discovery.k8s.io"


def make(h: Harness, **kw: Any) -> EndpointSliceController:
    idx = ServicePodIndex(h.informer("services"), h.informer("pods"))
    return EndpointSliceController(
        h.client, idx, slices=h.informer(SLICES), nodes=h.informer("nodes"), **kw
    )


def slices_of(h: Harness, svc: str) -> list[Obj]:
    return [s for s in h.items(SLICES)
            if s["metadata"]["labels"].get("kubernetes.io/service-name") == svc]


def eps_of(h: Harness, svc: str) -> dict[str, dict[str, Any]]:
    return {e["targetRef"]["name"]: e for s in slices_of(h, svc) for e in s["endpoints"]}


async def test_slices_follow_pods() -> None:
    h = Harness()
    await h.client.create("nodes", {"metadata": {"name": "n1", "labels": {
        "topology.kubernetes.io/zone": "z1"}}})
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("pods", pod("a", ip="10.0.0.1", node="n1"))
    await h.client.create("pods", pod("other", ip="10.0.0.9", labels={"app": "db"}))
    await h.client.create("pods", pod("noip", ip=None))
    c = make(h)
    async with h.running(c):
        await wait_for(lambda: "a" in eps_of(h, "web"), what="first endpoint")
        [s] = slices_of(h, "web")
        assert s["metadata"]["name"].startswith("web-") and len(s["metadata"]["name"]) == 9
        assert s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslice-controller.k8s.io"
        [ref] = s["metadata"]["ownerReferences"]
        assert ref["kind"] == "Service" and ref["controller"] and ref["blockOwnerDeletion"]
        assert s["addressType"] == "IPv4"
        assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
        a = s["endpoints"][0]
        assert a["addresses"] == ["10.0.0.1"]
        assert a["conditions"] == {"ready": True, "serving": True, "terminating": False}
        assert a["nodeName"] == "n1" and a["zone"] == "z1"
        assert a["targetRef"]["kind"] == "Pod" and a["targetRef"]["name"] == "a"
        assert set(eps_of(h, "web")) == {"a"}

        await h.client.create("pods", pod("b", ip="10.0.0.2"))
        await wait_for(lambda: set(eps_of(h, "web")) == {"a", "b"}, what="b added")
        await h.client.patch("pods", "b", {"status": {"conditions": [
            {"type": "Ready", "status": "False"}]}}, subresource="status")
        await wait_for(lambda: eps_of(h, "web")["b"]["conditions"]["ready"] is False)
        assert eps_of(h, "web")["b"]["conditions"]["serving"] is False
        # label change takes the pod out; another pod's label change brings it in
        await h.client.patch("pods", "a", {"metadata": {"labels": {"app": "db"}}})
        await h.client.patch("pods", "other", {"metadata": {"labels": {"app": "web"}}})
        await wait_for(lambda: set(eps_of(h, "web")) == {"b", "other"}, what="relabel")
        await h.client.delete("pods", "b")
        await wait_for(lambda: set(eps_of(h, "web")) == {"other"}, what="delete")
        assert len(slices_of(h, "web")) == 1


async def test_unchanged_slice_not_rewritten() -> None:
    h = Harness()
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("pods", pod("a"))
    c = make(h)
    async with h.running(c):
        await wait_for(lambda: "a" in eps_of(h, "web"))
        h.client.actions.clear()
        # an update that changes nothing endpoints depend on
        await h.client.patch("pods", "a", {"metadata": {"annotations": {"x": "y"}}})
        await h.client.create("pods", pod("b", ip="10.0.0.2", labels={"app": "db"}))
        await h.client.patch("services", "web", {"status": {"loadBalancer": {}}})
        await h.client.create("services", service("db", selector={"app": "db"}))
        await wait_for(lambda: "b" in eps_of(h, "db"))
        for _ in range(20):
            c.queue.add("default/web")  # a forced resync is a no-op too
        await wait_for(lambda: len(c.queue) == 0)
        assert [a for a in h.client.actions
                if a[1] == SLICES and "web" in a[2]] == []


async def test_split_at_max_and_merge_back() -> None:
    h = Harness()
    await h.client.create("services", service("web", selector={"app": "web"}))
    for i in range(250):
        await h.client.create("pods", pod(f"p{i:03d}", ip=f"10.1.{i // 200}.{i % 200 + 1}"))
    c = make(h)
    async with h.running(c):
        await wait_for(lambda: len(eps_of(h, "web")) == 250, what="250 endpoints")
        sizes = sorted(len(s["endpoints"]) for s in slices_of(h, "web"))
        assert sizes == [50, 100, 100]
        for i in range(250):
            if i % 5 != 0:  # keep 50
                await h.client.delete("pods", f"p{i:03d}")
        await wait_for(lambda: len(eps_of(h, "web")) == 50, what="shrink")
        await wait_for(lambda: len(slices_of(h, "web")) == 1, what="merged into one slice")
        # growing again: at most 100 per slice, two slices for 120
        for i in range(250, 320):
            await h.client.create("pods", pod(f"p{i:03d}", ip=f"10.2.0.{i - 249}"))
        await wait_for(lambda: len(eps_of(h, "web")) == 120)
        sizes = [len(s["endpoints"]) for s in slices_of(h, "web")]
        assert len(sizes) == 2 and max(sizes) <= 100
        # no pod shows up twice
        assert sum(len(s["endpoints"]) for s in slices_of(h, "web")) == 120


async def test_named_ports_resolve_per_pod() -> None:
    h = Harness()
    await h.client.create("services", service("web", selector={"app": "web"}, ports=[
        {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}]))
    await h.client.create("pods", pod("a", ip="10.0.0.1", ports=[
        {"name": "web", "containerPort": 8080, "protocol": "TCP"}]))
    await h.client.create("pods", pod("b", ip="10.0.0.2", ports=[
        {"name": "web", "containerPort": 9090}]))
    await h.client.create("pods", pod("c", ip="10.0.0.3", ports=[
        {"name": "other", "containerPort": 7070}]))
    c = make(h)
    async with h.running(c):
        await wait_for(lambda: len(eps_of(h, "web")) == 3)
        by_pod = {e["targetRef"]["name"]: [p["port"] for p in s["ports"]]
                  for s in slices_of(h, "web") for e in s["endpoints"]}
        assert by_pod == {"a": [8080], "b": [9090], "c": []}
        assert len(slices_of(h, "web")) == 3


async def test_publish_not_ready_and_terminating() -> None:
    h = Harness()
    await h.client.create("services", service("pub", selector={"app": "web"},
                                              publishNotReadyAddresses=True))
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("pods", pod("nr", ip="10.0.0.1", ready=False))
    p = pod("term", ip="10.0.0.2")
    p["metadata"]["finalizers"] = ["test/hold"]
    await h.client.create("pods", p)
    c = make(h)
    async with h.running(c):
        await wait_for(lambda: len(eps_of(h, "pub")) == 2 and len(eps_of(h, "web")) == 2)
        assert eps_of(h, "pub")["nr"]["conditions"]["ready"] is True
        assert eps_of(h, "web")["nr"]["conditions"]["ready"] is False
        await h.client.delete("pods", "term")  # finalizer: stays, with deletionTimestamp
        await wait_for(lambda: eps_of(h, "web")["term"]["conditions"]["terminating"])
        assert eps_of(h, "web")["term"]["conditions"] == {
            "ready": False, "serving": True, "terminating": True}
        assert eps_of(h, "pub")["term"]["conditions"]["ready"] is True


async def test_service_without_pods_gets_placeholder_and_cleanup() -> None:
    h = Harness()
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("services", service("ext", type="ExternalName",
                                              externalName="x.example"))
    c = make(h)
    async with h.running(c):
        await wait_for(lambda: len(slices_of(h, "web")) == 1)
        [s] = slices_of(h, "web")
        assert s["endpoints"] == [] and s["ports"] == []
        await h.client.create("pods", pod("a"))
        await wait_for(lambda: "a" in eps_of(h, "web"))
        [s2] = slices_of(h, "web")
        assert s2["metadata"]["name"] == s["metadata"]["name"]  # placeholder reused
        await h.client.delete("services", "web")
        await wait_for(lambda: slices_of(h, "web") == [])
        assert slices_of(h, "ext") == []


def test_reconciler_reuses_doomed_slice_for_new_port_set() -> None:
    svc = service("web", selector={"app": "web"})
    svc["metadata"]["uid"] = "u1"
    pods = [pod("a", ip="10.0.0.1")]
    pods[0]["metadata"]["uid"] = "pa"
    first = reconcile(svc, pods)
    [s] = first.create
    s["metadata"]["resourceVersion"] = "7"
    svc["spec"]["ports"][0]["targetPort"] = 9000
    plan = reconcile(svc, pods, existing=[s])
    assert plan.create == [] and plan.delete == []
    [u] = plan.update
    assert u["metadata"]["name"] == s["metadata"]["name"]
    assert u["metadata"]["resourceVersion"] == "7"
    assert u["ports"][0]["port"] == 9000
    assert reconcile(svc, pods, existing=[u]).empty
