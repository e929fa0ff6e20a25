"""Server-side Tables: structure, object inclusion, and the Service-system printers."""

from __future__ import annotations

from typing import Any

import pytest

from kubesvc.api.tables import column_definitions, human_duration, to_table
from kubesvc.api.timefmt import parse_time_epoch
from kubesvc.errors import BadRequest

T0 = "2024-09-17T11:57:54Z"
NOW = parse_time_epoch(T0)
assert NOW is not None


def at(seconds: float) -> float:
    assert NOW is not None
    return NOW + seconds


@pytest.mark.parametrize(
    ("seconds", "want"),
    [
        (-3, "<invalid>"), (-2, "<invalid>"), (-1.5, "0s"), (-1, "0s"), (0, "0s"), (1, "1s"),
        (70, "70s"), (119, "119s"), (120, "2m"), (190, "3m10s"), (599, "9m59s"), (600, "10m"),
        (70 * 60, "70m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 1800, "3h30m"),
        (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (49 * 3600, "2d1h"),
        ((8 * 24 + 2) * 3600, "8d"), (367 * 24 * 3600, "367d"),
        ((365 * 2 * 24 + 25) * 3600, "2y1d"), (365 * 2 * 24 * 3600, "2y"),
        ((365 * 8 * 24 + 2) * 3600, "8y"),
    ],
)
def test_human_duration(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


def namespace(name: str, rv: str) -> dict[str, Any]:
    return {"kind": "Namespace", "apiVersion": "v1",
            "metadata": {"name": name, "uid": f"uid-{name}", "resourceVersion": rv,
                         "creationTimestamp": T0,
                         "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def test_namespaces_table_matches_a_real_kube_apiserver_response() -> None:
    # Shape and texts from `kubectl get ns -v=9` against a real cluster (response body).
    items = [namespace("default", "38"), namespace("kube-system", "531")]
    table = to_table("namespaces", {"kind": "NamespaceList", "apiVersion": "v1",
                                    "metadata": {"resourceVersion": "165263"}, "items": items},
                     now=at(21 * 3600))
    assert list(table) == ["kind", "apiVersion", "metadata", "columnDefinitions", "rows"]
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert table["metadata"] == {"resourceVersion": "165263"}
    assert table["columnDefinitions"] == [
        {"name": "Name", "type": "string", "format": "name", "description": (
            "Name must be unique within a namespace. Is required when creating resources, "
            "although some resources may allow a client to request the generation of an "
            "appropriate name automatically. Name is primarily intended for creation "
            "idempotence and configuration definition. Cannot be updated. More info: "
            "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"),
         "priority": 0},
        {"name": "Status", "type": "string", "format": "",
         "description": "The status of the namespace", "priority": 0},
        {"name": "Age", "type": "string", "format": "", "description": (
            "CreationTimestamp is a timestamp representing the server time when this object "
            "was created. It is not guaranteed to be set in happens-before order across "
            "separate operations. Clients may not set this value. It is represented in "
            "RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
            "lists. More info: https://git.k8s.io/community/contributors/devel/"
            "sig-architecture/api-conventions.md#metadata"),
         "priority": 0},
    ]
    assert table["rows"][0] == {
        "cells": ["default", "Active", "21h"],
        "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                   "metadata": items[0]["metadata"]},
    }
    assert table["rows"][1]["cells"] == ["kube-system", "Active", "21h"]


def svc(name: str, stype: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": "7",
                         "creationTimestamp": T0},
            "spec": {"type": stype, **spec}, "status": {"loadBalancer": {}}}


def cells(resource: str, obj: dict[str, Any], *, now: float = at(5), wide: bool = True,
          ) -> list[Any]:
    row: list[Any] = to_table(resource, obj, now=now, wide=wide)["rows"][0]["cells"]
    return row


def test_seed_nodeport_service_row() -> None:
    # `kubectl get services`: my-app-service NodePort 10.96.0.12 <none> 80:30080/TCP 5s
    s = svc("my-app-service", "NodePort", clusterIP="10.96.0.12", clusterIPs=["10.96.0.12"],
            selector={"app": "my-app"},
            ports=[{"port": 80, "targetPort": 8080, "nodePort": 30080, "protocol": "TCP"}])
    assert cells("services", s, wide=False) == [
        "my-app-service", "NodePort", "10.96.0.12", "<none>", "80:30080/TCP", "5s"]
    assert cells("services", s)[-1] == "app=my-app"
    names = [c["name"] for c in column_definitions("services")]
    assert names == ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert [c["priority"] for c in column_definitions("services")] == [0, 0, 0, 0, 0, 0, 1]


def test_service_variants() -> None:
    cip = svc("a", "ClusterIP", clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"],
              ports=[{"port": 53, "protocol": "UDP", "name": "dns"},
                     {"port": 53, "protocol": "TCP", "name": "dns-tcp"},
                     {"port": 9153, "protocol": "TCP"}])
    assert cells("services", cip)[2:5] == ["10.96.0.10", "<none>", "53/UDP,53/TCP,9153/TCP"]
    headless = svc("h", "ClusterIP", clusterIP="None", clusterIPs=["None"], selector={"a": "b"})
    assert cells("services", headless)[2:5] == ["None", "<none>", "<none>"]
    ext = svc("e", "ExternalName", externalName="db.example.com",
              ports=[{"port": 5432, "protocol": "TCP"}])
    assert cells("services", ext)[1:5] == ["ExternalName", "<none>", "db.example.com",
                                           "5432/TCP"]
    assert cells("services", ext)[-1] == "<none>"
    lb = svc("lb", "LoadBalancer", clusterIP="10.96.0.20", clusterIPs=["10.96.0.20"],
             ports=[{"port": 443, "nodePort": 31443, "protocol": "TCP"}])
    assert cells("services", lb)[3:5] == ["<pending>", "443:31443/TCP"]
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"},
                                                 {"hostname": "lb.example.com"}]}}
    assert cells("services", lb)[3] == "172.18.255.200,lb.example.com"
    # Not wide: clipped to 16 characters as upstream's loadBalancerWidth.
    assert cells("services", lb, wide=False)[3] == "172.18.255.20..."
    lb["spec"]["externalIPs"] = ["1.2.3.4"]
    assert cells("services", lb)[3] == "172.18.255.200,lb.example.com,1.2.3.4"
    with_ext = svc("x", "ClusterIP", clusterIP="10.96.0.30", externalIPs=["1.1.1.1", "2.2.2.2"])
    assert cells("services", with_ext)[2:4] == ["10.96.0.30", "1.1.1.1,2.2.2.2"]


def endpoints(*subsets: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "Endpoints", "apiVersion": "v1",
            "metadata": {"name": "my-app-service", "namespace": "default",
                         "creationTimestamp": T0}, "subsets": list(subsets)}


def test_endpoints_rows() -> None:
    assert cells("endpoints", endpoints()) == ["my-app-service", "<none>", "5s"]
    two = endpoints({"addresses": [{"ip": "10.244.0.5"}, {"ip": "10.244.0.6"}],
                     "ports": [{"port": 8080, "protocol": "TCP"}]})
    assert cells("endpoints", two)[1] == "10.244.0.5:8080,10.244.0.6:8080"
    four = endpoints({"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 5)],
                      "notReadyAddresses": [{"ip": "10.0.0.9"}],
                      "ports": [{"port": 8080}]})
    assert cells("endpoints", four)[1] == "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more..."
    multi = endpoints({"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                       "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]})
    assert cells("endpoints", multi)[1] == "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
    headless = endpoints({"addresses": [{"ip": "fd00::1"}, {"ip": "10.0.0.2"}]})
    assert cells("endpoints", headless)[1] == "fd00::1,10.0.0.2"
    v6 = endpoints({"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]})
    assert cells("endpoints", v6)[1] == "[fd00::1]:80"
    only_not_ready = endpoints({"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 1}]})
    assert cells("endpoints", only_not_ready)[1] == ""


def test_endpointslice_rows() -> None:
    es = {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
          "metadata": {"name": "my-app-service-abc12", "namespace": "default",
                       "creationTimestamp": T0},
          "addressType": "IPv4",
          "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
          "endpoints": [{"addresses": [f"10.244.0.{i}"]} for i in range(1, 6)]}
    assert cells("endpointslices.discovery.k8s.io", es) == [
        "my-app-service-abc12", "IPv4", "8080",
        "10.244.0.1,10.244.0.2,10.244.0.3 + 2 more...", "5s"]
    es["ports"] = [{"name": "all"}, {}, {"port": 1}, {"port": 2}]
    es["endpoints"] = []
    assert cells("endpointslices.discovery.k8s.io", es)[2:4] == ["all,*,1 + 1 more...", "<unset>"]
    es["ports"] = []
    assert cells("endpointslices.discovery.k8s.io", es)[2] == "<unset>"


def test_include_object_modes_and_no_headers() -> None:
    s = svc("a", "ClusterIP", clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"])
    full = to_table("services", [s], include_object="Object", now=at(1))
    assert full["rows"][0]["object"] is s
    assert to_table("services", [s], include_object="None", now=at(1))["rows"][0]["object"] is None
    meta = to_table("services", [s], include_object="", now=at(1))["rows"][0]["object"]
    assert meta == {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                    "metadata": s["metadata"]}
    beta = to_table("services", [s], now=at(1), api_version="meta.k8s.io/v1beta1")
    assert beta["apiVersion"] == "meta.k8s.io/v1beta1"
    assert beta["rows"][0]["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert to_table("services", [s], no_headers=True, now=at(1))["columnDefinitions"] is None
    with pytest.raises(BadRequest) as exc:
        to_table("services", [s], include_object="Everything")
    assert str(exc.value) == ('includeObject: Invalid value: "Everything": must be '
                              "'Metadata', 'Object', 'None', or empty")


def test_table_metadata_from_list_single_object_and_list_meta() -> None:
    s = svc("a", "ClusterIP")
    assert to_table("services", s, now=at(1))["metadata"] == {"resourceVersion": "7"}
    paged = to_table("services", [s], now=at(1),
                     list_meta={"resourceVersion": "42", "continue": "tok",
                                "remainingItemCount": 3})
    assert paged["metadata"] == {"resourceVersion": "42", "continue": "tok",
                                 "remainingItemCount": 3}
    empty = to_table("services", {"metadata": {"resourceVersion": "5"}, "items": []})
    assert empty["rows"] == [] and empty["metadata"] == {"resourceVersion": "5"}


def test_short_names_and_default_convertor() -> None:
    s = svc("a", "ClusterIP", clusterIP="10.96.0.1", clusterIPs=["10.96.0.1"])
    assert to_table("svc", [s], now=at(1))["rows"][0]["cells"][0:3] == ["a", "ClusterIP",
                                                                        "10.96.0.1"]
    widget = {"metadata": {"name": "w1", "creationTimestamp": "2024-09-17T11:57:54.123Z"}}
    t = to_table("widgets.example.com", [widget, {"metadata": {"name": "w2"}}], now=at(1))
    assert [c["name"] for c in t["columnDefinitions"]] == ["Name", "Created At"]
    assert t["columnDefinitions"][1]["type"] == "date"
    assert [r["cells"] for r in t["rows"]] == [["w1", "2024-09-17T11:57:54Z"],
                                               ["w2", "0001-01-01T00:00:00Z"]]


def test_age_unknown_and_future() -> None:
    ns = namespace("x", "1")
    del ns["metadata"]["creationTimestamp"]
    assert cells("namespaces", ns)[2] == "<unknown>"
    assert cells("namespaces", namespace("y", "1"), now=at(-10))[2] == "<invalid>"
