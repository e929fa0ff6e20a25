"""Structural schemas of Pod and PodSpec: scheduling (affinity, tolerations, topology
spread), DNS, security context, host aliases, and PodTemplateSpec (which Deployment and
ReplicaSet embed). Containers are in ``container``, PodStatus in ``pod_status``, volume
sources in ``volumes``.

Field names and types follow Kubernetes v1.32's OpenAPI;
patch tags follow upstream's core/v1 types.go. Imported by ``kubesvc.api.schema``; calls
only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, I64, B, C, M, S, Schema, arr, defn, qmap, ref, smap

defn(
    C + "Pod",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "PodSpec"),
        "status": ref(C + "PodStatus"),
    },
)

defn(
    C + "PodSpec",
    {
        "activeDeadlineSeconds": I64,
        "affinity": ref(C + "Affinity"),
        "automountServiceAccountToken": B,
        "containers": arr(
            ref(C + "Container"),
            key="name",
            strategy="merge",
            list_type="map",
            map_keys=("name",),
        ),
        "dnsConfig": ref(C + "PodDNSConfig"),
        "dnsPolicy": S,
        "enableServiceLinks": B,
        "ephemeralContainers": arr(
            ref(C + "EphemeralContainer"),
            key="name",
            strategy="merge",
            list_type="map",
            map_keys=("name",),
        ),
        "hostAliases": arr(
            ref(C + "HostAlias"),
            key="ip",
            strategy="merge",
            list_type="map",
            map_keys=("ip",),
        ),
        "hostIPC": B,
        "hostNetwork": B,
        "hostPID": B,
        "hostUsers": B,
        "hostname": S,
        "imagePullSecrets": arr(
            ref(C + "LocalObjectReference"),
            key="name",
            strategy="merge",
            list_type="map",
            map_keys=("name",),
        ),
        "initContainers": arr(
            ref(C + "Container"),
            key="name",
            strategy="merge",
            list_type="map",
            map_keys=("name",),
        ),
        "nodeName": S,
        "nodeSelector": smap,
        "os": ref(C + "PodOS"),
        "overhead": qmap,
        "preemptionPolicy": S,
        "priority": I32,
        "priorityClassName": S,
        "readinessGates": arr(ref(C + "PodReadinessGate"), list_type="atomic"),
        "resourceClaims": arr(
            ref(C + "PodResourceClaim"),
            key="name",
            strategy="merge,retainKeys",
            list_type="map",
            map_keys=("name",),
        ),
        "resources": ref(C + "ResourceRequirements"),
        "restartPolicy": S,
        "runtimeClassName": S,
        "schedulerName": S,
        "schedulingGates": arr(
            ref(C + "PodSchedulingGate"),
            key="name",
            strategy="merge",
            list_type="map",
            map_keys=("name",),
        ),
        "securityContext": ref(C + "PodSecurityContext"),
        "serviceAccount": S,
        "serviceAccountName": S,
        "setHostnameAsFQDN": B,
        "shareProcessNamespace": B,
        "subdomain": S,
        "terminationGracePeriodSeconds": I64,
        "tolerations": arr(ref(C + "Toleration"), list_type="atomic"),
        "topologySpreadConstraints": arr(
            ref(C + "TopologySpreadConstraint"),
            key="topologyKey",
            strategy="merge",
            list_type="map",
            map_keys=("topologyKey", "whenUnsatisfiable"),
        ),
        "volumes": arr(
            ref(C + "Volume"),
            key="name",
            strategy="merge,retainKeys",
            list_type="map",
            map_keys=("name",),
        ),
    },
    required=("containers",),
)

defn(
    C + "Affinity",
    {
        "nodeAffinity": ref(C + "NodeAffinity"),
        "podAffinity": ref(C + "PodAffinity"),
        "podAntiAffinity": ref(C + "PodAntiAffinity"),
    },
)

defn(
    C + "NodeAffinity",
    {
        "preferredDuringSchedulingIgnoredDuringExecution": arr(
            ref(C + "PreferredSchedulingTerm"),
            list_type="atomic",
        ),
        "requiredDuringSchedulingIgnoredDuringExecution": ref(C + "NodeSelector"),
    },
)

defn(
    C + "PreferredSchedulingTerm",
    {
        "preference": ref(C + "NodeSelectorTerm"),
        "weight": I32,
    },
    required=("preference", "weight"),
)

defn(
    C + "NodeSelectorTerm",
    {
        "matchExpressions": arr(ref(C + "NodeSelectorRequirement"), list_type="atomic"),
        "matchFields": arr(ref(C + "NodeSelectorRequirement"), list_type="atomic"),
    },
)

defn(
    C + "NodeSelectorRequirement",
    {
        "key": S,
        "operator": S,
        "values": arr(S, list_type="atomic"),
    },
    required=("key", "operator"),
)

defn(
    C + "NodeSelector",
    {
        "nodeSelectorTerms": arr(ref(C + "NodeSelectorTerm"), list_type="atomic"),
    },
    required=("nodeSelectorTerms",),
)

# PodAffinity and PodAntiAffinity have the same two fields (upstream's types.go).
_POD_AFFINITY_FIELDS: dict[str, Schema] = {
    "preferredDuringSchedulingIgnoredDuringExecution": arr(
        ref(C + "WeightedPodAffinityTerm"), list_type="atomic"
    ),
    "requiredDuringSchedulingIgnoredDuringExecution": arr(
        ref(C + "PodAffinityTerm"), list_type="atomic"
    ),
}

defn(C + "PodAffinity", _POD_AFFINITY_FIELDS)

defn(
    C + "WeightedPodAffinityTerm",
    {
        "podAffinityTerm": ref(C + "PodAffinityTerm"),
        "weight": I32,
    },
    required=("podAffinityTerm", "weight"),
)

defn(
    C + "PodAffinityTerm",
    {
        "labelSelector": ref(M + "LabelSelector"),
        "matchLabelKeys": arr(S, list_type="atomic"),
        "mismatchLabelKeys": arr(S, list_type="atomic"),
        "namespaceSelector": ref(M + "LabelSelector"),
        "namespaces": arr(S, list_type="atomic"),
        "topologyKey": S,
    },
    required=("topologyKey",),
)

defn(C + "PodAntiAffinity", dict(_POD_AFFINITY_FIELDS))

defn(
    C + "PodDNSConfig",
    {
        "nameservers": arr(S, list_type="atomic"),
        "options": arr(ref(C + "PodDNSConfigOption"), list_type="atomic"),
        "searches": arr(S, list_type="atomic"),
    },
)

defn(C + "PodDNSConfigOption", {"name": S, "value": S})

defn(C + "HostAlias", {"hostnames": arr(S, list_type="atomic"), "ip": S}, required=("ip",))

defn(C + "LocalObjectReference", {"name": S})

defn(C + "PodOS", {"name": S}, required=("name",))

defn(C + "PodReadinessGate", {"conditionType": S}, required=("conditionType",))

defn(
    C + "PodResourceClaim",
    {
        "name": S,
        "resourceClaimName": S,
        "resourceClaimTemplateName": S,
    },
    required=("name",),
)

defn(C + "PodSchedulingGate", {"name": S}, required=("name",))

defn(
    C + "PodSecurityContext",
    {
        "appArmorProfile": ref(C + "AppArmorProfile"),
        "fsGroup": I64,
        "fsGroupChangePolicy": S,
        "runAsGroup": I64,
        "runAsNonRoot": B,
        "runAsUser": I64,
        "seLinuxChangePolicy": S,
        "seLinuxOptions": ref(C + "SELinuxOptions"),
        "seccompProfile": ref(C + "SeccompProfile"),
        "supplementalGroups": arr(I64, list_type="atomic"),
        "supplementalGroupsPolicy": S,
        "sysctls": arr(ref(C + "Sysctl"), list_type="atomic"),
        "windowsOptions": ref(C + "WindowsSecurityContextOptions"),
    },
)

defn(C + "Sysctl", {"name": S, "value": S}, required=("name", "value"))

defn(
    C + "Toleration",
    {
        "effect": S,
        "key": S,
        "operator": S,
        "tolerationSeconds": I32,
        "value": S,
    },
)

defn(
    C + "TopologySpreadConstraint",
    {
        "labelSelector": ref(M + "LabelSelector"),
        "matchLabelKeys": arr(S, list_type="atomic"),
        "maxSkew": I32,
        "minDomains": I32,
        "nodeAffinityPolicy": S,
        "nodeTaintsPolicy": S,
        "topologyKey": S,
        "whenUnsatisfiable": S,
    },
    required=("maxSkew", "topologyKey", "whenUnsatisfiable"),
)

defn(C + "PodTemplateSpec", {"metadata": ref(M + "ObjectMeta"), "spec": ref(C + "PodSpec")})

# The body of POST pods/{name}/binding (the scheduler's assignment of a pod to a node).
defn(
    C + "Binding",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "target": ref(C + "ObjectReference"),
    },
    required=("target",),
)
