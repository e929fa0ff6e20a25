"""apps/v1 StatefulSet and ControllerRevision validation (upstream
pkg/apis/apps/validation, v1.32): podManagementPolicy and updateStrategy values, partition
and maxUnavailable bounds, selector non-empty and matching the template labels,
restartPolicy Always, retention-policy values, ordinals and minReadySeconds non-negative;
on update only replicas, ordinals, template, updateStrategy, revisionHistoryLimit,
persistentVolumeClaimRetentionPolicy and minReadySeconds may change. ControllerRevision:
``data`` required, ``data``/``revision`` immutable.

As upstream, the pod template is checked for labels and annotations only (its volume
mounts may name a volumeClaimTemplate, which is not a pod volume yet); the pods the
controller makes are validated when it creates them. Called through
:mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation import formats as fm
from kubesvc.api.validation.apps import selector_matches, validate_label_selector
from kubesvc.api.validation.storage import validate_pvc_spec
from kubesvc.errors import Cause

_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
            "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
_FORBIDDEN_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
    "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
    "'minReadySeconds' are forbidden"
)


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(obj.get("spec"))


def _strategy(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    st = _m(spec.get("updateStrategy"))
    typ = str(st.get("type") or "")
    ru = st.get("rollingUpdate")
    if typ == "":
        out.append(f.required("spec.updateStrategy"))
    elif typ == "OnDelete":
        if ru is not None:
            out.append(f.invalid("spec.updateStrategy.rollingUpdate", ru,
                                 "only allowed for updateStrategy 'RollingUpdate'"))
    elif typ == "RollingUpdate":
        if isinstance(ru, Mapping):
            out.extend(fm.validate_nonnegative("spec.updateStrategy.rollingUpdate.partition",
                                                 _int(ru.get("partition"))))
            mu = ru.get("maxUnavailable")
            if mu is not None:
                path = "spec.updateStrategy.rollingUpdate.maxUnavailable"
                if isinstance(mu, str):
                    out.extend(f.invalid(path, mu, m) for m in fm.is_valid_percent(mu))
                    pct = int(mu[:-1]) if mu.endswith("%") and mu[:-1].isdigit() else 0
                    if pct > 100:
                        out.append(f.invalid(path, mu, "must not be greater than 100%"))
                    if pct == 0:
                        out.append(f.invalid(path, mu, "must be greater than 0"))
                elif _int(mu) < 1:
                    out.append(f.invalid(path, _int(mu), "must be greater than 0"))
    else:
        out.append(f.invalid("spec.updateStrategy", st,
                             "must be 'RollingUpdate' or 'OnDelete'"))
    return out


def _retention(spec: Mapping[str, Any]) -> list[Cause]:
    policy = spec.get("persistentVolumeClaimRetentionPolicy")
    if policy is None:
        return []
    out: list[Cause] = []
    for k in ("whenDeleted", "whenScaled"):
        v = str(_m(policy).get(k) or "")
        if v not in ("Retain", "Delete"):
            out.append(f.not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{k}", v,
                                       ("Retain", "Delete")))
    return out


def validate_statefulset_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    pmp = str(spec.get("podManagementPolicy") or "")
    if pmp == "":
        out.append(f.required("spec.podManagementPolicy"))
    elif pmp not in ("OrderedReady", "Parallel"):
        out.append(f.invalid("spec.podManagementPolicy", pmp,
                             "must be 'OrderedReady' or 'Parallel'"))
    out.extend(_strategy(spec))
    out.extend(_retention(spec))
    out.extend(fm.validate_nonnegative("spec.replicas", _int(spec.get("replicas"))))
    out.extend(fm.validate_nonnegative("spec.minReadySeconds",
                                         _int(spec.get("minReadySeconds"))))
    if spec.get("ordinals") is not None:
        out.extend(fm.validate_nonnegative("spec.ordinals.start",
                                             _int(_m(spec.get("ordinals")).get("start"))))
    svc = spec.get("serviceName")
    if svc:
        out.extend(f.invalid("spec.serviceName", svc, m)
                   for m in fm.is_dns1123_label(str(svc)))
    sel = spec.get("selector")
    if not isinstance(sel, Mapping):
        out.append(f.required("spec.selector"))
        sel = {}
    else:
        out.extend(validate_label_selector(sel, "spec.selector"))
        if not (sel.get("matchLabels") or sel.get("matchExpressions")):
            out.append(f.invalid("spec.selector", sel,
                                 "empty selector is not valid for statefulset."))
    template = _m(spec.get("template"))
    tmeta = _m(template.get("metadata"))
    labels = _m(tmeta.get("labels"))
    if (sel.get("matchLabels") or sel.get("matchExpressions")) and not selector_matches(
            sel, labels):
        out.append(f.invalid("spec.template.metadata.labels", labels,
                             "`selector` does not match template `labels`"))
    out.extend(fm.validate_labels("spec.template.labels", tmeta.get("labels")))
    out.extend(fm.validate_annotations("spec.template.annotations", tmeta.get("annotations")))
    tspec = _m(template.get("spec"))
    rp = str(tspec.get("restartPolicy") or "")
    if rp != "Always":
        out.append(f.not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(f.invalid("spec.template.spec.activeDeadlineSeconds",
                             tspec["activeDeadlineSeconds"], "must not be specified"))
    claims = spec.get("volumeClaimTemplates")
    for i, claim in enumerate(claims if isinstance(claims, list) else []):
        path = f.index("spec.volumeClaimTemplates", i)
        out.extend(validate_pvc_spec(_m(_m(claim).get("spec")), f.child(path, "spec")))
    return out


def validate_statefulset(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + validate_statefulset_spec(_spec(obj))


def validate_statefulset_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    ns, os_ = _spec(new), _spec(old)
    keys = (set(ns) | set(os_)) - set(_MUTABLE)
    if any(ns.get(k) != os_.get(k) for k in keys):
        out.append(f.forbidden("spec", _FORBIDDEN_UPDATE))
    out.extend(validate_statefulset_spec(ns))
    return out


def validate_statefulset_status_update(new: Mapping[str, Any],
                                       old: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    st = _m(new.get("status"))
    for k in ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas",
              "availableReplicas", "observedGeneration", "collisionCount"):
        if st.get(k) is not None:
            out.extend(fm.validate_nonnegative(f"status.{k}", _int(st[k])))
    replicas = _int(st.get("replicas"))
    for k in ("readyReplicas", "currentReplicas", "updatedReplicas"):
        if _int(st.get(k)) > replicas:
            out.append(f.invalid(f"status.{k}", _int(st.get(k)),
                                 "cannot be greater than status.replicas"))
    if _int(st.get("availableReplicas")) > _int(st.get("readyReplicas")):
        out.append(f.invalid("status.availableReplicas", _int(st.get("availableReplicas")),
                             "cannot be greater than status.readyReplicas"))
    old_cc = _m(old.get("status")).get("collisionCount")
    if old_cc is not None and _int(st.get("collisionCount")) < _int(old_cc):
        out.append(f.invalid("status.collisionCount", _int(st.get("collisionCount")),
                             "cannot be decremented"))
    out.extend(meta.validate_object_meta_update(new, old))
    return out


def validate_controller_revision(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    if obj.get("data") is None:
        out.append(f.required("data", "data is mandatory"))
    out.extend(fm.validate_nonnegative("revision", _int(obj.get("revision"))))
    return out


def validate_controller_revision_update(new: Mapping[str, Any],
                                        old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(validate_controller_revision(new))
    if new.get("data") != old.get("data"):
        out.append(f.invalid("data", f.GoRaw("runtime.RawExtension{...}"),
                             fm.FIELD_IMMUTABLE))
    return out
