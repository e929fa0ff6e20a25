"""Field descriptions for ``kubectl explain``, written for kubesvc in its own words.

:data:`FIELDS` maps a component name to ``{field: description}``; :data:`COMMON` holds the
top-level fields every kind has (apiVersion, kind, metadata, spec, status). :func:`install`
writes them into the registered component schemas at import (called by
``kubesvc.api.schema``), replacing each property dict by a described copy, since the small
schemas (``S``, ``I32``) are shared between properties. No I/O.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import COMPONENTS, GVK, A, C, D, M

BATCH = "io.k8s.api.batch.v1."
NET = "io.k8s.api.networking.v1."

COMMON: dict[str, str] = {
    "apiVersion": "The versioned schema of this object (group/version); the server "
    "converts recognized values to the version it stores.",
    "kind": "The REST resource type of this object, in CamelCase (Pod, Service, ...). "
    "The server infers it from the endpoint a client writes to; it cannot be changed.",
    "metadata": "Standard object metadata: name, namespace, labels, annotations and the "
    "fields the system maintains (uid, resourceVersion, creationTimestamp, ...).",
    "spec": "The desired state of the object, as written by its owner.",
    "status": "The observed state of the object, as last reported by the system. "
    "Read-only for clients; written through the status subresource.",
}

_SELECTOR = ("A label query over the pods this object manages; it must match the labels of "
             "the pod template.")
_TEMPLATE = "The pod template that new pods are created from."
_REPLICAS = "How many pods are wanted. Defaults to 1."
_MIN_READY = ("Seconds a new pod must be ready, with no container crashing, before it "
              "counts as available. Defaults to 0.")
_HISTORY = "How many old revisions to keep to allow a rollback. Defaults to 10."

FIELDS: dict[str, dict[str, str]] = {
    M + "ObjectMeta": {
        "annotations": "Unstructured key/value data that tools and users attach to an "
        "object; not used to select objects.",
        "creationTimestamp": "When the server created this object (RFC 3339, UTC). Set by "
        "the system; read-only.",
        "deletionGracePeriodSeconds": "Seconds the object is given to terminate gracefully "
        "once deletion was requested. Read-only.",
        "deletionTimestamp": "When this object will be deleted; set by the server when a "
        "graceful deletion is requested. Read-only.",
        "finalizers": "Entries that must be removed before the object is deleted from the "
        "registry; each names a controller with cleanup to do.",
        "generateName": "A prefix the server uses to make a unique name when name is not "
        "given.",
        "generation": "A sequence number for the desired state, bumped by the system on each "
        "spec change. Read-only.",
        "labels": "Key/value pairs used to organize and select objects (by Services, "
        "ReplicaSets, label selectors).",
        "managedFields": "Which field manager owns which fields, for server-side apply. "
        "Internal bookkeeping; clients rarely need to read it.",
        "name": "The object's name, unique within its namespace (or the cluster, for "
        "cluster-scoped kinds). Cannot be updated.",
        "namespace": "The namespace the object lives in; empty for cluster-scoped kinds. "
        "Defaults to the request's namespace. Cannot be updated.",
        "ownerReferences": "Objects this object depends on; when every owner is gone the "
        "garbage collector deletes it.",
        "resourceVersion": "An opaque value that changes on every write; used for optimistic "
        "concurrency and as the starting point of a watch. Read-only.",
        "selfLink": "Deprecated and no longer set.",
        "uid": "The unique id of this object over the cluster's lifetime. Set by the "
        "system; read-only.",
    },
    M + "LabelSelector": {
        "matchExpressions": "A list of label requirements (key, operator, values); all of "
        "them must match.",
        "matchLabels": "Labels that must all be present with these exact values.",
    },
    C + "PodTemplateSpec": {
        "metadata": "Metadata of the pods created from this template (labels, annotations).",
        "spec": "The specification of the pods created from this template.",
    },
    C + "PodSpec": {
        "activeDeadlineSeconds": "Seconds the pod may be active before the system marks it "
        "failed and kills its containers.",
        "affinity": "Scheduling constraints relative to nodes and other pods.",
        "automountServiceAccountToken": "Whether a service account token is mounted into "
        "the pod automatically.",
        "containers": "The containers of the pod. At least one is required; containers "
        "cannot be added or removed after creation.",
        "dnsPolicy": "How the pod's DNS is set up: ClusterFirst (the default), "
        "ClusterFirstWithHostNet, Default or None.",
        "enableServiceLinks": "Whether environment variables describing active Services are "
        "injected into the containers. Defaults to true.",
        "hostNetwork": "Run the pod in the node's network namespace. Defaults to false.",
        "hostname": "The pod's hostname; defaults to a value the system chooses.",
        "initContainers": "Containers that run to completion, in order, before the "
        "regular containers start.",
        "nodeName": "The node the pod is bound to. Usually set by the scheduler.",
        "nodeSelector": "Labels a node must carry for the pod to be scheduled on it.",
        "restartPolicy": "When containers are restarted: Always (the default), OnFailure "
        "or Never.",
        "schedulerName": "The scheduler that places this pod. Defaults to default-scheduler.",
        "securityContext": "Pod-level security attributes shared by all containers.",
        "serviceAccountName": "The ServiceAccount the pod runs as.",
        "subdomain": "With hostname, gives the pod the DNS name "
        "<hostname>.<subdomain>.<namespace>.svc.<cluster-domain>.",
        "terminationGracePeriodSeconds": "Seconds the pod is given to stop after a delete "
        "request before it is killed. Defaults to 30.",
        "tolerations": "Taints the pod tolerates.",
        "volumes": "Volumes the pod's containers can mount.",
    },
    C + "Container": {
        "args": "Arguments to the entrypoint; replace the image's CMD. $(VAR) references "
        "expand from the container's environment.",
        "command": "The entrypoint array; replaces the image's ENTRYPOINT. Not run in a "
        "shell. Cannot be updated.",
        "env": "Environment variables set in the container.",
        "envFrom": "Sources (ConfigMaps, Secrets) whose keys become environment variables.",
        "image": "The container image to run.",
        "imagePullPolicy": "When the image is pulled: Always, Never or IfNotPresent. "
        "Defaults to Always for the :latest tag, else IfNotPresent.",
        "lifecycle": "Actions the system runs right after the container starts and before "
        "it stops.",
        "livenessProbe": "A periodic check of container liveness; the container is "
        "restarted if it fails.",
        "name": "The container's name, a DNS label unique within the pod. Cannot be updated.",
        "ports": "Ports the container exposes; informational, listing or omitting one does "
        "not stop traffic to it.",
        "readinessProbe": "A periodic check of readiness; the pod is removed from Service "
        "endpoints while it fails.",
        "resources": "Compute resources the container requests and is limited to.",
        "securityContext": "Security options of this container; they override the pod's.",
        "startupProbe": "A check that must succeed before the other probes start.",
        "stdin": "Whether the container keeps a stdin buffer open.",
        "tty": "Whether the container gets a TTY (needs stdin).",
        "volumeMounts": "Pod volumes mounted into the container's filesystem.",
        "workingDir": "The working directory; defaults to the image's.",
    },
    C + "ContainerPort": {
        "containerPort": "The port number on the pod's IP address (1-65535).",
        "hostIP": "The host IP a host port binds to.",
        "hostPort": "A port on the node forwarded to the container port.",
        "name": "An IANA_SVC_NAME unique within the pod, which Services can refer to.",
        "protocol": "TCP (the default), UDP or SCTP.",
    },
    C + "ServiceSpec": {
        "clusterIP": "The virtual IP of the Service; allocated when empty, None for a "
        "headless Service. Cannot be changed except to switch type.",
        "clusterIPs": "The Service's virtual IPs, one per IP family; the first equals "
        "clusterIP.",
        "externalIPs": "Extra IPs on which nodes accept traffic for this Service.",
        "externalName": "The DNS name an ExternalName Service is an alias (CNAME) for.",
        "externalTrafficPolicy": "How traffic from outside reaches endpoints: Cluster (any "
        "node, the default) or Local (only endpoints on the receiving node).",
        "internalTrafficPolicy": "How traffic from inside the cluster is routed: Cluster "
        "(the default) or Local.",
        "ipFamilies": "The IP families (IPv4, IPv6) of the Service's addresses.",
        "ipFamilyPolicy": "SingleStack, PreferDualStack or RequireDualStack.",
        "loadBalancerIP": "Deprecated: the IP a LoadBalancer should use, if the provider "
        "supports it.",
        "ports": "The ports this Service exposes.",
        "publishNotReadyAddresses": "Publish endpoints of pods that are not ready (for "
        "peer discovery in StatefulSets).",
        "selector": "Pods whose labels match this map receive the Service's traffic. "
        "Without a selector the endpoints are managed by hand.",
        "sessionAffinity": "ClientIP keeps a client on one endpoint; None (the default) "
        "does not.",
        "type": "How the Service is exposed: ClusterIP (the default), NodePort, "
        "LoadBalancer or ExternalName.",
    },
    C + "ServicePort": {
        "appProtocol": "The application protocol of this port (a hint for implementations).",
        "name": "The port's name, a DNS label unique within the Service; required when "
        "there is more than one port.",
        "nodePort": "The port opened on every node for NodePort and LoadBalancer Services; "
        "allocated from the node port range when not given.",
        "port": "The port the Service listens on.",
        "protocol": "TCP (the default), UDP or SCTP.",
        "targetPort": "The port (number or named container port) on the pods that traffic "
        "is sent to. Defaults to port.",
    },
    C + "ServiceStatus": {
        "conditions": "The current conditions of the Service.",
        "loadBalancer": "The load balancer's addresses, for LoadBalancer Services.",
    },
    C + "ConfigMap": {
        "binaryData": "Binary values, base64-encoded on the wire.",
        "data": "Configuration values as UTF-8 strings, keyed by name.",
        "immutable": "When true, data and binaryData cannot be changed.",
    },
    C + "Secret": {
        "data": "Secret values, base64-encoded, keyed by name.",
        "immutable": "When true, the data cannot be changed.",
        "stringData": "Write-only convenience: plain string values merged into data.",
        "type": "How the data is used (Opaque, kubernetes.io/tls, ...).",
    },
    C + "ServiceAccount": {
        "automountServiceAccountToken": "Whether pods using this account get a token "
        "mounted automatically.",
        "imagePullSecrets": "Secrets used to pull images for pods using this account.",
        "secrets": "Secrets this account may use (deprecated for tokens).",
    },
    C + "NamespaceSpec": {"finalizers": "Finalizers that must run before the namespace "
                          "is removed."},
    C + "NamespaceStatus": {"conditions": "The latest observations of the namespace.",
                            "phase": "Active or Terminating."},
    C + "Endpoints": {"subsets": "The sets of addresses and ports that implement the "
                      "Service."},
    C + "EndpointSubset": {
        "addresses": "Ready addresses for the ports.",
        "notReadyAddresses": "Addresses that are not ready yet.",
        "ports": "The ports available on these addresses.",
    },
    D + "EndpointSlice": {
        "addressType": "The type of the addresses: IPv4, IPv6 or FQDN.",
        "endpoints": "The endpoints in this slice (at most 1000).",
        "ports": "The ports every endpoint of this slice exposes.",
    },
    A + "DeploymentSpec": {
        "minReadySeconds": _MIN_READY,
        "paused": "Whether the rollout is paused.",
        "progressDeadlineSeconds": "Seconds a rollout may make no progress before it is "
        "reported as failed. Defaults to 600.",
        "replicas": _REPLICAS,
        "revisionHistoryLimit": _HISTORY,
        "selector": _SELECTOR,
        "strategy": "How old pods are replaced by new ones: RollingUpdate (the default) or "
        "Recreate.",
        "template": _TEMPLATE,
    },
    A + "DeploymentStatus": {
        "availableReplicas": "Pods ready for at least minReadySeconds.",
        "conditions": "The latest observations of the rollout.",
        "observedGeneration": "The generation the controller last acted on.",
        "readyReplicas": "Pods with a Ready condition.",
        "replicas": "Pods targeted by this deployment.",
        "updatedReplicas": "Pods with the current template.",
    },
    A + "ReplicaSetSpec": {"minReadySeconds": _MIN_READY, "replicas": _REPLICAS,
                           "selector": _SELECTOR, "template": _TEMPLATE},
    A + "ReplicaSetStatus": {"replicas": "The number of pods the ReplicaSet has now.",
                             "readyReplicas": "Pods with a Ready condition."},
    A + "StatefulSetSpec": {
        "podManagementPolicy": "OrderedReady (one at a time, in order; the default) or "
        "Parallel.",
        "replicas": _REPLICAS,
        "selector": _SELECTOR,
        "serviceName": "The headless Service that gives the pods their stable DNS names.",
        "template": _TEMPLATE,
        "updateStrategy": "How pods are updated when the template changes.",
        "volumeClaimTemplates": "Claims each pod gets its own PersistentVolumeClaim from.",
    },
    A + "DaemonSetSpec": {"minReadySeconds": _MIN_READY, "revisionHistoryLimit": _HISTORY,
                          "selector": _SELECTOR, "template": _TEMPLATE,
                          "updateStrategy": "How daemon pods are replaced on a template "
                          "change."},
    BATCH + "JobSpec": {
        "activeDeadlineSeconds": "Seconds the job may run before it is terminated.",
        "backoffLimit": "Retries before the job is marked failed. Defaults to 6.",
        "completions": "How many pods must succeed. Defaults to 1.",
        "parallelism": "How many pods may run at once. Defaults to 1.",
        "selector": "A label query over the job's pods; generated unless manualSelector.",
        "suspend": "Whether the job's pods are stopped (and none are created).",
        "template": "The pod template; its restartPolicy must be Never or OnFailure.",
        "ttlSecondsAfterFinished": "Seconds after the job finishes before it is deleted.",
    },
    BATCH + "CronJobSpec": {
        "concurrencyPolicy": "Allow (the default), Forbid or Replace concurrent runs.",
        "jobTemplate": "The job created at each scheduled time.",
        "schedule": "The schedule in cron format.",
        "suspend": "Whether new runs are suspended.",
        "timeZone": "The time zone of the schedule (a tz database name).",
    },
    NET + "IngressSpec": {
        "defaultBackend": "Where requests no rule matches go.",
        "ingressClassName": "The IngressClass that implements this Ingress.",
        "rules": "Host and path rules routing requests to Services.",
        "tls": "TLS settings per host.",
    },
    C + "PersistentVolumeClaimSpec": {
        "accessModes": "The access modes wanted (ReadWriteOnce, ReadOnlyMany, ...).",
        "resources": "The storage wanted (requests.storage).",
        "selector": "A label query over volumes to bind to.",
        "storageClassName": "The StorageClass wanted; empty for no class.",
        "volumeMode": "Filesystem (the default) or Block.",
        "volumeName": "The volume this claim is bound to.",
    },
    C + "PersistentVolumeSpec": {
        "accessModes": "The ways the volume can be mounted.",
        "capacity": "The volume's capacity (storage).",
        "claimRef": "The claim bound to this volume.",
        "hostPath": "A directory on the node (single-node testing only).",
        "persistentVolumeReclaimPolicy": "What happens when the claim is released: "
        "Retain, Delete or Recycle.",
        "storageClassName": "The StorageClass the volume belongs to.",
    },
}


def install() -> None:
    """Write the descriptions into the registered components (once, at import)."""
    for name, fields in FIELDS.items():
        props = COMPONENTS[name]["properties"]
        for field, text in fields.items():
            props[field] = {**props[field], "description": text}
    for cname, schema in COMPONENTS.items():
        if GVK not in schema or "properties" not in schema or cname.startswith(M):
            continue  # (metav1 Status, DeleteOptions, WatchEvent have fields of their own)
        props = schema["properties"]
        for field, text in COMMON.items():
            if field in props and "description" not in props[field]:
                props[field] = {**props[field], "description": text}
