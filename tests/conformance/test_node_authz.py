"""Upstream ``test/e2e/auth/node_authz.go`` ([sig-auth] [Feature:NodeAuthorizer]) and the
node scenarios of ``test/integration/auth/node_test.go`` (TestNodeAuthorizer) and
``rbac_test.go`` (the bootstrap policy's node bindings), Kubernetes v1.32, written anew
against kubesvc. As upstream's e2e test does, requests act as the node by impersonation
(``system:node:<name>`` in ``system:nodes``), which the admin (``system:masters``) may do.
Run by pytest; uses :mod:`.framework`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conformance.framework import Api, ApiError, core, poll, unique
from tests.e2e.conftest import Cluster

NODES_GROUP = "system:nodes"


class AsNode(Api):
    """The admin's connection, impersonating ``system:node:<node>`` in system:nodes."""

    def __init__(self, api: Api, node: str, *, groups: tuple[str, ...] = (NODES_GROUP,),
                 user: str = "") -> None:
        self.__dict__.update(api.__dict__)
        self.user = user or f"system:node:{node}"
        self.groups = groups

    def request(self, method: str, path: str, body: Any = None, *,
                query: dict[str, Any] | None = None,
                content_type: str = "application/json", timeout: float = 15) -> Any:
        from urllib.parse import urlencode

        if query:
            path = f"{path}?{urlencode({k: v for k, v in query.items() if v is not None})}"
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "Impersonate-User": self.user}
        if data is not None:
            headers["Content-Type"] = content_type
            headers["Content-Length"] = str(len(data))
        conn = self._conn(timeout)
        try:
            conn.putrequest(method, path)
            for k, v in headers.items():
                conn.putheader(k, v)
            for g in self.groups:
                conn.putheader("Impersonate-Group", g)
            conn.endheaders(data)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"message": raw.decode(errors="replace")}
        if resp.status >= 300:
            raise ApiError(resp.status, parsed)
        return parsed


def forbidden(fn: Any, *args: Any) -> str:
    with pytest.raises(ApiError) as exc:
        fn(*args)
    assert exc.value.status == 403, exc.value
    return str(exc.value.body.get("message"))


@pytest.fixture
def node_name(api: Api) -> str:
    """``nodeName = nodeList.Items[0].Name`` (the cluster's one node agent)."""
    nodes = api.list("/api/v1/nodes")
    assert nodes, "no node registered"
    return str(nodes[0]["metadata"]["name"])


def _secret(api: Api, ns: str, name: str) -> None:
    api.create(core(ns, "secrets"), {"apiVersion": "v1", "kind": "Secret",
                                     "metadata": {"name": name}, "data": {"k": "dg=="}})


# -- test/e2e/auth/node_authz.go -----------------------------------------------------------

def test_getting_a_non_existent_secret_should_exit_with_the_forbidden_error(
        api: Api, ns: str, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] Getting a non-existent secret should exit with
    the Forbidden error, not a NotFound error"""
    msg = forbidden(AsNode(api, node_name).get, core(ns, "secrets", "foo"))
    assert msg == (f'secrets "foo" is forbidden: User "system:node:{node_name}" cannot get '
                   f'resource "secrets" in API group "" in the namespace "{ns}": no '
                   f"relationship found between node '{node_name}' and this object")


def test_getting_an_existing_secret_should_exit_with_the_forbidden_error(
        api: Api, ns: str, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] Getting an existing secret should exit with the
    Forbidden error"""
    _secret(api, ns, "node-auth-secret")
    forbidden(AsNode(api, node_name).get, core(ns, "secrets", "node-auth-secret"))


def test_getting_a_non_existent_configmap_should_exit_with_the_forbidden_error(
        api: Api, ns: str, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] Getting a non-existent configmap should exit with
    the Forbidden error, not a NotFound error"""
    forbidden(AsNode(api, node_name).get, core(ns, "configmaps", "foo"))


def test_getting_an_existing_configmap_should_exit_with_the_forbidden_error(
        api: Api, ns: str, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] Getting an existing configmap should exit with
    the Forbidden error"""
    api.create(core(ns, "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "node-auth-configmap"},
                                        "data": {"data": "content"}})
    forbidden(AsNode(api, node_name).get, core(ns, "configmaps", "node-auth-configmap"))


