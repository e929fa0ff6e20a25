"""Ephemeral containers (``kubectl debug``): upstream's ``validateEphemeralContainers`` and
``ValidatePodEphemeralContainersUpdate``.

An ephemeral container is validated as a container (name, image, env, mounts, pull and
termination-message policies), its name must be unique across containers, init containers
and ephemeral containers, ``targetContainerName`` must name a (non-ephemeral) container,
and only the fields upstream allows may be set (no ports, probes, lifecycle, resources,
resizePolicy, restartPolicy; no ``subPath``/``subPathExpr`` mounts). Through the
``pods/ephemeralcontainers`` subresource existing ephemeral containers may neither be
removed nor changed; a Pod may not be created with any.

Called by :mod:`kubesvc.api.validation` (pod create) and the pod strategy of the registry
(the subresource update).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.errors import Cause

PATH = "spec.ephemeralContainers"
ERR = "cannot be set for an Ephemeral Container"
# Upstream's allowedEphemeralContainerFields, false entries (the JSON names).
DISALLOWED = ("ports", "resources", "resizePolicy", "restartPolicy", "livenessProbe",
              "readinessProbe", "startupProbe", "lifecycle")


def _list(v: Any) -> list[Mapping[str, Any]]:
    return [x if isinstance(x, Mapping) else {} for x in v] if isinstance(v, list) else []


def _empty(v: Any) -> bool:
    return v is None or v == {} or v == [] or v == "" or v is False


def validate_ephemeral_containers(pod: Mapping[str, Any]) -> list[Cause]:
    """``validateEphemeralContainers`` over ``pod.spec``."""
    from kubesvc.api.validation.pod import container_causes

    spec = pod.get("spec") if isinstance(pod.get("spec"), Mapping) else {}
    assert isinstance(spec, Mapping)
    ecs = _list(spec.get("ephemeralContainers"))
    if not ecs:
        return []
    volumes = {str(v.get("name") or "") for v in _list(spec.get("volumes"))}
    others = {str(c.get("name") or "") for k in ("containers", "initContainers")
              for c in _list(spec.get(k))}
    names = set(others)
    out: list[Cause] = []
    for i, ec in enumerate(ecs):
        ip = f.index(PATH, i)
        out.extend(container_causes(ec, ip, volumes))
        name = str(ec.get("name") or "")
        if name in names:
            out.append(f.duplicate(f.child(ip, "name"), name))
        else:
            names.add(name)
        target = str(ec.get("targetContainerName") or "")
        if target and target not in others:
            out.append(f.not_found(f.child(ip, "targetContainerName"), target))
        out.extend(f.forbidden(f.child(ip, k), ERR) for k in DISALLOWED
                   if not _empty(ec.get(k)))
        for j, vm in enumerate(_list(ec.get("volumeMounts"))):
            for k in ("subPath", "subPathExpr"):
                if vm.get(k):
                    out.append(f.forbidden(
                        f.child(f.index(f.child(ip, "volumeMounts"), j), k), ERR))
    return out


def validate_create(pod: Mapping[str, Any]) -> list[Cause]:
    """``ValidatePodCreate``'s rule: ephemeral containers come only through the
    subresource."""
    spec = pod.get("spec")
    if isinstance(spec, Mapping) and _list(spec.get("ephemeralContainers")):
        return [f.forbidden(PATH, "cannot be set on create")]
    return []


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    return "\n".join(f"  {k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys)


def validate_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """``ValidatePodEphemeralContainersUpdate``: metadata rules, the ephemeral containers
    themselves, and that existing ones stay as they were."""
    out = meta.validate_object_meta_update(new, old)
    out.extend(validate_ephemeral_containers(new))
    annotations = (old.get("metadata") or {}).get("annotations") or {}
    if "kubernetes.io/config.mirror" in annotations:
        return [f.forbidden("", "static pods do not support ephemeral containers")]
    new_by_name = {str(c.get("name") or ""): c for c in
                   _list((new.get("spec") or {}).get("ephemeralContainers"))}
    for oc in _list((old.get("spec") or {}).get("ephemeralContainers")):
        name = str(oc.get("name") or "")
        nc = new_by_name.get(name)
        if nc is None:
            out.append(f.forbidden(
                PATH, f'existing ephemeral containers "{name}" may not be removed\n'))
        elif dict(nc) != dict(oc):
            out.append(f.forbidden(
                f.key(PATH, name),
                f'existing ephemeral containers "{name}" may not be changed\n{_diff(oc, nc)}'))
    return out
