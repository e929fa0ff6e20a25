"""Decoding of Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

kubectl's typed clients (``kubectl create namespace|service|configmap|secret|deployment``)
send protobuf bodies; this turns the ``k8s\\x00`` envelope (a ``runtime.Unknown`` with the
TypeMeta and the raw message) into the JSON dict the Registry works on, with the JSON
conventions of the Go types: Time as RFC 3339, IntOrString as int or string, Quantity as a
string, bytes as base64, RawExtension/FieldsV1 as embedded JSON. Go always writes
non-pointer scalars and structs, so zero values and empty messages are dropped (JSON
``omitempty``), except for a few pointer fields where zero means something. Field tables
come from :mod:`.schema`. Responses are never protobuf: clients take JSON. Called by
:mod:`kubesvc.apiserver.http.negotiation`.
"""

from __future__ import annotations

import base64
import datetime as dt
import struct
from typing import Any

import orjson

from kubesvc import errors
from kubesvc.apiserver.http.protobuf import certificates as _certificates
from kubesvc.apiserver.http.protobuf import networking as _networking
from kubesvc.apiserver.http.protobuf import quota as _quota
from kubesvc.apiserver.http.protobuf import schema as _generated

# The generated tables plus the hand-written ones of kinds added since.
MESSAGES = {**_generated.MESSAGES, **_certificates.MESSAGES, **_networking.MESSAGES,
            **_quota.MESSAGES}
ROOTS = {**_generated.ROOTS, **_certificates.ROOTS, **_networking.ROOTS, **_quota.ROOTS}

MAGIC = b"k8s\x00"
MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_TIME = _META + "Time"
_MICROTIME = _META + "MicroTime"
_DURATION = _META + "Duration"
_FIELDS_V1 = _META + "FieldsV1"
_INTSTR = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_RAW_EXT = "k8s.io.apimachinery.pkg.runtime.RawExtension"
# Pointer fields where an explicit zero/false differs from "unset".
_KEEP_ZERO = frozenset({
    "replicas", "automountServiceAccountToken", "immutable", "terminationGracePeriodSeconds",
    "revisionHistoryLimit", "allocateLoadBalancerNodePorts", "ready", "serving", "terminating",
})


