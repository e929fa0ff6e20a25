"""Pod and PodTemplate validation: the essentials of upstream ``ValidatePodSpec`` (containers,
names, images, ports, env names, probes and handlers, volumes and mounts, restart/dns/pull
policies, node selector, hostname/subdomain, activeDeadlineSeconds) and the pod update rule
(only images, activeDeadlineSeconds, added tolerations may change).

Called through :mod:`kubesvc.api.validation`; :func:`validate_pod_template` is also used by
the apps validators. Not covered (accepted unchecked): affinity, topology spread, security
contexts, resource quantities syntax, projected volume details.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation.service import PROTOCOLS, validate_port_num_or_name
from kubesvc.errors import Cause

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
HTTP_SCHEMES = ("HTTP", "HTTPS")
MAX_INT32 = 2**31 - 1
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)


def _list(v: Any) -> list[Mapping[str, Any]]:
    return [x if isinstance(x, Mapping) else {} for x in v] if isinstance(v, list) else []


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _env_name_errors(name: str) -> list[str]:
    # RelaxedEnvironmentVariableValidation is on by default in v1.32.
    if not name:
        return ["environment variable name must be non-empty"]
    if any(ord(c) > 126 or ord(c) < 32 or c == "=" for c in name):
        return [
            "a valid environment variable name must consist only of printable ASCII "
            "characters other than '='"
        ]
    return []


def _validate_handler(h: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    count = 0
    for kind in ("exec", "httpGet", "tcpSocket", "grpc", "sleep"):
        if h.get(kind) is None:
            continue
        if count:
            out.append(f.forbidden(f.child(path, kind), "may not specify more than 1 handler type"))
            continue
        count += 1
        sub = h[kind] if isinstance(h[kind], Mapping) else {}
        kpath = f.child(path, kind)
        if kind == "exec" and not sub.get("command"):
            out.append(f.required(f.child(kpath, "command")))
        elif kind == "httpGet":
            if not sub.get("path"):
                out.append(f.required(f.child(kpath, "path")))
            out.extend(validate_port_num_or_name(f.child(kpath, "port"), sub.get("port", 0)))
            scheme = str(sub.get("scheme") or "")
            if scheme not in HTTP_SCHEMES:
                out.append(f.not_supported(f.child(kpath, "scheme"), scheme, HTTP_SCHEMES))
            for hdr in _list(sub.get("httpHeaders")):
                hn = str(hdr.get("name") or "")
                out.extend(
                    f.invalid(f.child(kpath, "httpHeaders"), hn, m)
                    for m in meta.is_http_header_name(hn)
                )
        elif kind == "tcpSocket":
            out.extend(validate_port_num_or_name(f.child(kpath, "port"), sub.get("port", 0)))
        elif kind == "grpc":
            port = _int(sub.get("port"))
            out.extend(
                f.invalid(f.child(kpath, "port"), port, m) for m in meta.is_valid_port_num(port)
            )
    if not count:
        out.append(f.required(path, "must specify a handler type"))
    return out


def _validate_probe(probe: Any, path: str, *, kind: str) -> list[Cause]:
    if not isinstance(probe, Mapping):
        return []
    out = _validate_handler(probe, path)
    for k in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        out.extend(meta.validate_nonnegative(f.child(path, k), _int(probe.get(k))))
    tgp = probe.get("terminationGracePeriodSeconds")
    if isinstance(tgp, int) and tgp <= 0:
        out.append(
            f.invalid(f.child(path, "terminationGracePeriodSeconds"), tgp, "must be greater than 0")
        )
    if kind in ("liveness", "startup") and _int(probe.get("successThreshold")) != 1:
        out.append(
            f.invalid(
                f.child(path, "successThreshold"), _int(probe.get("successThreshold")), "must be 1"
            )
        )
    return out


def _validate_container_ports(ports: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    names: set[str] = set()
    for i, p in enumerate(_list(ports)):
        ip = f.index(path, i)
        name = str(p.get("name") or "")
        if name:
            msgs = meta.is_valid_port_name(name)
            if msgs:
                out.extend(f.invalid(f.child(ip, "name"), name, m) for m in msgs)
            elif name in names:
                out.append(f.duplicate(f.child(ip, "name"), name))
            else:
                names.add(name)
        cp = _int(p.get("containerPort"))
        if not cp:
            out.append(f.required(f.child(ip, "containerPort")))
        else:
            out.extend(
                f.invalid(f.child(ip, "containerPort"), cp, m) for m in meta.is_valid_port_num(cp)
            )
        hp = _int(p.get("hostPort"))
        if hp:
            out.extend(
                f.invalid(f.child(ip, "hostPort"), hp, m) for m in meta.is_valid_port_num(hp)
            )
        proto = str(p.get("protocol") or "")
        if not proto:
            out.append(f.required(f.child(ip, "protocol")))
        elif proto not in PROTOCOLS:
            out.append(f.not_supported(f.child(ip, "protocol"), proto, PROTOCOLS))
    return out


def _validate_container(
    c: Mapping[str, Any], path: str, volumes: set[str], *, is_pod: bool
) -> list[Cause]:
    out: list[Cause] = []
    name = str(c.get("name") or "")
    if not name:
        out.append(f.required(f.child(path, "name")))
    else:
        out.extend(meta.validate_dns1123_label(f.child(path, "name"), name))
    image = str(c.get("image") or "")
    if not image:
        out.append(f.required(f.child(path, "image")))
    elif is_pod and image != image.strip():
        # Pod-only, as upstream validateContainerOnlyForPod (templates predate the check).
        out.append(
            f.invalid(f.child(path, "image"), image, "must not have leading or trailing whitespace")
        )
    out.extend(_validate_container_ports(c.get("ports"), f.child(path, "ports")))
    for i, env in enumerate(_list(c.get("env"))):
        en = str(env.get("name") or "")
        epath = f.child(f.index(f.child(path, "env"), i), "name")
        if not en:
            out.append(f.required(epath))
        else:
            out.extend(f.invalid(epath, en, m) for m in _env_name_errors(en))
    for i, vm in enumerate(_list(c.get("volumeMounts"))):
        vpath = f.index(f.child(path, "volumeMounts"), i)
        vn = str(vm.get("name") or "")
        if not vn:
            out.append(f.required(f.child(vpath, "name")))
        elif vn not in volumes:
            out.append(f.not_found(f.child(vpath, "name"), vn))
        if not vm.get("mountPath"):
            out.append(f.required(f.child(vpath, "mountPath")))
    pull = str(c.get("imagePullPolicy") or "")
    if not pull:
        out.append(f.required(f.child(path, "imagePullPolicy")))
    elif pull not in PULL_POLICIES:
        out.append(f.not_supported(f.child(path, "imagePullPolicy"), pull, PULL_POLICIES))
    tmp = str(c.get("terminationMessagePolicy") or "")
    if not tmp:
        out.append(
            f.required(
                f.child(path, "terminationMessagePolicy"),
                "must be 'File' or 'FallbackToLogsOnError'",
            )
        )
    elif tmp not in TERMINATION_MESSAGE_POLICIES:
        out.append(
            f.invalid(
                f.child(path, "terminationMessagePolicy"),
                tmp,
                "must be 'File' or 'FallbackToLogsOnError'",
            )
        )
    lifecycle = c.get("lifecycle")
    if isinstance(lifecycle, Mapping):
        for hook in ("postStart", "preStop"):
            if isinstance(lifecycle.get(hook), Mapping):
                out.extend(_validate_handler(lifecycle[hook], f.child(path, "lifecycle", hook)))
    return out


def container_causes(c: Mapping[str, Any], path: str, volumes: set[str]) -> list[Cause]:
    """One pod container's own checks (for :mod:`.ephemeral`)."""
    return _validate_container(c, path, volumes, is_pod=True)


