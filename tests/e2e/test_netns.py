"""e2e: a 3-node ``kubesvc up --network netns`` cluster (root, ``ip netns``, ``nft``).

Node agents run as ``kubesvc agent`` processes in their node namespaces; pods in their own
namespaces; traffic stays inside the namespaces the cluster made (the client namespace is
the "outside" machine). Covers issues 5-8's netns items: DNS through the search path and
curl from inside a pod, pods binding the same port side by side, resolv.conf, NodePort on
every node, externalTrafficPolicy Local, a LoadBalancer IP that moves, the nftables
structure, ``kubectl logs`` through the agents, killing an agent and cutting a node's link
under a bounded load, the ingress controller behind an announced LoadBalancer IP
(issue 22), and a teardown that leaves no namespace behind. The tests share one
cluster and run in file order (the faults last).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubesvc.cli.netns import Topology, pod_netns_prefix

from .conftest import KUBESVC, ROOT, Cluster, start_cluster


def _why_not() -> str:
    if sys.platform != "linux" or os.geteuid() != 0:
        return "netns mode needs root on Linux (network namespaces, nftables)"
    for tool in ("ip", "nft", "kubectl", "curl", "getent", "ss"):
        if shutil.which(tool) is None:
            return f"needs `{tool}` on PATH"
    probe = f"ks-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"`ip netns add` does not work here: {r.stderr.strip()}"
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "nft", "list", "ruleset"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return f"`nft` does not work in a network namespace: {r.stderr.strip()}"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return ""


WHY_NOT = _why_not()
pytestmark = pytest.mark.skipif(bool(WHY_NOT), reason=WHY_NOT)

GRACE = 3  # --node-monitor-grace-period for this cluster, seconds
APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-app}
spec:
  replicas: 6
  selector: {matchLabels: {app: my-app}}
  template:
    metadata: {labels: {app: my-app}}
    spec:
      containers:
      - name: app
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        readinessProbe: {httpGet: {path: /healthz, port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: my-app-service}
spec:
  selector: {app: my-app}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: my-app-nodeport}
spec:
  type: NodePort
  selector: {app: my-app}
  ports: [{port: 80, targetPort: 8080, nodePort: 30080}]
---
apiVersion: v1
kind: Service
metadata: {name: my-app-lb}
spec:
  type: LoadBalancer
  selector: {app: my-app}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: lonely, labels: {app: lonely}}
spec:
  containers:
  - name: app
    image: registry.k8s.io/e2e-test-images/agnhost:2.53
    args: ["netexec", "--http-port=8080"]
---
apiVersion: v1
kind: Service
metadata: {name: lonely-local}
spec:
  type: LoadBalancer
  externalTrafficPolicy: Local
  selector: {app: lonely}
  ports: [{port: 80, targetPort: 8080, nodePort: 30081}]
"""

# Runs in the client namespace: a bounded load of new-connection HTTP requests; prints one
# JSON line per request (start time, success).
LOAD = r"""
import json, sys, time, urllib.request
url, count, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + seconds
for _ in range(count):
    if time.time() > end:
        break
    t = time.time()
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            ok = r.status == 200 and bool(r.read())
    except OSError:
        ok = False
    print(json.dumps({"t": t, "ok": ok}), flush=True)
    time.sleep(0.02)
"""


@pytest.fixture(scope="module")
def nc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data = tmp_path_factory.mktemp("netns") / "data"
    c = start_cluster(data, "--network", "netns", "--nodes", "3",
                      "--node-monitor-grace-period", str(GRACE),
                      service_cidr="10.96.0.0/12", lb_pool="172.20.0.64/27")
    try:
        yield c
    finally:
        c.stop()
        topo = Topology.load(data / "netns.json")
        left = [n for n in _netns_list() if n.startswith(f"ks-{topo.cluster_id}-")]
        for n in left:  # don't leave a failing run's namespaces behind
            subprocess.run(["ip", "netns", "del", n], capture_output=True)
        assert not left, f"namespaces left after teardown: {left}"


def _netns_list() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.split()]


def topo(c: Cluster) -> Topology:
    return Topology.load(c.data_dir / "netns.json")


def kexec(c: Cluster, node: str, *cmd: str, timeout: float = 20
          ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KUBESVC, "exec", "--data-dir", str(c.data_dir), node, "--", *cmd],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def pod_netns(c: Cluster, pod: dict[str, Any]) -> str:
    t = topo(c)
    node = next(n for n in t.nodes if n.name == pod["spec"]["nodeName"])
    return pod_netns_prefix(t, node) + pod["metadata"]["uid"][:13]


