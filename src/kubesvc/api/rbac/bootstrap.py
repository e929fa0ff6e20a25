"""Upstream's bootstrap RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy,
v1.32) for what this server serves: ``cluster-admin``; the user-facing ``admin``, ``edit``
and ``view`` aggregated from ``system:aggregate-to-*``; ``system:discovery``,
``system:basic-user``, ``system:public-info-viewer``, ``system:node-proxier``,
``system:service-account-issuer-discovery``; and their ClusterRoleBindings. Every object
carries ``kubernetes.io/bootstrapping: rbac-defaults`` and
``rbac.authorization.kubernetes.io/autoupdate: "true"``, so the API server reconciles
it at each start (:func:`reconcile_role`, :func:`reconcile_binding`).

The roles of the control-plane identities (``system:node``, ``system:kube-scheduler``,
``system:kube-controller-manager``, ``system:controller:*``, ``system:coredns``) and
kubesvc's own are in :mod:`.componentroles`; nodes (``system:nodes``) get the Node
authorizer, ``system:node-proxier`` (``kubesvc agent`` runs its proxy with the node's
credential) and ``kubesvc:node-extras``; ``kubesvc:node-agent`` is left only to agents that
joined with a bootstrap token. Pure data and functions; used by
``kubesvc.apiserver.authz``.
"""

from __future__ import annotations

import copy
from typing import Any

from kubesvc.api.rbac import componentroles as cr

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_LABEL = "kubernetes.io/bootstrapping"
AGG = "rbac.authorization.k8s.io/aggregate-to-"

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = ["get", "list", "watch", "create", "update", "patch", "delete",
              "deletecollection"]


def rule(verbs: list[str], groups: list[str], resources: list[str]) -> Obj:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources}


def url_rule(verbs: list[str], urls: list[str]) -> Obj:
    return {"verbs": verbs, "nonResourceURLs": urls}


def _meta(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"name": name, "labels": {BOOTSTRAP_LABEL: "rbac-defaults", **(labels or {})},
            "annotations": {AUTOUPDATE: "true"}}


def cluster_role(name: str, rules: list[Obj], *, labels: dict[str, str] | None = None,
                 aggregate_from: str = "") -> Obj:
    out: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                "metadata": _meta(name, labels), "rules": rules}
    if aggregate_from:
        out["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGG + aggregate_from: "true"}}]}
    return out


def cluster_role_binding(name: str, role: str, subjects: list[Obj]) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def group(name: str) -> Obj:
    return {"apiGroup": GROUP, "kind": "Group", "name": name}


def user(name: str) -> Obj:
    return {"apiGroup": GROUP, "kind": "User", "name": name}


_VIEW = [
    rule(READ, [""], ["configmaps", "endpoints", "persistentvolumeclaims",
                      "persistentvolumeclaims/status", "pods", "replicationcontrollers",
                      "replicationcontrollers/scale", "serviceaccounts", "services",
                      "services/status"]),
    rule(READ, [""], ["bindings", "events", "limitranges", "namespaces/status", "pods/log",
                      "pods/status", "replicationcontrollers/status", "resourcequotas",
                      "resourcequotas/status"]),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(READ, ["apps"], ["controllerrevisions", "daemonsets", "daemonsets/status",
                          "deployments", "deployments/scale", "deployments/status",
                          "replicasets", "replicasets/scale", "replicasets/status",
                          "statefulsets", "statefulsets/scale", "statefulsets/status"]),
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(READ, ["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"]),
    rule(READ, ["extensions"], ["daemonsets", "daemonsets/status", "deployments",
                                "deployments/scale", "deployments/status", "ingresses",
                                "ingresses/status", "networkpolicies", "replicasets",
                                "replicasets/scale", "replicasets/status",
                                "replicationcontrollers/scale"]),
    rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(READ, ["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"]),
]

_EDIT = [
    rule(["impersonate"], [""], ["serviceaccounts"]),
    rule(WRITE, [""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"]),
    rule(["create"], [""], ["pods/eviction"]),
    rule(WRITE, [""], ["configmaps", "events", "persistentvolumeclaims",
                       "replicationcontrollers", "replicationcontrollers/scale", "secrets",
                       "serviceaccounts", "services", "services/proxy"]),
    rule(["create"], [""], ["serviceaccounts/token"]),
    rule(WRITE, ["apps"], ["daemonsets", "deployments", "deployments/rollback",
                           "deployments/scale", "replicasets", "replicasets/scale",
                           "statefulsets", "statefulsets/scale"]),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["cronjobs", "jobs"]),
    rule(WRITE, ["extensions"], ["daemonsets", "deployments", "deployments/rollback",
                                 "deployments/scale", "ingresses", "networkpolicies",
                                 "replicasets", "replicasets/scale",
                                 "replicationcontrollers/scale"]),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(WRITE, ["networking.k8s.io"], ["ingresses", "networkpolicies"]),
    rule(READ, [""], ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
                      "services/proxy"]),
]

_ADMIN = [
    rule(["create"], ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ_WRITE, [GROUP], ["rolebindings", "roles"]),
]

_DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                   "/openapi/*", "/readyz", "/version", "/version/"]
_PUBLIC_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]
_MONITORING_URLS = ["/metrics", "/metrics/slis", "/livez", "/readyz", "/healthz", "/livez/*",
                    "/readyz/*", "/healthz/*"]
