"""The NodeRestriction admission plugin (upstream's plugin/pkg/admission/noderestriction):
a node (``system:node:<name>`` in ``system:nodes``) may create and modify only its own
Node — not its taints, not a configSource, no ``node-restriction.kubernetes.io/`` labels
nor kubernetes.io/k8s.io labels outside the kubelet's own set —, only its own Lease in
``kube-node-lease``, the status of pods bound to it (not their labels), delete and evict
only pods bound to it, create only mirror pods bound to itself, and ServiceAccount tokens
only bound to a pod on it. Messages as upstream's (``admission.NewForbidden``). One kubesvc
addition: the LoadBalancer announcer of ``kubesvc agent`` records its IPs in
``kube-system/kubesvc-l2announce-*`` Leases, which a node may write.

:func:`admit` takes the request's authorization attributes, the operation (``CREATE``,
``UPDATE``, ``DELETE``) and the object the write would store, and reads what it must
compare with (the old object, the pod, the node) from the Backend. Called by :mod:`.app`
after authorization and by the in-process identities of :mod:`.identity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc import errors
from kubesvc.api.rbac.attributes import Attributes
from kubesvc.api.rbac.componentroles import LB_ANNOUNCE_LEASE_PREFIX, SYSTEM_NS
from kubesvc.api.rbac.nodegraph import NODE_LEASE_NAMESPACE, node_identity, pod_references
from kubesvc.api.validation.field import go_quote as _q
from kubesvc.apiserver.http.backend import Backend

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
NODE_RESTRICTION_NS = "node-restriction.kubernetes.io"
_LEASES = "leases.coordination.k8s.io"
# upstream's kubeletapis.IsKubeletLabel: the labels a kubelet may set on its own Node
_KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "topology.kubernetes.io/zone", "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type", "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "kubernetes.io/os",
    "kubernetes.io/arch",
})
_KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _meta(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (obj or {}).get("metadata") or {}


def _forbidden(attrs: Attributes, obj: Mapping[str, Any] | None, msg: str) -> errors.Forbidden:
    """``admission.NewForbidden``: ``<resource>[.group] "<name>" is forbidden: <msg>``."""
    name = attrs.name
    if not name:
        md = _meta(obj)
        name = str(md.get("name") or md.get("generateName") or "") if obj is not None \
            else "Unknown"
    qualified = attrs.resource + (f".{attrs.api_group}" if attrs.api_group else "")
    head = f"{qualified} {_q(name)}" if name else qualified
    return errors.Forbidden(f"{head} is forbidden: {msg}", name=name,
                            group=attrs.api_group, kind=attrs.resource)


def _label_ns(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _is_kubernetes_label(key: str) -> bool:
    ns = _label_ns(key)
    return ns in ("kubernetes.io", "k8s.io") or ns.endswith((".kubernetes.io", ".k8s.io"))


def _is_kubelet_label(key: str) -> bool:
    if key in _KUBELET_LABELS:
        return True
    ns = _label_ns(key)
    return any(ns == n or ns.endswith("." + n) for n in _KUBELET_LABEL_NAMESPACES)


def forbidden_labels(new: Mapping[str, str], old: Mapping[str, str]) -> list[str]:
    """The modified label keys a node may not add, remove or change (sorted)."""
    modified = {k for k, v in new.items() if old.get(k) != v}
    modified |= {k for k, v in old.items() if new.get(k) != v}
    out = set()
    for key in modified:
        ns = _label_ns(key)
        if ns == NODE_RESTRICTION_NS or ns.endswith("." + NODE_RESTRICTION_NS):
            out.add(key)
        if _is_kubernetes_label(key) and not _is_kubelet_label(key):
            out.add(key)
    return sorted(out)


async def _get(backend: Backend, resource: str, name: str, namespace: str | None
               ) -> Mapping[str, Any] | None:
    """The stored object, None when missing (the caller answers NotFound where upstream
    does)."""
    try:
        return await backend.get(resource, name, namespace=namespace)
    except errors.NotFound:
        return None


def _labels(obj: Mapping[str, Any] | None) -> Mapping[str, str]:
    labels = _meta(obj).get("labels")
    return labels if isinstance(labels, Mapping) else {}


async def admit(backend: Backend, attrs: Attributes, op: str,
                obj: Mapping[str, Any] | None) -> None:
    """Raise upstream's Forbidden (or NotFound) when the node may not make this write."""
    is_node, node = node_identity(attrs.user, attrs.groups)
    if not is_node or not attrs.resource_request or op not in ("CREATE", "UPDATE", "DELETE"):
        return
    if not node:
        raise _forbidden(attrs, obj, f"could not determine node from user {_q(attrs.user)}")
    group, res, sub = attrs.api_group, attrs.resource, attrs.subresource
    if group == "" and res == "pods":
        if sub == "":
            await _admit_pod(backend, attrs, node, op, obj)
        elif sub == "status":
            await _admit_pod_status(backend, attrs, node, op, obj)
        elif sub == "eviction":
            await _admit_eviction(backend, attrs, node, op, obj)
        else:
            raise _forbidden(attrs, obj, f"unexpected pod subresource {_q(sub)}, only 'status' "
                                         "and 'eviction' are allowed")
    elif group == "" and res == "nodes":
        await _admit_node(backend, attrs, node, op, obj)
    elif group == "" and res == "persistentvolumeclaims":
        if sub != "status":
            raise _forbidden(attrs, obj, "may only update PVC status")
    elif group == "" and res == "serviceaccounts":
        await _admit_token(backend, attrs, node, op, obj)
    elif group == "coordination.k8s.io" and res == "leases":
        name = str(_meta(obj).get("name") or "") if op == "CREATE" else attrs.name
        if attrs.namespace == SYSTEM_NS and name.startswith(LB_ANNOUNCE_LEASE_PREFIX):
            return  # kubesvc's LoadBalancer announcer (no upstream kubelet has one)
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            raise _forbidden(attrs, obj, f"can only access leases in the "
                                         f"{_q(NODE_LEASE_NAMESPACE)} system namespace")
        if name != node:
            raise _forbidden(attrs, obj, "can only access node lease with the same name as "
                                         "the requesting node")


