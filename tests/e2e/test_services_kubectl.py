"""Issue 3 through the real kubectl against ``kubesvc up``: the create/expose generators,
describe's layout, type switching with IPs and ports released and reused, validation
messages, and a tiny Service range running full."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import MISSING, Cluster, start_cluster

DEPLOY = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: exp}
spec:
  replicas: 2
  selector: {matchLabels: {app: exp}}
  template:
    metadata: {labels: {app: exp}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports: [{containerPort: 8080}]
"""


def svc(c: Cluster, name: str) -> dict:  # type: ignore[type-arg]
    return c.kubectl_json("get", "svc", name)  # type: ignore[no-any-return]


def test_create_service_generators(cluster: Cluster) -> None:
    c = cluster
    c.kubectl("create", "service", "clusterip", "gen-cip", "--tcp=80:8080")
    c.kubectl("create", "service", "nodeport", "gen-np", "--tcp=80:8080", "--node-port=30123")
    c.kubectl("create", "service", "loadbalancer", "gen-lb", "--tcp=80:8080")
    c.kubectl("create", "service", "externalname", "gen-ext",
              "--external-name=my.external-database.com")
    s = svc(c, "gen-cip")
    assert s["spec"]["type"] == "ClusterIP" and s["spec"]["selector"] == {"app": "gen-cip"}
    assert s["spec"]["ports"][0]["targetPort"] == 8080
    assert svc(c, "gen-np")["spec"]["ports"][0]["nodePort"] == 30123
    assert svc(c, "gen-lb")["spec"]["ports"][0]["nodePort"] >= 30000
    ext = svc(c, "gen-ext")
    assert ext["spec"]["externalName"] == "my.external-database.com"
    assert "clusterIP" not in ext["spec"]
    out = c.kubectl("get", "svc", "gen-ext", "gen-np").stdout
    assert re.search(r"^gen-ext\s+ExternalName\s+<none>\s+my\.external-database\.com\s+"
                     r"<none>\s", out, re.M), out
    assert re.search(r"^gen-np\s+NodePort\s+\S+\s+<none>\s+80:30123/TCP\s", out, re.M), out


def test_expose_deployment_pod_and_service(cluster: Cluster) -> None:
    c = cluster
    c.kubectl("apply", "-f", "-", input=DEPLOY)
    c.kubectl("rollout", "status", "deployment/exp", "--timeout=60s")
    c.kubectl("expose", "deployment", "exp", "--port=80", "--target-port=8080",
              "--name=exp-svc")
    s = svc(c, "exp-svc")
    assert s["spec"]["selector"] == {"app": "exp"}
    c.wait_for(lambda: len(c.kubectl_json("get", "endpoints", "exp-svc")
                           .get("subsets", [{}])[0].get("addresses", [])) == 2,
               what="exp-svc endpoints")
    pod = c.kubectl_json("get", "pods", "-l", "app=exp")["items"][0]["metadata"]["name"]
    c.kubectl("label", "pod", pod, "solo=yes")
    c.kubectl("expose", "pod", pod, "--port=8080", "--name=exp-pod", "--selector=solo=yes")
    assert svc(c, "exp-pod")["spec"]["selector"] == {"solo": "yes"}
    c.kubectl("expose", "service", "exp-svc", "--port=81", "--target-port=8080",
              "--name=exp-copy", "--type=NodePort")
    copy = svc(c, "exp-copy")
    assert copy["spec"]["type"] == "NodePort" and copy["spec"]["selector"] == {"app": "exp"}


def test_api_server_proxy_to_services_and_pods(cluster: Cluster) -> None:
    """``services/{name}[:port]/proxy/...`` reaches a ready endpoint, ``pods/...`` the pod
    (its first container port when none is named); errors as upstream words them."""
    c = cluster
    c.kubectl("apply", "-f", "-", input=DEPLOY.replace("exp", "prx"))
    c.kubectl("rollout", "status", "deployment/prx", "--timeout=60s")
    c.kubectl("expose", "deployment", "prx", "--port=80", "--target-port=8080")
    pods = {p["metadata"]["name"] for p in
            c.kubectl_json("get", "pods", "-l", "app=prx")["items"]}
    c.wait_for(lambda: len(c.kubectl_json("get", "endpoints", "prx")
                           .get("subsets", [{}])[0].get("addresses", [])) == 2,
               what="prx endpoints")
    seen = {c.kubectl("get", "--raw", "/api/v1/namespaces/default/services/prx:80/proxy/"
                      "hostname").stdout for _ in range(12)}
    assert seen == pods  # both endpoints, picked at random
    echo = c.kubectl("get", "--raw",
                     "/api/v1/namespaces/default/services/http:prx:80/proxy/echo?msg=hi")
    assert echo.stdout == "hi"
    pod = sorted(pods)[0]
    assert c.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{pod}/proxy/"
                     "hostname").stdout == pod
    bad = c.kubectl("get", "--raw", "/api/v1/namespaces/default/services/prx:81/proxy/",
                    check=False)
    assert 'no service port 81 found for service "prx"' in bad.stderr
    c.kubectl("create", "service", "clusterip", "prx-empty", "--tcp=80:8080")
    bad = c.kubectl("get", "--raw", "/api/v1/namespaces/default/services/prx-empty/proxy/",
                    check=False)
    assert 'no endpoints available for service "prx-empty"' in bad.stderr
    bad = c.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{pod}:9/proxy/",
                    check=False)
    assert "error trying to reach service: dial tcp" in bad.stderr, bad.stderr
    assert "connection refused" in bad.stderr


