"""Field selectors: parsing, per-kind supported fields and matching, as upstream."""

from __future__ import annotations

import pytest

from kubesvc.api.selectors import parse_field_selector
from kubesvc.errors import BadRequest

POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "node-a", "restartPolicy": "Always", "schedulerName": "default-scheduler",
             "serviceAccountName": "default"},
    "status": {"phase": "Running", "podIP": "10.244.0.5",
               "podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]},
}


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", True),
        ("spec.nodeName=node-a", True),
        ("spec.nodeName==node-a", True),
        ("spec.nodeName!=node-a", False),
        ("spec.nodeName=node-b", False),
        ("status.phase=Running,metadata.namespace=default", True),
        ("status.phase!=Running,spec.restartPolicy=Always", False),
        ("status.podIP=10.244.0.5", True),
        ("spec.hostNetwork=false", True),
        ("metadata.name=web-1", True),
        ("status.nominatedNodeName=", True),
        ("spec.host=node-a", True),  # legacy alias converted to spec.nodeName
        # status.podIPs is accepted, but upstream's fieldset has no such key: it reads as "".
        ("status.podIPs=10.244.0.5", False),
        ("status.podIPs=", True),
    ],
)
def test_pod_fields(text: str, want: bool) -> None:
    assert parse_field_selector(text, "pods").matches(POD) is want


@pytest.mark.parametrize(
    ("resource", "text", "message"),
    [
        ("pods", "spec.containers=x", "field label not supported: spec.containers"),
        ("services", "spec.ports=80", "field label not supported: spec.ports"),
        ("nodes", "metadata.namespace=x", "field label not supported: metadata.namespace"),
        ("namespaces", "name=x", "field label not supported: name"),
        ("secrets", "data=x", "field label not supported: data"),
        ("events", "message=whatever", "field label not supported: message"),
        ("events.events.k8s.io", "involvedObject.kind=Pod",
         "field label not supported: involvedObject.kind"),
        ("configmaps", "data.x=1",
         '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        # apps/v1 registers no conversion for ReplicaSets (kubernetes#135136).
        ("replicasets.apps", "status.replicas=0",
         '"status.replicas" is not a known field selector: only "metadata.name", '
         '"metadata.namespace"'),
        ("endpoints", "subsets=x",
         '"subsets" is not a known field selector: only "metadata.name", "metadata.namespace"'),
    ],
)
def test_unsupported_fields(resource: str, text: str, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_field_selector(text, resource)
    assert str(exc.value) == message


def test_first_bad_field_in_sorted_order_is_reported() -> None:
    with pytest.raises(BadRequest, match=r"^field label not supported: b\.x$"):
        parse_field_selector("c.y=1,b.x=2,metadata.name=a", "services")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x", "invalid selector: 'x'; can't understand 'x'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_field_selector(text, "pods")
    assert str(exc.value) == message


def test_escaped_values_round_trip() -> None:
    sel = parse_field_selector("metadata.name=a\\,b\\=c\\\\d")
    assert sel.terms[0].value == "a,b=c\\d"
    assert sel.matches({"metadata": {"name": "a,b=c\\d"}})
    assert str(sel) == "metadata.name=a\\,b\\=c\\\\d"


def test_services_cluster_ip_and_type() -> None:
    svc = {"metadata": {"name": "s", "namespace": "ns"},
           "spec": {"type": "NodePort", "clusterIP": "10.96.0.12"}}
    assert parse_field_selector("spec.type=NodePort", "services").matches(svc)
    assert parse_field_selector("spec.clusterIP=10.96.0.12", "services").matches(svc)
    assert not parse_field_selector("spec.clusterIP=None", "services").matches(svc)
    assert parse_field_selector("metadata.namespace!=default", "services").matches(svc)


def test_nodes_namespaces_secrets() -> None:
    node = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert parse_field_selector("spec.unschedulable=true", "nodes").matches(node)
    assert parse_field_selector("spec.unschedulable=false", "nodes").matches({"metadata": {}})
    ns = {"metadata": {"name": "kube-system"}, "status": {"phase": "Active"}}
    assert parse_field_selector("status.phase=Active", "namespaces").matches(ns)
    sec = {"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"}
    assert parse_field_selector("type=kubernetes.io/service-account-token", "secrets").matches(sec)


def test_events_core_and_events_k8s_io() -> None:
    core = {"metadata": {"name": "e", "namespace": "default"}, "reason": "Started",
            "type": "Normal", "involvedObject": {"kind": "Pod", "name": "web-1", "uid": "u1"},
            "source": {}, "reportingComponent": "kubelet"}
    sel = parse_field_selector(
        "involvedObject.kind=Pod,involvedObject.name=web-1,reason=Started,source=kubelet",
        "events")
    assert sel.matches(core)
    v1 = {"metadata": {"name": "e", "namespace": "default"}, "reason": "Started",
          "type": "Normal", "regarding": {"kind": "Pod", "name": "web-1"},
          "reportingController": "kubelet"}
    sel2 = parse_field_selector("regarding.kind=Pod,regarding.name=web-1,"
                                "reportingController=kubelet", "events.events.k8s.io")
    assert sel2.matches(v1)
    assert not sel2.matches({**v1, "regarding": {"kind": "Node", "name": "web-1"}})


def test_requires_exact_match_and_empty() -> None:
    sel = parse_field_selector("spec.nodeName=node-a,status.phase!=Failed", "pods")
    assert sel.requires_exact_match("spec.nodeName") == "node-a"
    assert sel.requires_exact_match("status.phase") is None
    assert not sel.empty
    assert parse_field_selector("", "pods").empty
    assert parse_field_selector(",,", "pods").empty


def test_without_resource_reads_dotted_paths() -> None:
    sel = parse_field_selector("spec.nodeName=node-a,spec.hostNetwork=false")
    assert sel.matches({"spec": {"nodeName": "node-a", "hostNetwork": False}})
    assert not sel.matches({"spec": {"nodeName": "node-a", "hostNetwork": True}})
