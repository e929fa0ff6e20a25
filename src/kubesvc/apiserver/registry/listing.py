"""List semantics: selectors, ``limit``/``continue`` and ``resourceVersion``
(upstream ``etcd3.store.GetList`` and the cacher's list rules).

- ``resourceVersion`` ``""`` or ``"0"``: the most recent state. ``N`` without ``limit``: not
  older than N (served at the current revision); ``N`` with ``limit`` or
  ``resourceVersionMatch=Exact``: exactly at revision N (410 Gone when compacted). ``N``
  beyond the store's revision: 504 ``Too large resource version``, as upstream answers after
  its wait.
- ``limit`` returns at most that many matching items and a ``continue`` token that encodes
  the list revision and the last key returned (upstream's format: base64 of
  ``{"v":"meta.k8s.io/v1","rv":R,"start":"<key>\\u0000"}``), so every page is read at the
  same revision; a token whose revision was compacted gives upstream's 410 message.
- Selectors filter while reading, so a page holds ``limit`` *matching* items.

Called by :class:`~.core.Registry`; calls the ``Store`` and :mod:`kubesvc.api.selectors`.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

import orjson

from kubesvc import errors
from kubesvc.api import selectors
from kubesvc.api.objects import Obj, resource_version
from kubesvc.api.resources import ResourceInfo
from kubesvc.apiserver.registry.codec import decode_at, parse_rv
from kubesvc.client.options import ListOptions

if TYPE_CHECKING:
    from kubesvc.apiserver.registry.core import Registry

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)
_FILTERED_BATCH = 500


def encode_continue(revision: int, relative_key: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": relative_key + "\x00"})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    """(revision, relative key to continue after)."""
    bad = errors.BadRequest(message=f"continue key is not valid: {token!s}")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        doc = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(doc, dict) or doc.get("v") != "meta.k8s.io/v1":
        raise bad
    rv, start = doc.get("rv"), doc.get("start")
    if not isinstance(rv, int) or rv <= 0 or not isinstance(start, str) or not start:
        raise bad
    start = start.removesuffix("\x00")
    if start.startswith("/") or ".." in start.split("/"):
        raise bad
    return rv, start


def list_envelope(info: ResourceInfo, revision: int, items: list[Obj],
                  continue_token: str = "") -> Obj:
    md: dict[str, str] = {"resourceVersion": resource_version(revision)}
    if continue_token:
        md["continue"] = continue_token
    return {"kind": info.list_kind, "apiVersion": info.api_version, "metadata": md,
            "items": items}


async def list_objects(
    reg: Registry,
    info: ResourceInfo,
    *,
    namespace: str | None,
    opts: ListOptions = ListOptions(),
) -> Obj:
    lsel = selectors.parse_label_selector(opts.label_selector)
    fsel = selectors.parse_field_selector(opts.field_selector, info.key)
    limit = opts.limit
    filtered = not lsel.empty or not fsel.empty
    prefix = info.storage_prefix(namespace or None)
    if opts.resource_version_match not in ("", "Exact", "NotOlderThan"):
        raise errors.BadRequest(
            message="resourceVersionMatch: Unsupported value: "
            f'"{opts.resource_version_match}": supported values: "Exact", "NotOlderThan"'
        )
    start_after = ""
    if opts.continue_token:
        if opts.resource_version and opts.resource_version != "0":
            raise errors.BadRequest(
                message="specifying resource version is not allowed when using continue"
            )
        revision, rel = decode_continue(opts.continue_token)
        start_after = prefix + rel
    else:
        rv = parse_rv(opts.resource_version)
        if opts.resource_version_match and not opts.resource_version:
            raise errors.BadRequest(
                message="resourceVersionMatch is forbidden unless resourceVersion is provided"
            )
        if opts.resource_version_match == "Exact" and not rv:
            raise errors.BadRequest(
                message='resourceVersionMatch "Exact" is forbidden for resourceVersion "0"'
            )
        current = await reg.store.revision()
        if rv > current:
            raise errors.Timeout(
                message=f"Too large resource version: {rv}, current: {current}",
                retry_after_seconds=1,
            )
        exact = opts.resource_version_match == "Exact" or (
            bool(limit) and rv > 0 and opts.resource_version_match == ""
        )
        revision = rv if exact else 0
    items: list[Obj] = []
    next_token = ""
    batch = 0 if not limit else (max(limit, _FILTERED_BATCH) if filtered else limit)
    while True:
        try:
            page = await reg.store.list(prefix, revision=revision, limit=batch,
                                        start_after=start_after)
        except errors.Gone:
            if opts.continue_token:
                raise errors.Gone(message=CONTINUE_EXPIRED) from None
            raise errors.Gone(
                message="The resourceVersion for the provided list is too old."
            ) from None
        revision = page.revision
        full = False
        for i, kv in enumerate(page.items):
            obj = decode_at(kv.value, kv.mod_revision)
            if not filtered or (lsel.matches((obj.get("metadata") or {}).get("labels"))
                                and fsel.matches(obj)):
                items.append(obj)
            if limit and len(items) >= limit:
                full = True
                if i + 1 < len(page.items) or page.more:
                    next_token = encode_continue(revision, kv.key[len(prefix):])
                break
        if full or not page.more or not page.items:
            break
        start_after = page.items[-1].key
    return list_envelope(info, revision, items, next_token)