def test_getting_a_secret_for_a_workload_the_node_has_access_to_should_succeed(
        api: Api, ns: str, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] Getting a secret for a workload the node has
    access to should succeed"""
    _secret(api, ns, "node-auth-newsecret")
    as_node = AsNode(api, node_name)
    forbidden(as_node.get, core(ns, "secrets", "node-auth-newsecret"))
    api.create(core(ns, "pods"), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pause"},
        "spec": {"nodeName": node_name,
                 "containers": [{"name": "pause", "image": "registry.k8s.io/pause"}],
                 "volumes": [{"name": "node-auth-secret",
                              "secret": {"secretName": "node-auth-newsecret"}}]}})

    def readable() -> bool:
        try:
            as_node.get(core(ns, "secrets", "node-auth-newsecret"))
            return True
        except ApiError as exc:
            assert exc.status == 403, exc
            return False

    poll(readable, timeout=20)


def test_a_node_shouldnt_be_able_to_create_another_node(api: Api, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] A node shouldn't be able to create another
    node"""
    name = unique("foo")
    try:
        msg = forbidden(AsNode(api, node_name).create, "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
        assert msg == (f'nodes "{name}" is forbidden: node "{node_name}" is not allowed to '
                       f'modify node "{name}"')
    finally:
        try:
            api.delete(f"/api/v1/nodes/{name}")
        except ApiError:
            pass


def test_a_node_shouldnt_be_able_to_delete_another_node(api: Api, node_name: str) -> None:
    """[sig-auth] [Feature:NodeAuthorizer] A node shouldn't be able to delete another
    node"""
    forbidden(AsNode(api, node_name).delete, "/api/v1/nodes/foo")


# -- test/integration/auth/node_test.go (TestNodeAuthorizer) -------------------------------

def test_node_authorizer_unidentifiable_node_is_forbidden(api: Api, ns: str) -> None:
    """TestNodeAuthorizer: an unidentifiable node ("system:node:" in system:nodes) and a
    user of system:nodes without the node prefix get nothing through the Node authorizer"""
    _secret(api, ns, "mysecret")
    anon = AsNode(api, "", user="system:node:")
    msg = forbidden(anon.get, core(ns, "secrets", "mysecret"))
    assert msg.endswith(': unknown node for user "system:node:"'), msg
    forbidden(AsNode(api, "", user="unknown-user").get, core(ns, "secrets", "mysecret"))


def test_node_authorizer_access_follows_pods_between_nodes(
        api: Api, ns: str) -> None:
    """TestNodeAuthorizer: node1 cannot read what node2's pod references, node2 can; when
    the pod goes, so does node2's access; a node updates the status only of its own pods"""
    n1, n2 = unique("node1"), unique("node2")
    _secret(api, ns, "mysecret")
    api.create(core(ns, "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": "myconfigmap"}})
    node1, node2 = AsNode(api, n1), AsNode(api, n2)
    api.create(core(ns, "pods"), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "node2normalpod"},
        "spec": {"nodeName": n2, "containers": [{"name": "image", "image": "busybox",
                                                 "envFrom": [{"configMapRef": {
                                                     "name": "myconfigmap"}}]}],
                 "volumes": [{"name": "secret", "secret": {"secretName": "mysecret"}}]}})
    poll(lambda: bool(node2.get(core(ns, "secrets", "mysecret"))), timeout=20)
    node2.get(core(ns, "configmaps", "myconfigmap"))
    forbidden(node1.get, core(ns, "secrets", "mysecret"))
    forbidden(node1.get, core(ns, "configmaps", "myconfigmap"))
    status = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    msg = forbidden(node1.patch, core(ns, "pods", "node2normalpod", "status"), status)
    assert msg == (f'pods "node2normalpod" is forbidden: node "{n1}" can only update pod '
                   "status for pods with spec.nodeName set to itself")
    node2.patch(core(ns, "pods", "node2normalpod", "status"), status)
    api.request("DELETE", core(ns, "pods", "node2normalpod"),
                {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})

    def gone() -> bool:
        try:
            node2.get(core(ns, "secrets", "mysecret"))
            return False
        except ApiError as exc:
            assert exc.status == 403, exc
            return True

    poll(gone, timeout=20)


def test_node_authorizer_mirror_pod_and_self_node_lifecycle(api: Api, ns: str) -> None:
    """TestNodeAuthorizer: node2 creates itself and updates its status, creates and deletes
    a mirror pod bound to itself (not a normal pod), cannot delete itself; node1 cannot
    touch node2 nor its mirror pod"""
    n1, n2 = unique("node1"), unique("node2")
    node1, node2 = AsNode(api, n1), AsNode(api, n2)
    try:
        created = node2.create("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                 "metadata": {"name": n2}})
        cur = node2.get(f"/api/v1/nodes/{n2}")
        cur["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
        node2.update(f"/api/v1/nodes/{n2}/status", cur)
        cur = node1.get(f"/api/v1/nodes/{n2}")  # reading nodes is allowed
        msg = forbidden(node1.update, f"/api/v1/nodes/{n2}/status", cur)
        assert msg == f'nodes "{n2}" is forbidden: node "{n1}" is not allowed to modify node "{n2}"'
        pod: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "node2mirrorpod",
                         "annotations": {"kubernetes.io/config.mirror": "mirror"},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": n2,
                                              "uid": created["metadata"]["uid"],
                                              "controller": True}]},
            "spec": {"nodeName": n2, "containers": [{"name": "image", "image": "busybox"}]}}
        msg = forbidden(node2.create, core(ns, "pods"),
                        {**pod, "metadata": {"name": "node2normalpod"}})
        assert msg == ('pods "node2normalpod" is forbidden: pod does not have '
                       '"kubernetes.io/config.mirror" annotation, node '
                       f'"{n2}" can only create mirror pods')
        node2.create(core(ns, "pods"), pod)
        zero = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        msg = forbidden(node1.request, "DELETE", core(ns, "pods", "node2mirrorpod"), zero)
        assert msg == (f'pods "node2mirrorpod" is forbidden: node "{n1}" can only delete pods '
                       "with spec.nodeName set to itself")
        node2.request("DELETE", core(ns, "pods", "node2mirrorpod"), zero)
        # self deletion is not allowed
        msg = forbidden(node2.delete, f"/api/v1/nodes/{n2}")
        assert 'cannot delete resource "nodes" in API group ""' in msg
    finally:
        try:
            api.delete(f"/api/v1/nodes/{n2}")
        except ApiError:
            pass


