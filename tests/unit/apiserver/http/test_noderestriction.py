"""NodeRestriction admission and the in-process identities, against the real Registry
(memory store) and the bootstrap policy: a node writes only its own Node, Lease and pods'
status, with upstream's messages; each component identity holds what it needs and no
more."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from kubesvc import errors
from kubesvc.api.objects import Obj
from kubesvc.api.rbac import bootstrap
from kubesvc.apiserver.http.authz import Authz
from kubesvc.apiserver.http.identity import (
    AuthorizedRegistry,
    controller_identity,
    node_identity,
    require_reads,
    system_user,
)
from kubesvc.apiserver.http.nodeauthz import NodeAuthorizer
from kubesvc.apiserver.registry.core import Registry
from kubesvc.storage.memory import MemoryStore

LEASES = "leases.coordination.k8s.io"


class Policy:
    """The bootstrap ClusterRoles and bindings as a PolicySource."""

    def __init__(self) -> None:
        self.roles = {r["metadata"]["name"]: r for r in bootstrap.cluster_roles()}
        self.bindings = bootstrap.cluster_role_bindings()

    def cluster_role(self, name: str) -> Obj | None:
        return self.roles.get(name)

    def role(self, namespace: str, name: str) -> Obj | None:
        return None

    def cluster_role_bindings(self, keys: object = None) -> Iterable[Obj]:
        return self.bindings

    def role_bindings(self, namespace: str, keys: object = None) -> Iterable[Obj]:
        return ()


class Env:
    def __init__(self, reg: Registry, node_authz: NodeAuthorizer) -> None:
        self.reg = reg
        self.node_authz = node_authz
        self.authz = Authz(Policy(), reg, node=node_authz)

    def as_node(self, name: str = "n1") -> AuthorizedRegistry:
        return AuthorizedRegistry(self.reg, self.authz, node_identity(name))

    async def add_pod(self, name: str, node: str, **spec: Any) -> Obj:
        p = await self.reg.create("pods", {
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "x"}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "pause"}],
                     **spec}})
        self.node_authz.graph.set_pod(p)  # what the informer does
        return p


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    reg = Registry(MemoryStore(), compact_interval=0, repair_interval=0)
    await reg.start()
    try:
        yield Env(reg, NodeAuthorizer(reg))
    finally:
        await reg.stop()


def node_obj(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {}}


async def forbidden(coro: Any) -> str:
    with pytest.raises(errors.Forbidden) as exc:
        await coro
    return exc.value.message


async def test_node_creates_and_updates_only_itself(env: Env) -> None:
    n1 = env.as_node("n1")
    await n1.create("nodes", node_obj("n1", {"kubernetes.io/hostname": "n1", "mine": "ok"}))
    assert await forbidden(n1.create("nodes", node_obj("n2"))) == (
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
    assert await forbidden(n1.create("nodes", node_obj(
        "n1", {"node-restriction.kubernetes.io/pool": "a", "x.kubernetes.io/y": "b"}))) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/pool, x.kubernetes.io/y")
    await env.reg.create("nodes", node_obj("n2"))
    assert await forbidden(n1.patch("nodes", "n2", {"metadata": {"labels": {"a": "b"}}})) == (
        'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"')
    assert await forbidden(n1.delete("nodes", "n2")) == (  # system:node has no delete
        'nodes "n2" is forbidden: User "system:node:n1" cannot delete resource "nodes" in '
        'API group "" at the cluster scope')
    cur = await n1.get("nodes", "n1")
    cur["status"] = {"conditions": [{"type": "Ready", "status": "True"}]}
    await n1.update("nodes", cur, subresource="status")
    await n1.patch("nodes", "n1", {"metadata": {"labels": {"mine": "changed"}}})
    assert await forbidden(n1.patch("nodes", "n1", {"spec": {"taints": [
        {"key": "k", "effect": "NoSchedule"}]}})) == (
        'nodes "n1" is forbidden: node "n1" is not allowed to modify taints')
    assert await forbidden(n1.patch("nodes", "n1", {"metadata": {"labels": {
        "node-role.kubernetes.io/control-plane": ""}}})) == (
        'nodes "n1" is forbidden: is not allowed to modify labels: '
        "node-role.kubernetes.io/control-plane")


async def test_node_writes_only_its_pods_status(env: Env) -> None:
    await env.add_pod("mine", "n1")
    await env.add_pod("theirs", "n2")
    n1 = env.as_node("n1")
    await n1.patch("pods", "mine", {"status": {"phase": "Running"}}, namespace="default",
                   subresource="status")
    assert await forbidden(n1.patch("pods", "theirs", {"status": {"phase": "Running"}},
                                    namespace="default", subresource="status")) == (
        'pods "theirs" is forbidden: node "n1" can only update pod status for pods with '
        "spec.nodeName set to itself")
    assert await forbidden(n1.patch("pods", "mine", {"metadata": {"labels": {"app": "y"}}},
                                    namespace="default", subresource="status")) == (
        'pods "mine" is forbidden: node "n1" cannot update labels through pod status')
    assert await forbidden(n1.delete("pods", "theirs", namespace="default")) == (
        'pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set '
        "to itself")
    await n1.delete("pods", "mine", namespace="default")
    assert await forbidden(n1.create("pods", {
        "metadata": {"name": "new", "namespace": "default"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "pause"}]}})) == (
        'pods "new" is forbidden: pod does not have "kubernetes.io/config.mirror" '
        'annotation, node "n1" can only create mirror pods')


async def test_node_lease_and_secrets(env: Env) -> None:
    n1 = env.as_node("n1")
    lease = {"metadata": {"name": "n1", "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": "n1"}}
    await n1.create(LEASES, lease, namespace="kube-node-lease")
    msg = await forbidden(n1.create(LEASES, {**lease, "metadata": {
        "name": "n2", "namespace": "kube-node-lease"}}, namespace="kube-node-lease"))
    assert msg == ('leases.coordination.k8s.io "n2" is forbidden: can only access node lease '
                   "with the same name as the requesting node")
    await env.reg.create("secrets", {"metadata": {"name": "s", "namespace": "default"}})
    await env.reg.create("secrets", {"metadata": {"name": "x", "namespace": "default"}})
    await env.add_pod("p", "n1", volumes=[{"name": "v", "secret": {"secretName": "s"}}])
    assert (await n1.get("secrets", "s", namespace="default"))["metadata"]["name"] == "s"
    assert await forbidden(n1.get("secrets", "x", namespace="default")) == (
        'secrets "x" is forbidden: User "system:node:n1" cannot get resource "secrets" in API '
        'group "" in the namespace "default": no relationship found between node \'n1\' and '
        "this object")
    assert await forbidden(n1.delete("services", "kubernetes", namespace="default")) == (
        'services "kubernetes" is forbidden: User "system:node:n1" cannot delete resource '
        '"services" in API group "" in the namespace "default"')


async def test_component_identities_hold_what_they_need(env: Env) -> None:
    def who(user: Any) -> AuthorizedRegistry:
        return AuthorizedRegistry(env.reg, env.authz, user)

    kcm = who(system_user("system:kube-controller-manager"))
    require_reads(kcm, ["pods", "services", "endpointslices.discovery.k8s.io", "nodes",
                        "deployments.apps", "replicasets.apps", "endpoints"])
    with pytest.raises(errors.Forbidden):  # reads all, writes through controller accounts
        await kcm.create("services", {"metadata": {"name": "s", "namespace": "default"},
                                      "spec": {"ports": [{"port": 80}]}})
    slices = who(controller_identity("endpointslice-controller"))
    await slices.create("endpointslices.discovery.k8s.io", {
        "metadata": {"name": "s-1", "namespace": "default"}, "addressType": "IPv4",
        "endpoints": []})
    with pytest.raises(errors.Forbidden):
        await slices.get("secrets", "x", namespace="default")
    sched = who(system_user("system:kube-scheduler"))
    require_reads(sched, ["pods", "nodes"])
    await env.add_pod("unbound", "")
    await sched.create("pods", {"apiVersion": "v1", "kind": "Binding",
                                "metadata": {"name": "unbound", "namespace": "default"},
                                "target": {"kind": "Node", "name": "n1"}},
                       namespace="default", subresource="binding", name="unbound")
    with pytest.raises(errors.Forbidden):
        await sched.delete("services", "kubernetes", namespace="default")
    dns = who(controller_identity("coredns"))
    require_reads(dns, ["services", "endpointslices.discovery.k8s.io", "namespaces"])
    with pytest.raises(errors.Forbidden):
        require_reads(dns, ["secrets"])
    require_reads(who(system_user("system:kube-proxy")),
                  ["services", "endpointslices.discovery.k8s.io"])


async def test_cached_decisions_follow_policy_changes(env: Env) -> None:
    policy = env.authz.source
    assert isinstance(policy, Policy)
    policy.generation = 0  # type: ignore[attr-defined]  # as PolicyCache counts changes
    slices = AuthorizedRegistry(env.reg, env.authz,
                                controller_identity("endpointslice-controller"))
    body = {"metadata": {"name": "a", "namespace": "default"}, "addressType": "IPv4",
            "endpoints": []}
    await slices.create("endpointslices.discovery.k8s.io", body)
    await slices.get("endpointslices.discovery.k8s.io", "a", namespace="default")
    policy.bindings = [b for b in policy.bindings
                       if b["metadata"]["name"] != "system:controller:endpointslice-controller"]
    # the cached "allowed" holds until the generation moves, as the informers make it
    await slices.get("endpointslices.discovery.k8s.io", "a", namespace="default")
    policy.generation = 1  # type: ignore[attr-defined]
    with pytest.raises(errors.Forbidden):
        await slices.get("endpointslices.discovery.k8s.io", "a", namespace="default")


async def test_announcer_leases_in_kube_system_only_by_prefix(env: Env) -> None:
    from kubesvc.api.rbac.componentroles import LB_ANNOUNCE_LEASE_PREFIX
    from kubesvc.proxy.announce import LEASE_PREFIX

    assert LB_ANNOUNCE_LEASE_PREFIX == LEASE_PREFIX
    policy = env.authz.source
    assert isinstance(policy, Policy)
    n1 = env.as_node("n1")
    lease = {"metadata": {"name": f"{LEASE_PREFIX}default-web", "namespace": "kube-system"},
             "spec": {"holderIdentity": "n1"}}
    # RBAC decides (the kube-system Role is not in this fake policy: refused by RBAC)
    msg = await forbidden(n1.create(LEASES, lease, namespace="kube-system"))
    assert 'cannot create resource "leases"' in msg
    # NodeRestriction refuses any other Lease there even where RBAC would allow it
    policy.bindings.append(bootstrap.cluster_role_binding("all-leases", "system:node-extras",
                                                          [bootstrap.group("system:nodes")]))
    policy.roles["system:node-extras"] = bootstrap.cluster_role(
        "system:node-extras", [{"verbs": ["create"], "apiGroups": ["coordination.k8s.io"],
                                "resources": ["leases"]}])
    await n1.create(LEASES, lease, namespace="kube-system")
    assert await forbidden(n1.create(LEASES, {**lease, "metadata": {
        "name": "kube-scheduler", "namespace": "kube-system"}}, namespace="kube-system")) == (
        'leases.coordination.k8s.io "kube-scheduler" is forbidden: can only access leases in '
        'the "kube-node-lease" system namespace')


def test_a_nodes_rules_are_not_enumerable(env: Env) -> None:
    _, errs = env.authz.rules("system:node:n1", ("system:nodes", "system:authenticated"),
                              "default")
    assert errs == ["node authorizer does not support user rule resolution"]
    assert env.authz.rules("alice", ("system:authenticated",), "default")[1] == []
