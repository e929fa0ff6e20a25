"""Pod helpers shared by the endpoint controllers (upstream ``k8s.io/endpointslice/util``
and ``pkg/api/v1/pod``): which pods belong in endpoints, port resolution, and a cheap
fingerprint of the fields endpoints depend on (so unrelated pod updates are ignored).
"""

from __future__ import annotations

from typing import Any

from kubesvc.api.objects import Obj, meta
from kubesvc.controllers.base import labels_of, pod_ready


def pod_ip(pod: Obj, family: str = "IPv4") -> str:
    """The pod's IP of ``family`` (``status.podIPs``, falling back to ``status.podIP``)."""
    st = pod.get("status") or {}
    want_v6 = family == "IPv6"
    for entry in st.get("podIPs") or ():
        ip = str(entry.get("ip") or "")
        if ip and (":" in ip) == want_v6:
            return ip
    ip = str(st.get("podIP") or "")
    if ip and (":" in ip) == want_v6:
        return ip
    return ""


def should_pod_be_in_endpoints(pod: Obj, *, include_terminating: bool) -> bool:
    """Upstream ``ShouldPodBeInEndpoints``: has an IP, not finished for good, and (unless
    ``include_terminating``) not being deleted."""
    st = pod.get("status") or {}
    if not st.get("podIP") and not st.get("podIPs"):
        return False
    if not include_terminating and meta(pod).get("deletionTimestamp"):
        return False
    phase = st.get("phase", "")
    policy = (pod.get("spec") or {}).get("restartPolicy", "Always")
    if policy == "Never":
        return bool(phase not in ("Failed", "Succeeded"))
    if policy == "OnFailure":
        return bool(phase != "Succeeded")
    return True


def find_port(pod: Obj, svc_port: dict[str, Any]) -> int | None:
    """Upstream ``podutil.FindPort``: a numeric targetPort as is, a named one looked up in
    the pod's container ports (name and protocol must match); ``None`` if absent."""
    target = svc_port.get("targetPort")
    if target is None or target == "":
        target = svc_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = svc_port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or ():
        for p in c.get("ports") or ():
            if p.get("name") == target and (p.get("protocol") or "TCP") == proto:
                port = p.get("containerPort")
                return int(port) if port is not None else None
    return None


def hostname_for(pod: Obj, svc: Obj) -> str:
    """``spec.hostname`` when the pod's ``spec.subdomain`` names the Service (same ns)."""
    spec = pod.get("spec") or {}
    hostname = spec.get("hostname") or ""
    if (
        hostname
        and spec.get("subdomain") == meta(svc).get("name")
        and meta(pod).get("namespace") == meta(svc).get("namespace")
    ):
        return str(hostname)
    return ""


def endpoint_fingerprint(pod: Obj) -> tuple[Any, ...]:
    """The fields endpoints are computed from; equal fingerprints and labels mean a pod
    update cannot change any Service's endpoints (upstream ``podEndpointsChanged``)."""
    md = meta(pod)
    spec = pod.get("spec") or {}
    st = pod.get("status") or {}
    ports = tuple(
        (p.get("name"), p.get("containerPort"), p.get("protocol"))
        for c in spec.get("containers") or ()
        for p in c.get("ports") or ()
    )
    return (
        st.get("podIP"),
        tuple(e.get("ip") for e in st.get("podIPs") or ()),
        pod_ready(pod),
        bool(md.get("deletionTimestamp")),
        spec.get("nodeName"),
        spec.get("hostname"),
        spec.get("subdomain"),
        st.get("phase"),
        spec.get("restartPolicy"),
        ports,
        md.get("uid"),
    )


def pod_changed(old: Obj, new: Obj) -> tuple[bool, bool]:
    """(endpoint-relevant fields changed, labels changed)."""
    return endpoint_fingerprint(old) != endpoint_fingerprint(new), labels_of(old) != labels_of(
        new
    )
