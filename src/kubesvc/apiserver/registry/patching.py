"""PATCH for the registry: read, apply the patch (JSON patch, merge patch, strategic merge
patch; server-side apply approximated by a strategic merge of the applied configuration, with
no managedFields), then update with compare-and-swap on the version read, retrying on
conflict. A patch carrying ``metadata.resourceVersion`` is a precondition (Conflict when
stale), as upstream.

Called by :meth:`~.core.Registry.patch`; calls :mod:`kubesvc.api.patch` and the registry's
create/update paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kubesvc import errors
from kubesvc.api import patch as apipatch
from kubesvc.api.jsonvalue import deep_copy
from kubesvc.api.objects import Obj, ensure_meta, resource_version
from kubesvc.api.resources import ResourceInfo, is_custom
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
) -> Obj:
    key = reg.key(info, name, ns)
    for _ in range(MAX_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            if patch_type == "apply" and not subresource:
                body = deep_copy(patch)
                ensure_meta(body).setdefault("name", name)
                return await reg.create_object(
                    info, body, ns, dry_run=dry_run, field_validation=field_validation,
                    warnings=warnings,
                )
            raise not_found(info, name)
        current = decode(kv)
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
                warnings=warnings,
            )
        except errors.Conflict as exc:
            # Written by someone else between our read and write: patch the new state.
            # (A patch carrying a resourceVersion fails above on the re-read.)
            if "the object has been modified" not in exc.message:
                raise
    raise conflict(info, name)


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
        # "apply" is approximated by a strategic merge of the applied configuration
        # (no managedFields / field ownership).
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
