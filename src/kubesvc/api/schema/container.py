"""Structural schemas of a Pod's containers: Container and EphemeralContainer with ports,
env/envFrom, probes, lifecycle hooks, resources, securityContext, volumeMounts/devices.

Field names and types follow Kubernetes v1.32's OpenAPI; patch tags follow upstream's core/v1
types.go (ports merge by ``containerPort``, env by ``name``, volumeMounts by ``mountPath``).
Imported by ``kubesvc.api.schema``; calls only ``_dsl``.
"""

from __future__ import annotations

from kubesvc.api.schema._dsl import I32, I64, IOS, B, C, Q, S, Schema, arr, defn, qmap, ref

_CONTAINER_FIELDS: dict[str, Schema] = {
    "args": arr(S, list_type="atomic"),
    "command": arr(S, list_type="atomic"),
    "env": arr(
        ref(C + "EnvVar"),
        key="name",
        strategy="merge",
        list_type="map",
        map_keys=("name",),
    ),
    "envFrom": arr(ref(C + "EnvFromSource"), list_type="atomic"),
    "image": S,
    "imagePullPolicy": S,
    "lifecycle": ref(C + "Lifecycle"),
    "livenessProbe": ref(C + "Probe"),
    "name": S,
    "ports": arr(
        ref(C + "ContainerPort"),
        key="containerPort",
        strategy="merge",
        list_type="map",
        map_keys=("containerPort", "protocol"),
    ),
    "readinessProbe": ref(C + "Probe"),
    "resizePolicy": arr(ref(C + "ContainerResizePolicy"), list_type="atomic"),
    "resources": ref(C + "ResourceRequirements"),
    "restartPolicy": S,
    "securityContext": ref(C + "SecurityContext"),
    "startupProbe": ref(C + "Probe"),
    "stdin": B,
    "stdinOnce": B,
    "terminationMessagePath": S,
    "terminationMessagePolicy": S,
    "tty": B,
    "volumeDevices": arr(
        ref(C + "VolumeDevice"),
        key="devicePath",
        strategy="merge",
        list_type="map",
        map_keys=("devicePath",),
    ),
    "volumeMounts": arr(
        ref(C + "VolumeMount"),
        key="mountPath",
        strategy="merge",
        list_type="map",
        map_keys=("mountPath",),
    ),
    "workingDir": S,
}

defn(C + "Container", _CONTAINER_FIELDS, required=("name",))

defn(
    C + "EnvVar",
    {
        "name": S,
        "value": S,
        "valueFrom": ref(C + "EnvVarSource"),
    },
    required=("name",),
)

defn(
    C + "EnvVarSource",
    {
        "configMapKeyRef": ref(C + "ConfigMapKeySelector"),
        "fieldRef": ref(C + "ObjectFieldSelector"),
        "resourceFieldRef": ref(C + "ResourceFieldSelector"),
        "secretKeyRef": ref(C + "SecretKeySelector"),
    },
)

defn(C + "ConfigMapKeySelector", {"key": S, "name": S, "optional": B}, required=("key",))

defn(C + "ObjectFieldSelector", {"apiVersion": S, "fieldPath": S}, required=("fieldPath",))

defn(
    C + "ResourceFieldSelector",
    {
        "containerName": S,
        "divisor": Q,
        "resource": S,
    },
    required=("resource",),
)

defn(C + "SecretKeySelector", {"key": S, "name": S, "optional": B}, required=("key",))

defn(
    C + "EnvFromSource",
    {
        "configMapRef": ref(C + "ConfigMapEnvSource"),
        "prefix": S,
        "secretRef": ref(C + "SecretEnvSource"),
    },
)

defn(C + "ConfigMapEnvSource", {"name": S, "optional": B})

defn(C + "SecretEnvSource", {"name": S, "optional": B})

defn(
    C + "Lifecycle",
    {
        "postStart": ref(C + "LifecycleHandler"),
        "preStop": ref(C + "LifecycleHandler"),
    },
)