def in_pod(c: Cluster, pod: dict[str, Any], *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", pod_netns(c, pod), *cmd],
                          capture_output=True, text=True, timeout=20)


def curl(c: Cluster, node: str, url: str) -> str:
    r = kexec(c, node, "curl", "-s", "-m", "2", url)
    return r.stdout if r.returncode == 0 else ""


def app_pods(c: Cluster) -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = c.kubectl_json("get", "pods", "-l", "app=my-app")["items"]
    return pods


def ready(pod: dict[str, Any]) -> bool:
    return any(x["type"] == "Ready" and x["status"] == "True"
               for x in (pod.get("status") or {}).get("conditions") or [])


def slice_ready(c: Cluster, service: str) -> dict[str, bool]:
    """endpoint IP -> ready, over the Service's EndpointSlices."""
    out: dict[str, bool] = {}
    for sl in c.kubectl_json("get", "endpointslices", "-l",
                             f"kubernetes.io/service-name={service}")["items"]:
        for ep in sl.get("endpoints") or []:
            out[ep["addresses"][0]] = ep["conditions"].get("ready") is not False
    return out


def lb_ip(c: Cluster) -> str:
    ing = c.kubectl_json("get", "svc", "my-app-lb")["status"].get("loadBalancer", {})
    return str((ing.get("ingress") or [{}])[0].get("ip") or "")