async def _admit_pod(backend: Backend, attrs: Attributes, node: str, op: str,
                     obj: Mapping[str, Any] | None) -> None:
    if op == "DELETE":
        pod = await _get(backend, "pods", attrs.name, attrs.namespace)
        if pod is None:
            raise errors.NotFound(f'pods {_q(attrs.name)} not found', name=attrs.name,
                                  kind="pods")
        if (pod.get("spec") or {}).get("nodeName") != node:
            raise _forbidden(attrs, obj, f"node {_q(node)} can only delete pods with "
                                         "spec.nodeName set to itself")
        return
    if op != "CREATE":
        raise _forbidden(attrs, obj, f"unexpected operation {_q(op)}, node {_q(node)} can only "
                                     "create and delete mirror pods")
    pod = obj or {}
    md = _meta(pod)
    spec = pod.get("spec") or {}
    if MIRROR_ANNOTATION not in (md.get("annotations") or {}):
        raise _forbidden(attrs, obj, f"pod does not have {_q(MIRROR_ANNOTATION)} annotation, "
                                     f"node {_q(node)} can only create mirror pods")
    if spec.get("nodeName") != node:
        raise _forbidden(attrs, obj, f"node {_q(node)} can only create pods with spec.nodeName "
                                     "set to itself")
    owners = [o for o in md.get("ownerReferences") or [] if isinstance(o, Mapping)]
    if len(owners) > 1:
        raise _forbidden(attrs, obj, f"node {_q(node)} can only create pods with a single "
                                     "owner reference set to itself")
    owner = owners[0] if owners else {}
    if not owners or owner.get("apiVersion") != "v1" or owner.get("kind") != "Node" \
            or owner.get("name") != node:
        raise _forbidden(attrs, obj, f"node {_q(node)} can only create pods with an owner "
                                     "reference set to itself")
    if owner.get("controller") is not True:
        raise _forbidden(attrs, obj, f"node {_q(node)} can only create pods with a controller "
                                     "owner reference set to itself")
    if owner.get("blockOwnerDeletion") is True:
        raise _forbidden(attrs, obj, f"node {_q(node)} must not set blockOwnerDeletion on an "
                                     "owner reference")
    node_obj = await _get(backend, "nodes", node, None)
    if node_obj is None:
        raise errors.NotFound(f'nodes {_q(node)} not found', name=node, kind="nodes")
    uid = str(_meta(node_obj).get("uid") or "")
    if owner.get("uid") != uid:
        raise _forbidden(attrs, obj, f"node {node} UID mismatch: expected {uid} got "
                                     f"{owner.get('uid') or ''}")
    if spec.get("serviceAccountName"):
        raise _forbidden(attrs, obj, f"node {_q(node)} can not create pods that reference a "
                                     "service account")
    kinds = {kind for kind, _ns, _n in pod_references(pod)}
    for kind, plural in (("secret", "secrets"), ("configmap", "configmaps"),
                         ("pvc", "persistentvolumeclaims")):
        if kind in kinds:
            raise _forbidden(attrs, obj, f"node {_q(node)} can not create pods that reference "
                                         f"{plural}")


