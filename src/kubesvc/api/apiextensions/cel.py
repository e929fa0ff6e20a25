"""``x-kubernetes-validations``: CEL rules on a structural schema's nodes (upstream
``apiextensions-apiserver/pkg/apiserver/schema/cel``), evaluated with ``cel-python``
(``celpy``).

Each rule sees ``self`` (the value at its node) and, on updates, ``oldSelf`` (the stored
value at the same place, correlated through object properties, map keys and
``x-kubernetes-list-type: map`` keys). A rule that mentions ``oldSelf`` is a transition
rule: it is only evaluated when there is an old value (unless ``optionalOldSelf``). A
failed rule is ``Invalid value: "<type>": <message>`` at the node's path (or its
``fieldPath``), the message being ``message``, else the evaluated ``messageExpression``,
else ``failed rule: <rule>``; ``reason`` picks the cause type as upstream.

Limits of the library (documented in the README): it implements the CEL standard
definitions (macros ``has``/``all``/``exists``/``map``/``filter``, ``size``, ``matches``,
string/list/map functions, timestamps and durations) but not the Kubernetes CEL libraries
(``isSorted``, ``url()``, ``ip()``, ``quantity()``, ``format`` ...) nor upstream's cost
estimation or type checking: an unknown function is only found when a rule runs (then the
object is refused with the evaluation error), not when the CRD is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from kubesvc.api.validation import field as f
from kubesvc.errors import Cause

_REASONS = {
    "FieldValueInvalid": "FieldValueInvalid",
    "FieldValueForbidden": "FieldValueForbidden",
    "FieldValueRequired": "FieldValueRequired",
    "FieldValueDuplicate": "FieldValueDuplicate",
}
_NO_OLD = object()


class CompileError(ValueError):
    pass


@lru_cache(maxsize=1024)
def _program(expr: str) -> Any:
    import cel as celib  # common-expression-language

    try:
        return celib.compile(expr)
    except Exception as exc:  # a ValueError with the parser's report
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        raise CompileError(first.split(": ", 1)[-1] if "ERROR:" in first else first) from exc


def compile_error(expr: str) -> str:
    """"" when ``expr`` compiles, else the compiler's complaint."""
    try:
        _program(expr)
    except CompileError as exc:
        return str(exc)
    return ""


def _eval(expr: str, self_v: Any, old_v: Any) -> Any:
    act = {"self": self_v}
    if old_v is not _NO_OLD:
        act["oldSelf"] = old_v
    try:
        return _program(expr).execute(act)
    except KeyError as exc:  # a field the object does not have
        raise EvalError(f"no such key: {exc.args[0] if exc.args else ''}") from exc


class EvalError(ValueError):
    pass


def _type_word(s: Mapping[str, Any], v: Any) -> str:
    t = s.get("type")
    if t:
        return str(t)
    if s.get("x-kubernetes-int-or-string"):
        return "integer" if isinstance(v, int) else "string"
    return "object"


def validate(schema: Mapping[str, Any], obj: Any, old: Any = _NO_OLD, *, path: str = ""
             ) -> list[Cause]:
    """The causes of every failed rule in ``obj`` (``old``: the stored object, on updates)."""
    out: list[Cause] = []
    _walk(schema, obj, old, path, out)
    return out


# schema node -> whether it or a node under it has rules (schemas live as long as their
# Definition; the node itself is kept beside its id so a reused id cannot match)
_RULES_MEMO: dict[int, tuple[Mapping[str, Any], bool]] = {}


def _has_rules(s: Mapping[str, Any]) -> bool:
    hit = _RULES_MEMO.get(id(s))
    if hit is not None and hit[0] is s:
        return hit[1]
    found = bool(s.get("x-kubernetes-validations")) or any(
        isinstance(sub, dict) and _has_rules(sub)
        for sub in [*(s.get("properties") or {}).values(), s.get("items"),
                    s.get("additionalProperties")])
    if len(_RULES_MEMO) > 4096:
        _RULES_MEMO.clear()
    _RULES_MEMO[id(s)] = (s, found)
    return found


