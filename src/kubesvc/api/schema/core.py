"""Structural schemas of the core/v1 kinds other than Pod: Namespace, Node, Service,
Endpoints, Event, ConfigMap, Secret, ServiceAccount, and the small types they share
(ObjectReference, Taint, ...).

Field names and types follow Kubernetes v1.32's OpenAPI; list and patch tags
(``x-kubernetes-patch-merge-key`` etc.) follow the tags in upstream's core/v1 types.go.
Imported (for its registrations) by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    I64,
    IOS,
    MT,
    B,
    C,
    M,
    S,
    T,
    arr,
    by_type,
    bytes_map,
    condition_fields,
    defn,
    mapof,
    qmap,
    ref,
    smap,
)

defn(
    C + "Namespace",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "NamespaceSpec"),
        "status": ref(C + "NamespaceStatus"),
    },
)

defn(C + "NamespaceSpec", {"finalizers": arr(S, list_type="atomic")})

defn(
    C + "NamespaceStatus",
    {
        "conditions": by_type(C + "NamespaceCondition"),
        "phase": S,
    },
)

defn(
    C + "NamespaceCondition",
    condition_fields("lastTransitionTime"),
    required=("status", "type"),
)

defn(
    C + "Node",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "NodeSpec"),
        "status": ref(C + "NodeStatus"),
    },
)

defn(
    C + "NodeSpec",
    {
        "configSource": ref(C + "NodeConfigSource"),
        "externalID": S,
        "podCIDR": S,
        "podCIDRs": arr(S, strategy="merge", list_type="set"),
        "providerID": S,
        "taints": arr(ref(C + "Taint"), list_type="atomic"),
        "unschedulable": B,
    },
)

defn(C + "NodeConfigSource", {"configMap": ref(C + "ConfigMapNodeConfigSource")})

defn(
    C + "ConfigMapNodeConfigSource",
    {
        "kubeletConfigKey": S,
        "name": S,
        "namespace": S,
        "resourceVersion": S,
        "uid": S,
    },
    required=("kubeletConfigKey", "name", "namespace"),
)

defn(C + "Taint", {"effect": S, "key": S, "timeAdded": T, "value": S}, required=("effect", "key"))

defn(
    C + "NodeStatus",
    {
        "addresses": by_type(C + "NodeAddress"),
        "allocatable": qmap,
        "capacity": qmap,
        "conditions": by_type(C + "NodeCondition"),
        "config": ref(C + "NodeConfigStatus"),
        "daemonEndpoints": ref(C + "NodeDaemonEndpoints"),
        "features": ref(C + "NodeFeatures"),
        "images": arr(ref(C + "ContainerImage"), list_type="atomic"),
        "nodeInfo": ref(C + "NodeSystemInfo"),
        "phase": S,
        "runtimeHandlers": arr(ref(C + "NodeRuntimeHandler"), list_type="atomic"),
        "volumesAttached": arr(ref(C + "AttachedVolume"), list_type="atomic"),
        "volumesInUse": arr(S, list_type="atomic"),
    },
)

defn(C + "NodeAddress", {"address": S, "type": S}, required=("address", "type"))

defn(
    C + "NodeCondition",
    condition_fields("lastHeartbeatTime", "lastTransitionTime"),
    required=("status", "type"),
)

defn(
    C + "NodeConfigStatus",
    {
        "active": ref(C + "NodeConfigSource"),
        "assigned": ref(C + "NodeConfigSource"),
        "error": S,
        "lastKnownGood": ref(C + "NodeConfigSource"),
    },
)

defn(C + "NodeDaemonEndpoints", {"kubeletEndpoint": ref(C + "DaemonEndpoint")})

defn(C + "DaemonEndpoint", {"Port": I32}, required=("Port",))

defn(C + "NodeFeatures", {"supplementalGroupsPolicy": B})

defn(C + "ContainerImage", {"names": arr(S, list_type="atomic"), "sizeBytes": I64})

defn(
    C + "NodeSystemInfo",
    {
        "architecture": S,
        "bootID": S,
        "containerRuntimeVersion": S,
        "kernelVersion": S,
        "kubeProxyVersion": S,
        "kubeletVersion": S,
        "machineID": S,
        "operatingSystem": S,
        "osImage": S,
        "runningInUserNamespace": B,
        "swap": ref(C + "NodeSwapStatus"),
        "systemUUID": S,
    },
    required=(
        "architecture",
        "bootID",
        "containerRuntimeVersion",
        "kernelVersion",
        "kubeProxyVersion",
        "kubeletVersion",
        "machineID",
        "operatingSystem",
        "osImage",
        "systemUUID",
    ),
)

defn(C + "NodeSwapStatus", {"capacity": I32})

defn(C + "NodeRuntimeHandler", {"features": ref(C + "NodeRuntimeHandlerFeatures"), "name": S})

defn(C + "NodeRuntimeHandlerFeatures", {"recursiveReadOnlyMounts": B, "userNamespaces": B})

defn(C + "AttachedVolume", {"devicePath": S, "name": S}, required=("devicePath", "name"))

defn(
    C + "Service",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "spec": ref(C + "ServiceSpec"),
        "status": ref(C + "ServiceStatus"),
    },
)

defn(
    C + "ServiceSpec",
    {
        "allocateLoadBalancerNodePorts": B,
        "clusterIP": S,
        "clusterIPs": arr(S, list_type="atomic"),
        "externalIPs": arr(S, list_type="atomic"),
        "externalName": S,
        "externalTrafficPolicy": S,
        "healthCheckNodePort": I32,
        "internalTrafficPolicy": S,
        "ipFamilies": arr(S, list_type="atomic"),
        "ipFamilyPolicy": S,
        "loadBalancerClass": S,
        "loadBalancerIP": S,
        "loadBalancerSourceRanges": arr(S, list_type="atomic"),
        "ports": arr(
            ref(C + "ServicePort"),
            key="port",
            strategy="merge",
            list_type="map",
            map_keys=("port", "protocol"),
        ),
        "publishNotReadyAddresses": B,
        "selector": mapof({"type": "string", "default": ""}, map_type="atomic"),
        "sessionAffinity": S,
        "sessionAffinityConfig": ref(C + "SessionAffinityConfig"),
        "trafficDistribution": S,
        "type": S,
    },
)

defn(
    C + "ServicePort",
    {
        "appProtocol": S,
        "name": S,
        "nodePort": I32,
        "port": I32,
        "protocol": S,
        "targetPort": IOS,
    },
    required=("port",),
)

defn(C + "SessionAffinityConfig", {"clientIP": ref(C + "ClientIPConfig")})

defn(C + "ClientIPConfig", {"timeoutSeconds": I32})

defn(
    C + "ServiceStatus",
    {
        "conditions": by_type(M + "Condition"),
        "loadBalancer": ref(C + "LoadBalancerStatus"),
    },
)

defn(
    C + "LoadBalancerStatus",
    {
        "ingress": arr(ref(C + "LoadBalancerIngress"), list_type="atomic"),
    },
)

defn(
    C + "LoadBalancerIngress",
    {
        "hostname": S,
        "ip": S,
        "ipMode": S,
        "ports": arr(ref(C + "PortStatus"), list_type="atomic"),
    },
)

defn(C + "PortStatus", {"error": S, "port": I32, "protocol": S}, required=("port", "protocol"))

defn(
    C + "Endpoints",
    {
        "apiVersion": S,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "subsets": arr(ref(C + "EndpointSubset"), list_type="atomic"),
    },
)

defn(
    C + "EndpointSubset",
    {
        "addresses": arr(ref(C + "EndpointAddress"), list_type="atomic"),
        "notReadyAddresses": arr(ref(C + "EndpointAddress"), list_type="atomic"),
        "ports": arr(ref(C + "EndpointPort"), list_type="atomic"),
    },
)

defn(
    C + "EndpointAddress",
    {
        "hostname": S,
        "ip": S,
        "nodeName": S,
        "targetRef": ref(C + "ObjectReference"),
    },
    required=("ip",),
)

defn(
    C + "ObjectReference",
    {
        "apiVersion": S,
        "fieldPath": S,
        "kind": S,
        "name": S,
        "namespace": S,
        "resourceVersion": S,
        "uid": S,
    },
)

defn(
    C + "EndpointPort",
    {
        "appProtocol": S,
        "name": S,
        "port": I32,
        "protocol": S,
    },
    required=("port",),
)

defn(
    C + "Event",
    {
        "action": S,
        "apiVersion": S,
        "count": I32,
        "eventTime": MT,
        "firstTimestamp": T,
        "involvedObject": ref(C + "ObjectReference"),
        "kind": S,
        "lastTimestamp": T,
        "message": S,
        "metadata": ref(M + "ObjectMeta"),
        "reason": S,
        "related": ref(C + "ObjectReference"),
        "reportingComponent": S,
        "reportingInstance": S,
        "series": ref(C + "EventSeries"),
        "source": ref(C + "EventSource"),
        "type": S,
    },
    required=("involvedObject",),
)

defn(C + "EventSeries", {"count": I32, "lastObservedTime": MT})

defn(C + "EventSource", {"component": S, "host": S})

defn(
    C + "ConfigMap",
    {
        "apiVersion": S,
        "binaryData": bytes_map,
        "data": smap,
        "immutable": B,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
    },
)

defn(
    C + "Secret",
    {
        "apiVersion": S,
        "data": bytes_map,
        "immutable": B,
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "stringData": smap,
        "type": S,
    },
)

defn(
    C + "ServiceAccount",
    {
        "apiVersion": S,
        "automountServiceAccountToken": B,
        "imagePullSecrets": arr(ref(C + "LocalObjectReference"), list_type="atomic"),
        "kind": S,
        "metadata": ref(M + "ObjectMeta"),
        "secrets": arr(ref(C + "ObjectReference"), key="name", strategy="merge"),
    },
)
