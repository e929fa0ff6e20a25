"""Object metadata: ObjectMeta validation, names, generateName, system fields.

``validate_object_meta`` / ``validate_object_meta_update`` return
:class:`kubesvc.errors.Cause` lists with upstream field paths and messages (apimachinery
``ValidateObjectMeta[Update]``); the per-kind validators in :mod:`kubesvc.api.validation`
call them. The API server's create/update helpers call :func:`ensure_namespace`,
:func:`apply_generate_name`, :func:`fill_system_fields`, :func:`prepare_meta_for_update`,
:func:`spec_changed` and :func:`uses_generation`. The string/IP validators
(``is_dns1123_label``, ``is_qualified_name``, ``parse_ip``, ``is_valid_cidr``...) live in
:mod:`kubesvc.api.validation.formats` and are re-exported here. Pure code: the clock, uid
and random source are parameters with defaults.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kubesvc.api.timefmt import rfc3339
from kubesvc.api.validation import field as f
from kubesvc.api.validation.formats import (  # re-exported: import them from here
    CONFIG_MAP_KEY_FMT as CONFIG_MAP_KEY_FMT,
)
from kubesvc.api.validation.formats import (
    DNS1035_LABEL_FMT as DNS1035_LABEL_FMT,
)
from kubesvc.api.validation.formats import (
    DNS1035_LABEL_MAX as DNS1035_LABEL_MAX,
)
from kubesvc.api.validation.formats import (
    DNS1123_LABEL_FMT as DNS1123_LABEL_FMT,
)
from kubesvc.api.validation.formats import (
    DNS1123_LABEL_MAX as DNS1123_LABEL_MAX,
)
from kubesvc.api.validation.formats import (
    DNS1123_SUBDOMAIN_FMT as DNS1123_SUBDOMAIN_FMT,
)
from kubesvc.api.validation.formats import (
    DNS1123_SUBDOMAIN_MAX as DNS1123_SUBDOMAIN_MAX,
)
from kubesvc.api.validation.formats import (
    FIELD_IMMUTABLE as FIELD_IMMUTABLE,
)
from kubesvc.api.validation.formats import (
    HTTP_HEADER_NAME_FMT as HTTP_HEADER_NAME_FMT,
)
from kubesvc.api.validation.formats import (
    IS_NEGATIVE as IS_NEGATIVE,
)
from kubesvc.api.validation.formats import (
    LABEL_VALUE_FMT as LABEL_VALUE_FMT,
)
from kubesvc.api.validation.formats import (
    LABEL_VALUE_MAX as LABEL_VALUE_MAX,
)
from kubesvc.api.validation.formats import (
    PERCENT_FMT as PERCENT_FMT,
)
from kubesvc.api.validation.formats import (
    QUALIFIED_NAME_FMT as QUALIFIED_NAME_FMT,
)
from kubesvc.api.validation.formats import (
    QUALIFIED_NAME_MAX as QUALIFIED_NAME_MAX,
)
from kubesvc.api.validation.formats import (
    TOTAL_ANNOTATION_SIZE_LIMIT as TOTAL_ANNOTATION_SIZE_LIMIT,
)
from kubesvc.api.validation.formats import (
    inclusive_range_error as inclusive_range_error,
)
from kubesvc.api.validation.formats import (
    is_config_map_key as is_config_map_key,
)
from kubesvc.api.validation.formats import (
    is_dns1035_label as is_dns1035_label,
)
from kubesvc.api.validation.formats import (
    is_dns1123_label as is_dns1123_label,
)
from kubesvc.api.validation.formats import (
    is_dns1123_subdomain as is_dns1123_subdomain,
)
from kubesvc.api.validation.formats import (
    is_http_header_name as is_http_header_name,
)
from kubesvc.api.validation.formats import (
    is_ipv6 as is_ipv6,
)
from kubesvc.api.validation.formats import (
    is_qualified_name as is_qualified_name,
)
from kubesvc.api.validation.formats import (
    is_valid_cidr as is_valid_cidr,
)
from kubesvc.api.validation.formats import (
    is_valid_ip as is_valid_ip,
)
from kubesvc.api.validation.formats import (
    is_valid_ipv4 as is_valid_ipv4,
)
from kubesvc.api.validation.formats import (
    is_valid_ipv6 as is_valid_ipv6,
)
from kubesvc.api.validation.formats import (
    is_valid_label_value as is_valid_label_value,
)
from kubesvc.api.validation.formats import (
    is_valid_percent as is_valid_percent,
)
from kubesvc.api.validation.formats import (
    is_valid_port_name as is_valid_port_name,
)
from kubesvc.api.validation.formats import (
    is_valid_port_num as is_valid_port_num,
)
from kubesvc.api.validation.formats import (
    max_len_error as max_len_error,
)
from kubesvc.api.validation.formats import (
    parse_cidr as parse_cidr,
)
from kubesvc.api.validation.formats import (
    parse_ip as parse_ip,
)
from kubesvc.api.validation.formats import (
    regex_error as regex_error,
)
from kubesvc.api.validation.formats import (
    validate_annotations as validate_annotations,
)
from kubesvc.api.validation.formats import (
    validate_dns1123_label as validate_dns1123_label,
)
from kubesvc.api.validation.formats import (
    validate_dns1123_subdomain as validate_dns1123_subdomain,
)
from kubesvc.api.validation.formats import (
    validate_immutable as validate_immutable,
)
from kubesvc.api.validation.formats import (
    validate_labels as validate_labels,
)
from kubesvc.api.validation.formats import (
    validate_non_special_ip as validate_non_special_ip,
)
from kubesvc.api.validation.formats import (
    validate_nonnegative as validate_nonnegative,
)
from kubesvc.api.validation.formats import (
    validate_qualified_name as validate_qualified_name,
)
from kubesvc.errors import BadRequest, Cause

# --- names --------------------------------------------------------------------------------

NameFn = Callable[[str, bool], list[str]]


def _mask_trailing_dash(name: str) -> str:
    # A generateName prefix may end in '-': a suffix will follow it.
    return name[:-2] + "a" if len(name) > 1 and name.endswith("-") else name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


def name_is_dns1035_label(name: str, prefix: bool) -> list[str]:
    return is_dns1035_label(_mask_trailing_dash(name) if prefix else name)


def validate_path_segment_name(name: str, prefix: bool) -> list[str]:
    """Every name must be usable as a URL path segment (upstream ``ValidatePathSegmentName``)."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