def validate_pod_spec(spec: Mapping[str, Any], path: str, *, is_pod: bool) -> list[Cause]:
    """The essentials of ``ValidatePodSpec``, in upstream's order."""
    out: list[Cause] = []
    volumes: set[str] = set()
    for i, v in enumerate(_list(spec.get("volumes"))):
        vp = f.child(f.index(f.child(path, "volumes"), i), "name")
        vn = str(v.get("name") or "")
        if not vn:
            out.append(f.required(vp))
        else:
            out.extend(meta.validate_dns1123_label(vp, vn))
            if vn in volumes:
                out.append(f.duplicate(vp, vn))
            volumes.add(vn)
    containers = _list(spec.get("containers"))
    cpath = f.child(path, "containers")
    if not containers:
        out.append(f.required(cpath))
    names: set[str] = set()
    for i, c in enumerate(containers):
        ipath = f.index(cpath, i)
        out.extend(_validate_container(c, ipath, volumes, is_pod=is_pod))
        cname = str(c.get("name") or "")
        if cname in names:
            out.append(f.duplicate(f.child(ipath, "name"), cname))
        names.add(cname)
        out.extend(
            _validate_probe(
                c.get("livenessProbe"), f.child(ipath, "livenessProbe"), kind="liveness"
            )
        )
        out.extend(
            _validate_probe(
                c.get("readinessProbe"), f.child(ipath, "readinessProbe"), kind="readiness"
            )
        )
        out.extend(
            _validate_probe(c.get("startupProbe"), f.child(ipath, "startupProbe"), kind="startup")
        )
        if c.get("restartPolicy") is not None:
            out.append(
                f.forbidden(
                    f.child(ipath, "restartPolicy"), "may not be set for non-init containers"
                )
            )
    ipath0 = f.child(path, "initContainers")
    for i, c in enumerate(_list(spec.get("initContainers"))):
        ipath = f.index(ipath0, i)
        out.extend(_validate_container(c, ipath, volumes, is_pod=is_pod))
        cname = str(c.get("name") or "")
        if cname in names:
            out.append(f.duplicate(f.child(ipath, "name"), cname))
        names.add(cname)
    if spec.get("hostNetwork"):
        for i, c in enumerate(containers):
            for j, p in enumerate(_list(c.get("ports"))):
                hp, cp = _int(p.get("hostPort")), _int(p.get("containerPort"))
                if (is_pod or hp) and hp != cp:
                    out.append(
                        f.invalid(
                            f"{path}.containers[{i}].ports[{j}].hostPort",
                            hp,
                            "must match `containerPort` when `hostNetwork` is true",
                        )
                    )
    rp = str(spec.get("restartPolicy") or "")
    if not rp:
        out.append(f.required(f.child(path, "restartPolicy")))
    elif rp not in RESTART_POLICIES:
        out.append(f.not_supported(f.child(path, "restartPolicy"), rp, RESTART_POLICIES))
    dp = str(spec.get("dnsPolicy") or "")
    if not dp:
        out.append(f.required(f.child(path, "dnsPolicy")))
    elif dp not in DNS_POLICIES:
        out.append(f.not_supported(f.child(path, "dnsPolicy"), dp, DNS_POLICIES))
    out.extend(meta.validate_labels(f.child(path, "nodeSelector"), spec.get("nodeSelector")))
    for k, fn in (
        ("serviceAccountName", meta.name_is_dns_subdomain),
        ("nodeName", meta.name_is_dns_subdomain),
    ):
        val = str(spec.get(k) or "")
        if val:
            out.extend(f.invalid(f.child(path, k), val, m) for m in fn(val, False))
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and not 1 <= ads <= MAX_INT32:
        out.append(
            f.invalid(
                f.child(path, "activeDeadlineSeconds"),
                ads,
                meta.inclusive_range_error(1, MAX_INT32),
            )
        )
    for k in ("hostname", "subdomain"):
        val = str(spec.get(k) or "")
        if val:
            out.extend(meta.validate_dns1123_label(f.child(path, k), val))
    return out


