"""Structural schemas of PodStatus: conditions, container statuses and states, pod/host IPs,
resource claim statuses (Kubernetes v1.32). Imported by ``kubesvc.api.schema``; calls only
``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import (
    I32,
    I64,
    B,
    C,
    S,
    T,
    arr,
    by_type,
    condition_fields,
    defn,
    qmap,
    ref,
)

defn(
    C + "PodStatus",
    {
        "conditions": by_type(C + "PodCondition"),
        "containerStatuses": arr(ref(C + "ContainerStatus"), list_type="atomic"),
        "ephemeralContainerStatuses": arr(ref(C + "ContainerStatus"), list_type="atomic"),
        "hostIP": S,
        "hostIPs": arr(ref(C + "HostIP"), key="ip", strategy="merge", list_type="atomic"),
        "initContainerStatuses": arr(ref(C + "ContainerStatus"), list_type="atomic"),
        "message": S,
        "nominatedNodeName": S,
        "phase": S,
        "podIP": S,
        "podIPs": arr(
            ref(C + "PodIP"), key="ip", strategy="merge", list_type="map", map_keys=("ip",)
        ),
        "qosClass": S,
        "reason": S,
        "resize": S,
        "resourceClaimStatuses": arr(
            ref(C + "PodResourceClaimStatus"),
            key="name",
            strategy="merge,retainKeys",
            list_type="map",
            map_keys=("name",),
        ),
        "startTime": T,
    },
)

defn(
    C + "PodCondition",
    condition_fields("lastProbeTime", "lastTransitionTime"),
    required=("status", "type"),
)

defn(
    C + "ContainerStatus",
    {
        "allocatedResources": qmap,
        "allocatedResourcesStatus": arr(
            ref(C + "ResourceStatus"),
            key="name",
            strategy="merge",
            list_type="map",
            map_keys=("name",),
        ),
        "containerID": S,
        "image": S,
        "imageID": S,
        "lastState": ref(C + "ContainerState"),
        "name": S,
        "ready": B,
        "resources": ref(C + "ResourceRequirements"),
        "restartCount": I32,
        "started": B,
        "state": ref(C + "ContainerState"),
        "user": ref(C + "ContainerUser"),
        "volumeMounts": arr(
            ref(C + "VolumeMountStatus"),
            key="mountPath",
            strategy="merge",
            list_type="map",
            map_keys=("mountPath",),
        ),
    },
    required=("image", "imageID", "name", "ready", "restartCount"),
)

defn(
    C + "ResourceStatus",
    {
        "name": S,
        "resources": arr(ref(C + "ResourceHealth"), list_type="map", map_keys=("resourceID",)),
    },
    required=("name",),
)

defn(C + "ResourceHealth", {"health": S, "message": S, "resourceID": S}, required=("resourceID",))

defn(
    C + "ContainerState",
    {
        "running": ref(C + "ContainerStateRunning"),
        "terminated": ref(C + "ContainerStateTerminated"),
        "waiting": ref(C + "ContainerStateWaiting"),
    },
)

defn(C + "ContainerStateRunning", {"startedAt": T})

defn(
    C + "ContainerStateTerminated",
    {
        "containerID": S,
        "exitCode": I32,
        "finishedAt": T,
        "message": S,
        "reason": S,
        "signal": I32,
        "startedAt": T,
    },
    required=("exitCode",),
)

defn(C + "ContainerStateWaiting", {"message": S, "reason": S})

defn(C + "ContainerUser", {"linux": ref(C + "LinuxContainerUser")})

defn(
    C + "LinuxContainerUser",
    {
        "gid": I64,
        "supplementalGroups": arr(I64),
        "uid": I64,
    },
    required=("gid", "uid"),
)

defn(
    C + "VolumeMountStatus",
    {
        "mountPath": S,
        "name": S,
        "readOnly": B,
        "recursiveReadOnly": S,
    },
    required=("mountPath", "name"),
)

defn(C + "HostIP", {"ip": S}, required=("ip",))

defn(C + "PodIP", {"ip": S}, required=("ip",))

defn(C + "PodResourceClaimStatus", {"name": S, "resourceClaimName": S}, required=("name",))