defn(
    C + "LifecycleHandler",
    {
        "exec": ref(C + "ExecAction"),
        "httpGet": ref(C + "HTTPGetAction"),
        "sleep": ref(C + "SleepAction"),
        "tcpSocket": ref(C + "TCPSocketAction"),
    },
)

defn(C + "ExecAction", {"command": arr(S, list_type="atomic")})

defn(
    C + "HTTPGetAction",
    {
        "host": S,
        "httpHeaders": arr(ref(C + "HTTPHeader"), list_type="atomic"),
        "path": S,
        "port": IOS,
        "protocol": S,
        "scheme": S,
    },
    required=("port",),
)

defn(C + "HTTPHeader", {"name": S, "value": S}, required=("name", "value"))

defn(C + "SleepAction", {"seconds": I32}, required=("seconds",))

defn(C + "TCPSocketAction", {"host": S, "port": IOS}, required=("port",))

defn(
    C + "Probe",
    {
        "exec": ref(C + "ExecAction"),
        "failureThreshold": I32,
        "grpc": ref(C + "GRPCAction"),
        "httpGet": ref(C + "HTTPGetAction"),
        "initialDelaySeconds": I32,
        "periodSeconds": I32,
        "successThreshold": I32,
        "tcpSocket": ref(C + "TCPSocketAction"),
        "terminationGracePeriodSeconds": I64,
        "timeoutSeconds": I32,
    },
)

defn(C + "GRPCAction", {"mode": S, "port": I32, "service": S}, required=("port",))

defn(
    C + "ContainerPort",
    {
        "containerPort": I32,
        "hostIP": S,
        "hostPort": I32,
        "name": S,
        "protocol": S,
    },
    required=("containerPort",),
)

defn(
    C + "ContainerResizePolicy",
    {
        "resourceName": S,
        "restartPolicy": S,
    },
    required=("resourceName", "restartPolicy"),
)

defn(
    C + "ResourceRequirements",
    {
        "claims": arr(ref(C + "ResourceClaim"), list_type="map", map_keys=("name",)),
        "limits": qmap,
        "requests": qmap,
    },
)

defn(C + "ResourceClaim", {"name": S, "request": S}, required=("name",))

defn(
    C + "SecurityContext",
    {
        "allowPrivilegeEscalation": B,
        "appArmorProfile": ref(C + "AppArmorProfile"),
        "capabilities": ref(C + "Capabilities"),
        "privileged": B,
        "procMount": S,
        "readOnlyRootFilesystem": B,
        "runAsGroup": I64,
        "runAsNonRoot": B,
        "runAsUser": I64,
        "seLinuxOptions": ref(C + "SELinuxOptions"),
        "seccompProfile": ref(C + "SeccompProfile"),
        "windowsOptions": ref(C + "WindowsSecurityContextOptions"),
    },
)

defn(C + "AppArmorProfile", {"localhostProfile": S, "type": S}, required=("type",))

defn(C + "Capabilities", {"add": arr(S, list_type="atomic"), "drop": arr(S, list_type="atomic")})

defn(C + "SELinuxOptions", {"level": S, "role": S, "type": S, "user": S})

defn(C + "SeccompProfile", {"localhostProfile": S, "type": S}, required=("type",))

defn(
    C + "WindowsSecurityContextOptions",
    {
        "gmsaCredentialSpec": S,
        "gmsaCredentialSpecName": S,
        "hostProcess": B,
        "runAsUserName": S,
    },
)

defn(C + "VolumeDevice", {"devicePath": S, "name": S}, required=("devicePath", "name"))

defn(
    C + "VolumeMount",
    {
        "mountPath": S,
        "mountPropagation": S,
        "name": S,
        "readOnly": B,
        "recursiveReadOnly": S,
        "subPath": S,
        "subPathExpr": S,
    },
    required=("mountPath", "name"),
)

# Upstream's EphemeralContainer is EphemeralContainerCommon (Container's fields, with the
# same tags) plus targetContainerName; properties stay in name order.
defn(
    C + "EphemeralContainer",
    dict(sorted({**_CONTAINER_FIELDS, "targetContainerName": S}.items())),
    required=("name",),
)
