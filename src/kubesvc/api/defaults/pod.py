"""Pod and PodTemplate defaulting (upstream core/v1 ``SetDefaults_PodSpec``, ``_Pod``,
``_Container``, ``_Probe``, ``_HTTPGetAction``, volume sources).

Called by :func:`kubesvc.api.defaults.apply_defaults` for ``pods`` and by the apps defaults
for Deployment/ReplicaSet templates (which get the PodSpec defaults but not the Pod-only
ones such as ``enableServiceLinks``). Pure dict code.
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.defaults._util import dicts

DEFAULT_TERMINATION_GRACE_PERIOD = 30
DEFAULT_SCHEDULER = "default-scheduler"
TERMINATION_MESSAGE_PATH = "/dev/termination-log"
DEFAULT_VOLUME_MODE = 420  # 0644

_VOLUME_SOURCES = (
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
)


def image_tag(image: str) -> str:
    """The tag ``parsers.ParseImageName`` finds: ``latest`` when neither tag nor digest."""
    if not image:
        return ""
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = last.partition(":")[2] if ":" in last else ""
    if not tag and not digest:
        return "latest"
    return tag


def _probe_defaults(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for k, v in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(k):
            probe[k] = v
    _handler_defaults(probe)


def _handler_defaults(handler: Any) -> None:
    if not isinstance(handler, dict):
        return
    http = handler.get("httpGet")
    if isinstance(http, dict):
        if not http.get("path"):
            http["path"] = "/"
        if not http.get("scheme"):
            http["scheme"] = "HTTP"


def container_defaults(c: Any) -> None:
    """``SetDefaults_Container`` and the nested defaults of its ports/probes/env."""
    if not isinstance(c, dict):
        return
    if not c.get("imagePullPolicy"):
        c["imagePullPolicy"] = (
            "Always" if image_tag(str(c.get("image") or "")) == "latest" else "IfNotPresent"
        )
    if not c.get("terminationMessagePath"):
        c["terminationMessagePath"] = TERMINATION_MESSAGE_PATH
    if not c.get("terminationMessagePolicy"):
        c["terminationMessagePolicy"] = "File"
    c.setdefault("resources", {})
    for p in dicts(c.get("ports")):
        if isinstance(p, dict) and not p.get("protocol"):
            p["protocol"] = "TCP"
    for k in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe_defaults(c.get(k))
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, dict):
        _handler_defaults(lifecycle.get("postStart"))
        _handler_defaults(lifecycle.get("preStop"))
    for env in dicts(c.get("env")):
        vf = env.get("valueFrom") if isinstance(env, dict) else None
        ref = vf.get("fieldRef") if isinstance(vf, dict) else None
        if isinstance(ref, dict) and not ref.get("apiVersion"):
            ref["apiVersion"] = "v1"


def _volume_defaults(v: Any) -> None:
    if not isinstance(v, dict):
        return
    if not any(k in v for k in _VOLUME_SOURCES):
        v["emptyDir"] = {}
    for k in ("secret", "configMap", "downwardAPI", "projected"):
        src = v.get(k)
        if isinstance(src, dict) and src.get("defaultMode") is None:
            src["defaultMode"] = DEFAULT_VOLUME_MODE
    hp = v.get("hostPath")
    if isinstance(hp, dict) and hp.get("type") is None:
        hp["type"] = ""


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    """``SetDefaults_PodSpec`` plus the per-container and per-volume defaults."""
    if not spec.get("dnsPolicy"):
        spec["dnsPolicy"] = "ClusterFirst"
    if not spec.get("restartPolicy"):
        spec["restartPolicy"] = "Always"
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = DEFAULT_TERMINATION_GRACE_PERIOD
    if not spec.get("schedulerName"):
        spec["schedulerName"] = DEFAULT_SCHEDULER
    for k in ("containers", "initContainers", "ephemeralContainers"):
        for c in dicts(spec.get(k)):
            container_defaults(c)
    for v in dicts(spec.get("volumes")):
        _volume_defaults(v)


def apply_pod_defaults(pod: dict[str, Any]) -> None:
    """``SetDefaults_Pod`` + PodSpec: ``enableServiceLinks``, hostNetwork hostPorts, and
    requests defaulted from limits."""
    spec = pod.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        pod["spec"] = spec
    for k in ("containers", "initContainers"):
        for c in dicts(spec.get(k)):
            res = c.get("resources") if isinstance(c, dict) else None
            if isinstance(res, dict) and isinstance(res.get("limits"), dict):
                req = res.setdefault("requests", {})
                for rk, rv in res["limits"].items():
                    req.setdefault(rk, rv)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    if spec.get("hostNetwork"):
        for k in ("containers", "initContainers"):
            for c in dicts(spec.get(k)):
                for p in dicts(c.get("ports")):
                    if isinstance(p, dict) and not p.get("hostPort"):
                        p["hostPort"] = p.get("containerPort")
    pod_spec_defaults(spec)


def template_defaults(template: Any) -> None:
    """A PodTemplateSpec inside a workload: PodSpec defaults only."""
    if not isinstance(template, dict):
        return
    spec = template.get("spec")
    if isinstance(spec, dict):
        pod_spec_defaults(spec)


def pod_qos_class(pod: dict[str, Any]) -> str:
    """``qos.GetPodQOS`` for cpu/memory: what the Pod strategy sets in ``status.qosClass``."""
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests: dict[str, list[str]] = {}
    limits: dict[str, list[str]] = {}
    guaranteed = True
    for c in containers:
        res = (c.get("resources") or {}) if isinstance(c, dict) else {}
        req = {k: str(v) for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: str(v) for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        for k, v in req.items():
            if v not in ("0", "0m"):
                requests.setdefault(k, []).append(v)
        for k, v in lim.items():
            if v not in ("0", "0m"):
                limits.setdefault(k, []).append(v)
        if set(lim) != {"cpu", "memory"} or any(req.get(k, lim[k]) != lim[k] for k in lim):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and containers:
        return "Guaranteed"
    return "Burstable"
