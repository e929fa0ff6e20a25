"""Query-parameter and DeleteOptions parsing shared by the handlers, with upstream's
validation messages, into the Client's option classes (:mod:`kubesvc.client.options`).
Called by :mod:`.crud` and :mod:`.watch`."""

from __future__ import annotations

from typing import Any

from multidict import MultiMapping

from kubesvc import errors
from kubesvc.client.options import DeleteOptions, ListOptions, WriteOptions

FIELD_VALIDATION = ("Ignore", "Warn", "Strict")
PROPAGATION = ("Orphan", "Background", "Foreground")


def truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1", "yes")


_INT64 = (-(2**63), 2**63 - 1)


def int_param(q: MultiMapping[str], name: str, *, default: int = 0) -> int:
    """An int64 query parameter as Go's ``strconv.ParseInt`` reads it: ASCII digits with an
    optional sign only (Python's int() would also take ``1_0``, spaces and other scripts'
    digits), within int64. BadRequest otherwise, in ParseInt's words."""
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    digits = raw[1:] if raw[:1] in ("+", "-") else raw
    if not (digits.isascii() and digits.isdigit()):
        raise errors.BadRequest(
            f'invalid value for {name}: strconv.ParseInt: parsing "{raw}": invalid syntax'
        )
    # (a length test first: int() refuses strings of more than 4300 digits)
    if len(digits.lstrip("0")) > 19 or not _INT64[0] <= int(raw) <= _INT64[1]:
        raise errors.BadRequest(
            f'invalid value for {name}: strconv.ParseInt: parsing "{raw}": value out of range'
        )
    return int(raw)


def options_invalid(options_kind: str, field: str, detail: str) -> errors.Invalid:
    """422 as upstream's ``ValidateCreateOptions`` & co.: ``CreateOptions.meta.k8s.io ""
    is invalid: <field>: <detail>``."""
    cause = errors.Cause("FieldValueNotSupported", detail, field)
    return errors.Invalid(
        message=f'{options_kind}.meta.k8s.io "" is invalid: {field}: {detail}',
        kind=options_kind, group="meta.k8s.io", causes=[cause],
    )


def dry_run(
    q: MultiMapping[str], body_values: list[Any] | None = None, *,
    options_kind: str = "CreateOptions",
) -> bool:
    values = [*q.getall("dryRun", []), *(body_values or [])]
    bad = [str(v) for v in values if v != "All"]
    if bad:
        shown = ", ".join(f'"{v}"' for v in values)
        raise options_invalid(
            options_kind, "dryRun",
            f'Unsupported value: []string{{{shown}}}: supported values: "All"',
        )
    return bool(values)


def field_validation(q: MultiMapping[str], *, options_kind: str = "CreateOptions") -> str:
    """The fieldValidation directive; upstream defaults to Warn when absent."""
    raw = q.get("fieldValidation") or ""
    if not raw:
        return "Warn"
    if raw not in FIELD_VALIDATION:
        raise options_invalid(
            options_kind, "fieldValidation",
            f'Unsupported value: "{raw}": supported values: "Ignore", "Strict", "Warn"',
        )
    return raw


def list_options(q: MultiMapping[str]) -> ListOptions:
    """The list options of a request (the selectors of a deletecollection too)."""
    return ListOptions(
        label_selector=q.get("labelSelector", ""),
        field_selector=q.get("fieldSelector", ""),
        resource_version=q.get("resourceVersion", ""),
        resource_version_match=q.get("resourceVersionMatch", ""),
        limit=max(int_param(q, "limit"), 0),
        continue_token=q.get("continue", ""),
    )


def write_options(q: MultiMapping[str], *, options_kind: str = "CreateOptions") -> WriteOptions:
    """Create/Update/PatchOptions from the query string; fieldValidation is always set (Warn
    when absent, as upstream)."""
    return WriteOptions(
        dry_run=dry_run(q, options_kind=options_kind),
        field_validation=field_validation(q, options_kind=options_kind),
        field_manager=q.get("fieldManager", ""),
        force=truthy(q.get("force")),
    )


def delete_options(q: MultiMapping[str], body: dict[str, Any] | None) -> DeleteOptions:
    """DeleteOptions from the query string, overridden by a DeleteOptions body."""
    grace: int | None = None
    if "gracePeriodSeconds" in q:
        grace = int_param(q, "gracePeriodSeconds")
    policy = q.get("propagationPolicy", "")
    preconditions: dict[str, str] | None = None
    orphan_dependents: bool | None = None
    orphan = q.get("orphanDependents")
    body_dry: list[Any] = []
    if body:
        kind = body.get("kind")
        if kind not in (None, "", "DeleteOptions"):
            raise errors.BadRequest(
                f"the object provided is unrecognized (must be of type DeleteOptions): "
                f"unexpected kind {kind!r}"
            )
        gps = body.get("gracePeriodSeconds")
        if gps is not None:
            if not isinstance(gps, int) or isinstance(gps, bool):
                raise errors.BadRequest("gracePeriodSeconds must be an integer")
            grace = gps
        if body.get("propagationPolicy"):
            policy = str(body["propagationPolicy"])
        if body.get("orphanDependents") is not None:
            orphan = "true" if body["orphanDependents"] else "false"
        pre = body.get("preconditions")
        if pre:
            if not isinstance(pre, dict):
                raise errors.BadRequest("preconditions must be an object")
            preconditions = {k: str(v) for k, v in pre.items() if v is not None}
        raw_dry = body.get("dryRun") or []
        body_dry = list(raw_dry) if isinstance(raw_dry, list) else [raw_dry]
    if orphan is not None and policy:
        raise options_invalid(
            "DeleteOptions", "propagationPolicy",
            f'Invalid value: "{policy}": orphanDependents and '
            "deletionPropagation cannot be both set",
        )
    if orphan is not None:
        orphan_dependents = truthy(orphan)
        policy = "Orphan" if orphan_dependents else "Background"
    if policy and policy not in PROPAGATION:
        raise options_invalid(
            "DeleteOptions", "propagationPolicy",
            f'Unsupported value: "{policy}": supported values: '
            '"Foreground", "Background", "Orphan", "nil"',
        )
    if grace is not None and grace < 0:
        grace = 0
    return DeleteOptions(
        propagation_policy=policy, grace_period_seconds=grace, preconditions=preconditions,
        dry_run=dry_run(q, body_dry, options_kind="DeleteOptions"),
        orphan_dependents=orphan_dependents,
    )