def test_node_authorizer_leases_only_own_in_kube_node_lease(api: Api) -> None:
    """TestNodeAuthorizer (node leases): a node may create and renew its own Lease in
    kube-node-lease, and no other node's"""
    n1, n2 = unique("node1"), unique("node2")
    node1 = AsNode(api, n1)
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "spec": {"holderIdentity": n1, "leaseDurationSeconds": 40}}
    try:
        node1.create(leases, {**lease, "metadata": {"name": n1}})
        cur = node1.get(f"{leases}/{n1}")
        node1.update(f"{leases}/{n1}", cur)
        msg = forbidden(node1.create, leases, {**lease, "metadata": {"name": n2}})
        assert msg == (f'leases.coordination.k8s.io "{n2}" is forbidden: can only access node '
                       "lease with the same name as the requesting node")
        api.create(leases, {**lease, "metadata": {"name": n2}})
        msg = forbidden(node1.get, f"{leases}/{n2}")
        assert msg.endswith(": can only access node lease with the same name as the "
                            "requesting node"), msg
        msg = forbidden(node1.create,
                        "/apis/coordination.k8s.io/v1/namespaces/default/leases",
                        {**lease, "metadata": {"name": n1}})
        assert 'can only access leases in the "kube-node-lease" system namespace' in msg
    finally:
        for n in (n1, n2):
            try:
                api.delete(f"{leases}/{n}")
            except ApiError:
                pass


# -- test/integration/auth/rbac_test.go (bootstrap policy) ----------------------------------

def test_bootstrap_policy_binds_system_node_to_no_one(api: Api) -> None:
    """TestBootstrapping: the system:node ClusterRole exists with the node rules, and its
    ClusterRoleBinding names no subject (the Node authorizer grants it since 1.8); the
    controller roles are bound to their kube-system ServiceAccounts"""
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    role = api.get(f"{rbac}/clusterroles/system:node")
    assert {"verbs": ["update", "patch"], "apiGroups": [""],
            "resources": ["nodes/status"]} in role["rules"]
    binding = api.get(f"{rbac}/clusterrolebindings/system:node")
    assert not binding.get("subjects")
    ctl = api.get(f"{rbac}/clusterrolebindings/system:controller:endpointslice-controller")
    assert ctl["subjects"] == [{"kind": "ServiceAccount", "name": "endpointslice-controller",
                                "namespace": "kube-system"}]
    assert api.get(f"{rbac}/clusterrolebindings/system:kube-scheduler")["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
         "name": "system:kube-scheduler"}]


def test_nodes_cannot_delete_services(api: Api, cluster: Cluster, node_name: str) -> None:
    """TestNodeAuthorizer: a node cannot delete a Service (the issue's must-show; upstream's
    NodeRules have no write on Services): the delete is refused with RBAC's message"""
    del cluster
    msg = forbidden(AsNode(api, node_name).delete, "/api/v1/namespaces/default/services/kubernetes")
    assert msg == (f'services "kubernetes" is forbidden: User "system:node:{node_name}" cannot '
                   'delete resource "services" in API group "" in the namespace "default"')


# -- test/e2e/common/node/secrets.go: the node reads its pod's Secret ----------------------

def test_secrets_should_be_consumable_from_pods_in_env_vars(api: Api, ns: str) -> None:
    """[sig-node] Secrets should be consumable from pods in env vars [NodeConformance]
    [Conformance] — the node agent, acting as system:node:<name>, reads the Secret through
    the Node authorizer once the pod is bound to it"""
    name = unique("secret-test")
    api.create(core(ns, "secrets"), {"apiVersion": "v1", "kind": "Secret",
                                     "metadata": {"name": name},
                                     "data": {"data-1": "dmFsdWUtMQ=="}})
    pod = unique("pod-secrets")
    api.create(core(ns, "pods"), {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "secret-env-test", "image": "busybox", "command": ["sh", "-c", "env"],
            "env": [{"name": "SECRET_DATA", "valueFrom": {"secretKeyRef": {
                "name": name, "key": "data-1"}}}]}]}})

    def succeeded() -> bool:
        phase = api.get(core(ns, "pods", pod)).get("status", {}).get("phase")
        assert phase != "Failed", api.get(core(ns, "pods", pod))["status"]
        return phase == "Succeeded"

    poll(succeeded, timeout=30)
    out = api.request("GET", core(ns, "pods", pod, "log"))
    assert "SECRET_DATA=value-1" in str(out.get("message", out)), out
