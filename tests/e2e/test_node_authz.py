"""The Node authorizer and NodeRestriction on a real ``kubesvc up`` with the real kubectl:
with a ``system:node:n1`` token (issued into the data dir's token file before start, as
``kubesvc up --network netns`` issues its agents'), the node reads a Secret a pod on n1
references and nothing else, cannot delete a Service nor patch another Node, and can
update its own Node. The in-process components (controllers, scheduler, the host agent as
``system:node:n1``) keep working with their own identities: no denial in the log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubesvc.apiserver.http.auth import TokenFile
from tests.e2e.conftest import MISSING, Cluster, start_cluster

NODE = "n1"


@pytest.fixture(scope="module")
def node_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    if MISSING:
        pytest.skip(MISSING)
    data = tmp_path_factory.mktemp("nodeauthz") / "data"
    data.mkdir(mode=0o700)
    tokens = TokenFile.load_or_create(data / "tokens.csv")  # admin first, as `up` would
    token = tokens.issue(f"system:node:{NODE}", uid=f"system:node:{NODE}",
                         groups=("system:nodes",))
    c = start_cluster(data, "--node-name", NODE, "--runtime", "simulated")
    try:
        yield c, token
    finally:
        c.stop()


def as_node(c: Cluster, token: str, *args: str) -> tuple[int, str]:
    r = c.kubectl("--token", token, *args, check=False)
    return r.returncode, (r.stdout + r.stderr).strip()


def put_status(c: Cluster, token: str, node: str, obj: object) -> tuple[int, str]:
    r = c.kubectl("--token", token, "replace", "--raw", f"/api/v1/nodes/{node}/status",
                  "-f", "-", input=json.dumps(obj), check=False)
    return r.returncode, (r.stdout + r.stderr).strip()


def _pod(name: str, secret: str, node: str = "") -> str:
    spec: dict[str, object] = {
        "containers": [{"name": "c", "image": "registry.k8s.io/pause",
                        "envFrom": [{"secretRef": {"name": secret, "optional": True}}]}]}
    if node:
        spec["nodeName"] = node
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": "default"}, "spec": spec})


def test_node_reads_only_secrets_its_pods_use(node_cluster: tuple[Cluster, str]) -> None:
    c, token = node_cluster
    for name in ("used", "unused"):
        c.kubectl("create", "secret", "generic", name, f"--from-literal=k={name}")
    c.kubectl("apply", "-f", "-", input=_pod("reader", "used"))  # the scheduler binds it
    c.wait_for(lambda: as_node(c, token, "get", "secret", "used")[0] == 0,
               what="the node to read the Secret of its pod")
    code, out = as_node(c, token, "get", "secret", "unused")
    assert code == 1
    assert ('Error from server (Forbidden): secrets "unused" is forbidden: User '
            '"system:node:n1" cannot get resource "secrets" in API group "" in the namespace '
            '"default": no relationship found between node \'n1\' and this object') in out
    code, out = as_node(c, token, "get", "secrets")
    assert code == 1
    assert ('secrets is forbidden: User "system:node:n1" cannot list resource "secrets" in API '
            'group "" in the namespace "default": No Object name found') in out
    # the graph follows the pod: once it is gone, so is the access
    c.kubectl("delete", "pod", "reader", "--wait=true", "--timeout=30s")
    c.wait_for(lambda: as_node(c, token, "get", "secret", "used")[0] == 1,
               what="the Secret to become unreadable after its pod went")


def test_node_cannot_delete_services_nor_touch_other_nodes(
        node_cluster: tuple[Cluster, str]) -> None:
    c, token = node_cluster
    code, out = as_node(c, token, "delete", "service", "kubernetes")
    assert code == 1
    assert ('services "kubernetes" is forbidden: User "system:node:n1" cannot delete resource '
            '"services" in API group "" in the namespace "default"') in out
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n2"}}))
    code, out = as_node(c, token, "label", "node", "n2", "stolen=yes")
    assert code == 1
    assert 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"' in out
    code, out = put_status(c, token, "n2", c.kubectl_json("get", "node", "n2"))
    assert code == 1 and 'node "n1" is not allowed to modify node "n2"' in out
    code, out = as_node(c, token, "delete", "node", "n2")
    assert code == 1 and 'cannot delete resource "nodes"' in out
    code, out = as_node(c, token, "label", "node", NODE,
                        "node-restriction.kubernetes.io/pool=a")
    assert code == 1
    assert ('nodes "n1" is forbidden: is not allowed to modify labels: '
            "node-restriction.kubernetes.io/pool") in out


def test_node_updates_its_own_node_and_lease(node_cluster: tuple[Cluster, str]) -> None:
    c, token = node_cluster
    # as a kubelet does: GET the Node, PUT its status (system:node may not GET nodes/status,
    # which `kubectl patch --subresource=status` would do first)
    code, node_json = as_node(c, token, "get", "node", NODE, "-o", "json")
    assert code == 0, node_json
    node = json.loads(node_json)
    node["status"].setdefault("nodeInfo", {})["kubeProxyVersion"] = "v1.32.0"
    code, out = put_status(c, token, NODE, node)
    assert code == 0, out
    assert json.loads(out)["status"]["nodeInfo"]["kubeProxyVersion"] == "v1.32.0"
    code, out = as_node(c, token, "label", "node", NODE, "example.com/role=edge")
    assert code == 0, out
    code, out = as_node(c, token, "get", "lease", NODE, "-n", "kube-node-lease")
    assert code == 0, out
    code, out = as_node(c, token, "get", "lease", "kube-scheduler", "-n", "kube-node-lease")
    assert code == 1 and "can only access node lease with the same name" in out


def test_in_process_components_keep_their_permissions(
        node_cluster: tuple[Cluster, str]) -> None:
    c, _ = node_cluster
    c.kubectl("create", "deployment", "web", "--image=registry.k8s.io/pause", "--replicas=2")
    c.kubectl("expose", "deployment", "web", "--port=80")

    def ready() -> bool:
        d = c.kubectl_json("get", "deployment", "web")
        pods = c.kubectl_json("get", "pods", "-l", "app=web")["items"]
        slices = c.kubectl_json("get", "endpointslices", "-l",
                                "kubernetes.io/service-name=web")["items"]
        addrs = [e for s in slices for e in s.get("endpoints") or []]
        return (d.get("status", {}).get("readyReplicas") == 2 and len(addrs) == 2
                and all(p["spec"].get("nodeName") == NODE for p in pods))

    c.wait_for(ready, timeout=30, what="deployment, scheduler, agent and slices to work")
    time.sleep(0.5)
    log = Path(c.log_path).read_text(errors="replace")
    assert "in-process system:" not in log, log[-3000:]