def test_describe_service_layout(cluster: Cluster) -> None:
    c = cluster
    c.kubectl("apply", "-f", "-", input=DEPLOY)
    c.kubectl("create", "service", "nodeport", "desc", "--tcp=80:8080")
    c.kubectl("patch", "svc", "desc", "-p", '{"spec":{"selector":{"app":"exp"}}}')
    c.wait_for(lambda: c.kubectl_json("get", "endpoints", "desc").get("subsets"),
               what="desc endpoints")
    out = c.kubectl("describe", "service", "desc").stdout
    s = svc(c, "desc")
    expect = [
        r"^Name:\s+desc$", r"^Namespace:\s+default$", r"^Labels:\s+app=desc$",
        r"^Selector:\s+app=exp$", r"^Type:\s+NodePort$", r"^IP Family Policy:\s+SingleStack$",
        r"^IP Families:\s+IPv4$", rf"^IP:\s+{re.escape(s['spec']['clusterIP'])}$",
        r"^Port:\s+80-8080\s+80/TCP$", r"^TargetPort:\s+8080/TCP$",
        rf"^NodePort:\s+80-8080\s+{s['spec']['ports'][0]['nodePort']}/TCP$",
        r"^Endpoints:\s+127\.\d+\.\d+\.\d+:8080", r"^Session Affinity:\s+None$",
        r"^External Traffic Policy:\s+Cluster$", r"^Events:",
    ]
    for pattern in expect:
        assert re.search(pattern, out, re.M), f"{pattern!r} not in:\n{out}"


def test_type_switching_releases_and_reuses(cluster: Cluster) -> None:
    c = cluster
    c.kubectl("create", "service", "nodeport", "sw", "--tcp=80:8080")
    s = svc(c, "sw")
    ip, port = s["spec"]["clusterIP"], s["spec"]["ports"][0]["nodePort"]
    # NodePort -> ClusterIP frees the node port: another Service can take it.
    c.kubectl("patch", "svc", "sw", "--type=json", "-p",
              '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},'
              '{"op":"remove","path":"/spec/ports/0/nodePort"}]')
    assert "nodePort" not in svc(c, "sw")["spec"]["ports"][0]
    c.kubectl("create", "service", "nodeport", "sw-taker", "--tcp=80:8080",
              f"--node-port={port}")
    # ClusterIP -> ExternalName frees the IP; ExternalName -> ClusterIP allocates again.
    c.kubectl("patch", "svc", "sw", "-p",
              '{"spec":{"type":"ExternalName","externalName":"example.org",'
              '"clusterIP":"","clusterIPs":null}}')
    assert "clusterIP" not in svc(c, "sw")["spec"]
    body = ('{"apiVersion":"v1","kind":"Service","metadata":{"name":"ip-taker"},'
            f'"spec":{{"clusterIP":"{ip}","ports":[{{"port":80}}]}}}}')
    c.kubectl("apply", "-f", "-", input=body)
    assert svc(c, "ip-taker")["spec"]["clusterIP"] == ip
    c.kubectl("patch", "svc", "sw", "-p",
              '{"spec":{"type":"ClusterIP","externalName":null}}')
    again = svc(c, "sw")["spec"]["clusterIP"]
    assert again and again != ip
    # LoadBalancer <-> ClusterIP both ways.
    c.kubectl("patch", "svc", "sw", "-p", '{"spec":{"type":"LoadBalancer"}}')
    assert svc(c, "sw")["spec"]["ports"][0]["nodePort"] >= 30000
    c.kubectl("patch", "svc", "sw", "--type=json", "-p",
              '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},'
              '{"op":"remove","path":"/spec/ports/0/nodePort"}]')
    assert svc(c, "sw")["spec"]["type"] == "ClusterIP"


def test_validation_messages_through_kubectl(cluster: Cluster) -> None:
    c = cluster
    r = c.kubectl("create", "service", "clusterip", "Bad_Name", "--tcp=80:8080", check=False)
    assert r.returncode != 0
    assert 'Service "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ' \
           "a DNS-1035 label must consist of lower case alphanumeric characters" in r.stderr
    c.kubectl("create", "service", "nodeport", "np-a", "--tcp=80:8080", "--node-port=30444")
    r = c.kubectl("create", "service", "nodeport", "np-b", "--tcp=80:8080",
                  "--node-port=30444", check=False)
    assert "spec.ports[0].nodePort: Invalid value: 30444: provided port is already " \
           "allocated" in r.stderr, r.stderr
    r = c.kubectl("create", "service", "nodeport", "np-c", "--tcp=80:8080",
                  "--node-port=29999", check=False)
    assert "provided port is not in the valid range. The range of valid ports is " \
           "30000-32767" in r.stderr, r.stderr
    # A rejected request leaves nothing behind: the same name works right after.
    c.kubectl("create", "service", "nodeport", "np-b", "--tcp=80:8080")


@pytest.fixture
def tiny(tmp_path: Path) -> Iterator[Cluster]:
    if MISSING:
        pytest.skip(MISSING)
    octet = random.randint(2, 250)
    c = start_cluster(tmp_path / "tiny", service_cidr=f"127.253.{octet}.0/29",
                      lb_pool=f"127.252.{octet}.0/30")
    try:
        yield c
    finally:
        c.stop()


def test_tiny_service_range_runs_full(tiny: Cluster) -> None:
    # A /29 has 6 usable addresses; kubernetes and kube-dns hold two of them.
    made = 0
    for i in range(10):
        r = tiny.kubectl("create", "service", "clusterip", f"s{i}", "--tcp=80:8080",
                         check=False)
        if r.returncode != 0:
            assert "failed to allocate a serviceIP: range is full" in r.stderr, r.stderr
            break
        made += 1
    assert 1 <= made < 10