async def _admit_pod_status(backend: Backend, attrs: Attributes, node: str, op: str,
                            obj: Mapping[str, Any] | None) -> None:
    if op != "UPDATE":
        raise _forbidden(attrs, obj, f"unexpected operation {_q(op)}")
    old = await _get(backend, "pods", attrs.name, attrs.namespace)
    if old is None:
        raise errors.NotFound(f'pods {_q(attrs.name)} not found', name=attrs.name, kind="pods")
    if (old.get("spec") or {}).get("nodeName") != node:
        raise _forbidden(attrs, obj, f"node {_q(node)} can only update pod status for pods "
                                     "with spec.nodeName set to itself")
    if obj is not None and dict(_labels(old)) != dict(_labels(obj)):
        raise _forbidden(attrs, obj, f"node {_q(node)} cannot update labels through pod "
                                     "status")


async def _admit_eviction(backend: Backend, attrs: Attributes, node: str, op: str,
                          obj: Mapping[str, Any] | None) -> None:
    if op != "CREATE":
        raise _forbidden(attrs, obj, f"unexpected operation {op}")
    name = attrs.name or str(_meta(obj).get("name") or "")
    if not name:
        raise _forbidden(attrs, obj, "could not determine pod from request data")
    pod = await _get(backend, "pods", name, attrs.namespace)
    if pod is None:
        raise errors.NotFound(f'pods {_q(name)} not found', name=name, kind="pods")
    if (pod.get("spec") or {}).get("nodeName") != node:
        raise _forbidden(attrs, obj, f"node {node} can only evict pods with spec.nodeName set "
                                     "to itself")


async def _admit_node(backend: Backend, attrs: Attributes, node: str, op: str,
                      obj: Mapping[str, Any] | None) -> None:
    name = attrs.name or (str(_meta(obj).get("name") or "") if op == "CREATE" else "")
    if name != node:
        raise _forbidden(attrs, obj, f"node {_q(node)} is not allowed to modify node {_q(name)}")
    spec = (obj or {}).get("spec") or {}
    if op == "CREATE":
        if spec.get("configSource") is not None:
            raise _forbidden(attrs, obj, f"node {_q(node)} is not allowed to create pods with a "
                                         "non-nil configSource")
        bad = forbidden_labels(_labels(obj), {})
        if bad:
            raise _forbidden(attrs, obj, f"node {_q(node)} is not allowed to set the following "
                                         f"labels: {', '.join(bad)}")
    elif op == "UPDATE" and obj is not None:
        old = await _get(backend, "nodes", node, None)
        if old is None:
            return  # the update answers NotFound itself
        old_spec = old.get("spec") or {}
        if spec.get("configSource") is not None \
                and spec.get("configSource") != old_spec.get("configSource"):
            raise _forbidden(attrs, obj, f"node {_q(node)} is not allowed to update configSource "
                                         "to a new non-nil configSource")
        if (spec.get("taints") or []) != (old_spec.get("taints") or []):
            raise _forbidden(attrs, obj, f"node {_q(node)} is not allowed to modify taints")
        bad = forbidden_labels(_labels(obj), _labels(old))
        if bad:
            raise _forbidden(attrs, obj, f"is not allowed to modify labels: {', '.join(bad)}")


async def _admit_token(backend: Backend, attrs: Attributes, node: str, op: str,
                       obj: Mapping[str, Any] | None) -> None:
    if op != "CREATE" or attrs.subresource != "token":
        return
    ref = ((obj or {}).get("spec") or {}).get("boundObjectRef")
    if not isinstance(ref, Mapping) or ref.get("apiVersion") != "v1" \
            or ref.get("kind") != "Pod" or not ref.get("name"):
        raise _forbidden(attrs, obj, "node requested token not bound to a pod")
    if not ref.get("uid"):
        raise _forbidden(attrs, obj, "node requested token with a pod binding without a uid")
    name = str(ref["name"])
    pod = await _get(backend, "pods", name, attrs.namespace)
    if pod is None:
        raise errors.NotFound(f'pods {_q(name)} not found', name=name, kind="pods")
    if ref.get("uid") != _meta(pod).get("uid"):
        raise _forbidden(attrs, obj, f"the UID in the bound object reference ({ref.get('uid')}) "
                                     "does not match the UID in record. The object might have "
                                     "been deleted and then recreated")
    if (pod.get("spec") or {}).get("nodeName") != node:
        raise _forbidden(attrs, obj, "node requested token bound to a pod scheduled on a "
                                     "different node")