_OIDC_URLS = ["/.well-known/openid-configuration", "/.well-known/openid-configuration/",
              "/openid/v1/jwks", "/openid/v1/jwks/"]
SA_ISSUER_DISCOVERY = "system:service-account-issuer-discovery"

NODE_AGENT_ROLE = cr.BOOTSTRAP_AGENT_ROLE
# kubesvc's own roles and bindings: reconciled to exactly what is written here (upstream's
# reconciliation keeps extra rules and subjects; these kubesvc replaces, so that a data dir
# from before the Node authorizer loses the old node grants)
KUBESVC_OWNED = frozenset({cr.BOOTSTRAP_AGENT_ROLE, cr.NODE_EXTRAS_ROLE, cr.LB_IPAM_ROLE,
                           cr.NETPOL_AGENT_ROLE})


def _sa(name: str) -> Obj:
    return {"kind": "ServiceAccount", "name": name, "namespace": cr.SYSTEM_NS}


def _component_roles() -> list[Obj]:
    out = [
        cluster_role("system:node", cr.NODE_RULES),
        cluster_role("system:kube-scheduler", cr.SCHEDULER_RULES),
        cluster_role("system:kube-controller-manager", cr.CONTROLLER_MANAGER_RULES),
        cluster_role(cr.COREDNS_ROLE, cr.COREDNS_RULES),
        cluster_role(cr.LB_IPAM_ROLE, cr.LB_IPAM_RULES),
        cluster_role(cr.BOOTSTRAP_AGENT_ROLE, cr.BOOTSTRAP_AGENT_RULES),
        cluster_role(cr.NETPOL_AGENT_ROLE, cr.NETPOL_AGENT_RULES),  # issue 23
    ]
    out += [cluster_role(f"system:controller:{sa}", rules)
            for sa, rules in cr.CONTROLLER_RULES.items()]
    return out


def _namespaced(obj: Obj, kind: str) -> Obj:
    obj["kind"] = kind
    obj["metadata"]["namespace"] = cr.SYSTEM_NS
    return obj


def namespace_roles() -> list[Obj]:
    """The bootstrap Roles (in kube-system, as upstream's ``NamespaceRoles``)."""
    return [_namespaced(cluster_role(name, rules), "Role")
            for name, rules in ((cr.NODE_EXTRAS_ROLE, cr.NODE_EXTRAS_RULES),
                                ("system:controller:token-cleaner", cr.TOKEN_CLEANER_RULES))]


def namespace_role_bindings() -> list[Obj]:
    out = []
    for name, subject in ((cr.NODE_EXTRAS_ROLE, group("system:nodes")),
                          ("system:controller:token-cleaner", _sa("token-cleaner"))):
        b = _namespaced(cluster_role_binding(name, name, [subject]), "RoleBinding")
        b["roleRef"]["kind"] = "Role"
        out.append(b)
    return out


def _component_bindings() -> list[Obj]:
    out = [
        # upstream binds system:node to no one: the Node authorizer grants it
        cluster_role_binding("system:node", "system:node", []),
        cluster_role_binding("system:kube-scheduler", "system:kube-scheduler",
                             [user("system:kube-scheduler")]),
        cluster_role_binding("system:kube-controller-manager",
                             "system:kube-controller-manager",
                             [user("system:kube-controller-manager")]),
        cluster_role_binding(cr.COREDNS_ROLE, cr.COREDNS_ROLE, [_sa("coredns")]),
        cluster_role_binding(cr.LB_IPAM_ROLE, cr.LB_IPAM_ROLE,
                             [_sa(cr.CONTROLLER_ACCOUNTS["lb-ipam"])]),
        # agents joined with a bootstrap token are no node identity (yet)
        cluster_role_binding(cr.BOOTSTRAP_AGENT_ROLE, cr.BOOTSTRAP_AGENT_ROLE,
                             [group("system:bootstrappers")]),
        cluster_role_binding(cr.NETPOL_AGENT_ROLE, cr.NETPOL_AGENT_ROLE,  # issue 23
                             [group("system:nodes"), group("system:bootstrappers")]),
    ]
    out += [cluster_role_binding(f"system:controller:{sa}", f"system:controller:{sa}",
                                 [_sa(sa)]) for sa in cr.CONTROLLER_RULES]
    return out