def validate_pod_create(pod: Mapping[str, Any]) -> list[Cause]:
    """``ValidatePodCreate``: the pod, and no ephemeral containers yet."""
    from kubesvc.api.validation import ephemeral

    return [*validate_pod(pod), *ephemeral.validate_create(pod)]


def validate_pod(pod: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(pod, True, meta.name_is_dns_subdomain)
    spec = _m(pod.get("spec"))
    out.extend(validate_pod_spec(spec, "spec", is_pod=True))
    return out


def validate_pod_template(template: Any, path: str) -> list[Cause]:
    """``ValidatePodTemplateSpec``: template labels/annotations and the PodSpec."""
    if not isinstance(template, Mapping):
        return [f.required(path)]
    tmeta = _m(template.get("metadata"))
    out = meta.validate_labels(f.child(path, "labels"), tmeta.get("labels"))
    out.extend(meta.validate_annotations(f.child(path, "annotations"), tmeta.get("annotations")))
    spec = _m(template.get("spec"))
    out.extend(validate_pod_spec(spec, f.child(path, "spec"), is_pod=False))
    return out


def _munged(spec: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """The new spec with the mutable fields copied from the old one, for comparison."""
    m = dict(spec)
    for k in ("containers", "initContainers"):
        new_cs, old_cs = _list(spec.get(k)), _list(old.get(k))
        if k in spec and len(new_cs) == len(old_cs):
            m[k] = [{**n, "image": o.get("image")} for n, o in zip(new_cs, old_cs, strict=True)]
    m["activeDeadlineSeconds"] = old.get("activeDeadlineSeconds")
    old_tol = old.get("tolerations") or []
    new_tol = spec.get("tolerations") or []
    if isinstance(new_tol, list) and all(t in new_tol for t in old_tol):
        m["tolerations"] = old.get("tolerations")
    tgp_old, tgp_new = (
        old.get("terminationGracePeriodSeconds"),
        spec.get("terminationGracePeriodSeconds"),
    )
    if isinstance(tgp_old, int) and tgp_old < 0 and tgp_new == 1:
        m["terminationGracePeriodSeconds"] = tgp_old
    return {k: v for k, v in m.items() if v is not None}


def validate_pod_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(validate_pod(new))
    ns = _m(new.get("spec"))
    os_ = _m(old.get("spec"))
    oads, nads = os_.get("activeDeadlineSeconds"), ns.get("activeDeadlineSeconds")
    if oads is not None and (nads is None or (isinstance(nads, int) and nads > oads)):
        out.append(
            f.invalid(
                "spec.activeDeadlineSeconds",
                nads if nads is not None else "null",
                "must be less than or equal to previous value",
            )
        )
    munged = _munged(ns, os_)
    old_clean = {k: v for k, v in os_.items() if v is not None}
    if munged != old_clean:
        changed = sorted(
            k for k in set(munged) | set(old_clean) if munged.get(k) != old_clean.get(k)
        )
        diff = "\n".join(f"  spec.{k}: {old_clean.get(k)!r} -> {munged.get(k)!r}" for k in changed)
        out.append(
            f.forbidden(
                "spec",
                "pod updates may not change fields other than "
                + ",".join(UPDATABLE_POD_SPEC_FIELDS)
                + "\n"
                + diff,
            )
        )
    return out


def validate_pod_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    ns = _m(new.get("spec"))
    os_ = _m(old.get("spec"))
    if ns.get("nodeName") != os_.get("nodeName"):
        out.append(f.forbidden("status.nodeName", "may not be changed directly"))
    status = _m(new.get("status"))
    for i, pip in enumerate(_list(status.get("podIPs"))):
        out.extend(meta.is_valid_ip(f"status.podIPs[{i}].ip", str(pip.get("ip") or "")))
    host_ips = _list(status.get("hostIPs"))
    if host_ips and str(status.get("hostIP") or "") != str(host_ips[0].get("ip") or ""):
        out.append(
            f.invalid(
                "status.hostIPs[0].ip",
                str(host_ips[0].get("ip") or ""),
                "must be equal to `hostIP`",
            )
        )
    for i, hip in enumerate(host_ips):
        out.extend(meta.is_valid_ip(f"status.hostIPs[{i}]", str(hip.get("ip") or "")))
    return out
