"""LoadBalancer IPAM: assignment, requested IPs, classes, exhaustion + Event, release and
reuse, pools from a ConfigMap."""

from __future__ import annotations

from typing import Any

from kubesvc.controllers.events import EventRecorder
from kubesvc.controllers.lbipam import LBIPAMController, parse_pools
from tests.unit.controllers.helpers import Harness, Obj, service, wait_for


def lb(name: str, **spec: Any) -> Obj:
    return service(name, selector={"app": name}, type="LoadBalancer", **spec)


def ext_ip(h: Harness, name: str) -> str | None:
    svc = h.client.objects["services"].get(("default", name))
    if svc is None:
        return None
    ing = (svc.get("status") or {}).get("loadBalancer", {}).get("ingress") or []
    return ing[0]["ip"] if ing else None


def events(h: Harness, reason: str) -> list[Obj]:
    return [e for e in h.client.objects.get("events", {}).values() if e["reason"] == reason]


def test_parse_pools() -> None:
    assert parse_pools(["127.0.100.0/30"]) == [(2130732033, 2130732034)]
    assert parse_pools(["10.0.0.5-10.0.0.6, 10.0.0.9"]) == [
        (167772165, 167772166), (167772169, 167772169)]
    assert parse_pools(["bogus"]) == []


async def test_assign_exhaust_release_reuse() -> None:
    h = Harness()
    rec = EventRecorder(h.client, component="kubesvc-lb-ipam")
    c = LBIPAMController(h.client, services=h.informer("services"),
                         pools=["127.0.100.1-127.0.100.2"], recorder=rec)
    await h.client.create("services", lb("a"))
    await h.client.create("services", service("plain", selector={"app": "x"}))
    await h.client.create("services", lb("other", loadBalancerClass="example.com/lb"))
    async with h.running(c, rec):
        await wait_for(lambda: ext_ip(h, "a") == "127.0.100.1")
        await h.client.create("services", lb("b"))
        await wait_for(lambda: ext_ip(h, "b") == "127.0.100.2")
        assert ext_ip(h, "other") is None and ext_ip(h, "plain") is None
        svc_a = h.client.objects["services"][("default", "a")]
        assert svc_a["status"]["loadBalancer"]["ingress"] == [
            {"ip": "127.0.100.1", "ipMode": "VIP"}]
        await wait_for(lambda: len(events(h, "IPAllocated")) == 2)

        await h.client.create("services", lb("c"))
        await wait_for(lambda: len(events(h, "AllocationFailed")) == 1)
        [ev] = events(h, "AllocationFailed")
        assert ev["type"] == "Warning" and "exhausted" in ev["message"]
        assert ev["involvedObject"]["kind"] == "Service"
        assert ev["involvedObject"]["name"] == "c"
        assert ev["source"]["component"] == "kubesvc-lb-ipam" and ev["count"] == 1
        assert ext_ip(h, "c") is None

        # type change releases a's IP; the pending Service gets it
        await h.client.patch("services", "a", {"spec": {"type": "ClusterIP"}})
        await wait_for(lambda: ext_ip(h, "c") == "127.0.100.1", what="reuse")
        await wait_for(lambda: ext_ip(h, "a") is None, what="status cleared")
        # delete releases too
        await h.client.delete("services", "b")
        await h.client.create("services", lb("d", loadBalancerIP="127.0.100.2"))
        await wait_for(lambda: ext_ip(h, "d") == "127.0.100.2")
        # a requested IP outside the pools stays pending with an Event
        await h.client.create("services", lb("e", loadBalancerIP="127.0.200.9"))
        await wait_for(lambda: any(e["involvedObject"]["name"] == "e"
                                   for e in events(h, "AllocationFailed")))
        assert ext_ip(h, "e") is None


async def test_pools_from_configmap_and_restart_keeps_ips() -> None:
    h = Harness()
    await h.client.create("services", lb("a"))
    c = LBIPAMController(h.client, services=h.informer("services"),
                         configmaps=h.informer("configmaps", namespace="kube-system"))
    async with h.running(c):
        await wait_for(lambda: "default/a" in c.pending)  # no pools yet
        await h.client.create("configmaps", {
            "metadata": {"name": "kubesvc-lb-pools", "namespace": "kube-system"},
            "data": {"default": "127.0.101.7/32"}})
        await wait_for(lambda: ext_ip(h, "a") == "127.0.101.7")
    # a new controller (restart) adopts the existing allocation instead of moving it
    h2 = Harness(h.client)
    c2 = LBIPAMController(h.client, services=h2.informer("services"),
                          pools=["127.0.101.0/24"])
    async with h2.running(c2):
        await h.client.create("services", lb("b"))
        await wait_for(lambda: ext_ip(h, "b") is not None)
        assert ext_ip(h, "a") == "127.0.101.7" and ext_ip(h, "b") == "127.0.101.1"


async def test_event_dedup_counts() -> None:
    h = Harness()
    rec = EventRecorder(h.client, component="x")
    obj = {"kind": "Service", "metadata": {"name": "s", "namespace": "default", "uid": "u"}}
    async with h.running(rec):
        for _ in range(3):
            rec.event(obj, "Warning", reason="R", message="same")
        rec.event(obj, "Warning", reason="R", message="different")
        await wait_for(lambda: sum(e["count"] for e in h.client.objects.get(
            "events", {}).values()) == 4)
        counts = sorted((e["message"], e["count"]) for e in h.client.objects["events"].values())
        assert counts == [("different", 1), ("same", 3)]
