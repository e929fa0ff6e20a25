"""Upstream ``test/e2e/network/service.go`` (Kubernetes v1.32): the [Conformance] cases that
exercise the Service and Endpoints API itself - listing across namespaces, the Endpoints
lifecycle with watches, the Service status lifecycle, and delete-collection - written anew
against kubesvc. Run by pytest; uses :mod:`.framework`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tests.conformance.framework import Api, ApiError, core, unique


def _until(api: Api, path: str, rv: str, selector: str,
           cond: Callable[[dict[str, Any]], bool], *, what: str, timeout: float = 30,
           now: str = "") -> None:
    """``watchtools.Until``: watch from ``rv`` until an event satisfies ``cond``. On
    failure, say what the object at ``now`` (a path) holds at that point."""
    seen: list[str] = []
    for ev in api.watch(path, resource_version=rv, label_selector=selector, timeout=timeout):
        obj = ev.get("object") or {}
        seen.append(f"{ev.get('type')} {obj.get('metadata', {}).get('name')}")
        if cond(ev):
            return
    state = ""
    if now:
        cur = api.get(now)
        state = (f"; GET {now} has annotations={cur['metadata'].get('annotations')} "
                 f"labels={cur['metadata'].get('labels')} status={cur.get('status')}")
    raise AssertionError(f"watch {path} from rv {rv}: never saw {what}; saw {seen}{state}")


def test_should_find_a_service_from_listing_all_namespaces(api: Api) -> None:
    """[sig-network] Services should find a service from listing all namespaces
    [Conformance]"""
    svcs = api.list("/api/v1/services")
    found = [s for s in svcs
             if s["metadata"]["name"] == "kubernetes" and s["metadata"]["namespace"] == "default"]
    assert found, "could not find service 'kubernetes' in service list in all namespaces"


def test_should_test_the_lifecycle_of_an_endpoint(api: Api, ns: str) -> None:
    """[sig-network] Services should test the lifecycle of an Endpoint [Conformance]"""
    name, sel = "testservice", "test-endpoint-static=true"
    path = core(ns, "endpoints")
    rv = api.get("/api/v1/endpoints", labelSelector=sel)["metadata"]["resourceVersion"]
    api.create(path, {"apiVersion": "v1", "kind": "Endpoints",
                      "metadata": {"name": name, "labels": {"test-endpoint-static": "true"}},
                      "subsets": [{"addresses": [{"ip": "10.0.0.24"}],
                                   "ports": [{"name": "http", "port": 80,
                                              "protocol": "TCP"}]}]})

    def static_label(kind: str) -> Callable[[dict[str, Any]], bool]:
        return lambda ev: (ev.get("type") == kind and (ev["object"]["metadata"].get("labels")
                                                       or {}).get("test-endpoint-static")
                           == "true")

    _until(api, path, rv, sel, static_label("ADDED"), what="ADDED")

    listed = api.get("/api/v1/endpoints", labelSelector=sel)
    found = [e for e in listed["items"]
             if e["metadata"]["name"] == name and e["metadata"]["namespace"] == ns]
    assert found, "unable to find Endpoint Service in list of Endpoints"
    ep = found[0]
    ep["metadata"]["labels"]["test-service"] = "updated"
    api.update(f"{path}/{name}", ep)
    _until(api, path, listed["metadata"]["resourceVersion"], sel, static_label("MODIFIED"),
           what="MODIFIED after update")
    fetched = api.get(f"{path}/{name}")
    assert fetched["metadata"]["labels"].get("test-service") == "updated", fetched["metadata"]

    api.patch(f"{path}/{name}", {
        "metadata": {"labels": {"test-service": "patched"}},
        "subsets": [{"addresses": [{"ip": "10.0.0.25"}],
                     "ports": [{"name": "http-test", "port": 8080}]}],
    }, kind="strategic")
    _until(api, path, fetched["metadata"]["resourceVersion"], sel, static_label("MODIFIED"),
           what="MODIFIED after patch")
    ep = api.get(f"{path}/{name}")
    assert ep["metadata"]["labels"].get("test-service") == "patched", ep["metadata"]
    subset = ep["subsets"][0]
    assert subset["addresses"][0]["ip"] == "10.0.0.25", subset
    assert subset["ports"][0]["name"] == "http-test", subset
    assert subset["ports"][0]["port"] == 8080, subset

    api.delete(path, labelSelector=sel)
    _until(api, path, ep["metadata"]["resourceVersion"], sel, static_label("DELETED"),
           what="DELETED")
    try:
        api.get(f"{path}/{name}")
    except ApiError as exc:
        assert exc.status == 404, exc
    else:
        raise AssertionError("should not be able to fetch Endpoint after deletion")


def test_should_complete_a_service_status_lifecycle(api: Api, ns: str) -> None:
    """[sig-network] Services should complete a service status lifecycle [Conformance]"""
    name, sel = unique("test-service"), "test-service-static=true"
    path = core(ns, "services")
    rv = api.get("/api/v1/services", labelSelector=sel)["metadata"]["resourceVersion"]
    api.create(path, {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "labels": {"test-service-static": "true"}},
        "spec": {"type": "LoadBalancer", "loadBalancerClass": "example.com/internal-vip",
                 "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 80}]},
    })

    def mine(ev: dict[str, Any]) -> dict[str, Any] | None:
        obj = ev.get("object") or {}
        meta = obj.get("metadata") or {}
        return obj if meta.get("name") == name and meta.get("namespace") == ns else None

    def meta(ev: dict[str, Any], field: str) -> dict[str, str]:
        obj = mine(ev)
        return dict((obj or {}).get("metadata", {}).get(field) or {})

    _until(api, path, rv, sel, lambda ev: meta(ev, "labels").get("test-service-static") == "true",
           what="the Service added")

    status = api.get(f"{path}/{name}/status")
    assert status["metadata"]["name"] == name and "status" in status, status

    api.patch(f"{path}/{name}/status", {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}},
    })
    _until(api, path, rv, sel,
           lambda ev: meta(ev, "annotations").get("patchedstatus") == "true",
           what="the status patch (annotation patchedstatus)", now=f"{path}/{name}")
    patched = api.get(f"{path}/{name}")
    ingress = ((patched.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    assert [i.get("ip") for i in ingress] == ["203.0.113.1"], patched.get("status")

    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for attempt in range(5):
        cur = api.get(f"{path}/{name}")
        cur.setdefault("status", {}).setdefault("conditions", []).append({
            "type": "StatusUpdate", "status": "True", "reason": "E2E",
            "message": "Set from e2e test", "lastTransitionTime": now})
        try:
            api.update(f"{path}/{name}/status", cur)
            break
        except ApiError as exc:
            if exc.status != 409 or attempt == 4:
                raise
            time.sleep(0.1)

    def has_condition(ev: dict[str, Any]) -> bool:
        obj = mine(ev)
        if not obj or (obj["metadata"].get("annotations") or {}).get("patchedstatus") != "true":
            return False
        return any(c.get("type") == "StatusUpdate" and c.get("reason") == "E2E"
                   and c.get("message") == "Set from e2e test"
                   for c in (obj.get("status") or {}).get("conditions") or [])

    _until(api, path, rv, sel, has_condition, what="the status update (condition StatusUpdate)",
           now=f"{path}/{name}")

    api.patch(f"{path}/{name}", {"metadata": {"labels": {"test-service": "patched"}}},
              kind="strategic")
    _until(api, path, rv, sel, lambda ev: meta(ev, "labels").get("test-service") == "patched",
           what="the label patch", now=f"{path}/{name}")

    api.delete(f"{path}/{name}")
    _until(api, path, rv, sel, lambda ev: ev.get("type") == "DELETED" and bool(mine(ev)),
           what="DELETED")


def test_should_delete_a_collection_of_services(api: Api, ns: str) -> None:
    """[sig-network] Services should delete a collection of services [Conformance]"""
    path = core(ns, "services")
    for prefix, label, port in (("e2e-svc-a", "delete", 8001), ("e2e-svc-b", "delete", 8002),
                                ("e2e-svc-c", "keep", 8003)):
        api.create(path, {"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": unique(prefix),
                                       "labels": {"e2e-test-service": label}},
                          "spec": {"type": "ClusterIP", "ports": [
                              {"name": "http", "protocol": "TCP", "port": port,
                               "targetPort": port}]}})
    assert len(api.list(path)) == 3, "Required count of services out of sync"
    api.delete(path, labelSelector="e2e-test-service=delete")
    left = api.list(path)
    assert len(left) == 1, f"Required count of services out of sync: {left}"
    assert left[0]["metadata"]["labels"]["e2e-test-service"] == "keep"