class _Reader:
    __slots__ = ("buf", "end", "pos")

    def __init__(self, buf: bytes, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def varint(self) -> int:
        result = shift = 0
        buf = self.buf
        while True:
            if self.pos >= self.end:
                raise ValueError("truncated varint")
            b = buf[self.pos]
            self.pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 70:
                raise ValueError("varint too long")

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise ValueError("truncated field")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def fields(self) -> list[tuple[int, int, Any]]:
        out: list[tuple[int, int, Any]] = []
        while self.pos < self.end:
            key = self.varint()
            num, wire = key >> 3, key & 7
            if wire == 0:
                out.append((num, wire, self.varint()))
            elif wire == 1:
                out.append((num, wire, self.take(8)))
            elif wire == 2:
                out.append((num, wire, self.take(self.varint())))
            elif wire == 5:
                out.append((num, wire, self.take(4)))
            else:
                raise ValueError(f"unsupported wire type {wire}")
        return out


def _signed(v: int) -> int:
    """Two's complement of a varint (Go writes negative int32 sign-extended to 64 bits)."""
    return v - (1 << 64) if v >= 1 << 63 else v


def _scalar(typ: str, wire: int, raw: Any) -> Any:
    if typ == "string":
        return bytes(raw).decode("utf-8")
    if typ == "bytes":
        return base64.b64encode(raw).decode()
    if typ == "bool":
        return bool(raw)
    if typ in ("int32", "int64"):
        return _signed(raw)
    if typ in ("uint32", "uint64"):
        return int(raw)
    if typ == "double":
        return struct.unpack("<d", raw)[0]
    if typ == "float":
        return struct.unpack("<f", raw)[0]
    raise ValueError(f"unsupported scalar type {typ}")


def _packed(typ: str, data: bytes) -> list[Any]:
    r = _Reader(data)
    out: list[Any] = []
    while r.pos < r.end:
        if typ == "double":
            out.append(_scalar(typ, 1, r.take(8)))
        elif typ == "float":
            out.append(_scalar(typ, 5, r.take(4)))
        else:
            out.append(_scalar(typ, 0, r.varint()))
    return out


def _time(data: bytes, *, micro: bool) -> str | None:
    secs = nanos = 0
    for num, _, v in _Reader(data).fields():
        if num == 1:
            secs = _signed(v)
        elif num == 2:
            nanos = _signed(v)
    if secs == 0 and nanos == 0:
        return None
    t = dt.datetime.fromtimestamp(secs, dt.UTC) + dt.timedelta(microseconds=nanos // 1000)
    if micro:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _special(typ: str, data: bytes) -> tuple[bool, Any]:
    if typ == _TIME:
        return True, _time(data, micro=False)
    if typ == _MICROTIME:
        return True, _time(data, micro=True)
    if typ in (_INTSTR, _QUANTITY, _RAW_EXT, _FIELDS_V1, _DURATION):
        fields = {num: v for num, _, v in _Reader(data).fields()}
        if typ == _INTSTR:
            if fields.get(1, 0) == 1:
                return True, bytes(fields.get(3, b"")).decode()
            return True, _signed(fields.get(2, 0))
        if typ == _QUANTITY:
            return True, bytes(fields.get(1, b"")).decode() or None
        if typ == _DURATION:
            nanos = _signed(fields.get(1, 0))
            return True, f"{nanos / 1e9:g}s"
        raw = fields.get(1)
        return True, orjson.loads(raw) if raw else None
    return False, None


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == {} or v == [] or v is False or (
        isinstance(v, (int, float)) and not isinstance(v, bool) and v == 0
    )


def _message(name: str, data: bytes) -> dict[str, Any]:
    table = MESSAGES.get(name)
    if table is None:
        raise ValueError(f"no protobuf schema for {name}")
    out: dict[str, Any] = {}
    for num, wire, raw in _Reader(data).fields():
        spec = table.get(num)
        if spec is None:
            continue  # a newer field than this table knows: skip, as proto does
        jname, typ, flags = spec
        if flags == 2:
            ktype, vtype = typ.split(",", 1)
            key: Any = ""
            val: Any = None
            for enum_, ewire, ev in _Reader(raw).fields():
                if enum_ == 1:
                    key = _scalar(ktype, ewire, ev)
                elif enum_ == 2:
                    val = _value(vtype, ewire, ev)
            if val is None:
                val = "" if vtype in ("string", "bytes") else {}
            out.setdefault(jname, {})[key] = val
            continue
        if flags == 1 and wire == 2 and typ not in ("string", "bytes") and typ not in MESSAGES \
                and not typ.startswith("k8s.io"):
            out.setdefault(jname, []).extend(_packed(typ, raw))
            continue
        value = _value(typ, wire, raw)
        if not jname:  # an embedded message JSON inlines
            if isinstance(value, dict):
                out.update(value)
            continue
        if flags == 1:
            out.setdefault(jname, []).append(value)
        elif not _empty(value) or (jname in _KEEP_ZERO and value is not None):
            out[jname] = value
    return out


def _value(typ: str, wire: int, raw: Any) -> Any:
    if typ.startswith("k8s.io"):
        handled, v = _special(typ, raw)
        if handled:
            return v
        return _message(typ, raw)
    return _scalar(typ, wire, raw)


def decode(body: bytes) -> dict[str, Any]:
    """A protobuf-enveloped object as its JSON dict. Raises BadRequest."""
    if not body.startswith(MAGIC):
        raise errors.BadRequest(
            "provided data does not appear to be a protobuf message, expected prefix "
            "[107 56 115 0]"
        )
    try:
        api_version = kind = ""
        raw = b""
        for num, _, v in _Reader(body, len(MAGIC)).fields():
            if num == 1:
                for tnum, _, tv in _Reader(v).fields():
                    if tnum == 1:
                        api_version = bytes(tv).decode()
                    elif tnum == 2:
                        kind = bytes(tv).decode()
            elif num == 2:
                raw = v
        name = ROOTS.get((api_version, kind))
        if name is None:
            raise errors.BadRequest(
                f'no kind "{kind}" is registered for version "{api_version}" in protobuf'
            )
        obj = _message(name, raw)
    except (ValueError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise errors.BadRequest(f"unable to decode protobuf body: {exc}") from exc
    return {"apiVersion": api_version, "kind": kind, **obj}
