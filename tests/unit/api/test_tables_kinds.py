"""Table rows for Deployments, ReplicaSets, Nodes, Events and the small core kinds."""

from __future__ import annotations

from typing import Any

from kubesvc.api.tables import column_definitions, to_table
from kubesvc.api.timefmt import parse_time_epoch

T0 = "2024-09-17T00:00:00Z"
NOW = parse_time_epoch("2024-09-19T03:00:00Z")  # 2d3h later
assert NOW is not None


def md(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": T0, **extra}


def row(resource: str, obj: dict[str, Any], *, wide: bool = True) -> list[Any]:
    cells: list[Any] = to_table(resource, obj, now=NOW, wide=wide)["rows"][0]["cells"]
    return cells


TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                    {"name": "sidecar", "image": "envoy:1.30"}]}}


def test_deployment() -> None:
    dep = {"kind": "Deployment", "apiVersion": "apps/v1", "metadata": md("web"),
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                    "template": TEMPLATE},
           "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                      "availableReplicas": 2}}
    assert row("deployments.apps", dep) == ["web", "2/3", 3, 2, "2d3h", "web,sidecar",
                                            "nginx:1.27,envoy:1.30", "app=web"]
    assert row("deploy", dep, wide=False) == ["web", "2/3", 3, 2, "2d3h"]
    assert [c["name"] for c in column_definitions("deployments.apps")] == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    fresh = {"metadata": md("new"), "spec": {"template": TEMPLATE,
                                             "selector": {"matchExpressions": [
                                                 {"key": "app", "operator": "Bad"}]}}}
    assert row("deployments.apps", fresh)[1:4] == ["0/1", 0, 0]
    assert row("deployments.apps", fresh)[-1] == "<invalid>"


def test_replicaset() -> None:
    rs: dict[str, Any] = {
          "kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": md("web-5d4f8"),
          "spec": {"replicas": 2, "template": TEMPLATE,
                   "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f8"}}},
          "status": {"replicas": 2, "readyReplicas": 1}}
    assert row("replicasets.apps", rs) == ["web-5d4f8", 2, 2, 1, "2d3h", "web,sidecar",
                                           "nginx:1.27,envoy:1.30",
                                           "app=web,pod-template-hash=5d4f8"]
    cols = column_definitions("rs")
    assert [(c["name"], c["type"]) for c in cols[:4]] == [
        ("Name", "string"), ("Desired", "integer"), ("Current", "integer"), ("Ready", "integer")]
    rs["spec"].pop("selector")
    assert row("replicasets.apps", rs)[-1] == "<none>"


def node(**status: Any) -> dict[str, Any]:
    return {"kind": "Node", "apiVersion": "v1",
            "metadata": {"name": "node-a", "creationTimestamp": T0,
                         "labels": {"node-role.kubernetes.io/control-plane": "",
                                    "kubernetes.io/role": "edge",
                                    "node-role.kubernetes.io/": "x"}},
            "spec": {},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "Hostname", "address": "node-a"},
                                     {"type": "InternalIP", "address": "127.0.0.1"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian 12",
                                    "kernelVersion": "6.1.0",
                                    "containerRuntimeVersion": "kubesvc://0.1.0"},
                       **status}}


def test_node() -> None:
    assert row("nodes", node()) == ["node-a", "Ready", "control-plane,edge", "2d3h", "v1.32.0",
                                    "127.0.0.1", "<none>", "Debian 12", "6.1.0",
                                    "kubesvc://0.1.0"]
    cordoned = node(conditions=[{"type": "Ready", "status": "Unknown"}])
    cordoned["spec"]["unschedulable"] = True
    assert row("nodes", cordoned)[1] == "NotReady,SchedulingDisabled"
    bare = {"metadata": {"name": "n", "creationTimestamp": T0}}
    assert row("nodes", bare) == ["n", "Unknown", "<none>", "2d3h", "", "<none>", "<none>",
                                  "<unknown>", "<unknown>", "<unknown>"]


def test_core_event_wide_and_narrow() -> None:
    ev = {"kind": "Event", "apiVersion": "v1",
          "metadata": {"name": "web-1.17f", "namespace": "default", "creationTimestamp": T0},
          "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
          "reason": "BackOff", "message": "Back-off restarting failed container\n",
          "source": {"component": "kubelet", "host": "node-a"},
          "firstTimestamp": "2024-09-19T02:00:00Z", "lastTimestamp": "2024-09-19T02:55:00Z",
          "count": 7, "type": "Warning"}
    assert row("events", ev) == ["5m", "Warning", "BackOff", "pod/web-1",
                                 "spec.containers{web}", "kubelet, node-a",
                                 "Back-off restarting failed container", "60m", 7, "web-1.17f"]
    assert row("ev", ev, wide=False) == ["5m", "Warning", "BackOff", "pod/web-1",
                                         "Back-off restarting failed container"]
    assert [c["name"] for c in column_definitions("events", wide=False)] == [
        "Last Seen", "Type", "Reason", "Object", "Message"]


def test_new_style_and_events_k8s_io_events() -> None:
    series = {"metadata": md("e1"), "involvedObject": {"kind": "Node"}, "reason": "R",
              "type": "Normal", "message": "m", "eventTime": "2024-09-19T01:00:00.000000Z",
              "reportingComponent": "kubesvc-controller", "reportingInstance": "host-1",
              "series": {"count": 4, "lastObservedTime": "2024-09-19T02:59:00.000000Z"},
              "source": {}}
    assert row("events", series) == ["60s", "Normal", "R", "node", "",
                                     "kubesvc-controller, host-1", "m", "120m", 4, "e1"]
    single = {"metadata": md("e2"), "involvedObject": {"kind": "Service", "name": "s"},
              "eventTime": "2024-09-19T02:58:00.000000Z", "reason": "X", "type": "Normal"}
    r = row("events", single)
    assert (r[0], r[7], r[8]) == ("2m", "2m", 1)  # last seen falls back to first seen
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": md("e3"),
          "regarding": {"kind": "Service", "name": "my-app-service"}, "reason": "Synced",
          "note": "ok", "type": "Normal", "eventTime": "2024-09-19T02:00:00.000000Z",
          "reportingController": "endpointslice-controller", "reportingInstance": "i"}
    assert row("events.events.k8s.io", v1) == [
        "60m", "Normal", "Synced", "service/my-app-service", "", "endpointslice-controller, i",
        "ok", "60m", 1, "e3"]


def test_configmap_secret_serviceaccount_lease() -> None:
    cm = {"metadata": md("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert row("configmaps", cm) == ["cfg", 3, "2d3h"]
    assert row("cm", {"metadata": md("empty")}) == ["empty", 0, "2d3h"]
    sec = {"metadata": md("tls"), "type": "kubernetes.io/tls",
           "data": {"tls.crt": "x", "tls.key": "y"}, "stringData": {"tls.key": "z", "ca": "c"}}
    assert row("secrets", sec) == ["tls", "kubernetes.io/tls", 3, "2d3h"]
    sa = {"metadata": md("default"), "secrets": [{"name": "tok"}]}
    assert row("serviceaccounts", sa) == ["default", 1, "2d3h"]
    lease = {"metadata": md("node-a"), "spec": {"holderIdentity": "node-a"}}
    assert row("leases.coordination.k8s.io", lease) == ["node-a", "node-a", "2d3h"]
    assert row("leases.coordination.k8s.io", {"metadata": md("free"), "spec": {}})[1] == ""