# --- ObjectMeta --------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def validate_object_meta(
    obj: Mapping[str, Any], namespaced: bool, name_fn: NameFn, path: str = "metadata"
) -> list[Cause]:
    """Upstream ``ValidateObjectMeta`` (+ the generic path-segment name check the REST layer
    runs after it)."""
    meta = _meta(obj)
    out: list[Cause] = []
    gen_name = str(meta.get("generateName") or "")
    name = str(meta.get("name") or "")
    if gen_name:
        out.extend(
            f.invalid(f.child(path, "generateName"), gen_name, m) for m in name_fn(gen_name, True)
        )
    if not name:
        out.append(f.required(f.child(path, "name"), "name or generateName is required"))
    else:
        out.extend(f.invalid(f.child(path, "name"), name, m) for m in name_fn(name, False))
    out.extend(_validate_meta_common(meta, namespaced, path))
    if name:
        out.extend(
            f.invalid(f.child(path, "name"), name, m)
            for m in validate_path_segment_name(name, False)
        )
    return out


def _validate_meta_common(meta: Mapping[str, Any], namespaced: bool, path: str) -> list[Cause]:
    out: list[Cause] = []
    ns = str(meta.get("namespace") or "")
    if namespaced:
        if not ns:
            out.append(f.required(f.child(path, "namespace")))
        else:
            out.extend(
                f.invalid(f.child(path, "namespace"), ns, m) for m in name_is_dns_label(ns, False)
            )
    elif ns:
        out.append(f.forbidden(f.child(path, "namespace"), "not allowed on this type"))
    gen = meta.get("generation")
    if isinstance(gen, int):
        out.extend(validate_nonnegative(f.child(path, "generation"), gen))
    out.extend(validate_labels(f.child(path, "labels"), meta.get("labels")))
    out.extend(validate_annotations(f.child(path, "annotations"), meta.get("annotations")))
    out.extend(
        _validate_owner_references(f.child(path, "ownerReferences"), meta.get("ownerReferences"))
    )
    out.extend(validate_finalizers(f.child(path, "finalizers"), meta.get("finalizers")))
    return out