def _walk(s: Mapping[str, Any], v: Any, old: Any, path: str, out: list[Cause]) -> None:
    if v is None or not _has_rules(s):
        return
    for rule in s.get("x-kubernetes-validations") or []:
        if isinstance(rule, dict):
            _check(rule, s, v, old, path, out)
    if isinstance(v, dict):
        props: Mapping[str, Any] = s.get("properties") or {}
        addl = s.get("additionalProperties")
        for k, item in v.items():
            sub = props.get(k)
            if not isinstance(sub, dict):
                sub = addl if isinstance(addl, dict) else None
            if sub is None:
                continue
            o = old.get(k, _NO_OLD) if isinstance(old, dict) else _NO_OLD
            child = f.child(path, k) if k in props else f.key(path, k) if path else k
            _walk(sub, item, o, child, out)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        items = s["items"]
        keys = list(s.get("x-kubernetes-list-map-keys") or [])
        olds: dict[tuple[Any, ...], Any] = {}
        if s.get("x-kubernetes-list-type") == "map" and isinstance(old, list):
            for o in old:
                if isinstance(o, dict):
                    olds[tuple(o.get(k) for k in keys)] = o
        for i, item in enumerate(v):
            o = (olds.get(tuple(item.get(k) for k in keys), _NO_OLD)
                 if olds and isinstance(item, dict) else _NO_OLD)
            _walk(items, item, o, f.index(path, i), out)


def _check(rule: Mapping[str, Any], s: Mapping[str, Any], v: Any, old: Any, path: str,
           out: list[Cause]) -> None:
    expr = str(rule.get("rule") or "")
    transition = "oldSelf" in expr
    if transition and old is _NO_OLD and not rule.get("optionalOldSelf"):
        return
    where = path
    if rule.get("fieldPath"):
        where = f.child(path, str(rule["fieldPath"]).lstrip(".")) if path else \
            str(rule["fieldPath"]).lstrip(".")
    try:
        result = _eval(expr, v, old if transition else _NO_OLD)
    except CompileError as exc:
        out.append(f.invalid(where, _type_word(s, v), f"compilation failed: {exc}"))
        return
    except Exception as exc:  # an evaluation error (a missing field, a type mismatch)
        out.append(f.invalid(where, _type_word(s, v), f"{exc.args[0] if exc.args else exc}"))
        return
    if result is True:
        return
    if not isinstance(result, bool):
        out.append(f.invalid(where, _type_word(s, v),
                             f"rule returned a non-boolean value: {result!s}"))
        return
    message = str(rule.get("message") or "")
    if not message and rule.get("messageExpression"):
        try:
            got = _eval(str(rule["messageExpression"]), v, old if transition else _NO_OLD)
            message = str(got) if isinstance(got, str) else ""
        except Exception:
            message = ""
    if not message:
        message = f"failed rule: {expr}"
    reason = _REASONS.get(str(rule.get("reason") or ""), "FieldValueInvalid")
    if reason == "FieldValueForbidden":
        out.append(f.forbidden(where, message))
    elif reason == "FieldValueRequired":
        out.append(f.required(where, message))
    elif reason == "FieldValueDuplicate":
        out.append(Cause("FieldValueDuplicate", f"Duplicate value: {message}", where))
    else:
        out.append(f.invalid(where, _type_word(s, v), message))


def rules(schema: Mapping[str, Any], path: str = "") -> list[tuple[str, Mapping[str, Any]]]:
    """Every (schema path, rule) in a schema, for compile checks at CRD validation."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for i, r in enumerate(schema.get("x-kubernetes-validations") or []):
        if isinstance(r, dict):
            out.append((f"{path}.x-kubernetes-validations[{i}]" if path
                        else f"x-kubernetes-validations[{i}]", r))
    for k, sub in (schema.get("properties") or {}).items():
        if isinstance(sub, dict):
            out.extend(rules(sub, f"{path}.properties[{k}]" if path else f"properties[{k}]"))
    for key in ("items", "additionalProperties"):
        sub = schema.get(key)
        if isinstance(sub, dict):
            out.extend(rules(sub, f"{path}.{key}" if path else key))
    return out