def lb_holder(c: Cluster) -> str:
    r = c.kubectl("get", "lease", "-n", "kube-system", "kubesvc-l2announce-default-my-app-lb",
                  "-o", "jsonpath={.spec.holderIdentity}", check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


# -- bring-up ------------------------------------------------------------------------------


def test_three_nodes_ready_and_app_deployed(nc: Cluster) -> None:
    nodes = nc.kubectl_json("get", "nodes")["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == ["node-1", "node-2", "node-3"]
    ips = {a["address"] for n in nodes for a in n["status"]["addresses"]
           if a["type"] == "InternalIP"}
    assert ips == {n.ip for n in topo(nc).nodes}
    nc.kubectl("apply", "-f", "-", input=APP)
    nc.wait_for(lambda: len(app_pods(nc)) == 6 and all(ready(p) for p in app_pods(nc)),
                timeout=40, what="6 app pods Ready")
    nc.wait_for(lambda: ready(nc.kubectl_json("get", "pod", "lonely")), timeout=30,
                what="pod lonely Ready")
    pods = app_pods(nc)
    assert {p["spec"]["nodeName"] for p in pods} == {"node-1", "node-2", "node-3"}
    for p in pods:
        node = next(n for n in topo(nc).nodes if n.name == p["spec"]["nodeName"])
        assert p["status"]["podIP"].startswith(node.pod_cidr.rsplit(".", 2)[0] + ".")


def test_nodes_joined_by_tls_bootstrapping(nc: Cluster) -> None:
    """Each node agent got its own client certificate through a CSR made with the join
    token; no static node token was written."""
    csrs = nc.kubectl_json("get", "csr")["items"]
    by_cn: dict[str, dict[str, Any]] = {}
    for c in csrs:
        if c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet":
            assert c["spec"]["username"].startswith("system:bootstrap:")
            types = {x["type"] for x in c["status"]["conditions"]}
            assert types == {"Approved"} and c["status"].get("certificate")
            by_cn[c["metadata"]["name"]] = c
    assert len(by_cn) == 3
    for n in topo(nc).nodes:
        pem = nc.data_dir / "nodes" / n.name / "pki" / "kubelet-client-current.pem"
        assert pem.stat().st_mode & 0o777 == 0o600
    assert "system:node:" not in (nc.data_dir / "tokens.csv").read_text()


def test_dns_through_search_path_and_curl_from_a_pod(nc: Cluster) -> None:
    pod = app_pods(nc)[0]
    cluster_ip = nc.kubectl_json("get", "svc", "my-app-service")["spec"]["clusterIP"]
    names = {p["metadata"]["name"] for p in app_pods(nc)}
    for name in ("my-app-service", "my-app-service.default",
                 "my-app-service.default.svc.cluster.local"):
        r = in_pod(nc, pod, "getent", "ahostsv4", name)
        assert r.returncode == 0 and r.stdout.split()[0] == cluster_ip, (name, r)
        r = in_pod(nc, pod, "curl", "-s", "-m", "3", f"http://{name}/hostname")
        assert r.returncode == 0 and r.stdout in names, (name, r)


def test_resolv_conf_as_upstream(nc: Cluster) -> None:
    r = in_pod(nc, app_pods(nc)[0], "cat", "/etc/resolv.conf")
    assert r.stdout.splitlines() == [
        "search default.svc.cluster.local svc.cluster.local cluster.local",
        "nameserver 10.96.0.10",
        "options ndots:5",
    ]


def test_pods_bind_the_same_port_side_by_side(nc: Cluster) -> None:
    by_node: dict[str, list[dict[str, Any]]] = {}
    for p in app_pods(nc):
        by_node.setdefault(p["spec"]["nodeName"], []).append(p)
    node, pods = max(by_node.items(), key=lambda kv: len(kv[1]))
    assert len(pods) >= 2, by_node.keys()
    for p in pods[:2]:
        listening = in_pod(nc, p, "ss", "-ltnH").stdout
        assert "0.0.0.0:8080" in listening or "*:8080" in listening, listening
        assert curl(nc, node, f"http://{p['status']['podIP']}:8080/hostname") == \
            p["metadata"]["name"]


def test_kubectl_logs_reach_the_agents(nc: Cluster) -> None:
    for p in app_pods(nc):
        out = nc.kubectl("logs", p["metadata"]["name"]).stdout
        assert "Started HTTP server on port 8080" in out
    r = nc.kubectl("logs", app_pods(nc)[0]["metadata"]["name"], "--previous", check=False)
    assert r.returncode != 0 and 'previous terminated container "app"' in r.stderr


def test_pod_sandbox_in_netns_mode(nc: Cluster) -> None:
    """Issue 19 in netns mode: a pod's volumes (configMap, secret, emptyDir) inside its own
    mount namespace, runAsUser (binding port 80), and no way to the cluster's data dir."""
    nc.kubectl("create", "configmap", "sbx-cfg", "--from-literal=k=netns-value")
    nc.kubectl("create", "secret", "generic", "sbx-sec", "--from-literal=p=netns-secret")
    script = (f"id -u; cat /c/k; echo; cat /s/p; echo; touch /e/x && echo wrote; "
              f"cat {nc.data_dir.resolve()}/tokens.csv 2>/dev/null || echo hidden; "
              "python3 -c 'import socket; socket.socket().bind((\"0.0.0.0\", 80)); "
              "print(\"bound-80\")'; echo DONE; sleep 3600")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sbx"}, "spec": {
        "securityContext": {"runAsUser": 2000},
        "containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", script],
                        "volumeMounts": [{"name": "c", "mountPath": "/c"},
                                         {"name": "s", "mountPath": "/s"},
                                         {"name": "e", "mountPath": "/e"}]}],
        "volumes": [{"name": "c", "configMap": {"name": "sbx-cfg"}},
                    {"name": "s", "secret": {"secretName": "sbx-sec"}},
                    {"name": "e", "emptyDir": {}}]}}
    nc.kubectl("apply", "-f", "-", input=json.dumps(pod))
    out = nc.wait_for(lambda: (lambda o: o if "DONE" in o else "")(
        nc.kubectl("logs", "sbx", check=False).stdout), timeout=40, what="the pod's report")
    # ... and binds port 80 as uid 2000 (ip_unprivileged_port_start=0 in the pod's netns).
    assert out.split()[:7] == ["2000", "netns-value", "netns-secret", "wrote", "hidden",
                               "bound-80", "DONE"]
    nc.kubectl("delete", "pod", "sbx", "--grace-period=1", "--wait=false")


