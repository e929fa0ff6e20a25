"""The ``scale`` subresource of Deployments/ReplicaSets (``autoscaling/v1`` Scale) and the
``binding`` subresource of Pods (upstream ``pkg/registry/apps/*/storage`` ScaleREST and
``pkg/registry/core/pod/storage`` BindingREST).

Scale: get reads ``spec.replicas`` / ``status.replicas`` / the label selector; update and
patch change only ``spec.replicas`` of the parent, guarded by the Scale's resourceVersion
(which is the parent's). Binding: sets ``spec.nodeName`` (and the ``PodScheduled``
condition, and the Binding's annotations) with compare-and-swap; a pod already bound or
being deleted is a Conflict as upstream words it.

Called by :class:`~.core.Registry`; calls the registry's update path and the ``Store``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import selectors
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.objects import Obj, ensure_meta
from kubesvc.api.patch import json_patch, merge_patch, strategic_merge_patch
from kubesvc.api.resources import BY_KEY, ResourceInfo
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry.codec import conflict, decode, encode, not_found, parse_rv
from kubesvc.client.protocol import PatchType

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

_MAX_RETRIES = 16


def _check_scalable(info: ResourceInfo) -> None:
    if "scale" not in info.subresources:
        raise errors.NotFound(message="the server could not find the requested resource")


def to_scale(obj: Obj) -> Obj:
    m = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    sel = spec.get("selector")
    if obj.get("kind") == "ReplicationController":  # a plain equality map
        selector = str(selectors.from_set(sel)) if isinstance(sel, dict) else ""
    else:
        selector = str(selectors.from_label_selector_dict(sel)) if isinstance(sel, dict) else ""
    smeta: dict[str, Any] = {
        k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in m
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": smeta,
        "spec": {"replicas": int(spec.get("replicas") or 0)},
        "status": {"replicas": int(status.get("replicas") or 0), "selector": selector},
    }


async def get_scale(reg: Registry, info: ResourceInfo, name: str, ns: str) -> Obj:
    _check_scalable(info)
    kv = await reg.store.get(reg.key(info, name, ns))
    if kv is None:
        raise not_found(info, name)
    return reg.strategy(info).scale_of(decode(kv))


async def update_scale(reg: Registry, info: ResourceInfo, scale: Obj, ns: str, *,
                       dry_run: bool = False, manager: str = "") -> Obj:
    _check_scalable(info)
    if not isinstance(scale, dict):
        raise errors.BadRequest(message="the body of the request was not a JSON object")
    reg.check_type(info, scale, kind="Scale")
    smeta = scale.get("metadata") or {}
    name = str(smeta.get("name") or "")
    replicas = (scale.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid("Scale", name, [errors.Cause(
            reason="FieldValueInvalid",
            message=f"Invalid value: {replicas}: must be greater than or equal to 0",
            field="spec.replicas",
        )], group="autoscaling")
    want_rv = parse_rv(str(smeta.get("resourceVersion") or ""))
    key = reg.key(info, name, ns)
    for _ in range(_MAX_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            raise not_found(info, name)
        if want_rv and want_rv != kv.mod_revision:
            raise conflict(info, name)
        obj = decode(kv)
        reg.strategy(info).set_scale_replicas(obj, replicas)
        try:
            updated = await reg.update_object(info, obj, ns, dry_run=dry_run, manager=manager,
                                              manager_subresource="scale")
        except errors.Conflict:
            if want_rv:
                raise
            continue
        return reg.strategy(info).scale_of(updated)
    raise conflict(info, name)


async def patch_scale(reg: Registry, info: ResourceInfo, name: str, ns: str, patch: Any, *,
                      patch_type: PatchType, dry_run: bool = False, manager: str = "") -> Obj:
    _check_scalable(info)
    for _ in range(_MAX_RETRIES):
        current = await get_scale(reg, info, name, ns)
        if patch_type == "json":
            patched = json_patch(current, patch)
        elif patch_type == "merge":
            patched = merge_patch(current, patch)
        else:
            patched = strategic_merge_patch(current, patch, api_version="autoscaling/v1",
                                            kind="Scale")
        if not isinstance(patched, dict):
            raise errors.BadRequest(message="the patched object is not a JSON object")
        prv = str((patched.get("metadata") or {}).get("resourceVersion") or "")
        explicit = prv != current["metadata"].get("resourceVersion")
        ensure_meta(patched)["name"] = name
        if not explicit:
            ensure_meta(patched)["resourceVersion"] = current["metadata"]["resourceVersion"]
        try:
            return await update_scale(reg, info, patched, ns, dry_run=dry_run, manager=manager)
        except errors.Conflict:
            if explicit:
                raise
    raise conflict(info, name)


def _binding_conflict(name: str, detail: str) -> errors.Conflict:
    return errors.Conflict(
        message=f'Operation cannot be fulfilled on pods/binding "{name}": {detail}',
        name=name, kind="pods/binding",
    )


async def bind(reg: Registry, binding: Obj, ns: str, *, name: str = "",
               dry_run: bool = False) -> Obj:
    """POST pods/{name}/binding: assign the pod to ``target.name``."""
    if not isinstance(binding, dict):
        raise errors.BadRequest(message="the body of the request was not a JSON object")
    bmeta = binding.get("metadata") or {}
    pod_name = name or str(bmeta.get("name") or "")
    if name and bmeta.get("name") and bmeta["name"] != name:
        raise errors.BadRequest(
            message=f"the name of the object ({bmeta['name']}) does not match the name on the "
            f"URL ({name})"
        )
    target = binding.get("target") or {}
    node = str(target.get("name") or "")
    if not node:
        raise errors.invalid("Binding", pod_name, [errors.Cause(
            reason="FieldValueRequired", message="Required value", field="target.name")])
    if target.get("kind") not in (None, "", "Node"):
        raise errors.invalid("Binding", pod_name, [errors.Cause(
            reason="FieldValueNotSupported",
            message=f'Unsupported value: "{target["kind"]}": supported values: "Node"',
            field="target.kind")])
    info = BY_KEY["pods"]
    key = reg.key(info, pod_name, ns)
    for _ in range(_MAX_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            raise not_found(info, pod_name)
        pod = decode(kv)
        pm = ensure_meta(pod)
        if pm.get("deletionTimestamp"):
            raise _binding_conflict(
                pod_name, f"pod {pod_name} is being deleted, cannot be assigned to a host")
        spec = pod.setdefault("spec", {})
        if spec.get("nodeName"):
            raise _binding_conflict(
                pod_name, f'pod {pod_name} is already assigned to node "{spec["nodeName"]}"')
        spec["nodeName"] = node
        if bmeta.get("annotations"):
            pm.setdefault("annotations", {}).update(deep_copy(bmeta["annotations"]))
        status = pod.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True",
                      "lastProbeTime": None, "lastTransitionTime": rfc3339(reg.now())})
        status["conditions"] = conds
        if dry_run:
            break
        try:
            await reg.store.update(key, encode(pod), expected_mod_revision=kv.mod_revision)
        except errors.Conflict:
            continue
        except errors.NotFound:
            raise not_found(info, pod_name) from None
        break
    else:
        raise _binding_conflict(pod_name, "too many concurrent changes")
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "code": 201}
