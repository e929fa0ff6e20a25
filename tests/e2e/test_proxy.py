"""Issue 6 against a running ``kubesvc up`` (userspace data plane): load balancing over
agnhost pods, ClientIP affinity and its timeout, NodePort / LoadBalancer / externalIPs,
UDP, scaling under a bounded load loop, and refusal without endpoints."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections import Counter

import pytest

from tests.e2e.conftest import Cluster

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: lb-app}
spec:
  replicas: 3
  selector: {matchLabels: {app: lb-app}}
  template:
    metadata: {labels: {app: lb-app}}
    spec:
      containers:
      - name: web
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080", "--udp-port=8081"]
        readinessProbe:
          httpGet: {path: /healthz, port: 8080}
          periodSeconds: 1
"""


def service(name: str, **spec: object) -> str:
    import json

    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "lb-app"},
                     "ports": [{"name": "http", "port": 8080, "targetPort": 8080,
                                "protocol": "TCP"},
                               {"name": "udp", "port": 8081, "targetPort": 8081,
                                "protocol": "UDP"}], **spec}}
    return json.dumps(body)


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=3) as r:
        return r.read().decode()


@pytest.fixture(scope="module")
def app(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "-f", "-", input=APP)
    cluster.kubectl("rollout", "status", "deployment/lb-app", "--timeout=60s")
    return cluster


def wait_endpoints(c: Cluster, svc: str, n: int) -> None:
    def count() -> bool:
        ep = c.kubectl_json("get", "endpoints", svc)
        return sum(len(s.get("addresses") or []) for s in ep.get("subsets") or []) == n

    c.wait_for(count, what=f"{svc} has {n} ready endpoints")


def cluster_ip(c: Cluster, svc: str) -> str:
    return str(c.kubectl("get", "svc", svc, "-o", "jsonpath={.spec.clusterIP}").stdout)


def wait_serving(url: str) -> None:
    end = time.monotonic() + 10
    while True:
        try:
            get(url)
            return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def test_clusterip_spreads_300_requests_over_3_pods(app: Cluster) -> None:
    app.kubectl("apply", "-f", "-", input=service("spread"))
    wait_endpoints(app, "spread", 3)
    url = f"http://{cluster_ip(app, 'spread')}:8080/hostname"
    wait_serving(url)
    counts = Counter(get(url) for _ in range(300))
    assert len(counts) == 3, counts
    assert all(60 <= n <= 141 for n in counts.values()), counts  # 20% .. 47% each


def test_client_ip_affinity_and_timeout(app: Cluster) -> None:
    app.kubectl("apply", "-f", "-", input=service(
        "sticky", sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 2}}))
    wait_endpoints(app, "sticky", 3)
    url = f"http://{cluster_ip(app, 'sticky')}:8080/hostname"
    wait_serving(url)
    assert len({get(url) for _ in range(50)}) == 1
    seen = set()
    for _ in range(6):  # after the timeout the choice is free again
        time.sleep(2.2)
        seen.add(get(url))
        if len(seen) > 1:
            break
    assert len(seen) > 1


def test_nodeport_loadbalancer_external_ip_and_udp(app: Cluster) -> None:
    app.kubectl("apply", "-f", "-", input=service(
        "edge", type="LoadBalancer", externalIPs=["127.254.0.5"]))
    wait_endpoints(app, "edge", 3)
    svc = app.kubectl_json("get", "svc", "edge")
    app.wait_for(lambda: app.kubectl_json("get", "svc", "edge")["status"]
                 .get("loadBalancer", {}).get("ingress"), what="LB ingress IP")
    svc = app.kubectl_json("get", "svc", "edge")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    lb_ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    pods = {p["metadata"]["name"] for p in
            app.kubectl_json("get", "pods", "-l", "app=lb-app")["items"]}
    for url in (f"http://127.0.0.1:{node_port}/hostname", f"http://{lb_ip}:8080/hostname",
                "http://127.254.0.5:8080/hostname",
                f"http://{svc['spec']['clusterIP']}:8080/hostname"):
        wait_serving(url)
        assert get(url) in pods, url
    # UDP through the ClusterIP: agnhost answers "hostname" with the pod name.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(b"hostname", (svc["spec"]["clusterIP"], 8081))
        data, _ = s.recvfrom(1024)
    assert data.decode().strip() in pods


