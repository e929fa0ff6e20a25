"""Issue 7 against a running ``kubesvc up``: ``dig`` over UDP and TCP, and dnspython, for
every record kind, with the names from the seed examples."""

from __future__ import annotations

import re

import dns.message
import dns.query
import dns.rcode
import pytest

from tests.e2e.conftest import Cluster

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-app}
spec:
  replicas: 2
  selector: {matchLabels: {app: my-app}}
  template:
    metadata: {labels: {app: my-app}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, labels: {app: my-app}}
spec:
  hostname: web-0
  subdomain: my-app-headless
  containers:
  - name: web
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080"]
    ports: [{containerPort: 8080, name: http}]
---
apiVersion: v1
kind: Service
metadata: {name: my-app-service}
spec:
  selector: {app: my-app}
  ports:
  - {name: http, port: 80, targetPort: 8080}
  - {name: https, port: 443, targetPort: 8443}
---
apiVersion: v1
kind: Service
metadata: {name: my-database}
spec: {type: ExternalName, externalName: my.external-database.com}
---
apiVersion: v1
kind: Service
metadata: {name: my-app-headless}
spec:
  clusterIP: None
  selector: {app: my-app}
  ports: [{name: http, port: 8080}]
"""


@pytest.fixture(scope="module")
def dns_cluster(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", "-", input=MANIFESTS)
    cluster.kubectl("rollout", "status", "deployment/my-app", "--timeout=60s")
    cluster.kubectl("wait", "--for=condition=Ready", "pod/web-0", "--timeout=60s")
    cluster.wait_for(lambda: len(cluster.dig("+short", "my-app-headless.default.svc."
                                             "cluster.local").split()) == 3,
                     what="three headless A records")
    return cluster


def svc_ip(c: Cluster, name: str) -> str:
    return str(c.kubectl("get", "svc", name, "-o", "jsonpath={.spec.clusterIP}").stdout)


@pytest.mark.parametrize("transport", ["", "+tcp"])
def test_dig_service_a_record_udp_and_tcp(dns_cluster: Cluster, transport: str) -> None:
    out = dns_cluster.dig(*([transport] if transport else []), "+noall", "+answer",
                          "my-app-service.default.svc.cluster.local")
    ip = svc_ip(dns_cluster, "my-app-service")
    assert re.search(rf"^my-app-service\.default\.svc\.cluster\.local\.\s+5\s+IN\s+A\s+"
                     rf"{re.escape(ip)}$", out, re.M), out


def test_dig_external_name_cname(dns_cluster: Cluster) -> None:
    out = dns_cluster.dig("+noall", "+answer", "my-database.default.svc.cluster.local")
    assert re.search(r"^my-database\.default\.svc\.cluster\.local\.\s+5\s+IN\s+CNAME\s+"
                     r"my\.external-database\.com\.$", out, re.M), out


def test_dig_multiport_srv(dns_cluster: Cluster) -> None:
    for port, num in (("http", 80), ("https", 443)):
        out = dns_cluster.dig("+short", "SRV",
                              f"_{port}._tcp.my-app-service.default.svc.cluster.local")
        assert out.strip() == f"0 100 {num} my-app-service.default.svc.cluster.local.", out


def test_dig_headless_records_hostnames_and_srv(dns_cluster: Cluster) -> None:
    pods = dns_cluster.kubectl_json("get", "pods", "-l", "app=my-app")["items"]
    ips = sorted(p["status"]["podIP"] for p in pods)
    out = dns_cluster.dig("+short", "my-app-headless.default.svc.cluster.local")
    assert sorted(out.split()) == ips
    srv = dns_cluster.dig("+short", "SRV", "_http._tcp.my-app-headless.default.svc.cluster.local")
    targets = sorted(line.split()[3] for line in srv.strip().splitlines())
    web0 = next(p["status"]["podIP"] for p in pods if p["metadata"]["name"] == "web-0")
    dashed = sorted(f"{ip.replace('.', '-')}.my-app-headless.default.svc.cluster.local."
                    for ip in ips if ip != web0)
    assert targets == sorted([*dashed, "web-0.my-app-headless.default.svc.cluster.local."])
    assert all(" 8080 " in line for line in srv.strip().splitlines()), srv
    # spec.hostname + spec.subdomain == the Service: a named endpoint.
    out = dns_cluster.dig("+short", "web-0.my-app-headless.default.svc.cluster.local")
    assert out.split() == [web0], out


def test_dig_ptr_for_cluster_ip(dns_cluster: Cluster) -> None:
    ip = svc_ip(dns_cluster, "my-app-service")
    out = dns_cluster.dig("+short", "-x", ip)
    assert out.strip() == "my-app-service.default.svc.cluster.local.", out


def test_dig_pod_record_and_dns_version(dns_cluster: Cluster) -> None:
    out = dns_cluster.dig("+short", "127-1-2-3.default.pod.cluster.local")
    assert out.strip() == "127.1.2.3"
    out = dns_cluster.dig("+short", "TXT", "dns-version.cluster.local")
    assert out.strip() == '"1.1.0"'


def test_nxdomain_and_nodata(dns_cluster: Cluster) -> None:
    out = dns_cluster.dig("nope.default.svc.cluster.local")
    assert "status: NXDOMAIN" in out
    out = dns_cluster.dig("AAAA", "my-app-service.default.svc.cluster.local")
    assert "status: NOERROR" in out and "ANSWER: 0" in out and "SOA" in out


def test_dnspython_udp_and_tcp(dns_cluster: Cluster) -> None:
    q = dns.message.make_query("my-app-service.default.svc.cluster.local", "A")
    for fn in (dns.query.udp, dns.query.tcp):
        r = fn(q, "127.0.0.1", port=dns_cluster.dns_port, timeout=2)
        assert r.rcode() == dns.rcode.NOERROR
        assert [rd.to_text() for rr in r.answer for rd in rr] == [svc_ip(dns_cluster,
                                                                          "my-app-service")]


def test_answers_follow_service_changes(dns_cluster: Cluster) -> None:
    dns_cluster.kubectl("create", "service", "clusterip", "late", "--tcp=80:8080")
    dns_cluster.wait_for(lambda: dns_cluster.dig("+short", "late.default.svc.cluster.local")
                         .strip() == svc_ip(dns_cluster, "late"), what="late resolves")
    dns_cluster.kubectl("delete", "service", "late")
    dns_cluster.wait_for(lambda: "NXDOMAIN" in dns_cluster.dig("late.default.svc.cluster.local"),
                         what="late gone")
