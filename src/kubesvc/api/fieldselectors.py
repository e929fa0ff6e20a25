"""Field selectors (``fieldSelector=``), parsed and matched as upstream apimachinery does.

Role: parse ``a=b,c!=d`` (``==`` too, backslash escapes in values), check each field against
the kind's supported field labels, and match objects on the kind's selectable fields.
Callers: the API server (list/watch), informers, the node agent (``spec.nodeName=``); normally
through :mod:`kubesvc.api.selectors`, which re-exports this module's API.
Calls: only :mod:`kubesvc.errors`. Pure code, no I/O.

Reference: k8s.io/apimachinery/pkg/fields/selector.go; each kind's field-label conversion
func (pkg/apis/core/v1/conversion.go, pkg/apis/events/v1/conversion.go; kinds without one use
runtime.DefaultMetaV1FieldSelectorConversion) and its registry ToSelectableFields (the values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubesvc.errors import BadRequest


def _go_quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class FieldTerm:
    field: str
    operator: str  # "=" (also for "==") or "!="
    value: str


FieldGetter = Callable[[Mapping[str, Any]], str]


class FieldSelector:
    """An AND of ``field=value`` / ``field!=value`` terms over a kind's selectable fields."""

    __slots__ = ("_fields", "terms")

    def __init__(
        self, terms: Iterable[FieldTerm] = (), fields: Mapping[str, FieldGetter] | None = None
    ) -> None:
        self.terms: tuple[FieldTerm, ...] = tuple(terms)
        # Without a kind's fieldset, a field reads by walking its dotted path in the object.
        self._fields: Mapping[str, FieldGetter] | None = fields

    @property
    def empty(self) -> bool:
        return not self.terms

    def requires_exact_match(self, field: str) -> str | None:
        for t in self.terms:
            if t.field == field and t.operator == "=":
                return t.value
        return None

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for t in self.terms:
            if self._fields is None:
                v = _get(obj, *t.field.split("."))
                have = "" if v is None else _str(v)
            else:
                getter = self._fields.get(t.field)
                have = getter(obj) if getter is not None else ""  # Set.Get of a missing key
            if (have == t.value) != (t.operator == "="):
                return False
        return True

    def __str__(self) -> str:
        esc = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})
        return ",".join(f"{t.field}{t.operator}{t.value.translate(esc)}" for t in self.terms)

    def __repr__(self) -> str:
        return f"FieldSelector({str(self)!r})"


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _unescape(value: str) -> str:
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise BadRequest(message=f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go formats the rune with %v: its code point.
            raise BadRequest(
                message=f"invalid field selector: unescaped character in value: {ord(c)}"
            )
        else:
            out.append(c)
    if in_slash:
        raise BadRequest(message="invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse_field_selector(text: str | None, resource: str | None = None) -> FieldSelector:
    """fields.ParseSelector, then the kind's field-label conversion when ``resource`` (a
    resource key such as ``pods``) is given. Raises BadRequest with upstream's messages:
    ``field label not supported: spec.foo`` for kinds with their own conversion func,
    ``"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"``
    for the rest."""
    text = text or ""
    parts = sorted(_split_terms(text)) if text else []
    terms: list[FieldTerm] = []
    for part in parts:
        if not part:
            continue
        for i in range(len(part)):
            if part.startswith("!=", i):
                lhs, op, rhs = part[:i], "!=", part[i + 2 :]
                break
            if part.startswith("==", i):
                lhs, op, rhs = part[:i], "=", part[i + 2 :]
                break
            if part.startswith("=", i):
                lhs, op, rhs = part[:i], "=", part[i + 1 :]
                break
        else:
            raise BadRequest(message=f"invalid selector: '{text}'; can't understand '{part}'")
        terms.append(FieldTerm(lhs, op, _unescape(rhs)))
    if resource is None:
        return FieldSelector(terms)
    spec = field_spec(resource)
    converted = [FieldTerm(spec.convert(t.field), t.operator, t.value) for t in terms]
    return FieldSelector(converted, spec.fields)


# --- per-kind selectable fields --------------------------------------------------------


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _s(*path: str) -> FieldGetter:
    def getter(obj: Mapping[str, Any]) -> str:
        v = _get(obj, *path)
        return "" if v is None else _str(v)

    return getter


def _bool(*path: str) -> FieldGetter:
    return lambda obj: "true" if _get(obj, *path) else "false"


def _pod_ip(obj: Mapping[str, Any]) -> str:
    ips = _get(obj, "status", "podIPs") or []
    if ips:
        return str(ips[0].get("ip") or "")
    return str(_get(obj, "status", "podIP") or "")


def _event_source(obj: Mapping[str, Any]) -> str:
    return str(_get(obj, "source", "component") or obj.get("reportingComponent") or "")


_META_FIELDS: dict[str, FieldGetter] = {
    "metadata.name": _s("metadata", "name"),
    "metadata.namespace": _s("metadata", "namespace"),
}
_CLUSTER_META_FIELDS: dict[str, FieldGetter] = {"metadata.name": _s("metadata", "name")}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What a kind's field selectors may name and how each field reads from the object."""

    fields: Mapping[str, FieldGetter]
    allowed: frozenset[str] | None = None  # None: upstream's default metadata-only conversion
    renames: Mapping[str, str] | None = None

    def convert(self, label: str) -> str:
        if self.allowed is None:
            if label in ("metadata.name", "metadata.namespace"):
                return label
            raise BadRequest(
                message=f"{_go_quote(label)} is not a known field selector: only "
                '"metadata.name", "metadata.namespace"'
            )
        if self.renames and label in self.renames:
            return self.renames[label]
        if label in self.allowed:
            return label
        raise BadRequest(message=f"field label not supported: {label}")


_EVENT_FIELDS: dict[str, FieldGetter] = {
    **_META_FIELDS,
    **{
        f"involvedObject.{k}": _s("involvedObject", k)
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": _s("reason"),
    "reportingComponent": _s("reportingComponent"),
    "source": _event_source,
    "type": _s("type"),
}
# events.k8s.io/v1 objects carry ``regarding``/``reportingController``; upstream maps the
# events.k8s.io field names onto the core fieldset, so read the v1 object the same way.
_EVENTS_V1_FIELDS: dict[str, FieldGetter] = {
    **_META_FIELDS,
    **{
        f"involvedObject.{k}": _s("regarding", k)
        for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
    },
    "reason": _s("reason"),
    "reportingComponent": _s("reportingController"),
    "source": lambda o: str(
        _get(o, "deprecatedSource", "component") or o.get("reportingController") or ""
    ),
    "type": _s("type"),
}

FIELD_SPECS: dict[str, FieldSpec] = {
    "pods": FieldSpec(
        fields={
            **_META_FIELDS,
            "spec.nodeName": _s("spec", "nodeName"),
            "spec.restartPolicy": _s("spec", "restartPolicy"),
            "spec.schedulerName": _s("spec", "schedulerName"),
            "spec.serviceAccountName": _s("spec", "serviceAccountName"),
            "spec.hostNetwork": _bool("spec", "hostNetwork"),
            "status.phase": _s("status", "phase"),
            "status.podIP": _pod_ip,
            "status.nominatedNodeName": _s("status", "nominatedNodeName"),
        },
        # status.podIPs is accepted but, as upstream, absent from the fieldset (reads as "").
        allowed=frozenset(
            {
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "spec.restartPolicy",
                "spec.schedulerName",
                "spec.serviceAccountName",
                "spec.hostNetwork",
                "status.phase",
                "status.podIP",
                "status.podIPs",
                "status.nominatedNodeName",
            }
        ),
        renames={"spec.host": "spec.nodeName"},
    ),
    "nodes": FieldSpec(
        fields={**_CLUSTER_META_FIELDS, "spec.unschedulable": _bool("spec", "unschedulable")},
        allowed=frozenset({"metadata.name", "spec.unschedulable"}),
    ),
    "namespaces": FieldSpec(
        fields={
            **_CLUSTER_META_FIELDS,
            "status.phase": _s("status", "phase"),
            "name": _s("metadata", "name"),
        },
        allowed=frozenset({"metadata.name", "status.phase"}),
    ),
    "secrets": FieldSpec(
        fields={**_META_FIELDS, "type": _s("type")},
        allowed=frozenset({"metadata.name", "metadata.namespace", "type"}),
    ),
    "services": FieldSpec(
        fields={
            **_META_FIELDS,
            "spec.clusterIP": _s("spec", "clusterIP"),
            "spec.type": _s("spec", "type"),
        },
        allowed=frozenset({"metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type"}),
    ),
    "events": FieldSpec(fields=_EVENT_FIELDS, allowed=frozenset(_EVENT_FIELDS)),
    "events.events.k8s.io": FieldSpec(
        fields=_EVENTS_V1_FIELDS,
        allowed=frozenset({"metadata.name", "metadata.namespace", "reason", "type"}),
        renames={
            **{
                f"regarding.{k}": f"involvedObject.{k}"
                for k in (
                    "kind",
                    "namespace",
                    "name",
                    "uid",
                    "apiVersion",
                    "resourceVersion",
                    "fieldPath",
                )
            },
            "reportingController": "reportingComponent",
        },
    ),
    # ReplicaSets: upstream's registry computes status.replicas but apps/v1 registers no
    # conversion func, so the API only accepts metadata.* (kubernetes#135136).
    "certificatesigningrequests.certificates.k8s.io": FieldSpec(
        fields={**_META_FIELDS, "spec.signerName": _s("spec", "signerName")},
        allowed=frozenset({"metadata.name", "spec.signerName"}),
    ),
}


def field_spec(resource: str) -> FieldSpec:
    """The field-selector rules for a resource key; metadata-only for kinds without any;
    for a custom resource, metadata plus its CRD version's ``selectableFields``."""
    found = FIELD_SPECS.get(resource)
    if found is not None:
        return found
    custom = _custom_spec(resource)
    return custom if custom is not None else FieldSpec(fields=_META_FIELDS)


def _custom_spec(resource: str) -> FieldSpec | None:
    """Upstream's CR field label conversion: ``metadata.name``, ``metadata.namespace`` and
    the storage version's ``selectableFields`` (``field label not supported: x`` else)."""
    from kubesvc.api import resources
    from kubesvc.api.apiextensions import model

    info = resources.BY_KEY.get(resource)
    if info is None or not resources.is_custom(info):
        return None
    d = model.for_info(info)
    if d is None:
        return None
    fields: dict[str, FieldGetter] = dict(_META_FIELDS if d.namespaced
                                          else _CLUSTER_META_FIELDS)
    fields.setdefault("metadata.namespace", _s("metadata", "namespace"))
    for path in d.versions[d.storage_version].selectable_fields:
        fields[path.lstrip(".")] = _json_path_getter(path)
    return FieldSpec(fields=fields, allowed=frozenset(fields))


def _json_path_getter(path: str) -> FieldGetter:
    steps = [p for p in path.lstrip(".").split(".") if p]

    def get(obj: Mapping[str, Any]) -> str:
        v: Any = obj
        for step in steps:
            v = v.get(step) if isinstance(v, Mapping) else None
        if isinstance(v, bool):
            return "true" if v else "false"
        return "" if v is None or isinstance(v, dict | list) else str(v)

    return get
