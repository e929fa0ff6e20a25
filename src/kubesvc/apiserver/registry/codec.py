"""Storage encoding and upstream-worded errors for the generic registry.

Objects are stored as orjson bytes **without** ``metadata.resourceVersion``: the version is
the key's ``mod_revision`` and is put back on every read, as upstream's etcd3 store does.
The error builders word messages as ``k8s.io/apimachinery/pkg/api/errors`` does, naming the
qualified resource (``services``, ``deployments.apps``).

Called by every module of :mod:`kubesvc.apiserver.registry`; calls only orjson,
:mod:`kubesvc.errors` and :mod:`kubesvc.api.resources`.
"""

from __future__ import annotations

import sys
from typing import Any

import orjson

from kubesvc import errors
from kubesvc.api.objects import Obj, resource_version
from kubesvc.api.resources import ResourceInfo
from kubesvc.storage.store import KeyValue

MAX_OBJECT_BYTES = 3 * 1024 * 1024  # upstream's request body limit (3 MiB)

MSG_MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and "
    "try again"
)


def qualified(info: ResourceInfo) -> str:
    """``services`` / ``deployments.apps``: how upstream names a resource in messages."""
    return info.key


def encode(obj: Obj) -> bytes:
    """Bytes for the store: the object minus ``metadata.resourceVersion``."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" in meta:
        stripped = dict(obj)
        stripped["metadata"] = {k: v for k, v in meta.items() if k != "resourceVersion"}
        obj = stripped
    data = orjson.dumps(obj)
    if len(data) > MAX_OBJECT_BYTES:
        raise errors.RequestEntityTooLarge(
            message=f"Request entity too large: limit is {MAX_OBJECT_BYTES}"
        )
    return data


def decode(kv: KeyValue) -> Obj:
    """The API object for a stored key, with ``resourceVersion`` = ``mod_revision``."""
    obj: Obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = resource_version(kv.mod_revision)
    return obj


def decode_at(value: bytes, revision: int) -> Obj:
    obj: Obj = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = resource_version(revision)
    return obj


def intern_strings(value: Any) -> None:
    """Replace the string values inside a decoded object by interned copies, in place.
    Objects kept in informer caches repeat the same short strings ("True", "Ready", image
    names, timestamps of one second...) a hundred thousand times; orjson already shares
    dict keys. Long strings (annotations, certificates) are left alone."""
    stack = [value]
    intern = sys.intern
    while stack:
        node = stack.pop()
        slots = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in slots:  # (replacing a value in place is safe while iterating)
            if type(v) is str:
                if len(v) <= _INTERN_MAX:
                    node[k] = intern(v)
            elif isinstance(v, (dict, list)):
                stack.append(v)


_INTERN_MAX = 128


def same_content(a: Obj, b: Obj) -> bool:
    """True when two objects would store the same bytes (resourceVersion ignored).

    Python's ``!=`` settles most calls (a real change): objects unequal as Python values
    never encode alike. Equal ones are confirmed on their encodings, which also tell
    ``1`` from ``1.0`` and ``true``."""
    if a.keys() != b.keys():
        return False
    for k, v in a.items():
        if k != "metadata" and v != b[k]:
            return False
    ma, mb = a.get("metadata"), b.get("metadata")
    if isinstance(ma, dict) and isinstance(mb, dict):
        if ma.keys() - {"resourceVersion"} != mb.keys() - {"resourceVersion"}:
            return False
        if any(v != mb[k] for k, v in ma.items() if k != "resourceVersion"):
            return False
    elif ma != mb:
        return False
    return encode_unchecked(a) == encode_unchecked(b)


def encode_unchecked(obj: Obj) -> bytes:
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" in meta:
        obj = {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}}
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)


_UINT64_MAX = 2**64 - 1


def parse_rv(value: str, *, what: str = "resourceVersion") -> int:
    """A resourceVersion string as a revision; ``""`` is 0. BadRequest when not a number."""
    if not value:
        return 0
    digits = value[1:] if value[:1] in ("+", "-") else value
    if not (digits.isascii() and digits.isdigit()):  # int() would take "1_0" or " 1"
        raise errors.BadRequest(
            message=f'{what}: Invalid value: "{value}": strconv.ParseUint: parsing '
            f'"{value}": invalid syntax'
        )
    if len(digits.lstrip("0")) > 20 or int(value) > _UINT64_MAX:
        raise errors.BadRequest(
            message=f'{what}: Invalid value: "{value}": strconv.ParseUint: parsing '
            f'"{value}": value out of range'
        )
    rv = int(value)
    if rv < 0:
        raise errors.BadRequest(message=f"{what}: Invalid value: {value}: must be >= 0")
    return rv


# -- upstream-worded errors (apimachinery api/errors)


def not_found(info: ResourceInfo, name: str) -> errors.NotFound:
    return errors.NotFound(
        message=f'{qualified(info)} "{name}" not found',
        name=name, group=info.group, kind=info.plural,
    )


def already_exists(info: ResourceInfo, name: str) -> errors.AlreadyExists:
    return errors.AlreadyExists(
        message=f'{qualified(info)} "{name}" already exists',
        name=name, group=info.group, kind=info.plural,
    )


def conflict(info: ResourceInfo, name: str, detail: str = MSG_MODIFIED) -> errors.Conflict:
    return errors.Conflict(
        message=f'Operation cannot be fulfilled on {qualified(info)} "{name}": {detail}',
        name=name, group=info.group, kind=info.plural,
    )


def forbidden(info: ResourceInfo, name: str, detail: str,
              causes: list[errors.Cause] | None = None) -> errors.Forbidden:
    what = f'{qualified(info)} "{name}"' if name else qualified(info)
    return errors.Forbidden(
        message=f"{what} is forbidden: {detail}",
        name=name, group=info.group, kind=info.plural, causes=causes or [],
    )


def namespace_not_found(namespace: str) -> errors.NotFound:
    return errors.NotFound(
        message=f'namespaces "{namespace}" not found', name=namespace, kind="namespaces"
    )


def namespace_terminating(info: ResourceInfo, name: str, namespace: str) -> errors.Forbidden:
    return forbidden(
        info, name,
        f"unable to create new content in namespace {namespace} because it is being "
        "terminated",
        [errors.Cause(reason="NamespaceTerminating",
                      message=f"namespace {namespace} is being terminated",
                      field="metadata.namespace")],
    )


def uid_precondition(info: ResourceInfo, name: str, want: str, have: str) -> errors.Conflict:
    return conflict(
        info, name, f"Precondition failed: UID in precondition: {want}, UID in object meta: "
        f"{have}",
    )


def rv_precondition(info: ResourceInfo, name: str, want: str, have: str) -> errors.Conflict:
    return conflict(
        info, name, "Precondition failed: ResourceVersion in precondition: "
        f"{want}, ResourceVersion in object meta: {have}",
    )
