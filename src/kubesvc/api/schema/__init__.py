"""Structural schemas of the served kinds, and lookups over them.

The component schemas (named as upstream names them, ``io.k8s.api.core.v1.Service``) are
written in the kind modules of this package and registered at import. This module adds
the ``x-kubernetes-group-version-kind`` of every served kind (from
``kubesvc.api.resources``), the ``<Kind>List`` components, and lookups used by:

- ``kubesvc.api.schema.openapi`` (the /openapi/v3 documents the API server serves),
- ``kubesvc.api.patch`` (strategic-merge patch metadata),
- ``kubesvc.api.fields`` (unknown-field detection for fieldValidation).

Schemas handed out by the public functions are deep copies unless the function says it
returns the shared (read-only) object. No I/O.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from kubesvc.api import resources
from kubesvc.api.schema import (  # noqa: F401  (imported for their registrations)
    apiextensions,  # CustomResourceDefinition (issue 24)
    apiregistration,  # APIService (issue 24)
    apps,
    batch,
    certificates,
    container,
    coordination,
    core,
    daemonset,
    descriptions,
    discovery,
    events,
    meta,
    networking,
    networkpolicy,  # NetworkPolicy (issue 23)
    pod,
    pod_status,
    policy,
    quota,  # ResourceQuota
    rbac,
    reviews,
    statefulset,  # StatefulSet, ControllerRevision (issue 21)
    storage,  # PVC, PV, StorageClass (issue 21)
    tokens,
    volumes,
)
from kubesvc.api.schema._dsl import (
    AS,
    AUTHN,
    AUTHZ,
    COMPONENTS,
    GVK,
    LIST_MAP_KEYS,
    LIST_TYPE,
    MAP_TYPE,
    PATCH_MERGE_KEY,
    PATCH_STRATEGY,
    PRESERVE_UNKNOWN,
    REF_PREFIX,
    A,
    C,
    D,
    E,
    L,
    M,
    S,
    Schema,
    arr,
    defn,
    ref,
)

__all__ = [
    "COMPONENTS",
    "GVK",
    "LIST_MAP_KEYS",
    "LIST_TYPE",
    "MAP_TYPE",
    "PATCH_MERGE_KEY",
    "PATCH_STRATEGY",
    "PRESERVE_UNKNOWN",
    "Schema",
    "child",
    "component",
    "component_names",
    "items",
    "resolve",
    "schema_for",
    "schema_name",
    "shared_schema",
    "sub_schema",
]

#: Upstream's definition-name prefix for each API group.
GROUP_PREFIX: dict[str, str] = {
    "": C,
    "apps": A,
    "discovery.k8s.io": D,
    "events.k8s.io": E,
    "coordination.k8s.io": L,
    "autoscaling": AS,
    "authentication.k8s.io": AUTHN,
    "authorization.k8s.io": AUTHZ,
    "rbac.authorization.k8s.io": rbac.RBAC,
    "certificates.k8s.io": certificates.CERT,
    "networking.k8s.io": networking.NET,
    "storage.k8s.io": storage.ST,
    "batch": batch.BATCH,
    "policy": policy.POLICY,
    "apiextensions.k8s.io": apiextensions.APIEXT,
    "apiregistration.k8s.io": apiregistration.APIREG,
}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


#: One-line descriptions of the served kinds (what ``kubectl explain <kind>`` prints).
KIND_DESCRIPTIONS: dict[tuple[str, str], str] = {
    ("", "Namespace"): "Namespace provides a scope for names of namespaced objects.",
    ("", "Node"): "Node is a worker machine; each node's agent reports its status and heartbeats.",
    ("", "Pod"): "Pod is a group of containers that run together on one node and share its "
    "network identity.",
    ("", "Service"): "Service is a named, stable way to reach the set of pods its selector "
    "picks: a virtual IP and ports (ClusterIP), node ports (NodePort), an external load "
    "balancer (LoadBalancer), or a DNS alias (ExternalName).",
    ("", "Endpoints"): "Endpoints lists the addresses and ports that implement a Service.",
    ("", "Event"): "Event is a report of an event somewhere in the cluster.",
    ("", "ConfigMap"): "ConfigMap holds configuration data for pods to consume.",
    ("", "Secret"): "Secret holds secret data of a certain type.",
    ("", "ServiceAccount"): "ServiceAccount binds together a name, an identity that can be "
    "authenticated, and a set of secrets.",
    ("discovery.k8s.io", "EndpointSlice"): "EndpointSlice represents a subset of the endpoints "
    "that implement a service.",
    ("apps", "Deployment"): "Deployment enables declarative updates for Pods and ReplicaSets.",
    ("apps", "ReplicaSet"): "ReplicaSet ensures that a specified number of pod replicas are "
    "running at any given time.",
    # -- StatefulSet, ControllerRevision, PVC/PV/StorageClass (issue 21)
    ("apps", "StatefulSet"): "StatefulSet represents a set of pods with consistent "
    "identities. Identities are defined as: - Network: A single stable DNS and hostname. - "
    "Storage: As many VolumeClaims as requested.",
    ("apps", "ControllerRevision"): "ControllerRevision implements an immutable snapshot of "
    "state data.",
    ("", "PersistentVolumeClaim"): "PersistentVolumeClaim is a user's request for and claim "
    "to a persistent volume",
    ("", "PersistentVolume"): "PersistentVolume (PV) is a storage resource provisioned by an "
    "administrator. It is analogous to a node.",
    ("storage.k8s.io", "StorageClass"): "StorageClass describes the parameters for a class "
    "of storage for which PersistentVolumes can be dynamically provisioned.",
    # --
    ("coordination.k8s.io", "Lease"): "Lease defines a lease concept (node heartbeats, leader "
    "election).",
    ("events.k8s.io", "Event"): "Event is a report of an event somewhere in the cluster.",
    ("authentication.k8s.io", "SelfSubjectReview"): "SelfSubjectReview contains the user "
    "information that the kube-apiserver has about the user making this request.",
    ("authentication.k8s.io", "TokenReview"): "TokenReview attempts to authenticate a token "
    "to a known user.",
    ("authorization.k8s.io", "SelfSubjectAccessReview"): "SelfSubjectAccessReview checks "
    "whether or the current user can perform an action.",
    ("authorization.k8s.io", "SelfSubjectRulesReview"): "SelfSubjectRulesReview enumerates "
    "the set of actions the current user can perform within a namespace.",
    ("authorization.k8s.io", "SubjectAccessReview"): "SubjectAccessReview checks whether or "
    "not a user or group can perform an action.",
    ("authorization.k8s.io", "LocalSubjectAccessReview"): "LocalSubjectAccessReview checks "
    "whether or not a user or group can perform an action in a given namespace.",
    ("networking.k8s.io", "Ingress"): "Ingress is a collection of rules that allow inbound "
    "connections to reach the endpoints defined by a backend. An Ingress can be configured to "
    "give services externally-reachable urls, load balance traffic, terminate SSL, offer name "
    "based virtual hosting etc.",
    ("networking.k8s.io", "IngressClass"): "IngressClass represents the class of the Ingress, "
    "referenced by the Ingress Spec. The `ingressclass.kubernetes.io/is-default-class` "
    "annotation can be used to indicate that an IngressClass should be considered default.",
    ("networking.k8s.io", "NetworkPolicy"): "NetworkPolicy describes what network traffic "
    "is allowed for a set of Pods",
    ("rbac.authorization.k8s.io", "Role"): "Role is a namespaced, logical grouping of "
    "PolicyRules that can be referenced as a unit by a RoleBinding.",
    ("rbac.authorization.k8s.io", "ClusterRole"): "ClusterRole is a cluster level, logical "
    "grouping of PolicyRules that can be referenced as a unit by a RoleBinding or "
    "ClusterRoleBinding.",
    ("rbac.authorization.k8s.io", "RoleBinding"): "RoleBinding references a role, but does "
    "not contain it.",
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): "ClusterRoleBinding references a "
    "ClusterRole, but not contain it.",
    ("certificates.k8s.io", "CertificateSigningRequest"): "CertificateSigningRequest objects "
    "provide a mechanism to obtain x509 certificates by submitting a certificate signing "
    "request, and having it asynchronously approved and issued.",
    # -- issue 21 kinds
    ("batch", "Job"): "Job represents the configuration of a single job.",
    ("batch", "CronJob"): "CronJob represents the configuration of a single cron job.",
    ("apps", "DaemonSet"): "DaemonSet represents the configuration of a daemon set.",
    ("", "ReplicationController"): "ReplicationController represents the configuration of a "
    "replication controller.",
    ("policy", "PodDisruptionBudget"): "PodDisruptionBudget is an object to define the max "
    "disruption that can be caused to a collection of pods",
    ("", "ResourceQuota"): "ResourceQuota sets aggregate quota restrictions enforced per "
    "namespace",
    ("apiextensions.k8s.io", "CustomResourceDefinition"): "CustomResourceDefinition "
    "represents a resource that should be exposed on the API server.  Its name MUST be in "
    "the format <.spec.name>.<.spec.group>.",
    ("apiregistration.k8s.io", "APIService"): "APIService names the server that answers one "
    "API group-version; Local ones are served by this API server itself.",
}


def _install_kinds() -> None:
    """Mark the top-level kinds and add their List kinds (runs once, at import)."""
    for r in resources.RESOURCES:
        name = GROUP_PREFIX[r.group] + r.kind
        COMPONENTS[name][GVK] = [_gvk(r.group, r.version, r.kind)]
        desc = KIND_DESCRIPTIONS.get((r.group, r.kind))
        if desc:
            COMPONENTS[name]["description"] = desc
        if "list" not in r.verbs:
            continue  # the create-only reviews have no List kind
        lst = defn(
            name + "List",
            {
                "apiVersion": S,
                "items": arr(ref(name)),
                "kind": S,
                "metadata": ref(M + "ListMeta"),
            },
            required=("items",),
        )
        lst[GVK] = [_gvk(r.group, r.version, r.list_kind)]
    COMPONENTS[AS + "Scale"][GVK] = [_gvk("autoscaling", "v1", "Scale")]
    COMPONENTS[M + "Status"][GVK] = [_gvk("", "v1", "Status")]
    COMPONENTS[C + "Binding"][GVK] = [_gvk("", "v1", "Binding")]
    COMPONENTS[policy.POLICY + "Eviction"][GVK] = [_gvk("policy", "v1", "Eviction")]
    served = sorted({(r.group, r.version) for r in resources.RESOURCES} | {("autoscaling", "v1")})
    for kind in ("DeleteOptions", "WatchEvent"):
        COMPONENTS[M + kind][GVK] = [_gvk(g, v, kind) for g, v in served]


_install_kinds()
descriptions.install()  # kubectl explain texts (issue 24)

_EXTRA_KINDS: dict[tuple[str, str], str] = {
    ("autoscaling/v1", "Scale"): AS + "Scale",
    ("v1", "Status"): M + "Status",
    ("v1", "Binding"): C + "Binding",
    ("authentication.k8s.io/v1", "TokenRequest"): AUTHN + "TokenRequest",
    ("policy/v1", "Eviction"): policy.POLICY + "Eviction",
}


def schema_name(api_version: str, kind: str) -> str:
    """Upstream's component name for ``apiVersion``/``kind`` (``v1``/``Service`` ->
    ``io.k8s.api.core.v1.Service``); ``<Kind>List`` and autoscaling/v1 Scale included.
    Raises KeyError for a kind this server does not serve."""
    extra = _EXTRA_KINDS.get((api_version, kind))
    if extra:
        return extra
    group, _, version = api_version.rpartition("/")
    base = kind[:-4] if kind.endswith("List") else kind
    resources.BY_GVK[(group, version, base)]  # raises KeyError if not served
    return GROUP_PREFIX[group] + kind


def shared_schema(api_version: str, kind: str) -> Schema:
    """The registered schema of a kind itself — shared: never mutate it."""
    return COMPONENTS[schema_name(api_version, kind)]


def schema_for(api_version: str, kind: str) -> Schema:
    """A deep copy of the component schema of a kind. Raises KeyError."""
    return copy.deepcopy(shared_schema(api_version, kind))


def component(name: str) -> Schema:
    """A deep copy of the component schema ``name``. Raises KeyError."""
    return copy.deepcopy(COMPONENTS[name])


def component_names() -> list[str]:
    return sorted(COMPONENTS)


def ref_name(schema: Schema) -> str | None:
    """The component a schema refers to (``$ref`` or upstream's ``allOf: [{$ref}]``)."""
    target = schema.get("$ref")
    if target is None:
        all_of = schema.get("allOf")
        if all_of and len(all_of) == 1:
            target = all_of[0].get("$ref")
    if isinstance(target, str) and target.startswith(REF_PREFIX):
        return target[len(REF_PREFIX) :]
    return None


def resolve(schema: Schema) -> Schema:
    """Follow references; returns the shared target schema (never mutate it)."""
    seen = 0
    while (name := ref_name(schema)) is not None and seen < 32:
        schema = COMPONENTS[name]
        seen += 1
    return schema


def child(schema: Schema, key: str) -> Schema | None:
    """The (unresolved, shared) schema of property ``key`` of an object schema: its
    declared property, else its ``additionalProperties`` (free-form maps), else an open
    schema when unknown fields are preserved; ``None`` when ``key`` is unknown."""
    s = resolve(schema)
    props = s.get("properties")
    if props is not None and key in props:
        sub: Schema = props[key]
        return sub
    extra = s.get("additionalProperties")
    if isinstance(extra, dict):
        return extra
    if s.get(PRESERVE_UNKNOWN) or extra is True:
        return _OPEN_CHILD
    if props is None and s.get("type") == "object":
        return _OPEN_CHILD  # a schema with no declared properties (FieldsV1, Patch)
    return None


_OPEN_CHILD: Schema = {PRESERVE_UNKNOWN: True}


def items(schema: Schema) -> Schema | None:
    """The (unresolved, shared) item schema of an array schema, or None."""
    s = resolve(schema)
    it = s.get("items")
    return it if isinstance(it, dict) else None


def is_open(schema: Schema) -> bool:
    """True for a subtree whose contents are not described (preserve-unknown-fields)."""
    s = resolve(schema)
    return bool(s.get(PRESERVE_UNKNOWN)) or (
        s.get("type") == "object" and "properties" not in s and "additionalProperties" not in s
    )


_SEGMENT = re.compile(r"\.?([^.\[\]]+)|\[([^\]]*)\]")


def _split_path(path: str) -> list[str | int]:
    out: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _SEGMENT.match(path, pos)
        if m is None:
            raise KeyError(path)
        if m.group(1) is not None:
            out.append(m.group(1))
        else:
            out.append(-1)  # any index
        pos = m.end()
    return out


def sub_schema(api_version: str, kind: str, path: str | Sequence[str | int]) -> Schema | None:
    """A deep copy of the resolved schema at a JSON path inside a kind: ``".spec.ports"``,
    ``"spec.ports[0].port"``, or a sequence such as ``["spec", "ports", 0]`` (integers and
    ``[...]`` step into array items). ``None`` if the path leaves the declared fields."""
    parts = _split_path(path) if isinstance(path, str) else list(path)
    current: Schema | None = shared_schema(api_version, kind)
    for part in parts:
        if current is None:
            return None
        if isinstance(part, int):
            current = items(current)
        else:
            current = child(current, part)
    if current is None:
        return None
    return copy.deepcopy(resolve(current)) if ref_name(current) else copy.deepcopy(current)


def patch_meta(schema: Schema) -> tuple[tuple[str, ...], str | None]:
    """The strategic-merge tags of a field schema: (patch strategies, merge key).
    ``x-kubernetes-patch-strategy`` may hold several, comma-separated
    (``merge,retainKeys``)."""
    raw = schema.get(PATCH_STRATEGY) or ""
    strategies = tuple(p.strip() for p in str(raw).split(",") if p.strip())
    key = schema.get(PATCH_MERGE_KEY)
    return strategies, (str(key) if key else None)


def extensions(schema: Schema) -> dict[str, Any]:
    """The ``x-kubernetes-*`` extensions of a field schema (as written on the field)."""
    return {k: v for k, v in schema.items() if k.startswith("x-kubernetes-")}