def test_python_client_in_cluster_config_in_netns_mode(nc: Cluster) -> None:
    """Issue 19: the `kubernetes` endpoints are the API relay on the cluster bridge, which
    pods reach through their node; the official client's load_incluster_config() there
    (mounted token, CA verifying the ClusterIP) lists the pods its Role allows."""
    eps = nc.kubectl_json("get", "endpoints", "kubernetes")["subsets"][0]
    assert [a["ip"] for a in eps["addresses"]] == ["172.20.0.1"]
    assert eps["ports"][0]["port"] == 6443
    nc.kubectl("create", "serviceaccount", "nslister")
    nc.kubectl("create", "role", "nslister", "--verb=list", "--resource=pods")
    nc.kubectl("create", "rolebinding", "nslister", "--role=nslister",
               "--serviceaccount=default:nslister")
    script = ("from kubernetes import client, config\n"
              "config.load_incluster_config()\n"
              "c = client.Configuration.get_default_copy()\n"
              "print('host=' + c.host)\n"
              "pods = client.CoreV1Api().list_namespaced_pod('default')\n"
              "print('lonely=' + str('lonely' in [p.metadata.name for p in pods.items]))\n")
    nc.kubectl("create", "configmap", "nsincluster", f"--from-literal=main.py={script}")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nsincluster"}, "spec": {
        "serviceAccountName": "nslister", "restartPolicy": "Never",
        "containers": [{"name": "main", "image": "python",
                        "command": [sys.executable, "/s/main.py"],
                        "volumeMounts": [{"name": "s", "mountPath": "/s"}]}],
        "volumes": [{"name": "s", "configMap": {"name": "nsincluster"}}]}}
    nc.kubectl("apply", "-f", "-", input=json.dumps(pod))
    out = nc.wait_for(lambda: (lambda o: o if "lonely=" in o else "")(
        nc.kubectl("logs", "nsincluster", check=False).stdout), timeout=40,
        what="the in-cluster client's output")
    assert out.splitlines() == ["host=https://10.96.0.1:443", "lonely=True"], out
    nc.kubectl("delete", "pod", "nsincluster", "--wait=false")


def test_api_server_proxy_reaches_pods_on_every_node(nc: Cluster) -> None:
    # The API server connects from the bridge namespace, which routes every pod CIDR.
    names = {p["metadata"]["name"] for p in app_pods(nc)}
    seen = {nc.kubectl("get", "--raw", "/api/v1/namespaces/default/services/"
                       "my-app-service:80/proxy/hostname").stdout for _ in range(30)}
    assert len(seen) >= 3 and seen <= names, seen
    for p in app_pods(nc)[:3]:
        name = p["metadata"]["name"]
        assert nc.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{name}:8080/"
                          "proxy/hostname").stdout == name


def test_ui_metrics_gather_every_nodes_proxy(nc: Cluster) -> None:
    # each agent serves kube-proxy's metrics on its node address; `kubesvc up` scrapes
    # them through the bridge for the service map's /ui/metrics
    text = nc.kubectl("get", "--raw", "/ui/metrics").stdout
    assert text.count("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram") == 3
    assert "not reachable" not in text
    assert "apiserver_request_total" in text and "coredns_dns_requests_total" in text

    def connections() -> float:
        from prometheus_client.parser import text_string_to_metric_families

        out = nc.kubectl("get", "--raw", "/ui/metrics").stdout
        return sum(s.value for fam in text_string_to_metric_families(out)
                   for s in fam.samples if s.name == "kubesvc_proxy_connections_total"
                   and s.labels["service"].startswith("default/my-app-nodeport"))

    # the nftables data plane's counters, read per scrape: one per new connection
    before = connections()
    node = topo(nc).nodes[0]
    for _ in range(5):
        curl(nc, "client", f"http://{node.ip}:30080/hostname")
    assert connections() >= before + 5


# -- Services from outside -------------------------------------------------------------------


def test_nodeport_on_every_node_from_the_client(nc: Cluster) -> None:
    names = {p["metadata"]["name"] for p in app_pods(nc)}
    for n in topo(nc).nodes:
        assert curl(nc, "client", f"http://{n.ip}:30080/hostname") in names, n


def test_external_traffic_policy_local(nc: Cluster) -> None:
    lonely = nc.kubectl_json("get", "pod", "lonely")
    home = lonely["spec"]["nodeName"]
    hc_port = nc.kubectl_json("get", "svc", "lonely-local")["spec"]["healthCheckNodePort"]
    for n in topo(nc).nodes:
        got = curl(nc, "client", f"http://{n.ip}:30081/clientip")
        health = kexec(nc, "client", "curl", "-s", "-m", "2", "-o", "/dev/null", "-w",
                       "%{http_code}", f"http://{n.ip}:{hc_port}/").stdout
        if n.name == home:
            assert got.rsplit(":", 1)[0] == "172.20.0.200", got  # client IP preserved
            assert health == "200"
        else:
            assert got == "", (n.name, got)  # no local endpoint: not answered
            assert health == "503"
    # Its LoadBalancer IP is announced only by the node with the endpoint.
    lease = "kubesvc-l2announce-default-lonely-local"
    nc.wait_for(lambda: nc.kubectl("get", "lease", "-n", "kube-system", lease, "-o",
                                   "jsonpath={.spec.holderIdentity}", check=False
                                   ).stdout == home, what="lonely-local announced")
    svc = nc.kubectl_json("get", "svc", "lonely-local")
    ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    got = curl(nc, "client", f"http://{ip}/clientip")
    assert got.rsplit(":", 1)[0] == "172.20.0.200", got


