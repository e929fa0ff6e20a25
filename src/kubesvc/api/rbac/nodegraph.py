"""The Node authorizer's decision (upstream's plugin/pkg/auth/authorizer/node, the
``--authorization-mode=Node`` that runs before RBAC): a ``system:node:<name>`` user in
``system:nodes`` may read a Secret, ConfigMap or PersistentVolumeClaim, and create a token
for a ServiceAccount, only when a pod bound to its node references that object; it may
touch only its own Lease in ``kube-node-lease``; every other request of a node is judged
against the static ``system:node`` rules. A request this authorizer does not allow gets
"no opinion" with upstream's reason, and falls through to RBAC.

:class:`NodeGraph` is the relationship graph (upstream keeps a vertex graph; here the
edges a pod contributes are counted per node, so a lookup is one dict probe). It is fed
pod adds/updates/deletes by ``kubesvc.apiserver.http.nodeauthz`` from an informer. Pure.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.authorizer import Decision
from kubesvc.api.rbac.rules import Rule, rule_allows

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
NODE_LEASE_NAMESPACE = "kube-node-lease"

SECRET = "secret"
CONFIGMAP = "configmap"
PVC = "pvc"
SERVICE_ACCOUNT = "serviceaccount"
Ref = tuple[str, str, str]  # (vertex type, namespace, name)
_NO_OPINION = Decision(False)


def node_identity(user: str, groups: Sequence[str]) -> tuple[bool, str]:
    """(is a node, node name), as upstream's default NodeIdentifier: the user name starts
    with ``system:node:`` and the groups hold ``system:nodes``."""
    if not user.startswith(NODE_USER_PREFIX) or NODES_GROUP not in groups:
        return False, ""
    return True, user[len(NODE_USER_PREFIX):]


def _name(v: Any, key: str = "name") -> str:
    return str(v.get(key) or "") if isinstance(v, Mapping) else ""


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def _containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for c in _list(spec.get(key)):
            if isinstance(c, Mapping):
                yield c


# volume source -> the key of its secret reference (upstream's VisitPodSecretNames)
_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "storageos")


def pod_references(pod: Mapping[str, Any]) -> set[Ref]:
    """Every Secret, ConfigMap, PVC and ServiceAccount the pod names (upstream's
    ``VisitPodSecretNames``/``VisitPodConfigmapNames`` and the graph populator)."""
    md = pod.get("metadata") or {}
    ns = str(md.get("namespace") or "")
    spec = pod.get("spec") or {}
    out: set[Ref] = set()

    def add(kind: str, name: str) -> None:
        if name:
            out.add((kind, ns, name))

    for s in _list(spec.get("imagePullSecrets")):
        add(SECRET, _name(s))
    for c in _containers(spec):
        for e in _list(c.get("envFrom")):
            if isinstance(e, Mapping):
                add(SECRET, _name(e.get("secretRef")))
                add(CONFIGMAP, _name(e.get("configMapRef")))
        for e in _list(c.get("env")):
            vf = e.get("valueFrom") if isinstance(e, Mapping) else None
            if isinstance(vf, Mapping):
                add(SECRET, _name(vf.get("secretKeyRef")))
                add(CONFIGMAP, _name(vf.get("configMapKeyRef")))
    pod_name = str(md.get("name") or "")
    for v in _list(spec.get("volumes")):
        if not isinstance(v, Mapping):
            continue
        add(SECRET, _name(v.get("secret"), "secretName"))
        add(SECRET, _name(v.get("azureFile"), "secretName"))
        add(CONFIGMAP, _name(v.get("configMap")))
        for src in _list((v.get("projected") or {}).get("sources")):
            if isinstance(src, Mapping):
                add(SECRET, _name(src.get("secret")))
                add(CONFIGMAP, _name(src.get("configMap")))
        for key in _SECRET_REF_VOLUMES:
            add(SECRET, _name((v.get(key) or {}).get("secretRef")))
        add(SECRET, _name((v.get("csi") or {}).get("nodePublishSecretRef")))
        iscsi = v.get("iscsi") or {}
        add(SECRET, _name(iscsi.get("secretRef")))
        add(PVC, _name(v.get("persistentVolumeClaim"), "claimName"))
        if isinstance(v.get("ephemeral"), Mapping) and pod_name:
            add(PVC, f"{pod_name}-{_name(v)}")  # the generic ephemeral volume's claim
    add(SERVICE_ACCOUNT, str(spec.get("serviceAccountName") or ""))
    return out


class NodeGraph:
    """Which objects the pods bound to each node reference (edges counted per node)."""

    __slots__ = ("_claims", "_edges", "_pods")

    def __init__(self) -> None:
        self._pods: dict[tuple[str, str], tuple[str, frozenset[Ref]]] = {}
        self._edges: dict[str, Counter[Ref]] = {}
        # PV name -> the claims (namespace, name) bound to it (upstream's pvc -> pv edge)
        self._claims: dict[str, set[tuple[str, str]]] = {}

    def set_claim(self, pvc: Mapping[str, Any]) -> None:
        """A PersistentVolumeClaim and the volume it is bound to (``spec.volumeName``)."""
        self.delete_claim(pvc)
        volume = str((pvc.get("spec") or {}).get("volumeName") or "")
        if volume:
            md = pvc.get("metadata") or {}
            self._claims.setdefault(volume, set()).add(
                (str(md.get("namespace") or ""), str(md.get("name") or "")))

    def delete_claim(self, pvc: Mapping[str, Any]) -> None:
        md = pvc.get("metadata") or {}
        key = (str(md.get("namespace") or ""), str(md.get("name") or ""))
        for volume, claims in list(self._claims.items()):
            claims.discard(key)
            if not claims:
                del self._claims[volume]

    def has_volume(self, node: str, volume: str) -> bool:
        """Whether a pod on ``node`` references a claim bound to PV ``volume``."""
        return any(self.has_path(node, PVC, ns, name)
                   for ns, name in self._claims.get(volume, ()))

    def set_pod(self, pod: Mapping[str, Any]) -> None:
        """Add or update a pod (a pod not bound to a node contributes nothing)."""
        md = pod.get("metadata") or {}
        key = (str(md.get("namespace") or ""), str(md.get("name") or ""))
        node = str((pod.get("spec") or {}).get("nodeName") or "")
        refs = frozenset(pod_references(pod)) if node else frozenset()
        old = self._pods.get(key)
        if old == (node, refs):
            return
        if old is not None:
            self._drop(*old)
        if not node:
            self._pods.pop(key, None)
            return
        self._pods[key] = (node, refs)
        edges = self._edges.setdefault(node, Counter())
        edges.update(refs)
        edges[("pod", *key)] += 1

    def delete_pod(self, namespace: str, name: str) -> None:
        old = self._pods.pop((namespace, name), None)
        if old is not None:
            self._drop(*old)

    def _drop(self, node: str, refs: Iterable[Ref]) -> None:
        edges = self._edges.get(node)
        if edges is None:
            return
        edges.subtract(refs)
        for r in [r for r in edges if edges[r] <= 0]:
            del edges[r]
        if not edges:
            del self._edges[node]

    def has_path(self, node: str, kind: str, namespace: str, name: str) -> bool:
        edges = self._edges.get(node)
        return edges is not None and edges.get((kind, namespace, name), 0) > 0

    def pods_on(self, node: str) -> int:
        return sum(1 for n, _ in self._pods.values() if n == node)


_NO_REL = "no relationship found between node '{node}' and this object"


def _related(graph: NodeGraph, node: str, kind: str, attrs: Attributes) -> Decision:
    if not attrs.name:
        return Decision(False, "No Object name found")
    if graph.has_path(node, kind, attrs.namespace, attrs.name):
        return Decision(True)
    return Decision(False, _NO_REL.format(node=node))


def _read_namespaced(graph: NodeGraph, node: str, kind: str, attrs: Attributes) -> Decision:
    if attrs.verb not in ("get", "list", "watch"):
        return Decision(False, "can only read resources of this type")
    if attrs.subresource:
        return Decision(False, "cannot read subresource")
    if not attrs.namespace:
        return Decision(False, "can only read namespaced object of this type")
    return _related(graph, node, kind, attrs)


def _lease(node: str, attrs: Attributes) -> Decision:
    if attrs.verb not in ("get", "create", "update", "patch", "delete"):
        return Decision(False, "can only get, create, update, patch, or delete a node lease")
    if attrs.namespace != NODE_LEASE_NAMESPACE:
        return Decision(False, f'can only access leases in the "{NODE_LEASE_NAMESPACE}" '
                               "system namespace")
    # the name is unknown on create: NodeRestriction checks it there
    if attrs.verb != "create" and attrs.name != node:
        return Decision(False, "can only access node lease with the same name as the "
                               "requesting node")
    return Decision(True)


def authorize_node(graph: NodeGraph, attrs: Attributes, node_rules: Sequence[Rule]
                   ) -> Decision:
    """Allow, or "no opinion" (``allowed`` False) with upstream's reason."""
    is_node, node = node_identity(attrs.user, attrs.groups)
    if not is_node:
        return _NO_OPINION
    if not node:
        return Decision(False, f'unknown node for user "{attrs.user}"')
    if attrs.resource_request:
        group, res = attrs.api_group, attrs.resource
        if group == "":
            if res == "secrets":
                return _read_namespaced(graph, node, SECRET, attrs)
            if res == "configmaps":
                return _read_namespaced(graph, node, CONFIGMAP, attrs)
            if res == "persistentvolumeclaims":
                if attrs.subresource == "status":
                    if attrs.verb not in ("update", "patch"):
                        return Decision(False, "can only get/update/patch this type")
                    return _related(graph, node, PVC, attrs)
                if attrs.verb != "get":
                    return Decision(False, "can only get individual resources of this type")
                if attrs.subresource:
                    return Decision(False, "cannot get subresource")
                return _related(graph, node, PVC, attrs)
            if res == "persistentvolumes":
                if attrs.verb != "get":
                    return Decision(False, "can only get individual resources of this type")
                if attrs.subresource:
                    return Decision(False, "cannot get subresource")
                if not attrs.name:
                    return Decision(False, "No Object name found")
                if graph.has_volume(node, attrs.name):
                    return Decision(True)
                return Decision(False, _NO_REL.format(node=node))
            if res == "serviceaccounts":
                if attrs.verb != "create" or not attrs.name:
                    return Decision(False, "can only create tokens for individual service "
                                           "accounts")
                if attrs.subresource != "token":
                    return Decision(False, "can only create token subresource of "
                                           "serviceaccount")
                return _related(graph, node, SERVICE_ACCOUNT, attrs)
        elif group == "coordination.k8s.io" and res == "leases":
            return _lease(node, attrs)
    if any(rule_allows(attrs, r) for r in node_rules):
        return Decision(True)
    return _NO_OPINION
