"""The bootstrap roles of the control-plane identities (upstream's bootstrappolicy
``policy.go`` and ``controller_policy.go``, v1.32, for the resources this server serves):
``system:node`` (the Node authorizer's static rules; its binding has no subjects, as
upstream's), ``system:kube-scheduler``, ``system:kube-controller-manager``, one
``system:controller:<name>`` per controller (bound to the ServiceAccount
``kube-system:<name>`` that the controller acts as, as ``--use-service-account-credentials``),
``system:coredns`` (kubeadm's) and kubesvc's own ``kubesvc:controller:lb-ipam`` and
``kubesvc:node-extras`` (the LoadBalancer announcer's Leases in kube-system, which upstream
has no equivalent of). ``system:controller:token-cleaner`` and ``kubesvc:node-extras`` are
Roles in kube-system. Where a kubesvc controller writes by PATCH what upstream's writes by
UPDATE, the rule names both verbs.

Pure data; :mod:`.bootstrap` turns these into ClusterRoles and bindings.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
READ = ["get", "list", "watch"]
EVENTS = ["create", "update", "patch"]
SYSTEM_NS = "kube-system"


def r(verbs: list[str], groups: list[str], resources: list[str],
      names: list[str] | None = None) -> Obj:
    out: Obj = {"verbs": verbs, "apiGroups": groups, "resources": resources}
    if names:
        out["resourceNames"] = names
    return out


def _events() -> Obj:
    return r(EVENTS, ["", "events.k8s.io"], ["events"])


NODE_RULES: list[Obj] = [
    r(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    r(["create"], ["authorization.k8s.io"],
      ["subjectaccessreviews", "localsubjectaccessreviews"]),
    r(READ, [""], ["services"]),
    r(["create", "get", "list", "watch"], [""], ["nodes"]),
    r(["update", "patch"], [""], ["nodes/status"]),
    r(["update", "patch"], [""], ["nodes"]),
    r(EVENTS, [""], ["events"]),
    r(READ, [""], ["pods"]),
    r(["create", "delete"], [""], ["pods"]),
    r(["update", "patch"], [""], ["pods/status"]),
    r(["create"], [""], ["pods/eviction"]),
    r(READ, [""], ["configmaps", "secrets"]),
    r(["get"], [""], ["persistentvolumeclaims", "persistentvolumes"]),
    r(["get"], [""], ["endpoints"]),
    r(["create", "get", "list", "watch"], ["certificates.k8s.io"],
      ["certificatesigningrequests"]),
    r(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
    r(["create"], [""], ["serviceaccounts/token"]),
    r(["update", "patch"], [""], ["persistentvolumeclaims/status"]),
]

SCHEDULER_RULES: list[Obj] = [
    _events(),
    r(["create"], ["coordination.k8s.io"], ["leases"]),
    r(["get", "update"], ["coordination.k8s.io"], ["leases"], ["kube-scheduler"]),
    r(["create"], [""], ["endpoints"]),
    r(["get", "update"], [""], ["endpoints"], ["kube-scheduler"]),
    r(READ, [""], ["nodes"]),
    r(["delete", "get", "list", "watch"], [""], ["pods"]),
    r(["create"], [""], ["bindings", "pods/binding"]),
    r(["patch", "update"], [""], ["pods/status"]),
    r(READ, [""], ["replicationcontrollers", "services"]),
    r(READ, ["apps", "extensions"], ["replicasets"]),
    r(READ, ["apps"], ["statefulsets"]),
    r(READ, ["policy"], ["poddisruptionbudgets"]),
    r(READ, [""], ["persistentvolumeclaims", "persistentvolumes"]),
    r(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    r(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    r(READ, ["storage.k8s.io"], ["csinodes"]),
    r(READ, [""], ["namespaces"]),
    r(READ, ["storage.k8s.io"], ["csidrivers", "csistoragecapacities"]),
]

CONTROLLER_MANAGER_RULES: list[Obj] = [
    _events(),
    r(["create"], ["coordination.k8s.io"], ["leases"]),
    r(["get", "update"], ["coordination.k8s.io"], ["leases"], ["kube-controller-manager"]),
    r(["create"], [""], ["endpoints"]),
    r(["get", "update"], [""], ["endpoints"], ["kube-controller-manager"]),
    r(["create"], [""], ["secrets", "serviceaccounts"]),
    r(["delete"], [""], ["secrets"]),
    r(["get"], [""], ["namespaces", "secrets", "serviceaccounts"]),
    r(["update"], [""], ["secrets", "serviceaccounts"]),
    r(["create"], ["authentication.k8s.io"], ["tokenreviews"]),
    r(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
    r(["list", "watch"], ["*"], ["*"]),
    r(["create"], [""], ["serviceaccounts/token"]),
]

# controller ServiceAccount name -> its rules (upstream's controller_policy.go)
CONTROLLER_RULES: dict[str, list[Obj]] = {
    "endpoint-controller": [
        r(READ, [""], ["pods", "services"]),
        r(["get", "list", "create", "update", "delete"], [""], ["endpoints"]),
        r(["create"], [""], ["endpoints/restricted"]),
        _events(),
    ],
    "endpointslice-controller": [
        r(READ, [""], ["nodes", "pods", "services"]),
        r(["update"], [""], ["services/finalizers"]),
        r(["get", "list", "create", "update", "delete"], ["discovery.k8s.io"],
          ["endpointslices"]),
        _events(),
    ],
    "endpointslicemirroring-controller": [
        r(READ, [""], ["endpoints", "services"]),
        r(["update"], [""], ["endpoints/finalizers", "services/finalizers"]),
        r(["get", "list", "create", "update", "delete"], ["discovery.k8s.io"],
          ["endpointslices"]),
        _events(),
    ],
    "replicaset-controller": [
        r(["get", "list", "watch", "update"], ["apps", "extensions"], ["replicasets"]),
        r(["update", "patch"], ["apps", "extensions"], ["replicasets/status"]),
        r(["update"], ["apps", "extensions"], ["replicasets/finalizers"]),
        r(["list", "watch", "patch", "create", "delete"], [""], ["pods"]),
        _events(),
    ],
    "deployment-controller": [
        r(["get", "list", "watch", "update", "patch"], ["apps", "extensions"],
          ["deployments"]),
        r(["update", "patch"], ["apps", "extensions"], ["deployments/status"]),
        r(["update"], ["apps", "extensions"], ["deployments/finalizers"]),
        r(["get", "list", "watch", "create", "update", "patch", "delete"],
          ["apps", "extensions"], ["replicasets"]),
        r(["get", "list", "watch", "update"], [""], ["pods"]),
        _events(),
    ],
    "node-controller": [
        r(["get", "list", "update", "delete", "patch"], [""], ["nodes"]),
        r(["patch", "update"], [""], ["nodes/status"]),
        r(["patch", "update"], [""], ["pods/status"]),
        r(["list", "delete"], [""], ["pods"]),
        _events(),
    ],
    "generic-garbage-collector": [
        r(["get", "list", "watch", "patch", "update", "delete"], ["*"], ["*"]),
        _events(),
    ],
    "service-account-controller": [
        r(["create"], [""], ["serviceaccounts"]),
        _events(),
    ],
    "root-ca-cert-publisher": [
        r(["create", "update"], [""], ["configmaps"]),
        _events(),
    ],
    "statefulset-controller": [
        r(["list", "watch"], [""], ["pods"]),
        r(["get", "create", "delete", "update", "patch"], [""], ["pods"]),
        r(["list", "watch"], ["apps"], ["statefulsets"]),
        r(["update", "patch"], ["apps"], ["statefulsets/status"]),
        r(["update"], ["apps"], ["statefulsets/finalizers"]),
        r(["get", "create", "delete", "update", "patch"], [""], ["persistentvolumeclaims"]),
        r(["get", "create", "delete", "update", "patch", "list", "watch"], ["apps"],
          ["controllerrevisions"]),
        _events(),
    ],
    "persistent-volume-binder": [
        r(["get", "list", "watch", "update", "create", "delete", "patch"], [""],
          ["persistentvolumes"]),
        r(["update", "patch"], [""], ["persistentvolumes/status"]),
        r(["get", "list", "watch", "update", "patch"], [""], ["persistentvolumeclaims"]),
        r(["update", "patch"], [""], ["persistentvolumeclaims/status"]),
        r(["list", "watch", "get", "create", "delete"], [""], ["pods"]),
        r(["get", "list", "watch"], [""], ["nodes"]),
        r(["get", "list", "watch"], ["storage.k8s.io"], ["storageclasses"]),
        # kubesvc's own: the binder creates the default local-path StorageClass
        r(["create"], ["storage.k8s.io"], ["storageclasses"]),
        _events(),
    ],
    "job-controller": [
        r(["get", "list", "watch", "update", "patch"], ["batch"], ["jobs"]),
        r(["update", "patch"], ["batch"], ["jobs/status"]),
        r(["update", "patch"], ["batch"], ["jobs/finalizers"]),
        r(["list", "watch", "create", "delete", "patch"], [""], ["pods"]),
        # kubesvc's own: the Job controller keeps its CronJob's status.active current
        r(["update", "patch"], ["batch"], ["cronjobs/status"]),
        _events(),
    ],
    "cronjob-controller": [
        r(["get", "list", "watch", "update", "patch"], ["batch"], ["cronjobs"]),
        r(["get", "list", "watch", "create", "update", "delete", "patch"], ["batch"], ["jobs"]),
        r(["update", "patch"], ["batch"], ["cronjobs/status"]),
        r(["update"], ["batch"], ["cronjobs/finalizers"]),
        r(["list", "delete"], [""], ["pods"]),
        _events(),
    ],
    "ttl-after-finished-controller": [
        r(["get", "list", "watch", "delete"], ["batch"], ["jobs"]),
        _events(),
    ],
    "daemon-set-controller": [
        r(["get", "list", "watch"], ["apps", "extensions"], ["daemonsets"]),
        r(["update", "patch"], ["apps", "extensions"], ["daemonsets/status"]),
        r(["update"], ["apps", "extensions"], ["daemonsets/finalizers"]),
        r(["list", "watch"], [""], ["nodes"]),
        r(["list", "watch", "create", "delete", "patch"], [""], ["pods"]),
        r(["create"], [""], ["pods/binding"]),
        r(["get", "list", "watch", "create", "delete", "update", "patch"], ["apps"],
          ["controllerrevisions"]),
        _events(),
    ],
    "replication-controller": [
        r(["get", "list", "watch", "update"], [""], ["replicationcontrollers"]),
        r(["update", "patch"], [""], ["replicationcontrollers/status"]),
        r(["update"], [""], ["replicationcontrollers/finalizers"]),
        r(["list", "watch", "patch", "create", "delete"], [""], ["pods"]),
        _events(),
    ],
    "disruption-controller": [
        r(["get", "list", "watch"], ["apps", "extensions"],
          ["deployments", "replicasets", "statefulsets"]),
        r(["get", "list", "watch"], [""], ["replicationcontrollers"]),
        r(["get", "list", "watch"], ["policy"], ["poddisruptionbudgets"]),
        r(["update", "patch"], ["policy"], ["poddisruptionbudgets/status"]),
        r(["get"], ["*"], ["*/scale"]),
        r(["patch", "update"], [""], ["pods/status"]),
        _events(),
    ],
    # kubesvc's ingress controller (ingress-nginx's ClusterRole, reduced to what it uses)
    "ingress-controller": [
        r(["get", "list", "watch"], ["networking.k8s.io"], ["ingresses", "ingressclasses"]),
        r(["update", "patch"], ["networking.k8s.io"], ["ingresses/status"]),
        r(["create"], ["networking.k8s.io"], ["ingressclasses"]),
        r(["get", "list", "watch"], [""], ["services", "secrets"]),
        r(["get", "list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
        _events(),
    ],
    "certificate-controller": [
        r(["delete", "get", "list", "watch"], ["certificates.k8s.io"],
          ["certificatesigningrequests"]),
        r(["update"], ["certificates.k8s.io"], ["certificatesigningrequests/approval",
                                                "certificatesigningrequests/status"]),
        r(["approve"], ["certificates.k8s.io"], ["signers"],
          ["kubernetes.io/kube-apiserver-client-kubelet"]),
        r(["sign"], ["certificates.k8s.io"], ["signers"],
          ["kubernetes.io/kube-apiserver-client", "kubernetes.io/kube-apiserver-client-kubelet"]),
        r(["create"], ["authorization.k8s.io"], ["subjectaccessreviews"]),
        _events(),
    ],
}

# a Role in kube-system, as upstream's
TOKEN_CLEANER_RULES: list[Obj] = [
    r(["delete", "get", "list", "watch"], [""], ["secrets"]),
    _events(),
]

# kubesvc's controller manager names -> the ServiceAccount each acts as
CONTROLLER_ACCOUNTS: dict[str, str] = {
    "endpoints": "endpoint-controller",
    "endpointslice": "endpointslice-controller",
    "endpointslice-mirroring": "endpointslicemirroring-controller",
    "replicaset": "replicaset-controller",
    "deployment": "deployment-controller",
    "node-lifecycle": "node-controller",
    "garbage-collector": "generic-garbage-collector",
    "tokencleaner": "token-cleaner",
    "lb-ipam": "service-lb-ipam-controller",
    "serviceaccount": "service-account-controller",
    "statefulset": "statefulset-controller",
    "persistentvolume-binder": "persistent-volume-binder",
    "job": "job-controller",
    "cronjob": "cronjob-controller",
    "ttl-after-finished": "ttl-after-finished-controller",
    "daemonset": "daemon-set-controller",
    "replicationcontroller": "replication-controller",
    "disruption": "disruption-controller",
    "ingress": "ingress-controller",
    "root-ca-cert-publisher": "root-ca-cert-publisher",
    "csrapproving": "certificate-controller",
    "csrsigning": "certificate-controller",
    "csrcleaner": "certificate-controller",
}

LB_IPAM_ROLE = "kubesvc:controller:lb-ipam"
LB_IPAM_RULES: list[Obj] = [
    r(READ, [""], ["services", "configmaps"]),
    r(["get", "update", "patch"], [""], ["services/status"]),
    _events(),
]

COREDNS_ROLE = "system:coredns"
COREDNS_RULES: list[Obj] = [
    r(["list", "watch"], [""], ["endpoints", "services", "pods", "namespaces"]),
    r(["list", "watch"], ["discovery.k8s.io"], ["endpointslices"]),
]

# what `kubesvc agent` does beyond upstream's kubelet and kube-proxy: the LoadBalancer
# announcer records the holder of each announced IP in a Lease in kube-system (a Role
# there, bound to system:nodes)
NODE_EXTRAS_ROLE = "kubesvc:node-extras"
# the announcer's Lease names (kubesvc.proxy.announce.LEASE_PREFIX): NodeRestriction lets a
# node write these in kube-system, and no other Lease outside kube-node-lease
LB_ANNOUNCE_LEASE_PREFIX = "kubesvc-l2announce-"
NODE_EXTRAS_RULES: list[Obj] = [
    r(["get", "create", "update"], ["coordination.k8s.io"], ["leases"]),
]

# upstream's pre-1.8 node role for agents that join with a bootstrap token (and are no
# node identity until they exchange it): what the agent, its proxy and its announcer
# read and write, never Secrets or ConfigMaps
BOOTSTRAP_AGENT_ROLE = "kubesvc:node-agent"
BOOTSTRAP_AGENT_RULES: list[Obj] = [
    r(READ, [""], ["nodes", "pods", "services", "endpoints", "namespaces", "events"]),
    r(READ, ["discovery.k8s.io"], ["endpointslices"]),
    r(READ, ["coordination.k8s.io"], ["leases"]),
    r(["get", "list", "watch", "create", "update", "patch", "delete"], [""],
      ["nodes", "nodes/status", "pods", "pods/status", "events"]),
    r(["get", "create", "update", "patch", "delete"], ["coordination.k8s.io"], ["leases"]),
    r(["get", "create", "update", "patch"], ["events.k8s.io"], ["events"]),
]

# -- issue 23: NetworkPolicy enforcement by each node's agent (netns mode), which reads
# what upstream's network policy agents read (kube-network-policies, Calico's node):
# NetworkPolicies, pods and namespaces; bound to system:nodes and system:bootstrappers
NETPOL_AGENT_ROLE = "kubesvc:network-policy-agent"
NETPOL_AGENT_RULES: list[Obj] = [
    r(["list", "watch"], ["networking.k8s.io"], ["networkpolicies"]),
    r(["list", "watch"], [""], ["pods", "namespaces"]),
]
# -- host mode cannot enforce NetworkPolicy: a controller says so with a Warning Event on
# each one (kubesvc.netpol.unenforced)
CONTROLLER_RULES["network-policy-unenforced"] = [
    r(["list", "watch"], ["networking.k8s.io"], ["networkpolicies"]),
    _events(),
]
CONTROLLER_ACCOUNTS["network-policy-unenforced"] = "network-policy-unenforced"
# -- ResourceQuota status (kubesvc.controllers.resourcequota), upstream's role
CONTROLLER_RULES["resourcequota-controller"] = [
    r(["list", "watch"], ["*"], ["*"]),
    r(["update"], [""], ["resourcequotas/status"]),
    _events(),
]
CONTROLLER_ACCOUNTS["resourcequota"] = "resourcequota-controller"


def controller_user(account: str) -> str:
    return f"system:serviceaccount:{SYSTEM_NS}:{account}"