def test_loadbalancer_ip_reachable_from_the_client(nc: Cluster) -> None:
    ip = nc.wait_for(lambda: lb_ip(nc), what="LoadBalancer ingress IP")
    assert ip.startswith("172.20.0.")
    holder = nc.wait_for(lambda: lb_holder(nc), what="announcement Lease")
    names = {p["metadata"]["name"] for p in app_pods(nc)}
    assert curl(nc, "client", f"http://{ip}/hostname") in names
    held = kexec(nc, holder, "ip", "-4", "-o", "addr", "show", "dev", "eth0").stdout
    assert f"{ip}/32" in held
    for n in topo(nc).nodes:  # exactly one node announces it
        if n.name != holder:
            assert f"{ip}/32" not in kexec(nc, n.name, "ip", "-o", "addr").stdout


def test_ingress_at_an_announced_loadbalancer_ip(nc: Cluster) -> None:
    """Issue 22's netns item: the ingress controller's HAProxy (in node-1's namespace) is
    behind the LoadBalancer Service kube-system/kubesvc-ingress; an Ingress gets that
    Service's LB IP in its status and routes by host from the client namespace."""
    from kubesvc.ingress.haproxy import find_haproxy

    if find_haproxy() is None:
        pytest.skip("needs haproxy (scripts/system-deps.sh installs it)")

    def ingress_ip() -> str:
        svc = nc.kubectl_json("get", "svc", "-n", "kube-system", "kubesvc-ingress")
        return str(((svc.get("status") or {}).get("loadBalancer", {}).get("ingress")
                    or [{}])[0].get("ip") or "")
    ip = nc.wait_for(ingress_ip, what="the ingress Service's LoadBalancer IP")
    assert ip.startswith("172.20.0.")
    nc.kubectl("create", "ingress", "my-app", "--rule=app.netns.test/*=my-app-service:80")
    nc.wait_for(lambda: [e.get("ip") for e in (nc.kubectl_json("get", "ingress", "my-app").get(
        "status") or {}).get("loadBalancer", {}).get("ingress") or []] == [ip],
        what="the Ingress status to show the LB IP")
    names = {p["metadata"]["name"] for p in app_pods(nc)}

    def routed(host: str) -> str:
        r = kexec(nc, "client", "curl", "-s", "-m", "2", "-o", "-", "-w", "\n%{http_code}",
                  "--resolve", f"{host}:80:{ip}", f"http://{host}/hostname")
        return r.stdout if r.returncode == 0 else ""
    nc.wait_for(lambda: routed("app.netns.test").split("\n")[0] in names,
                what="app.netns.test through the ingress from the client namespace")
    assert routed("other.netns.test").endswith("\n404")  # no rule: the default 404
    nc.kubectl("delete", "ingress", "my-app")


def test_nft_ruleset_shows_per_service_structure(nc: Cluster) -> None:
    out = kexec(nc, "node-1", "nft", "list", "ruleset").stdout
    assert "table ip kubesvc" in out
    for part in ("map service-ips", "map service-nodeports", "vmap @service-ips",
                 "chain service-", "chain endpoint-", "chain external-",
                 "default/my-app-service/tcp/80"):
        assert part in out, part
    assert "numgen random mod 6 vmap" in out


# -- faults ----------------------------------------------------------------------------------


def _start_load(c: Cluster, url: str, *, count: int = 1500, seconds: float = 25
                ) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["ip", "netns", "exec", topo(c).client_netns, sys.executable, "-c", LOAD, url,
         str(count), str(seconds)], stdout=subprocess.PIPE, text=True)


