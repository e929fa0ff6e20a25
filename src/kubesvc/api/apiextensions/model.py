"""A CustomResourceDefinition read into what serving its custom resources needs.

:func:`definition` turns a stored CRD dict into a :class:`Definition`: each served
version's ``ResourceInfo`` (named with the CRD's *accepted* names, as upstream serves
only what the naming controller accepted), its schema, printer columns and subresources.
:func:`naming_status` is upstream's NamingConditionController decision
(``acceptedNames`` and the ``NamesAccepted`` condition, given the names other CRDs of the
group already hold); :func:`established` whether the CRD is served. Called by the CRD
controller and the CR strategy; calls :mod:`kubesvc.api.resources` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubesvc.api.resources import ResourceInfo, version_priority

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
CR_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str
    json_path: str
    description: str = ""
    format: str = ""
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Scale:
    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str = ""


@dataclass(slots=True)
class Version:
    name: str
    served: bool
    storage: bool
    schema: dict[str, Any] | None
    columns: tuple[Column, ...]
    status: bool
    scale: Scale | None
    deprecated: bool = False
    deprecation_warning: str | None = None
    selectable_fields: tuple[str, ...] = ()

    @property
    def has_defaults(self) -> bool:
        """Whether the schema declares any ``default`` (objects read from storage then get
        them too, as upstream's decoder applies defaults on every read)."""
        return self.schema is not None and _any_default(self.schema)


def _any_default(s: Any) -> bool:
    """Whether a schema node or any node under it declares a ``default``."""
    if not isinstance(s, Mapping):
        return False
    if "default" in s:
        return True
    props = s.get("properties")
    if isinstance(props, Mapping) and any(_any_default(v) for v in props.values()):
        return True
    return _any_default(s.get("items")) or _any_default(s.get("additionalProperties"))


@dataclass(slots=True)
class Definition:
    name: str
    uid: str
    group: str
    plural: str
    singular: str
    kind: str
    list_kind: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    namespaced: bool
    versions: dict[str, Version]
    storage_version: str
    preserve_unknown_fields: bool = False
    terminating: bool = False  # the CRD is being deleted: no more creates
    infos: list[ResourceInfo] = field(default_factory=list)

    def version(self, name: str) -> Version:
        return self.versions[name]

    @property
    def storage_api_version(self) -> str:
        return f"{self.group}/{self.storage_version}"


def _columns(raw: Any) -> tuple[Column, ...]:
    out = []
    for c in raw or []:
        if not isinstance(c, Mapping):
            continue
        out.append(Column(
            name=str(c.get("name") or ""), type=str(c.get("type") or "string"),
            json_path=str(c.get("jsonPath") or ""), description=str(c.get("description") or ""),
            format=str(c.get("format") or ""), priority=int(c.get("priority") or 0),
        ))
    return tuple(out)


def sorted_versions(names: Iterable[str]) -> list[str]:
    return sorted(names, key=lambda v: (version_priority(v), v))


def definition(crd: Mapping[str, Any]) -> Definition | None:
    """The serving model of a CRD, or None when it names nothing servable yet (no accepted
    names, or no served version)."""
    md = crd.get("metadata") or {}
    spec = crd.get("spec") or {}
    status = crd.get("status") or {}
    names = status.get("acceptedNames") or {}
    if not names.get("plural") or not names.get("kind"):
        return None
    group = str(spec.get("group") or "")
    versions: dict[str, Version] = {}
    storage = ""
    for v in spec.get("versions") or []:
        subs = v.get("subresources") or {}
        sc = subs.get("scale")
        scale = None
        if isinstance(sc, Mapping):
            scale = Scale(str(sc.get("specReplicasPath") or ""),
                          str(sc.get("statusReplicasPath") or ""),
                          str(sc.get("labelSelectorPath") or ""))
        schema = ((v.get("schema") or {}).get("openAPIV3Schema"))
        versions[str(v.get("name"))] = Version(
            name=str(v.get("name")), served=bool(v.get("served")), storage=bool(v.get("storage")),
            schema=schema if isinstance(schema, dict) else None,
            columns=_columns(v.get("additionalPrinterColumns")),
            status="status" in subs, scale=scale, deprecated=bool(v.get("deprecated")),
            deprecation_warning=v.get("deprecationWarning"),
            selectable_fields=tuple(str(s.get("jsonPath") or "")
                                    for s in v.get("selectableFields") or []),
        )
        if v.get("storage"):
            storage = str(v.get("name"))
    if not storage:
        return None
    d = Definition(
        name=str(md.get("name") or ""), uid=str(md.get("uid") or ""), group=group,
        plural=str(names["plural"]), singular=str(names.get("singular") or names["kind"].lower()),
        kind=str(names["kind"]), list_kind=str(names.get("listKind") or names["kind"] + "List"),
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        namespaced=spec.get("scope") != "Cluster", versions=versions, storage_version=storage,
        preserve_unknown_fields=bool(spec.get("preserveUnknownFields")),
        terminating=bool(md.get("deletionTimestamp")),
    )
    for vname in sorted_versions(v for v, ver in versions.items() if ver.served):
        ver = versions[vname]
        served_subs: tuple[str, ...] = ()
        if ver.status:
            served_subs += ("status",)
        if ver.scale is not None:
            served_subs += ("scale",)
        d.infos.append(ResourceInfo(
            group, vname, d.kind, d.plural, d.singular, d.namespaced, d.short_names,
            d.categories, verbs=CR_VERBS, subresources=served_subs,
            extra={"crd": d.name, "storage": "true" if vname == storage else "",
                   "storageVersion": storage},
        ))
    return d if d.infos else None


#: The definitions being served, by CRD name (set with :func:`publish`).
DEFINITIONS: dict[str, Definition] = {}


def publish(defs: Iterable[Definition]) -> None:
    """Serve exactly these definitions: their resources in :mod:`kubesvc.api.resources`,
    their schemas for OpenAPI and the CR strategy."""
    from kubesvc.api import resources

    DEFINITIONS.clear()
    infos: list[ResourceInfo] = []
    for d in defs:
        DEFINITIONS[d.name] = d
        infos.extend(d.infos)
    resources.set_custom(infos)


def for_info(info: ResourceInfo) -> Definition | None:
    return DEFINITIONS.get(info.extra.get("crd", ""))


def established(crd: Mapping[str, Any]) -> bool:
    return condition(crd, "Established") == "True"


def condition(crd: Mapping[str, Any], ctype: str) -> str:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == ctype:
            return str(c.get("status") or "")
    return ""


def _names(spec: Mapping[str, Any]) -> dict[str, Any]:
    names = dict(spec.get("names") or {})
    if names.get("kind") and not names.get("listKind"):
        names["listKind"] = f"{names['kind']}List"
    if names.get("plural") and not names.get("singular") and names.get("kind"):
        names["singular"] = str(names["kind"]).lower()
    return names


def naming_status(crd: Mapping[str, Any], others: Iterable[Mapping[str, Any]]
                  ) -> tuple[dict[str, Any], str, str, str]:
    """Upstream's naming decision: (acceptedNames, NamesAccepted status, reason, message).
    A name already accepted for another CRD of the same group is a conflict; names this CRD
    already holds stay its own."""
    spec = crd.get("spec") or {}
    group = spec.get("group")
    wanted = _names(spec)
    held_plurals: set[str] = set()
    held_kinds: set[str] = set()
    for other in others:
        if (other.get("metadata") or {}).get("name") == (crd.get("metadata") or {}).get("name"):
            continue
        if (other.get("spec") or {}).get("group") != group:
            continue
        acc = (other.get("status") or {}).get("acceptedNames") or {}
        held_plurals.update(str(x) for x in [acc.get("plural"), acc.get("singular"),
                                             *(acc.get("shortNames") or [])] if x)
        held_kinds.update(str(x) for x in [acc.get("kind"), acc.get("listKind")] if x)
    current = (crd.get("status") or {}).get("acceptedNames") or {}
    for n in ("plural", "singular"):
        if wanted.get(n) and wanted[n] in held_plurals:
            return dict(current), "False", f"{n.capitalize()}Conflict", \
                f'"{wanted[n]}" is already in use'
    for sn in wanted.get("shortNames") or []:
        if sn in held_plurals:
            return dict(current), "False", "ShortNamesConflict", f'"{sn}" is already in use'
    for n in ("kind", "listKind"):
        if wanted.get(n) and wanted[n] in held_kinds:
            reason = "KindConflict" if n == "kind" else "ListKindConflict"
            return dict(current), "False", reason, f'"{wanted[n]}" is already in use'
    return wanted, "True", "NoConflicts", "no conflicts found"