def test_no_endpoints_is_refused(app: Cluster) -> None:
    app.kubectl("create", "service", "clusterip", "nobody", "--tcp=8080:8080")
    ip = cluster_ip(app, "nobody")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ip, 8080), timeout=2).close()


def test_scale_3_1_3_under_load_fails_nothing_after_change(app: Cluster) -> None:
    app.kubectl("apply", "-f", "-", input=service("scaled"))
    wait_endpoints(app, "scaled", 3)
    url = f"http://{cluster_ip(app, 'scaled')}:8080/hostname"
    wait_serving(url)
    failures: list[float] = []
    ok = [0]
    stop = threading.Event()

    def load() -> None:
        end = time.monotonic() + 60  # bounded in time and count
        for _ in range(20000):
            if stop.is_set() or time.monotonic() > end:
                return
            try:
                get(url)
                ok[0] += 1
            except OSError:
                failures.append(time.monotonic())

    t = threading.Thread(target=load)
    t.start()
    try:
        app.kubectl("scale", "deployment/lb-app", "--replicas=1")
        wait_endpoints(app, "scaled", 1)
        settled_down = time.monotonic()
        time.sleep(1)
        app.kubectl("scale", "deployment/lb-app", "--replicas=3")
        wait_endpoints(app, "scaled", 3)
        app.kubectl("rollout", "status", "deployment/lb-app", "--timeout=60s")
        time.sleep(1)
    finally:
        stop.set()
        t.join()
    late = [f for f in failures if f > settled_down + 0.2]
    assert ok[0] > 50
    assert not late, f"{len(late)} requests failed after the endpoints change was applied"


def _samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(get(url)) for s in fam.samples}


def _sum(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
         **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items()
               if n == name and labels.items() <= dict(ls).items())


def test_proxy_and_dns_metrics_rise_with_traffic(app: Cluster) -> None:
    """The proxy's /metrics (kube-proxy's names, plus connections per Service) and DNS's
    (CoreDNS's names), scraped over HTTP and parsed as Prometheus text."""
    app.kubectl("apply", "-f", "-", input=service("counted"))
    wait_endpoints(app, "counted", 3)
    url = f"http://{cluster_ip(app, 'counted')}:8080/hostname"
    wait_serving(url)
    proxy_url = f"http://127.0.0.1:{app.metrics_port}/metrics"
    before = _sum(_samples(proxy_url), "kubesvc_proxy_connections_total",
                  service="default/counted:http/TCP")
    for _ in range(20):
        get(url)
    after = _samples(proxy_url)
    assert _sum(after, "kubesvc_proxy_connections_total",
                service="default/counted:http/TCP") >= before + 20
    assert _sum(after, "kubeproxy_sync_proxy_rules_duration_seconds_count") >= 1
    assert _sum(after, "kubeproxy_network_programming_duration_seconds_count") >= 1
    assert _sum(after, "kubeproxy_sync_proxy_rules_last_timestamp_seconds") > 0

    dns_url = f"http://127.0.0.1:{app.dns_metrics_port}/metrics"
    asked = _sum(_samples(dns_url), "coredns_dns_requests_total", type="A")
    for _ in range(3):
        assert app.dig("+short", "counted.default.svc.cluster.local").strip()
    dns = _samples(dns_url)
    assert _sum(dns, "coredns_dns_requests_total", type="A", zone="cluster.local.",
                proto="udp") >= asked + 3
    assert _sum(dns, "coredns_dns_responses_total", rcode="NOERROR", plugin="kubernetes") >= 3