def cluster_roles() -> list[Obj]:
    """The bootstrap ClusterRoles (fresh copies), those of :mod:`.certificates` included."""
    from kubesvc.api.rbac import certificates  # it builds on this module
    return copy.deepcopy([
        cluster_role("cluster-admin", [rule(["*"], ["*"], ["*"]), url_rule(["*"], ["*"])]),
        cluster_role("system:discovery", [url_rule(["get"], _DISCOVERY_URLS)]),
        cluster_role("system:basic-user", [
            rule(["create"], ["authorization.k8s.io"],
                 ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            rule(["create"], ["authentication.k8s.io"], ["selfsubjectreviews"]),
        ]),
        cluster_role("system:public-info-viewer", [url_rule(["get"], _PUBLIC_URLS)]),
        cluster_role("system:monitoring", [url_rule(["get"], _MONITORING_URLS)]),
        cluster_role("admin", [], aggregate_from="admin"),
        cluster_role("edit", [], labels={AGG + "admin": "true"}, aggregate_from="edit"),
        cluster_role("view", [], labels={AGG + "edit": "true"}, aggregate_from="view"),
        cluster_role("system:aggregate-to-admin", _ADMIN, labels={AGG + "admin": "true"}),
        cluster_role("system:aggregate-to-edit", _EDIT, labels={AGG + "edit": "true"}),
        cluster_role("system:aggregate-to-view", _VIEW, labels={AGG + "view": "true"}),
        cluster_role("system:node-proxier", [
            rule(["list", "watch"], [""], ["endpoints", "services"]),
            rule(["get", "list", "watch"], [""], ["nodes"]),
            rule(["create", "patch", "update"], ["", "events.k8s.io"], ["events"]),
            rule(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
        ]),
        cluster_role(SA_ISSUER_DISCOVERY, [url_rule(["get"], _OIDC_URLS)]),
        *_component_roles(),
        *certificates.cluster_roles(),
    ])


def cluster_role_bindings() -> list[Obj]:
    """The bootstrap ClusterRoleBindings (fresh copies)."""
    from kubesvc.api.rbac import certificates
    return [
        cluster_role_binding("cluster-admin", "cluster-admin", [group("system:masters")]),
        cluster_role_binding("system:discovery", "system:discovery",
                             [group("system:authenticated")]),
        cluster_role_binding("system:basic-user", "system:basic-user",
                             [group("system:authenticated")]),
        cluster_role_binding("system:monitoring", "system:monitoring",
                             [group("system:monitoring")]),
        cluster_role_binding("system:public-info-viewer", "system:public-info-viewer",
                             [group("system:authenticated"), group("system:unauthenticated")]),
        # kubesvc agent runs its proxy with the node's credential
        cluster_role_binding("system:node-proxier", "system:node-proxier",
                             [user("system:kube-proxy"), group("system:nodes")]),
        cluster_role_binding(SA_ISSUER_DISCOVERY, SA_ISSUER_DISCOVERY,
                             [group("system:serviceaccounts")]),
        *_component_bindings(),
        *certificates.cluster_role_bindings(),
    ]


def _autoupdate(existing: Obj) -> bool:
    ann = (existing.get("metadata") or {}).get("annotations") or {}
    return bool(ann.get(AUTOUPDATE, "true") != "false")


def _merge_meta(out: Obj, want: Obj) -> None:
    md = out.setdefault("metadata", {})
    for k in ("labels", "annotations"):
        merged = {**(want["metadata"].get(k) or {}), **(md.get(k) or {})}
        if merged:
            md[k] = merged


def reconcile_role(existing: Obj, want: Obj) -> Obj | None:
    """The updated ClusterRole, or None when nothing changes (or autoupdate is "false"):
    missing rules, labels and annotations are added, as upstream's reconciliation does
    (extra permissions someone added are kept). An aggregated role's rules belong to the
    aggregation controller; only its selectors are reconciled."""
    if not _autoupdate(existing):
        return None
    out = copy.deepcopy(existing)
    _merge_meta(out, want)
    if want["metadata"]["name"] in KUBESVC_OWNED:
        out["rules"] = want["rules"]
    elif "aggregationRule" in want:
        have = (out.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        for sel in want["aggregationRule"]["clusterRoleSelectors"]:
            if sel not in have:
                have.append(sel)
        out["aggregationRule"] = {"clusterRoleSelectors": have}
    else:
        rules = list(out.get("rules") or [])
        for r in want["rules"]:
            if r not in rules:
                rules.append(r)
        out["rules"] = rules
    return None if out == existing else out


def reconcile_binding(existing: Obj, want: Obj) -> Obj | None:
    """The updated ClusterRoleBinding (missing subjects added), or None."""
    if not _autoupdate(existing):
        return None
    out = copy.deepcopy(existing)
    _merge_meta(out, want)
    subjects = list(out.get("subjects") or [])
    if want["metadata"]["name"] in KUBESVC_OWNED:
        subjects = []
    for s in want["subjects"]:
        if s not in subjects:
            subjects.append(s)
    out["subjects"] = subjects
    return None if out == existing else out
