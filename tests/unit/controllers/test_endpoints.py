"""Endpoints controller and EndpointSlice mirroring against FakeClient + real Informers."""

from __future__ import annotations

from kubesvc.controllers.endpoints import EndpointsController
from kubesvc.controllers.mirroring import EndpointSliceMirroringController
from kubesvc.controllers.servicepods import ServicePodIndex
from tests.unit.controllers.helpers import Harness, Obj, pod, service, wait_for

SLICES = "endpointslices.discovery.k8s.io"


def kubectl_endpoints(ep: Obj) -> str:
    """What `kubectl get endpoints` prints in ENDPOINTS (ready addresses x ports)."""
    out = []
    for s in ep.get("subsets") or []:
        for a in s.get("addresses") or []:
            for p in s.get("ports") or [{}]:
                out.append(f"{a['ip']}:{p['port']}" if "port" in p else a["ip"])
    return ",".join(out)


def ep(h: Harness, name: str) -> Obj:
    return h.client.objects["endpoints"][("default", name)]


async def test_endpoints_object_content() -> None:
    h = Harness()
    await h.client.create("services", service("web", selector={"app": "web"}, ports=[
        {"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}]))
    await h.client.create("pods", pod("b", ip="10.0.0.2", node="n1", ports=[
        {"name": "metrics", "containerPort": 9100}]))
    await h.client.create("pods", pod("a", ip="10.0.0.1", node="n1", ports=[
        {"name": "metrics", "containerPort": 9100}]))
    await h.client.create("pods", pod("c", ip="10.0.0.3"))  # no metrics port
    await h.client.create("pods", pod("nr", ip="10.0.0.4", ready=False))
    idx = ServicePodIndex(h.informer("services"), h.informer("pods"))
    c = EndpointsController(h.client, idx, endpoints=h.informer("endpoints"))
    async with h.running(c):
        await wait_for(lambda: ("default", "web") in h.client.objects.get("endpoints", {}))
        e = ep(h, "web")
        assert e["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
        assert "endpoints.kubernetes.io/last-change-trigger-time" in e["metadata"]["annotations"]
        s1, s2 = e["subsets"]
        # subset with both ports: a, b (sorted by IP)
        full = s1 if len(s1["ports"]) == 2 else s2
        only_http = s2 if full is s1 else s1
        assert [a["ip"] for a in full["addresses"]] == ["10.0.0.1", "10.0.0.2"]
        assert full["addresses"][0]["nodeName"] == "n1"
        assert full["addresses"][0]["targetRef"]["kind"] == "Pod"
        assert full["addresses"][0]["targetRef"]["name"] == "a"
        assert sorted(p["port"] for p in full["ports"]) == [8080, 9100]
        assert [a["ip"] for a in only_http["addresses"]] == ["10.0.0.3"]
        assert [a["ip"] for a in only_http["notReadyAddresses"]] == ["10.0.0.4"]
        assert only_http["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]

        await h.client.delete("pods", "c")
        await h.client.patch("pods", "nr", {"status": {"conditions": [
            {"type": "Ready", "status": "True"}]}}, subresource="status")
        await wait_for(lambda: "10.0.0.4:8080" in kubectl_endpoints(ep(h, "web")))
        assert "10.0.0.3" not in kubectl_endpoints(ep(h, "web"))
        rv = ep(h, "web")["metadata"]["resourceVersion"]
        c.queue.add("default/web")
        await wait_for(lambda: len(c.queue) == 0)
        assert ep(h, "web")["metadata"]["resourceVersion"] == rv  # no-op resync


async def test_selectorless_endpoints_untouched_and_mirrored() -> None:
    h = Harness()
    await h.client.create("services", service("ext", ports=[
        {"name": "db", "port": 5432, "protocol": "TCP"}]))
    user_ep = {"metadata": {"name": "ext", "namespace": "default", "labels": {"team": "x"}},
               "subsets": [{"addresses": [{"ip": "192.0.2.10"}, {"ip": "192.0.2.11"}],
                            "notReadyAddresses": [{"ip": "192.0.2.12"}],
                            "ports": [{"name": "db", "port": 5432, "protocol": "TCP"}]}]}
    await h.client.create("endpoints", user_ep)
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("pods", pod("a"))
    idx = ServicePodIndex(h.informer("services"), h.informer("pods"))
    c = EndpointsController(h.client, idx, endpoints=h.informer("endpoints"))
    m = EndpointSliceMirroringController(
        h.client, services=h.informer("services"), endpoints=h.informer("endpoints"),
        slices=h.informer(SLICES))

    def mirrored() -> list[Obj]:
        return [s for (_, _), s in h.client.objects.get(SLICES, {}).items()
                if s["metadata"]["labels"].get("kubernetes.io/service-name") == "ext"]

    async with h.running(c, m):
        await wait_for(lambda: len(mirrored()) == 1, what="mirrored slice")
        await wait_for(lambda: ("default", "web") in h.client.objects.get("endpoints", {}))
        [s] = mirrored()
        md = s["metadata"]
        assert md["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslicemirroring-controller.k8s.io"
        assert md["labels"]["team"] == "x"
        assert md["ownerReferences"][0]["kind"] == "Endpoints"
        assert s["ports"] == [{"name": "db", "port": 5432, "protocol": "TCP"}]
        assert {e["addresses"][0]: e["conditions"]["ready"] for e in s["endpoints"]} == {
            "192.0.2.10": True, "192.0.2.11": True, "192.0.2.12": False}
        # the Endpoints controller never rewrote the user's object
        assert ("update", "endpoints", "default/ext") not in h.client.actions
        assert ep(h, "ext")["metadata"]["labels"] == {"team": "x"}
        # the controller-managed Endpoints of "web" is not mirrored
        assert not [x for x in h.client.objects.get(SLICES, {}).values()
                    if x["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by")
                    == "endpointslicemirroring-controller.k8s.io"
                    and x["metadata"]["labels"]["kubernetes.io/service-name"] == "web"]
        # user edits flow through; deleting the Endpoints removes the mirror
        await h.client.patch("endpoints", "ext", {"subsets": [
            {"addresses": [{"ip": "192.0.2.20"}], "ports": [{"name": "db", "port": 5432}]}]})
        await wait_for(lambda: [e["addresses"][0] for e in mirrored()[0]["endpoints"]]
                       == ["192.0.2.20"])
        await h.client.delete("endpoints", "ext")
        await wait_for(lambda: mirrored() == [])


async def test_endpoints_deleted_with_service() -> None:
    h = Harness()
    await h.client.create("services", service("web", selector={"app": "web"}))
    await h.client.create("pods", pod("a"))
    idx = ServicePodIndex(h.informer("services"), h.informer("pods"))
    c = EndpointsController(h.client, idx, endpoints=h.informer("endpoints"))
    async with h.running(c):
        await wait_for(lambda: kubectl_endpoints(ep(h, "web")) == "10.0.0.1:8080")
        await h.client.delete("services", "web")
        await wait_for(lambda: ("default", "web") not in h.client.objects["endpoints"])


async def test_headless_without_ports_and_hostname() -> None:
    h = Harness()
    await h.client.create("services", service("db", selector={"app": "db"}, ports=[],
                                              clusterIP="None"))
    await h.client.create("pods", pod("db-0", ip="10.0.0.5", labels={"app": "db"},
                                      hostname="db-0", subdomain="db"))
    await h.client.create("pods", pod("db-1", ip="10.0.0.6", labels={"app": "db"},
                                      hostname="db-1", subdomain="other"))
    idx = ServicePodIndex(h.informer("services"), h.informer("pods"))
    c = EndpointsController(h.client, idx, endpoints=h.informer("endpoints"))
    async with h.running(c):
        await wait_for(lambda: kubectl_endpoints(ep(h, "db")) == "10.0.0.5,10.0.0.6")
        e = ep(h, "db")
        [subset] = e["subsets"]
        assert "ports" not in subset
        assert subset["addresses"][0]["hostname"] == "db-0"
        assert "hostname" not in subset["addresses"][1]
        assert e["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
