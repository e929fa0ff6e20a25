"""The Node authorizer's graph and decision (kubesvc.api.rbac.nodegraph): which objects a
pod bound to a node makes readable, how the graph follows pod changes, and upstream's
"no opinion" reasons."""

from __future__ import annotations

from typing import Any

from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.componentroles import NODE_RULES
from kubesvc.api.rbac.nodegraph import NodeGraph, authorize_node, node_identity, pod_references

NODE = ("system:nodes", "system:authenticated")


def pod(name: str, node: str = "n1", ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"nodeName": node, "containers": [{"name": "c"}], **spec}}


def ask(graph: NodeGraph, verb: str, resource: str, name: str = "", *, user: str =
        "system:node:n1", groups: tuple[str, ...] = NODE, ns: str = "default",
        sub: str = "", group: str = "") -> tuple[bool, str]:
    d = authorize_node(graph, Attributes(user, groups, verb, api_group=group,
                                         resource=resource, subresource=sub, namespace=ns,
                                         name=name), NODE_RULES)
    return d.allowed, d.reason


def test_node_identity_needs_prefix_and_group() -> None:
    assert node_identity("system:node:n1", NODE) == (True, "n1")
    assert node_identity("system:node:n1", ("system:authenticated",)) == (False, "")
    assert node_identity("alice", NODE) == (False, "")
    assert node_identity("system:node:", NODE) == (True, "")


def test_pod_references_cover_env_volumes_and_pull_secrets() -> None:
    p = pod("p", imagePullSecrets=[{"name": "pull"}], serviceAccountName="sa",
            containers=[{"name": "c",
                         "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s1",
                                                                              "key": "k"}}},
                                 {"name": "B", "valueFrom": {"configMapKeyRef": {
                                     "name": "c1", "key": "k"}}}],
                         "envFrom": [{"secretRef": {"name": "s2"}},
                                     {"configMapRef": {"name": "c2"}}]}],
            initContainers=[{"name": "i", "envFrom": [{"secretRef": {"name": "s3"}}]}],
            volumes=[{"name": "v1", "secret": {"secretName": "s4"}},
                     {"name": "v2", "configMap": {"name": "c3"}},
                     {"name": "v3", "projected": {"sources": [
                         {"secret": {"name": "s5"}}, {"configMap": {"name": "c4"}}]}},
                     {"name": "v4", "persistentVolumeClaim": {"claimName": "claim"}},
                     {"name": "v5", "ephemeral": {"volumeClaimTemplate": {}}},
                     {"name": "v6", "csi": {"driver": "d",
                                            "nodePublishSecretRef": {"name": "s6"}}}])
    refs = pod_references(p)
    assert {n for k, _, n in refs if k == "secret"} == {"pull", "s1", "s2", "s3", "s4", "s5",
                                                        "s6"}
    assert {n for k, _, n in refs if k == "configmap"} == {"c1", "c2", "c3", "c4"}
    assert {n for k, _, n in refs if k == "pvc"} == {"claim", "p-v5"}
    assert ("serviceaccount", "default", "sa") in refs


def test_secret_readable_only_through_a_pod_on_the_node() -> None:
    g = NodeGraph()
    g.set_pod(pod("p1", volumes=[{"name": "v", "secret": {"secretName": "mine"}}]))
    g.set_pod(pod("p2", node="n2", volumes=[{"name": "v", "secret": {"secretName": "theirs"}}]))
    assert ask(g, "get", "secrets", "mine") == (True, "")
    assert ask(g, "list", "secrets", "mine") == (True, "")
    assert ask(g, "get", "secrets", "theirs") == (
        False, "no relationship found between node 'n1' and this object")
    assert ask(g, "get", "secrets", "mine", ns="other")[0] is False
    assert ask(g, "get", "secrets", "theirs", user="system:node:n2") == (True, "")
    # reads only, one named object, no subresource
    assert ask(g, "update", "secrets", "mine") == (False, "can only read resources of this type")
    assert ask(g, "list", "secrets") == (False, "No Object name found")
    assert ask(g, "get", "secrets", "mine", ns="") == (
        False, "can only read namespaced object of this type")


def test_graph_follows_pod_updates_moves_and_deletes() -> None:
    g = NodeGraph()
    shared = [{"name": "v", "configMap": {"name": "cm"}}]
    g.set_pod(pod("a", volumes=shared))
    g.set_pod(pod("b", volumes=shared))
    g.delete_pod("default", "a")
    assert ask(g, "get", "configmaps", "cm")[0] is True  # b still uses it
    g.set_pod(pod("b", volumes=[]))
    assert ask(g, "get", "configmaps", "cm")[0] is False
    g.set_pod(pod("c", node="", volumes=shared))  # unscheduled: no edge yet
    assert ask(g, "get", "configmaps", "cm")[0] is False
    g.set_pod(pod("c", node="n1", volumes=shared))  # bound
    assert ask(g, "get", "configmaps", "cm")[0] is True
    g.set_pod(pod("c", node="n2", volumes=shared))  # moved (recreated elsewhere)
    assert ask(g, "get", "configmaps", "cm")[0] is False
    assert ask(g, "get", "configmaps", "cm", user="system:node:n2")[0] is True
    g.delete_pod("default", "c")
    assert g.pods_on("n2") == 0 and ask(g, "get", "configmaps", "cm",
                                        user="system:node:n2")[0] is False


def test_service_account_tokens_only_for_pods_service_accounts() -> None:
    g = NodeGraph()
    g.set_pod(pod("p", serviceAccountName="builder"))
    assert ask(g, "create", "serviceaccounts", "builder", sub="token") == (True, "")
    assert ask(g, "create", "serviceaccounts", "other", sub="token")[0] is False
    assert ask(g, "get", "serviceaccounts", "builder") == (
        False, "can only create tokens for individual service accounts")
    assert ask(g, "create", "serviceaccounts", "builder") == (
        False, "can only create token subresource of serviceaccount")


def test_leases_only_own_in_kube_node_lease() -> None:
    g = NodeGraph()
    lease = {"group": "coordination.k8s.io", "ns": "kube-node-lease"}
    assert ask(g, "update", "leases", "n1", **lease) == (True, "")
    assert ask(g, "create", "leases", **lease) == (True, "")
    assert ask(g, "update", "leases", "n2", **lease) == (
        False, "can only access node lease with the same name as the requesting node")
    assert ask(g, "get", "leases", "n1", group="coordination.k8s.io", ns="kube-system") == (
        False, 'can only access leases in the "kube-node-lease" system namespace')
    assert ask(g, "list", "leases", **lease) == (
        False, "can only get, create, update, patch, or delete a node lease")


def test_other_requests_use_the_static_node_rules() -> None:
    g = NodeGraph()
    assert ask(g, "list", "pods")[0] is True
    assert ask(g, "update", "nodes", "n1", ns="", sub="status")[0] is True
    assert ask(g, "create", "events")[0] is True
    assert ask(g, "delete", "services", "x") == (False, "")
    assert ask(g, "get", "secrets", "x", user="alice", groups=("system:authenticated",)) == (
        False, "")
    assert ask(g, "get", "secrets", "x", user="system:node:") == (
        False, 'unknown node for user "system:node:"')