def _validate_owner_references(path: str, refs: Any) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(refs, list):
        return out
    controller = ""
    for ref in refs:
        if not isinstance(ref, Mapping):
            continue
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        if not api_version.rpartition("/")[2]:
            out.append(
                f.invalid(f.child(path, "apiVersion"), api_version, "version must not be empty")
            )
        if not kind:
            out.append(f.invalid(f.child(path, "kind"), kind, "must not be empty"))
        if not ref.get("name"):
            out.append(
                f.invalid(f.child(path, "name"), str(ref.get("name") or ""), "must not be empty")
            )
        if not ref.get("uid"):
            out.append(
                f.invalid(f.child(path, "uid"), str(ref.get("uid") or ""), "must not be empty")
            )
        if api_version == "v1" and kind == "Event":
            out.append(
                f.invalid(
                    path,
                    f.GoRaw("v1.OwnerReference{...}"),
                    "/v1, Kind=Event is disallowed from being an owner",
                )
            )
        if ref.get("controller") is True:
            cur = f"{kind}/{ref.get('name') or ''}"
            if controller:
                out.append(
                    f.invalid(
                        path,
                        f.GoRaw("[]v1.OwnerReference{...}"),
                        "Only one reference can have Controller set to true. Found "
                        f'"true" in references for {controller} and {cur}',
                    )
                )
            else:
                controller = cur
    return out


def validate_finalizers(path: str, finalizers: Any) -> list[Cause]:
    out: list[Cause] = []
    if not isinstance(finalizers, list):
        return out
    for fin in finalizers:
        out.extend(validate_qualified_name(path, str(fin)))
    if "orphan" in finalizers and "foregroundDeletion" in finalizers:
        out.append(
            f.invalid(
                path, finalizers, "finalizer orphan and foregroundDeletion cannot be both set"
            )
        )
    return out


