"""The registry of served resources: group/version/kind, plural, scope, short names,
categories, verbs and subresources. Discovery, OpenAPI, storage keys, the clients and
``kubectl`` short names all read from here, so a kind is added in one place.

Resources are named by a "resource key": the plural for the core group (``services``) and
``plural.group`` otherwise (``deployments.apps``, ``endpointslices.discovery.k8s.io``) —
the same spelling ``kubectl get`` accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = (
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
)


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    group: str  # "" for core
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    subresources: tuple[str, ...] = ()  # "status", "scale", "log", "binding", "proxy"
    # Storage key segment; differs from plural only where upstream's etcd layout does.
    storage_name: str = ""
    # False for the create-only reviews: answered from the request and its caller, never
    # stored (``kubesvc.apiserver.http.reviews``).
    stored: bool = True
    extra: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return self.plural if not self.group else f"{self.plural}.{self.group}"

    @property
    def api_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group_version(self) -> str:
        return self.api_version

    def storage_prefix(self, namespace: str | None = None) -> str:
        """``/registry/<group|core>/<plural>/[<ns>/]`` — ends with a slash."""
        base = f"/registry/{self.group or 'core'}/{self.storage_name or self.plural}/"
        if self.namespaced and namespace:
            return f"{base}{namespace}/"
        return base

    def storage_key(self, name: str, namespace: str | None = None) -> str:
        return f"{self.storage_prefix(namespace)}{name}"

    def url_path(self, namespace: str | None = None, name: str | None = None) -> str:
        """The REST path: ``/api/v1/namespaces/ns/services/name`` and friends."""
        root = "/api/v1" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            root += f"/namespaces/{namespace}"
        root += f"/{self.plural}"
        if name:
            root += f"/{name}"
        return root


_R = ResourceInfo

RESOURCES: tuple[ResourceInfo, ...] = (
    _R("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",),
       verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
       subresources=("status", "finalize")),
    _R("", "v1", "Node", "nodes", "node", False, ("no",), subresources=("status",)),
    _R("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",),
       subresources=("status", "log", "binding", "proxy", "attach", "exec",
                     "portforward", "eviction", "ephemeralcontainers")),
    _R("", "v1", "Service", "services", "service", True, ("svc",), ("all",),
       verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update",
              "watch"),
       subresources=("status", "proxy")),
    _R("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",)),
    _R("", "v1", "Event", "events", "event", True, ("ev",)),
    _R("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    _R("", "v1", "Secret", "secrets", "secret", True),
    _R("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",),
       subresources=("token",)),
    _R("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True),
    _R("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
       subresources=("status", "scale")),
    _R("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
       subresources=("status", "scale")),
    # -- StatefulSet, ControllerRevision, PVC/PV/StorageClass (issue 21)
    _R("apps", "v1", "StatefulSet", "statefulsets", "statefulset", True, ("sts",), ("all",),
       subresources=("status", "scale")),
    _R("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", True),
    _R("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim",
       True, ("pvc",), subresources=("status",)),
    _R("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False, ("pv",),
       subresources=("status",)),
    _R("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", False,
       ("sc",)),
    # --
    _R("coordination.k8s.io", "v1", "Lease", "leases", "lease", True),
    # the Local APIServices of the served group-versions (issue 24)
    _R("apiregistration.k8s.io", "v1", "APIService", "apiservices", "apiservice", False,
       categories=("api-extensions",), subresources=("status",)),
    _R("networking.k8s.io", "v1", "Ingress", "ingresses", "ingress", True, ("ing",),
       subresources=("status",)),
    _R("networking.k8s.io", "v1", "IngressClass", "ingressclasses", "ingressclass", False),
    _R("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", True,
       ("netpol",)),  # issue 23
    _R("events.k8s.io", "v1", "Event", "events", "event", True, ("ev",),
       storage_name="events-v1"),
    _R("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
       "selfsubjectreview", False, verbs=("create",), stored=False),
    _R("authentication.k8s.io", "v1", "TokenReview", "tokenreviews", "tokenreview", False,
       verbs=("create",), stored=False),
    _R("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
       "selfsubjectaccessreview", False, verbs=("create",), stored=False),
    _R("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
       "selfsubjectrulesreview", False, verbs=("create",), stored=False),
    _R("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
       "subjectaccessreview", False, verbs=("create",), stored=False),
    _R("authorization.k8s.io", "v1", "LocalSubjectAccessReview",
       "localsubjectaccessreviews", "localsubjectaccessreview", True, verbs=("create",),
       stored=False),
    _R("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings",
       "clusterrolebinding", False),
    _R("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole",
       False),
    _R("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", True),
    _R("rbac.authorization.k8s.io", "v1", "Role", "roles", "role", True),
    # certificates.k8s.io (TLS bootstrapping)
    _R("certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests",
       "certificatesigningrequest", False, ("csr",), subresources=("status", "approval")),
    # -- batch workloads, DaemonSet, ReplicationController, PodDisruptionBudget (issue 21)
    _R("batch", "v1", "Job", "jobs", "job", True, (), ("all",), subresources=("status",)),
    _R("batch", "v1", "CronJob", "cronjobs", "cronjob", True, ("cj",), ("all",),
       subresources=("status",)),
    _R("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",),
       subresources=("status",)),
    _R("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller",
       True, ("rc",), ("all",), subresources=("status", "scale"), storage_name="controllers"),
    _R("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget",
       True, ("pdb",), subresources=("status",)),
    # -- ResourceQuota (quota admission: kubesvc.apiserver.registry.quota)
    _R("", "v1", "ResourceQuota", "resourcequotas", "resourcequota", True, ("quota",),
       subresources=("status",)),
    # -- CustomResourceDefinitions (issue 24); the custom resources they define are served
    # through set_custom() below
    _R("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions",
       "customresourcedefinition", False, ("crd", "crds"), ("api-extensions",),
       subresources=("status",)),
)

BY_KEY: dict[str, ResourceInfo] = {r.key: r for r in RESOURCES}
BY_GVK: dict[tuple[str, str, str], ResourceInfo] = {
    (r.group, r.version, r.kind): r for r in RESOURCES
}


# -- custom resources (issue 24): the resources the established CustomResourceDefinitions
# define, one ResourceInfo per served version (``extra["crd"]`` names the CRD,
# ``extra["storage"]`` is "true" on the storage version's). The API server's CRD
# controller (kubesvc.apiserver.registry.crdcontroller) replaces them as CRDs come and go;
# BY_KEY holds the storage version's, BY_GVK every version's. Process-wide, as the
# built-in table is.
_CUSTOM: dict[tuple[str, str, str], ResourceInfo] = {}
_served: list[tuple[ResourceInfo, ...]] = [RESOURCES]
_generation = [0]


def set_custom(infos: list[ResourceInfo]) -> None:
    """Replace the served custom resources (built-ins always win a name clash)."""
    for r in _CUSTOM.values():
        if BY_KEY.get(r.key) is r:
            del BY_KEY[r.key]
        if BY_GVK.get((r.group, r.version, r.kind)) is r:
            del BY_GVK[(r.group, r.version, r.kind)]
    _CUSTOM.clear()
    builtin_gv = {(r.group, r.version) for r in RESOURCES}
    for r in infos:
        if (r.group, r.version) in builtin_gv:
            continue  # a CRD cannot shadow a built-in group-version
        _CUSTOM[(r.group, r.version, r.plural)] = r
        BY_GVK.setdefault((r.group, r.version, r.kind), r)
        if r.extra.get("storage") == "true":
            BY_KEY.setdefault(r.key, r)
    _served[0] = RESOURCES + tuple(_CUSTOM.values())
    _generation[0] += 1


def served() -> tuple[ResourceInfo, ...]:
    """Every served resource: the built-ins, then the custom resources of each version."""
    return _served[0]


def generation() -> int:
    """Bumped by every :func:`set_custom` (caches of discovery/OpenAPI key on it)."""
    return _generation[0]


def is_custom(info: ResourceInfo) -> bool:
    return bool(info.extra.get("crd"))


def by_gvr(group: str, version: str, plural: str) -> ResourceInfo | None:
    """The resource served at ``/apis/group/version/plural`` (built-in or custom)."""
    found = _BY_GVR.get((group, version, plural))
    return found if found is not None else _CUSTOM.get((group, version, plural))


_BY_GVR: dict[tuple[str, str, str], ResourceInfo] = {
    (r.group, r.version, r.plural): r for r in RESOURCES
}


def lookup(key: str) -> ResourceInfo:
    """Find a resource by key (``services``, ``deployments.apps``), short name, singular,
    or kind name (case-insensitive). Raises KeyError."""
    if key in BY_KEY:
        return BY_KEY[key]
    low = key.lower()
    for r in served():
        if low in (r.plural, r.singular, r.kind.lower()) or low in r.short_names:
            if r.group == "events.k8s.io":
                continue  # `events` means the core kind, as in kubectl
            return r
    raise KeyError(key)


def for_api_version(api_version: str, kind: str) -> ResourceInfo:
    """The resource for an object's ``apiVersion`` and ``kind``. Raises KeyError."""
    group, _, version = api_version.rpartition("/")
    return BY_GVK[(group, version, kind)]


def groups() -> dict[str, list[str]]:
    """group -> served versions (core is ""; a custom group's in upstream's version
    priority order, so the first is the preferred one)."""
    out: dict[str, list[str]] = {}
    for r in served():
        vs = out.setdefault(r.group, [])
        if r.version not in vs:
            vs.append(r.version)
    return out


def version_priority(version: str) -> tuple[int, int, int]:
    """A sort key putting versions in upstream's kube-aware order (``v2`` > ``v1`` >
    ``v1beta2`` > ``v1beta1`` > ``v1alpha1`` > anything else, alphabetically)."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if m is None:
        return (3, 0, 0)
    major = int(m.group(1))
    stage = {"": 0, "beta": 1, "alpha": 2}[m.group(2) or ""]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor)
