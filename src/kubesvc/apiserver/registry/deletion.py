"""Deletion semantics of the generic registry (upstream ``Store.Delete`` with
``rest.BeforeDelete``, ``deletionFinalizersForGarbageCollection`` and
``shouldDeleteDuringUpdate``).

- Preconditions (``uid``, ``resourceVersion``) fail with upstream's Conflict wording.
- ``propagationPolicy``: ``Orphan`` adds the ``orphan`` finalizer, ``Foreground`` adds
  ``foregroundDeletion``, ``Background`` removes both; the garbage collector (a controller)
  does the rest and removes them.
- Graceful deletion (pods): ``deletionTimestamp = now + grace`` and
  ``deletionGracePeriodSeconds = grace``; the object stays until deleted with grace 0 (the
  node agent does that); a later delete may shorten the grace period.
- Finalizers: an object with finalizers is only marked (``deletionTimestamp = now``,
  ``deletionGracePeriodSeconds = 0``); the update that removes the last finalizer deletes it.
- Otherwise the key is deleted with compare-and-swap, and the strategy's ``after_delete``
  runs (Service IPs/ports are released there).

Called by :class:`~.core.Registry`; calls the ``Store``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from kubesvc import errors
from kubesvc.api import selectors
from kubesvc.api.objects import Obj, ensure_meta, resource_version
from kubesvc.api.resources import ResourceInfo
from kubesvc.api.timefmt import rfc3339
from kubesvc.apiserver.registry.codec import (
    conflict,
    decode,
    encode,
    not_found,
    rv_precondition,
    uid_precondition,
)
from kubesvc.client.options import DeleteOptions, ListOptions

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"
POLICIES = ("Orphan", "Background", "Foreground")
_MAX_RETRIES = 16


def should_delete_during_update(obj: Obj) -> bool:
    """An update leaves a marked object with no finalizers and no pending grace period."""
    m = obj.get("metadata") or {}
    if not m.get("deletionTimestamp") or m.get("finalizers"):
        return False
    if obj.get("kind") == "Namespace":
        return not (obj.get("spec") or {}).get("finalizers")
    return m.get("deletionGracePeriodSeconds") == 0


def check_preconditions(info: ResourceInfo, name: str, obj: Obj,
                        preconditions: dict[str, str] | None) -> None:
    if not preconditions:
        return
    m = ensure_meta(obj)
    uid = preconditions.get("uid")
    if uid and uid != m.get("uid"):
        raise uid_precondition(info, name, uid, str(m.get("uid") or ""))
    rv = preconditions.get("resourceVersion")
    if rv and rv != m.get("resourceVersion"):
        raise rv_precondition(info, name, rv, str(m.get("resourceVersion") or ""))


def _apply_policy(finalizers: list[str], policy: str) -> list[str]:
    out = list(finalizers)
    if policy == "Orphan":
        out = [f for f in out if f != FOREGROUND]
        if ORPHAN not in out:
            out.append(ORPHAN)
    elif policy == "Foreground":
        out = [f for f in out if f != ORPHAN]
        if FOREGROUND not in out:
            out.append(FOREGROUND)
    elif policy == "Background":
        out = [f for f in out if f not in (ORPHAN, FOREGROUND)]
    return out


async def delete_object(
    reg: Registry,
    info: ResourceInfo,
    name: str,
    ns: str,
    *,
    opts: DeleteOptions = DeleteOptions(),
) -> Obj:
    propagation_policy, grace_period_seconds = opts.propagation_policy, opts.grace_period_seconds
    if propagation_policy and propagation_policy not in POLICIES:
        raise errors.BadRequest(
            message=f'propagationPolicy: Unsupported value: "{propagation_policy}": supported '
            'values: "Foreground", "Background", "Orphan"'
        )
    key = reg.key(info, name, ns)
    strategy = reg.strategy(info)
    for _ in range(_MAX_RETRIES):
        kv = await reg.store.get(key)
        if kv is None:
            raise not_found(info, name)
        obj = decode(kv)
        check_preconditions(info, name, obj, opts.preconditions)
        m = ensure_meta(obj)
        finalizers = [str(f) for f in m.get("finalizers") or []]
        new_finalizers = _apply_policy(finalizers, propagation_policy)
        now = reg.now()
        marked = bool(m.get("deletionTimestamp"))
        grace = 0
        if marked:
            pending = int(m.get("deletionGracePeriodSeconds") or 0)
            grace = pending
            if grace_period_seconds is not None and pending > 0:
                requested = max(0, grace_period_seconds)
                if requested < pending:
                    grace = requested
            if grace == pending and new_finalizers == finalizers:
                if grace > 0 or finalizers:
                    return obj  # already being deleted; nothing changes
        else:
            grace = strategy.grace_period(obj, grace_period_seconds)
        if grace > 0 or new_finalizers:
            # Mark: graceful deletion pending and/or waiting for finalizers.
            if grace > 0:
                m["deletionTimestamp"] = rfc3339(now + timedelta(seconds=grace))
            elif not marked or int(m.get("deletionGracePeriodSeconds") or 0) > 0:
                m["deletionTimestamp"] = rfc3339(now)
            m["deletionGracePeriodSeconds"] = grace
            if new_finalizers:
                m["finalizers"] = new_finalizers
            else:
                m.pop("finalizers", None)
            if not marked and int(m.get("generation") or 0) > 0:
                m["generation"] = int(m["generation"]) + 1
            if opts.dry_run:
                return obj
            try:
                kv2 = await reg.store.update(
                    key, encode(obj), expected_mod_revision=kv.mod_revision
                )
            except errors.Conflict:
                continue
            except errors.NotFound:
                raise not_found(info, name) from None
            m["resourceVersion"] = resource_version(kv2.mod_revision)
            return obj
        if opts.dry_run:
            return obj
        try:
            await reg.store.delete(key, expected_mod_revision=kv.mod_revision)
        except errors.Conflict:
            continue
        except errors.NotFound:
            raise not_found(info, name) from None
        await strategy.after_delete(obj)
        return obj
    raise conflict(info, name)


async def delete_collection(
    reg: Registry,
    info: ResourceInfo,
    *,
    namespace: str | None,
    opts: DeleteOptions = DeleteOptions(),
    list_opts: ListOptions = ListOptions(),
) -> Obj:
    """Delete every object the selectors of ``list_opts`` match (each with ``opts``, without
    its preconditions); returns the ``<Kind>List`` of what was deleted or marked, as
    upstream's DeleteCollection does."""
    selectors.parse_label_selector(list_opts.label_selector)
    selectors.parse_field_selector(list_opts.field_selector, info.key)
    listed = await reg.list(info.key, namespace=namespace, opts=ListOptions(
        label_selector=list_opts.label_selector, field_selector=list_opts.field_selector,
    ))
    each = replace(opts, preconditions=None)
    items: list[Obj] = []
    for item in listed["items"]:
        m = item.get("metadata") or {}
        try:
            items.append(await delete_object(
                reg, info, str(m.get("name")), str(m.get("namespace") or ""), opts=each,
            ))
        except errors.NotFound:
            continue  # deleted meanwhile
    return {
        "kind": info.list_kind,
        "apiVersion": info.api_version,
        "metadata": {"resourceVersion": listed["metadata"]["resourceVersion"]},
        "items": items,
    }
