"""Validation of the issue-21 kinds (upstream pkg/apis/batch/validation, apps/validation
ValidateDaemonSet, core/validation ValidateReplicationController, policy/validation):
Job counters, completionMode, restartPolicy OnFailure/Never, podFailurePolicy rules, the
(generated or manual) selector matching the template, immutable fields on update; CronJob
schedule (robfig syntax, ``TZ=`` refused), timeZone, concurrencyPolicy, history limits;
DaemonSet selector/template/updateStrategy; ReplicationController selector/template;
PodDisruptionBudget minAvailable xor maxUnavailable, int or percent.
Called through :mod:`kubesvc.api.validation`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubesvc.api import cron, meta
from kubesvc.api.validation import field as f
from kubesvc.api.validation.apps import (
    _selector_immutable,
    _validate_int_or_percent,
    _validate_selector_and_template,
    selector_matches,
    validate_label_selector,
    validate_workload_status_update,
)
from kubesvc.api.validation.pod import validate_pod_template
from kubesvc.errors import Cause


def _m(v: Any) -> Mapping[str, Any]:
    return v if isinstance(v, Mapping) else {}


def _int(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return _m(obj.get("spec"))


def _nonneg(spec: Mapping[str, Any], path: str, *names: str) -> list[Cause]:
    out: list[Cause] = []
    for n in names:
        if spec.get(n) is not None:
            out.extend(meta.validate_nonnegative(f.child(path, n), _int(spec[n])))
    return out


_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")


def _pod_failure_policy(pfp: Mapping[str, Any], path: str, indexed: bool) -> list[Cause]:
    out: list[Cause] = []
    rules = pfp.get("rules")
    for i, raw in enumerate(rules if isinstance(rules, list) else []):
        rule = _m(raw)
        rp = f.index(f.child(path, "rules"), i)
        action = str(rule.get("action") or "")
        if action not in _ACTIONS or (action == "FailIndex" and not indexed):
            if not action:
                out.append(f.required(f.child(rp, "action")))
            else:
                valid = _ACTIONS if indexed else tuple(a for a in _ACTIONS if a != "FailIndex")
                out.append(f.not_supported(f.child(rp, "action"), action, valid))
        codes, conds = rule.get("onExitCodes"), rule.get("onPodConditions")
        if codes is not None and conds:
            out.append(f.invalid(rp, f.GoRaw("specifying both OnExitCodes and OnPodConditions "
                                             "is not supported"), ""))
        elif codes is None and not conds:
            out.append(f.invalid(rp, f.GoRaw("specifying one of OnExitCodes and OnPodConditions "
                                             "is required"), ""))
        if codes is not None:
            cp = f.child(rp, "onExitCodes")
            op = str(_m(codes).get("operator") or "")
            if op not in ("In", "NotIn"):
                out.append(f.not_supported(f.child(cp, "operator"), op, ("In", "NotIn")))
            vals = _m(codes).get("values")
            if not vals:
                out.append(f.invalid(f.child(cp, "values"), f.GoRaw("[]int32{}"),
                                     "at least one value is required"))
            for j, v in enumerate(vals if isinstance(vals, list) else []):
                if op == "In" and v == 0:
                    out.append(f.invalid(f.index(f.child(cp, "values"), j), 0,
                                         "must not be 0 for the In operator"))
    return out


def _job_spec(spec: Mapping[str, Any], path: str, *, template_only: bool = False) -> list[Cause]:
    out = _nonneg(spec, path, "parallelism", "completions", "backoffLimit",
                  "ttlSecondsAfterFinished", "backoffLimitPerIndex", "maxFailedIndexes")
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and _int(ads) <= 0:
        out.append(f.invalid(f.child(path, "activeDeadlineSeconds"), _int(ads),
                             "must be greater than 0"))
    mode = spec.get("completionMode")
    indexed = mode == "Indexed"
    if mode is not None and mode not in ("NonIndexed", "Indexed"):
        out.append(f.not_supported(f.child(path, "completionMode"), mode,
                                   ("NonIndexed", "Indexed")))
    if indexed and spec.get("completions") is None:
        out.append(f.required(f.child(path, "completions"),
                              "when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None and not indexed:
        out.append(f.invalid(f.child(path, "backoffLimitPerIndex"), _int(
            spec["backoffLimitPerIndex"]), "requires indexed completion mode"))
    template = spec.get("template")
    sel = spec.get("selector")
    if not template_only:
        if not isinstance(sel, Mapping):
            out.append(f.required(f.child(path, "selector")))
        else:
            out.extend(validate_label_selector(sel, f.child(path, "selector")))
            tl = _m(_m(_m(template).get("metadata")).get("labels"))
            if not selector_matches(sel, tl):
                out.append(f.invalid(f.child(path, "template", "metadata", "labels"), tl,
                                     "`selector` does not match template `labels`"))
    elif isinstance(sel, Mapping):
        out.extend(validate_label_selector(sel, f.child(path, "selector")))
    if not isinstance(template, Mapping):
        out.append(f.required(f.child(path, "template")))
        return out
    out.extend(validate_pod_template(template, f.child(path, "template")))
    rp = str(_m(template.get("spec")).get("restartPolicy") or "")
    if rp not in ("OnFailure", "Never"):
        out.append(f.not_supported(f.child(path, "template", "spec", "restartPolicy"), rp,
                                   ("OnFailure", "Never")))
    pfp = spec.get("podFailurePolicy")
    if isinstance(pfp, Mapping):
        if rp != "Never":
            out.append(f.invalid(f.child(path, "template", "spec", "restartPolicy"), rp,
                                 "only \"Never\" is supported when podFailurePolicy is "
                                 "specified"))
        out.extend(_pod_failure_policy(pfp, f.child(path, "podFailurePolicy"), indexed))
    return out


def validate_job(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _job_spec(_spec(obj), "spec")


_JOB_IMMUTABLE = ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "selector",
                  "manualSelector", "successPolicy")


def validate_job_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    ns, os_ = _spec(new), _spec(old)
    out.extend(_job_spec(ns, "spec"))
    for k in _JOB_IMMUTABLE:
        if ns.get(k) != os_.get(k):
            out.append(f.invalid(f"spec.{k}", ns.get(k), meta.FIELD_IMMUTABLE))
    if ns.get("completions") != os_.get("completions") and not (
        ns.get("completionMode") == "Indexed" and ns.get("completions") == ns.get("parallelism")
    ):
        out.append(f.invalid("spec.completions", ns.get("completions"), meta.FIELD_IMMUTABLE))
    # The pod template may change only while the Job is suspended (upstream allows its
    # scheduling directives then); otherwise it is immutable.
    if ns.get("template") != os_.get("template") and not os_.get("suspend"):
        out.append(f.invalid("spec.template", f.GoRaw("core.PodTemplateSpec{...}"),
                             meta.FIELD_IMMUTABLE))
    return out


def validate_job_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    st = _m(new.get("status"))
    out.extend(_nonneg(st, "status", "active", "succeeded", "failed", "ready", "terminating"))
    return out


def validate_schedule(schedule: str, path: str) -> list[Cause]:
    if "TZ" in schedule:
        return [f.invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone "
                                         "field instead")]
    try:
        cron.parse(schedule)
    except cron.CronError as exc:
        return [f.invalid(path, schedule, str(exc))]
    return []


def _cronjob_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    schedule = spec.get("schedule")
    if not isinstance(schedule, str) or not schedule:
        out.append(f.required("spec.schedule"))
    else:
        out.extend(validate_schedule(schedule, "spec.schedule"))
    tz = spec.get("timeZone")
    if tz is not None:
        if not isinstance(tz, str) or " " in tz or tz == "":
            out.append(f.invalid("spec.timeZone", tz, "unknown time zone " + str(tz)))
        else:
            try:
                cron.load_zone(tz)
            except cron.CronError as exc:
                out.append(f.invalid("spec.timeZone", tz, str(exc)))
    if spec.get("startingDeadlineSeconds") is not None:
        out.extend(meta.validate_nonnegative("spec.startingDeadlineSeconds",
                                             _int(spec["startingDeadlineSeconds"])))
    cp = spec.get("concurrencyPolicy")
    if cp not in ("Allow", "Forbid", "Replace"):
        if not cp:
            out.append(f.required("spec.concurrencyPolicy"))
        else:
            out.append(f.not_supported("spec.concurrencyPolicy", cp,
                                       ("Allow", "Forbid", "Replace")))
    out.extend(_nonneg(spec, "spec", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"))
    jt = _m(spec.get("jobTemplate"))
    out.extend(meta.validate_labels("spec.jobTemplate.metadata.labels",
                                    _m(jt.get("metadata")).get("labels")))
    out.extend(_job_spec(_m(jt.get("spec")), "spec.jobTemplate.spec", template_only=True))
    return out


def validate_cronjob(obj: Mapping[str, Any]) -> list[Cause]:
    # Upstream: the name must leave room for the 11-character job suffix (52 characters).
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    name = str(_m(obj.get("metadata")).get("name") or "")
    if len(name) > 52:
        out.append(f.invalid("metadata.name", name, "must be no more than 52 characters"))
    return out + _cronjob_spec(_spec(obj))


def validate_cronjob_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _cronjob_spec(_spec(new))


def _daemonset_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out = _validate_selector_and_template(spec, "daemonset")
    out.extend(_nonneg(spec, "spec", "minReadySeconds", "revisionHistoryLimit"))
    strategy = _m(spec.get("updateStrategy"))
    stype = strategy.get("type")
    if stype not in ("RollingUpdate", "OnDelete"):
        out.append(f.not_supported("spec.updateStrategy", stype, ("OnDelete", "RollingUpdate")))
    if stype == "RollingUpdate":
        ru = _m(strategy.get("rollingUpdate"))
        path = "spec.updateStrategy.rollingUpdate"
        mu, ms = ru.get("maxUnavailable"), ru.get("maxSurge")
        out.extend(_validate_int_or_percent(f.child(path, "maxUnavailable"), mu))
        out.extend(_validate_int_or_percent(f.child(path, "maxSurge"), ms))
        if mu in (0, "0%") and ms in (0, "0%", None):
            out.append(f.invalid(f.child(path, "maxUnavailable"), mu,
                                 "may not be 0 when maxSurge is 0"))
    return out


def validate_daemonset(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _daemonset_spec(_spec(obj))


def validate_daemonset_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    out.extend(_daemonset_spec(_spec(new)))
    out.extend(_selector_immutable(new, old))
    return out


def _rc_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_nonnegative("spec.replicas", _int(spec.get("replicas")))
    out.extend(_nonneg(spec, "spec", "minReadySeconds"))
    sel = _m(spec.get("selector"))
    if not sel:
        out.append(f.required("spec.selector"))
    else:
        out.extend(meta.validate_labels("spec.selector", dict(sel)))
    template = spec.get("template")
    if not isinstance(template, Mapping):
        out.append(f.required("spec.template"))
        return out
    tl = _m(_m(template.get("metadata")).get("labels"))
    if sel and any(tl.get(k) != v for k, v in sel.items()):
        out.append(f.invalid("spec.template.metadata.labels", tl,
                             "`selector` does not match template `labels`"))
    out.extend(validate_pod_template(template, "spec.template"))
    rp = str(_m(template.get("spec")).get("restartPolicy") or "")
    if rp != "Always":
        out.append(f.not_supported("spec.template.spec.restartPolicy", rp, ("Always",)))
    return out


def validate_rc(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _rc_spec(_spec(obj))


def validate_rc_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _rc_spec(_spec(new))


def _pdb_spec(spec: Mapping[str, Any]) -> list[Cause]:
    out: list[Cause] = []
    mn, mx = spec.get("minAvailable"), spec.get("maxUnavailable")
    if mn is not None and mx is not None:
        out.append(f.invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for k, v in (("minAvailable", mn), ("maxUnavailable", mx)):
        if v is None:
            continue
        out.extend(_validate_int_or_percent(f"spec.{k}", v))
        if isinstance(v, str) and v.endswith("%") and v[:-1].isdigit() and int(v[:-1]) > 100:
            out.append(f.invalid(f"spec.{k}", v, "must not be greater than 100%"))
    sel = spec.get("selector")
    if isinstance(sel, Mapping):
        out.extend(validate_label_selector(sel, "spec.selector"))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in ("IfHealthyBudget", "AlwaysAllow"):
        out.append(f.not_supported("spec.unhealthyPodEvictionPolicy", policy,
                                   ("AlwaysAllow", "IfHealthyBudget")))
    return out


def validate_pdb(obj: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta(obj, True, meta.name_is_dns_subdomain)
    return out + _pdb_spec(_spec(obj))


def validate_pdb_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    return meta.validate_object_meta_update(new, old) + _pdb_spec(_spec(new))


def validate_pdb_status_update(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    st = _m(new.get("status"))
    return out + _nonneg(st, "status", "disruptionsAllowed", "currentHealthy", "desiredHealthy",
                         "expectedPods")


def validate_daemonset_status_update(new: Mapping[str, Any], old: Mapping[str, Any]
                                     ) -> list[Cause]:
    out = meta.validate_object_meta_update(new, old)
    st = _m(new.get("status"))
    return out + _nonneg(st, "status", "currentNumberScheduled", "numberMisscheduled",
                         "desiredNumberScheduled", "numberReady", "updatedNumberScheduled",
                         "numberAvailable", "numberUnavailable")


__all__ = [
    "validate_cronjob",
    "validate_cronjob_update",
    "validate_daemonset",
    "validate_daemonset_status_update",
    "validate_daemonset_update",
    "validate_job",
    "validate_job_status_update",
    "validate_job_update",
    "validate_pdb",
    "validate_pdb_status_update",
    "validate_pdb_update",
    "validate_rc",
    "validate_rc_update",
    "validate_schedule",
    "validate_workload_status_update",
]
