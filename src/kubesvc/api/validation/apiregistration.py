"""Validation of apiregistration.k8s.io/v1 APIService, as the kube-aggregator's
``ValidateAPIService``: the name is ``<version>.<group>``, the version a DNS-1035 label,
the priorities in range, and a Local APIService (no ``spec.service``) carries no TLS
settings. Called through :mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats as fmt
from kubesvc.errors import Cause


def _any_name(name: str, prefix: bool) -> list[str]:
    return []  # only a path segment (checked by validate_object_meta); version.group below


def _spec(obj: Mapping[str, Any]) -> list[Cause]:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    out: list[Cause] = []
    group = str(spec.get("group") or "")
    version = str(spec.get("version") or "")
    name = str((obj.get("metadata") or {}).get("name") or "")
    if name != f"{version}.{group}":
        out.append(f.invalid("metadata.name", name, 'must be `spec.version+"."+spec.group`'))
    if not group and version != "v1":
        out.append(f.required("spec.group",
                              "only v1 may have an empty group and it better be legacy kube"))
    if group:
        out += [f.invalid("spec.group", group, m) for m in fmt.is_dns1123_subdomain(group)]
    if not version:
        out.append(f.required("spec.version"))
    else:
        out += [f.invalid("spec.version", version, m) for m in fmt.is_dns1035_label(version)]
    gpm = spec.get("groupPriorityMinimum")
    if not isinstance(gpm, int) or not 0 < gpm <= 20000:
        out.append(f.invalid("spec.groupPriorityMinimum", gpm,
                             "must be positive and less than 20000"))
    vp = spec.get("versionPriority")
    if not isinstance(vp, int) or not 0 < vp <= 1000:
        out.append(f.invalid("spec.versionPriority", vp, "must be positive and less than 1000"))
    service = spec.get("service")
    if not service:
        if spec.get("caBundle"):
            out.append(f.invalid("spec.caBundle", f"{len(str(spec['caBundle']))} bytes",
                                 "local APIServices may not have a caBundle"))
        if spec.get("insecureSkipTLSVerify"):
            out.append(f.invalid("spec.insecureSkipTLSVerify", True,
                                 "local APIServices may not have insecureSkipTLSVerify"))
    elif isinstance(service, dict):
        if not service.get("namespace"):
            out.append(f.required("spec.service.namespace"))
        if not service.get("name"):
            out.append(f.required("spec.service.name"))
        port = service.get("port")
        if port is not None and (not isinstance(port, int) or fmt.is_valid_port_num(port)):
            out.append(f.invalid("spec.service.port", port,
                                 fmt.inclusive_range_error(1, 65535)))
    return out


def validate_apiservice(obj: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta(obj, False, _any_name) + _spec(obj)


def validate_apiservice_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _spec(new)
