"""apps/v1 Deployment and ReplicaSet validation (upstream pkg/apis/apps/validation):
replicas >= 0, selector required, non-empty, valid and matching the template labels,
template restartPolicy Always, rolling-update bounds, revisionHistoryLimit,
progressDeadlineSeconds > minReadySeconds; selector immutable on update (apps/v1).
Called through :mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation.pod import validate_pod_template
from kubesvc.errors import Cause

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def validate_label_selector(sel: Mapping[str, Any], path: str) -> list[Cause]:
    """``ValidateLabelSelector`` (strict label values)."""
    out = meta.validate_labels(f.child(path, "matchLabels"), sel.get("matchLabels"))
    exprs = sel.get("matchExpressions")
    for i, e in enumerate(exprs if isinstance(exprs, list) else []):
        e = e if isinstance(e, Mapping) else {}
        ep = f.index(f.child(path, "matchExpressions"), i)
        op = str(e.get("operator") or "")
        values = e.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                out.append(
                    f.required(
                        f.child(ep, "values"),
                        "must be specified when `operator` is 'In' or 'NotIn'",
                    )
                )
        elif op in ("Exists", "DoesNotExist"):
            if values:
                out.append(
                    f.forbidden(
                        f.child(ep, "values"),
                        "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                    )
                )
        else:
            out.append(f.invalid(f.child(ep, "operator"), op, "not a valid selector operator"))
        out.extend(meta.validate_qualified_name(f.child(ep, "key"), str(e.get("key") or "")))
        for v in values if isinstance(values, list) else []:
            out.extend(
                f.invalid(f.index(f.child(ep, "values"), 0), str(v), m)
                for m in meta.is_valid_label_value(str(v))
            )
    return out


def selector_matches(sel: Mapping[str, Any], labels: Any) -> bool:
    """LabelSelector semantics over a label map (malformed parts never match)."""
    labels = labels if isinstance(labels, Mapping) else {}
    for k, v in _m(sel.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    exprs = sel.get("matchExpressions")
    for raw in exprs if isinstance(exprs, list) else []:
        expr = _m(raw)
        key, op = expr.get("key"), expr.get("operator")
        vals = expr.get("values")
        values: list[Any] = vals if isinstance(vals, list) else []
        if not isinstance(key, str):
            return False
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def _selector_literal(sel: Mapping[str, Any]) -> f.GoRaw:
    ml = _m(sel.get("matchLabels"))
    inner = ",".join(f"{f.go_quote(str(k))}: {f.go_quote(str(v))}" for k, v in sorted(ml.items()))
    return f.GoRaw(
        f"&LabelSelector{{MatchLabels:map[string]string{{{inner}}},"
        "MatchExpressions:[]LabelSelectorRequirement{},}"
    )


def _validate_int_or_percent(path: str, v: Any) -> list[Cause]:
    if isinstance(v, str):
        return [f.invalid(path, v, m) for m in meta.is_valid_percent(v)]
    return meta.validate_nonnegative(path, _int(v))


def _value(v: Any) -> int:
    if isinstance(v, str):
        return int(v[:-1]) if v.endswith("%") and v[:-1].isdigit() else 0
    return _int(v)


def _validate_strategy(strategy: Mapping[str, Any], path: str) -> list[Cause]:
    out: list[Cause] = []
    stype = strategy.get("type")
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate":
        if ru is not None:
            out.append(
                f.forbidden(
                    f.child(path, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            )
    elif stype == "RollingUpdate":
        if not isinstance(ru, Mapping):
            out.append(
                f.required(
                    f.child(path, "rollingUpdate"), "this should be defaulted and never be nil"
                )
            )
        else:
            rp = f.child(path, "rollingUpdate")
            mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
            out.extend(_validate_int_or_percent(f.child(rp, "maxUnavailable"), mu))
            out.extend(_validate_int_or_percent(f.child(rp, "maxSurge"), ms))
            if _value(mu) == 0 and _value(ms) == 0:
                out.append(
                    f.invalid(
                        f.child(rp, "maxUnavailable"),
                        mu if mu is not None else 0,
                        "may not be 0 when `maxSurge` is 0",
                    )
                )
            if isinstance(mu, str) and _value(mu) > 100:
                out.append(
                    f.invalid(f.child(rp, "maxUnavailable"), mu, "must not be greater than 100%")
                )
    else:
        out.append(
            f.not_supported(
                path,
                f.GoRaw(f"apps.DeploymentStrategy{{Type:{f.go_quote(str(stype or ''))}}}"),
                ("Recreate", "RollingUpdate"),
            )
        )
    return out


def _validate_selector_and_template(spec: Mapping[str, Any], kind: str) -> list[Cause]:
    out: list[Cause] = []
    sel = spec.get("selector")
    if not isinstance(sel, Mapping):
        out.append(f.required("spec.selector"))
        sel = None
    else:
        out.extend(validate_label_selector(sel, "spec.selector"))
        if not (sel.get("matchLabels") or sel.get("matchExpressions")):
            out.append(
                f.invalid(
                    "spec.selector", _selector_literal(sel), f"empty selector is invalid for {kind}"
                )
            )
    template = spec.get("template")
    if not isinstance(template, Mapping):
        out.append(f.required("spec.template"))
        return out
    tlabels = _m(_m(template.get("metadata")).get("labels"))
    if (
        sel
        and (sel.get("matchLabels") or sel.get("matchExpressions"))
        and not selector_matches(sel, tlabels)
    ):
        out.append(
            f.invalid(
                "spec.template.metadata.labels",
                tlabels,
                "`selector` does not match template `labels`",
            )
        )
    out.extend(validate_pod_template(template, "spec.template"))
    tspec = _m(template.get("spec"))
    rp = str(tspec.get("restartPolicy") or "")
    if rp != "Always":
        out.append(f.not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    if tspec.get("activeDeadlineSeconds") is not None:
        out.append(
            f.forbidden(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            )
        )
    return out


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def validate_deployment(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _deployment_spec(_spec(obj))


def _deployment_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    out.extend(meta.validate_nonnegative("spec.replicas", _int(spec.get("replicas"))))
    out.extend(_validate_selector_and_template(spec, "deployment"))
    strategy = _m(spec.get("strategy"))
    out.extend(_validate_strategy(strategy, "spec.strategy"))
    mrs = _int(spec.get("minReadySeconds"))
    out.extend(meta.validate_nonnegative("spec.minReadySeconds", mrs))
    if spec.get("revisionHistoryLimit") is not None:
        out.extend(
            meta.validate_nonnegative(
                "spec.revisionHistoryLimit", _int(spec["revisionHistoryLimit"])
            )
        )
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        out.extend(meta.validate_nonnegative("spec.progressDeadlineSeconds", _int(pds)))
        if _int(pds) <= mrs:
            out.append(
                f.invalid(
                    "spec.progressDeadlineSeconds",
                    _int(pds),
                    "must be greater than minReadySeconds",
                )
            )
    return out


def validate_replicaset(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _replicaset_spec(_spec(obj))


def _replicaset_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    out.extend(meta.validate_nonnegative("spec.replicas", _int(spec.get("replicas"))))
    out.extend(meta.validate_nonnegative("spec.minReadySeconds", _int(spec.get("minReadySeconds"))))
    out.extend(_validate_selector_and_template(spec, "replicaset"))
    return out


def _selector_immutable(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    ns, os_ = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if ns != os_:
        val = _selector_literal(ns) if isinstance(ns, Mapping) else None
        return [f.invalid("spec.selector", val, meta.FIELD_IMMUTABLE)]
    return []


def validate_deployment_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(_deployment_spec(_spec(new)))
    out.extend(_selector_immutable(new, old))
    return out


def validate_replicaset_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(_replicaset_spec(_spec(new)))
    out.extend(_selector_immutable(new, old))
    return out


def validate_workload_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    """Deployment/ReplicaSet status: counters non-negative and not above ``replicas``."""
    out = meta.validate_object_meta_update(new, old)
    status = _m(new.get("status"))
    fields = (
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "unavailableReplicas",
        "fullyLabeledReplicas",
        "observedGeneration",
        "collisionCount",
    )
    for k in fields:
        if status.get(k) is not None:
            out.extend(meta.validate_nonnegative(f"status.{k}", _int(status[k])))
    replicas = _int(status.get("replicas"))
    for k in ("updatedReplicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
        if _int(status.get(k)) > replicas:
            out.append(
                f.invalid(
                    f"status.{k}", _int(status.get(k)), "cannot be greater than status.replicas"
                )
            )
    if (
        _int(status.get("availableReplicas")) > _int(status.get("readyReplicas"))
        and status.get("readyReplicas") is not None
    ):
        out.append(
            f.invalid(
                "status.availableReplicas",
                _int(status["availableReplicas"]),
                "cannot be greater than readyReplicas",
            )
        )
    return out