def _finish_load(p: subprocess.Popen[str]) -> list[dict[str, Any]]:
    try:
        out, _ = p.communicate(timeout=40)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _fault_under_load(c: Cluster, *, victim: str, target: str, fault: Any) -> None:
    """Apply ``fault`` to node ``victim`` while a bounded load runs through the NodePort of
    node ``target``; the victim's pods must leave the endpoints (not ready) within the
    grace period, and no request that started after that may fail."""
    target_ip = next(n.ip for n in topo(c).nodes if n.name == target)
    victim_ips = {p["status"]["podIP"] for p in app_pods(c) if p["spec"]["nodeName"] == victim}
    assert victim_ips
    load = _start_load(c, f"http://{target_ip}:30080/hostname", seconds=GRACE + 12)
    try:
        time.sleep(1)
        fault()
        c.wait_for(lambda: all(not slice_ready(c, "my-app-nodeport").get(ip, True)
                               for ip in victim_ips),
                   timeout=GRACE + 8, what=f"{victim}'s endpoints not ready")
        changed = time.time()
    finally:
        results = _finish_load(load)
    after = [r for r in results if r["t"] > changed + 1.0]  # +1 s: the proxies' sync
    assert len(after) >= 20, f"load too short after the change: {len(after)} requests"
    failed = [r for r in after if not r["ok"]]
    assert not failed, f"{len(failed)} of {len(after)} requests failed after the change"


def _agent_pid(c: Cluster, node: str) -> int:
    ns = topo(c).netns_of(node)
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                          text=True).stdout.split()
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent" in cmd and b"kubesvc.cli.main" in cmd:
            return int(pid)
    raise AssertionError(f"no agent process in {ns}")


def test_kill_an_agent_under_load_and_the_lb_ip_moves(nc: Cluster) -> None:
    ip = lb_ip(nc)
    victim = lb_holder(nc)
    others = sorted({"node-1", "node-2", "node-3"} - {victim})
    names = {p["metadata"]["name"] for p in app_pods(nc)}

    def kill() -> None:
        os.kill(_agent_pid(nc, victim), 9)

    _fault_under_load(nc, victim=victim, target=others[0], fault=kill)
    nc.wait_for(lambda: dict(node_ready(nc)).get(victim) is False, what=f"{victim} NotReady")
    new = nc.wait_for(lambda: lb_holder(nc) if lb_holder(nc) not in ("", victim) else "",
                      what="the LoadBalancer IP to move")
    assert new in others
    nc.wait_for(lambda: curl(nc, "client", f"http://{ip}/hostname") in names,
                what="the LoadBalancer IP to answer from its new node")
    nc.wait_for(lambda: f"{ip}/32" not in kexec(nc, victim, "ip", "-o", "addr").stdout,
                what="the dead agent's announcement to be withdrawn")
    assert "agent of " + victim in nc.wait_for(
        lambda: "exited" in nc.log_tail(400) and nc.log_tail(400), what="death reported")


def node_ready(c: Cluster) -> list[tuple[str, bool]]:
    out = []
    for n in c.kubectl_json("get", "nodes")["items"]:
        cond = next(x for x in n["status"]["conditions"] if x["type"] == "Ready")
        out.append((n["metadata"]["name"], cond["status"] == "True"))
    return out


def test_cut_a_nodes_link_under_load(nc: Cluster) -> None:
    alive = sorted(n for n, ok in node_ready(nc) if ok)
    assert len(alive) == 2, alive
    target, victim = alive
    if lb_holder(nc) == target:  # cut the holder's link, to see the IP move again
        target, victim = victim, target
    ns = topo(nc).netns_of(victim)
    _fault_under_load(nc, victim=victim, target=target, fault=lambda: subprocess.run(
        ["ip", "-n", ns, "link", "set", "eth0", "down"], check=True))
    nc.wait_for(lambda: dict(node_ready(nc)).get(victim) is False, what=f"{victim} NotReady")
    nc.wait_for(lambda: lb_holder(nc) == target, what="the LoadBalancer IP to move")
    names = {p["metadata"]["name"] for p in app_pods(nc)}
    nc.wait_for(lambda: curl(nc, "client", f"http://{lb_ip(nc)}/hostname") in names,
                what="the LoadBalancer IP to answer from its new node")


def test_exec_passes_the_exit_code_through(nc: Cluster) -> None:
    assert kexec(nc, "client", "sh", "-c", "exit 7").returncode == 7
    assert kexec(nc, "1", "ip", "-o", "addr", "show", "dev", "eth0").stdout.count(
        topo(nc).nodes[0].ip) == 1
    r = kexec(nc, "node-9", "true")
    assert r.returncode == 1 and "no node 'node-9'" in r.stderr