def validate_object_meta_update(
    new: Mapping[str, Any], old: Mapping[str, Any], path: str = "metadata"
) -> list[Cause]:
    """Upstream ``ValidateObjectMetaUpdate``: system fields immutable, resourceVersion
    required, generation never decremented, labels/annotations still valid."""
    nm, om = _meta(new), _meta(old)
    out: list[Cause] = []
    if om.get("deletionTimestamp"):
        extra = sorted(set(nm.get("finalizers") or []) - set(om.get("finalizers") or []))
        if extra:
            out.append(
                f.forbidden(
                    f.child(path, "finalizers"),
                    "no new finalizers can be added if the object is being deleted, found new "
                    f"finalizers {f.go_value(extra)}",
                )
            )
    rv = str(nm.get("resourceVersion") or "")
    if not rv:
        out.append(
            f.invalid(f.child(path, "resourceVersion"), rv, "must be specified for an update")
        )
    ng, og = nm.get("generation") or 0, om.get("generation") or 0
    if isinstance(ng, int) and isinstance(og, int) and ng < og:
        out.append(f.invalid(f.child(path, "generation"), ng, "must not be decremented"))
    for fld in (
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        nv, ov = nm.get(fld), om.get(fld)
        if (nv or None) != (ov or None):
            shown = nv if nv is not None else ""
            out.append(f.invalid(f.child(path, fld), shown, FIELD_IMMUTABLE))
    out.extend(validate_labels(f.child(path, "labels"), nm.get("labels")))
    out.extend(validate_annotations(f.child(path, "annotations"), nm.get("annotations")))
    out.extend(
        _validate_owner_references(f.child(path, "ownerReferences"), nm.get("ownerReferences"))
    )
    out.extend(validate_finalizers(f.child(path, "finalizers"), nm.get("finalizers")))
    return out


# --- system fields, generateName, namespace ----------------------------------------------

# Kinds whose strategies track metadata.generation upstream (PrepareForCreate sets 1).
_GENERATION_KINDS = frozenset(
    {
        "deployments.apps",
        "replicasets.apps",
        "endpointslices.discovery.k8s.io",
        "ingresses.networking.k8s.io",
        "ingressclasses.networking.k8s.io",
        "networkpolicies.networking.k8s.io",  # issue 23
        "statefulsets.apps",  # issue 21
        # issue 21 kinds
        "jobs.batch",
        "cronjobs.batch",
        "daemonsets.apps",
        "replicationcontrollers",
        "poddisruptionbudgets.policy",
    }
)

_GEN_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # upstream names.SimpleNameGenerator
_MAX_GENERATED_PREFIX = 63 - 5


def generate_name(prefix: str, *, rng: random.Random | None = None) -> str:
    """``SimpleNameGenerator``: prefix truncated to 58 chars + 5 random characters."""
    r = rng or random.SystemRandom()
    base = prefix[:_MAX_GENERATED_PREFIX]
    return base + "".join(r.choice(_GEN_ALPHABET) for _ in range(5))


def apply_generate_name(obj: dict[str, Any], *, rng: random.Random | None = None) -> None:
    """Set ``metadata.name`` from ``generateName`` when the name is empty."""
    meta = obj.setdefault("metadata", {})
    if meta.get("generateName") and not meta.get("name"):
        meta["name"] = generate_name(str(meta["generateName"]), rng=rng)


def ensure_namespace(obj: dict[str, Any], request_namespace: str, *, namespaced: bool) -> None:
    """``EnsureObjectNamespaceMatchesRequestNamespace``: fill an empty namespace from the
    request, clear it for cluster-scoped kinds, reject a mismatch (BadRequest)."""
    meta = obj.setdefault("metadata", {})
    want = request_namespace if namespaced else ""
    have = str(meta.get("namespace") or "")
    if have == want:
        return
    if not have:
        meta["namespace"] = want
    elif not want:
        meta.pop("namespace", None)
    else:
        raise BadRequest(
            message="the namespace of the provided object does not match the namespace sent "
            "on the request"
        )


def fill_system_fields(
    resource_key: str, obj: dict[str, Any], *, now: datetime | None = None, uid: str | None = None
) -> None:
    """On create: new ``uid``, ``creationTimestamp``; ``generation: 1`` for kinds that track
    it; clear fields a client may not set (deletionTimestamp, deletionGracePeriodSeconds,
    resourceVersion is the store's)."""
    meta = obj.setdefault("metadata", {})
    meta["uid"] = uid or str(uuid.uuid4())
    meta["creationTimestamp"] = rfc3339(now)
    meta.pop("deletionTimestamp", None)
    meta.pop("deletionGracePeriodSeconds", None)
    meta.pop("resourceVersion", None)
    meta.pop("selfLink", None)
    if resource_key in _GENERATION_KINDS:
        meta["generation"] = 1
    else:
        meta.pop("generation", None)


def uses_generation(resource_key: str) -> bool:
    return resource_key in _GENERATION_KINDS


def spec_changed(resource_key: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Generation bump rule: anything outside ``metadata``/``status`` (and ``apiVersion``/
    ``kind``) changed. As upstream, EndpointSlices also bump on label changes and
    Deployments on annotation changes (they are copied to the ReplicaSets)."""
    skip = {"metadata", "status", "apiVersion", "kind"}
    keys = (set(old) | set(new)) - skip
    if any(old.get(k) != new.get(k) for k in keys):
        return True
    extra = {"endpointslices.discovery.k8s.io": "labels", "deployments.apps": "annotations"}
    fld = extra.get(resource_key)
    if fld:
        return (_meta(old).get(fld) or {}) != (_meta(new).get(fld) or {})
    return False


def prepare_meta_for_update(
    resource_key: str, new: dict[str, Any], old: Mapping[str, Any], *, status: bool = False
) -> None:
    """What upstream's ``rest.BeforeUpdate`` does to metadata before validation: the
    generation is the server's (copied from ``old``, +1 when :func:`spec_changed` for kinds
    that track it, never on ``/status``), an omitted ``uid`` / ``creationTimestamp`` /
    deletion fields are carried over, and an omitted ``resourceVersion`` becomes the stored
    one (an unconditional update; callers that forbid those must check first)."""
    nm = new.get("metadata")
    if not isinstance(nm, dict):
        nm = {}
        new["metadata"] = nm
    om = _meta(old)
    if uses_generation(resource_key):
        og = om.get("generation")
        gen = og if isinstance(og, int) else 1
        if not status and spec_changed(resource_key, old, new):
            gen += 1
        nm["generation"] = gen
    else:
        nm.pop("generation", None)
    for k in ("uid", "resourceVersion"):
        if not nm.get(k) and om.get(k):
            nm[k] = om[k]
    if om.get("creationTimestamp"):
        nm["creationTimestamp"] = om["creationTimestamp"]
    if om.get("deletionTimestamp"):
        nm["deletionTimestamp"] = om["deletionTimestamp"]
    if (
        om.get("deletionGracePeriodSeconds") is not None
        and nm.get("deletionGracePeriodSeconds") is None
    ):
        nm["deletionGracePeriodSeconds"] = om["deletionGracePeriodSeconds"]
