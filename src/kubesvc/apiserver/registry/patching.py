"""PATCH for the registry: read, apply the patch (JSON patch, merge patch, strategic merge
patch, or server-side apply: the structured merge of :mod:`kubesvc.api.fieldmanager`, with
field ownership and conflicts; an apply to an absent object creates it), then update with
compare-and-swap on the version read, retrying on conflict. A patch carrying
``metadata.resourceVersion`` is a precondition (Conflict when stale), as upstream.
Non-apply patches are recorded as Update operations of their manager by the update path.

Called by :meth:`~.core.Registry.patch`; calls :mod:`kubesvc.api.patch`,
:mod:`kubesvc.api.fieldmanager` and the registry's create/update paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import fieldmanager
from kubesvc.api import patch as apipatch
from kubesvc.api.apiextensions import model as crd_model
from kubesvc.api.fieldmanager import typed as fmtyped
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.objects import Obj, ensure_meta, resource_version
from kubesvc.api.resources import ResourceInfo, is_custom
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry import fieldvalidation
from kubesvc.apiserver.registry.codec import conflict, decode, not_found
from kubesvc.client.protocol import PatchType

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

MAX_RETRIES = 64


async def patch_object(
    reg: Registry,
    info: ResourceInfo,
    name: str,
    ns: str,
    patch: Any,
    *,
    patch_type: PatchType = "merge",
    subresource: str = "",
    dry_run: bool = False,
    field_validation: str = fieldvalidation.IN_PROCESS,
    warnings: list[str] | None = None,
    manager: str = "",
    force: bool = False,
) -> Obj:
    key = reg.key(info, name, ns)
    applying = patch_type == "apply" and reg.track_managed_fields
    if patch_type == "apply":
        _check_applied(info, patch)
    for _ in range(MAX_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            if patch_type == "apply" and not subresource:
                body = deep_copy(patch)
                ensure_meta(body).setdefault("name", name)
                if applying:
                    body = deep_copy(_apply(reg, info, None, body, manager=manager,
                                            subresource="", force=force))
                return await reg.create_object(
                    info, body, ns, dry_run=dry_run, field_validation=field_validation,
                    warnings=warnings, manager=manager, applied=applying,
                )
            raise not_found(info, name)
        current = decode(kv)
        if applying:
            patched = deep_copy(_apply(reg, info, current, patch, manager=manager,
                                       subresource=subresource, force=force))
        else:
            patched = apply_patch(info, current, patch, patch_type)
        pmeta = ensure_meta(patched)
        if pmeta.get("name") != name:
            raise errors.BadRequest(
                message=f"the name of the object ({pmeta.get('name')}) does not match the "
                f"name on the URL ({name})"
            )
        rv = str(pmeta.get("resourceVersion") or "")
        if rv and rv != resource_version(kv.mod_revision):
            raise conflict(info, name)
        pmeta["resourceVersion"] = resource_version(kv.mod_revision)
        try:
            fieldvalidation.check_fields(info, patched, field_validation, warnings, patch=True)
            return await reg.update_object(
                info, patched, ns, subresource=subresource, dry_run=dry_run, current=kv,
                current_obj=current, owned=True, field_validation=field_validation,
                warnings=warnings, manager=manager, applied=applying,
            )
        except errors.Conflict as exc:
            # Written by someone else between our read and write: patch the new state.
            # (A patch carrying a resourceVersion fails above on the re-read.)
            if "the object has been modified" not in exc.message:
                raise
    raise conflict(info, name)


def _check_applied(info: ResourceInfo, patch: Any) -> None:
    if not isinstance(patch, dict):
        raise errors.BadRequest(message="the body of the request was not a JSON object")
    av, kind = patch.get("apiVersion"), patch.get("kind")
    if (av and av != info.api_version and not _served_custom_version(info, av)) or (
            kind and kind != info.kind):
        raise errors.BadRequest(
            message=f"the object provided is unrecognized (must be of type {info.kind}): "
            f"{av}, Kind={kind}")


def _served_custom_version(info: ResourceInfo, api_version: Any) -> bool:
    """``api_version`` is another served version of the custom resource ``info`` (the
    registry's info is the storage version's; the strategy converts the body to it)."""
    d = crd_model.for_info(info) if is_custom(info) else None
    if d is None or not isinstance(api_version, str):
        return False
    group, _, version = api_version.rpartition("/")
    return group == d.group and version in d.versions and d.versions[version].served


def _apply(reg: Registry, info: ResourceInfo, live: Obj | None, config: Obj, *,
           manager: str, subresource: str, force: bool) -> Obj:
    return fieldmanager.apply(
        live, config, manager=manager, api_version=info.api_version,
        subresource=subresource, force=force, now=rfc3339(reg.now()),
        t=fmtyped.for_kind(info.api_version, info.kind),
        has_status="status" in info.subresources,
    )


def apply_patch(info: ResourceInfo, current: Obj, patch: Any, patch_type: str) -> Obj:
    result: Any
    if patch_type == "strategic" and is_custom(info):
        # custom resources have no strategic-merge metadata: upstream refuses it
        raise errors.UnsupportedMediaType(
            message="the body of the request was in an unknown format - accepted media "
            "types include: application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml")
    if patch_type == "json":
        result = apipatch.json_patch(current, patch)
    elif patch_type == "merge":
        result = apipatch.merge_patch(current, patch)
    elif patch_type in ("strategic", "apply"):
        # "apply" here only when managedFields are turned off (the registry's
        # track_managed_fields): a strategic merge of the applied configuration.
        result = apipatch.strategic_merge_patch(
            current, patch, api_version=info.api_version, kind=info.kind
        )
    else:
        raise errors.UnsupportedMediaType(
            message=f"the body of the request was in an unknown format - accepted media "
            f"types include: {', '.join(sorted(apipatch_types()))}"
        )
    if not isinstance(result, dict):
        raise errors.BadRequest(message="the patched object is not a JSON object")
    return result


def apipatch_types() -> list[str]:
    return [apipatch.JSON_PATCH, apipatch.MERGE_PATCH, apipatch.STRATEGIC_MERGE_PATCH,
            apipatch.APPLY_PATCH]
