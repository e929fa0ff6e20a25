"""Label and field selectors, parsed and matched as upstream apimachinery does.

Role: turn ``labelSelector=`` / ``fieldSelector=`` query strings, a metav1.LabelSelector
(``matchLabels`` + ``matchExpressions``) and a Service's ``spec.selector`` map into matchers.
Callers: the API server (list/watch filtering, ``BadRequest`` on a bad selector), the
informers and controllers (which Pods a Service or ReplicaSet selects), the proxy and DNS.
Calls: :mod:`kubesvc.errors`, :mod:`kubesvc.api.validation.formats` (the key and value
rules). Pure code, no I/O.

Reference: k8s.io/apimachinery/pkg/labels/selector.go (lexer, parser and messages),
pkg/util/validation (key/value rules), pkg/apis/meta/v1 LabelSelectorAsSelector. Field
selectors are in :mod:`kubesvc.api.fieldselectors` and re-exported here.

Empty-selector semantics differ by source, as upstream:

* ``parse_label_selector("")`` and ``from_label_selector_dict({})`` select **everything**;
* ``from_label_selector_dict(None)`` (a nil ``*LabelSelector``) selects **nothing**;
* ``from_set({})`` / ``from_set(None)`` — a Service without a selector — selects **nothing**:
  the EndpointSlice controller leaves such Services alone (their endpoints are managed by
  someone else). ``from_set`` with a non-empty map is plain equality on every pair.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Field selectors live in their own module (a separate concept); re-exported here so callers
# use one import for both kinds of selector.
from kubesvc.api.fieldselectors import (
    FIELD_SPECS,
    FieldSelector,
    FieldSpec,
    FieldTerm,
    field_spec,
    parse_field_selector,
)
from kubesvc.api.validation.formats import is_qualified_name, is_valid_label_value
from kubesvc.errors import BadRequest

# --- operators (k8s.io/apimachinery/pkg/selection) -------------------------------------
EXISTS = "exists"
DOES_NOT_EXIST = "!"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
GREATER_THAN = "gt"
LESS_THAN = "lt"
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)

def _go_quote(s: str) -> str:
    # Go's %q for the plain strings selectors carry.
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field_invalid(path: str, value: str, detail: str) -> str:
    # field.Invalid(...).Error(); a nil *field.Path prints as "<nil>".
    return f"{path}: Invalid value: {_go_quote(value)}: {detail}"


def _aggregate(msgs: list[str]) -> str:
    return msgs[0] if len(msgs) == 1 else "[" + ", ".join(msgs) + "]"


class _ParseError(Exception):
    pass


# --- requirements and label selectors --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Requirement:
    """One ``key op values`` term; ``values`` is sorted as upstream's sets.String.List()."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            try:
                have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            except ValueError:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        prefix = "!" if self.operator == DOES_NOT_EXIST else ""
        if self.operator in (EXISTS, DOES_NOT_EXIST):
            return prefix + self.key
        op = {IN: " in ", NOT_IN: " notin ", GREATER_THAN: ">", LESS_THAN: "<"}.get(
            self.operator, self.operator
        )
        vals = ",".join(sorted(self.values))
        if self.operator in (IN, NOT_IN):
            vals = f"({vals})"
        return f"{self.key}{op}{vals}"


def _parse_int64(s: str) -> int:
    # strconv.ParseInt(s, 10, 64): optional sign, ASCII digits only.
    if not re.fullmatch(r"[+-]?[0-9]+", s):
        raise ValueError(s)
    v = int(s)
    if not -(2**63) <= v < 2**63:
        raise ValueError(s)
    return v


def new_requirement(key: str, operator: str, values: Iterable[str]) -> Requirement:
    """labels.NewRequirement: validate and build; raises BadRequest with upstream's text."""
    vals = sorted(set(values)) if operator in (IN, NOT_IN) else list(values)
    errs = _requirement_errors(key, operator, vals)
    if errs:
        raise BadRequest(message=_aggregate(errs))
    return Requirement(key, operator, tuple(vals))


def _requirement_errors(key: str, op: str, vals: list[str]) -> list[str]:
    errs: list[str] = []
    kerrs = is_qualified_name(key)
    if kerrs:
        errs.append(_field_invalid("key", key, "; ".join(kerrs)))
    # field.Invalid prints a []string bad value with %#v.
    shown = ("[]string{" + ", ".join(_go_quote(v) for v in vals) + "}") if vals else "[]string(nil)"
    if op in (IN, NOT_IN):
        if not vals:
            errs.append(
                f"values: Invalid value: {shown}: for 'in', 'notin' operators, "
                "values set can't be empty"
            )
    elif op in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(vals) != 1:
            errs.append(
                f"values: Invalid value: {shown}: exact-match compatibility requires "
                "one single value"
            )
    elif op in (EXISTS, DOES_NOT_EXIST):
        if vals:
            errs.append(
                f"values: Invalid value: {shown}: values set must be empty for exists "
                "and does not exist"
            )
    elif op in (GREATER_THAN, LESS_THAN):
        if len(vals) != 1:
            errs.append(
                f"values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly "
                "one value is required"
            )
        for i, v in enumerate(vals):
            try:
                _parse_int64(v)
            except ValueError:
                errs.append(
                    _field_invalid(
                        f"values[{i}]", v, "for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                )
    else:
        supported = ", ".join(_go_quote(o) for o in (*_BINARY_OPERATORS, EXISTS, DOES_NOT_EXIST))
        errs.append(f"operator: Unsupported value: {_go_quote(op)}: supported values: {supported}")
    for i, v in enumerate(vals):
        verrs = is_valid_label_value(v)
        if verrs:
            errs.append(_field_invalid(f"values[{i}][{key}]", v, "; ".join(verrs)))
    return errs


class LabelSelector:
    """A parsed label selector: an AND of requirements, or the match-nothing selector."""

    __slots__ = ("_nothing", "requirements")

    def __init__(self, requirements: Iterable[Requirement] = (), *, nothing: bool = False):
        # Sorted by key (stable) as upstream's parse/Add do, for a deterministic String().
        self.requirements: tuple[Requirement, ...] = tuple(
            sorted(requirements, key=lambda r: r.key)
        )
        self._nothing = nothing

    @classmethod
    def everything(cls) -> LabelSelector:
        return cls()

    @classmethod
    def nothing(cls) -> LabelSelector:
        return cls(nothing=True)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict (matches every label set)."""
        return not self._nothing and not self.requirements

    @property
    def matches_nothing(self) -> bool:
        return self._nothing

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self._nothing:
            return False
        lab: Mapping[str, str] = labels or {}
        return all(r.matches(lab) for r in self.requirements)

    def requires_exact_match(self, label: str) -> str | None:
        """The one value ``label`` must have (``=``, ``==`` or single-value ``in``), else None."""
        for r in self.requirements:
            if r.key == label:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    @property
    def exact_pairs(self) -> tuple[tuple[str, str], ...]:
        """(key, value) pairs every match must carry — what an index keyed by label uses."""
        return tuple(
            (r.key, r.values[0])
            for r in self.requirements
            if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1
        )

    def __str__(self) -> str:
        return "" if self._nothing else ",".join(str(r) for r in self.requirements)

    def __repr__(self) -> str:
        return "LabelSelector(<nothing>)" if self._nothing else f"LabelSelector({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelSelector):
            return NotImplemented
        return (self._nothing, self.requirements) == (other._nothing, other.requirements)

    def __hash__(self) -> int:
        return hash((self._nothing, self.requirements))


# --- the lexer and parser (labels/selector.go) -----------------------------------------
_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _ID, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_STRING2TOKEN = {
    ")": _CLOSE,
    ",": _COMMA,
    "!": _NOT,
    "==": _DEQ,
    "=": _EQ,
    ">": _GT,
    "in": _IN,
    "<": _LT,
    "!=": _NEQ,
    "notin": _NOTIN,
    "(": _OPEN,
}
_SPECIAL = frozenset("=!(),><")
_SPACE = frozenset(" \t\r\n")


def _lex(s: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pos, n = 0, len(s)
    while True:
        while pos < n and s[pos] in _SPACE:
            pos += 1
        if pos >= n or s[pos] == "\0":
            out.append((_EOS, ""))
            return out
        if s[pos] in _SPECIAL:
            buf, last = "", (0, "")
            while pos < n and s[pos] in _SPECIAL:
                buf += s[pos]
                tok = _STRING2TOKEN.get(buf)
                if tok is not None:
                    last = (tok, buf)
                    pos += 1
                elif last[0] != 0:
                    break
                else:
                    pos += 1
            out.append(last if last[0] != 0 else (_ERROR, f"error expected: keyword found '{buf}'"))
        else:
            start = pos
            while pos < n and s[pos] not in _SPECIAL and s[pos] not in _SPACE and s[pos] != "\0":
                pos += 1
            word = s[start:pos]
            out.append((_STRING2TOKEN.get(word, _ID), word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def look(self, values: bool = True) -> tuple[int, str]:
        tok, lit = self.items[self.pos]
        return (_ID if values and tok in (_IN, _NOTIN) else tok), lit

    def take(self, values: bool = True) -> tuple[int, str]:
        item = self.look(values)
        self.pos += 1
        return item

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.look()
            if tok in (_ID, _NOT):
                try:
                    reqs.append(self.requirement())
                except _ParseError as exc:
                    raise _ParseError(f"unable to parse requirement: {exc}") from None
                t, lit2 = self.take()
                if t == _EOS:
                    return reqs
                if t == _COMMA:
                    t2, l2 = self.look()
                    if t2 not in (_ID, _NOT):
                        raise _ParseError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise _ParseError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == _EOS:
                return reqs
            else:
                raise _ParseError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        key, op = self.key_and_operator()
        if op in (EXISTS, DOES_NOT_EXIST):
            return self.build(key, op, [])
        tok, lit = self.take(values=False)
        ops = {
            _IN: IN,
            _EQ: EQUALS,
            _DEQ: DOUBLE_EQUALS,
            _GT: GREATER_THAN,
            _LT: LESS_THAN,
            _NOTIN: NOT_IN,
            _NEQ: NOT_EQUALS,
        }
        if tok not in ops:
            raise _ParseError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        op = ops[tok]
        vals = self.value_set() if op in (IN, NOT_IN) else self.exact_value()
        return self.build(key, op, sorted(vals))

    def build(self, key: str, op: str, vals: list[str]) -> Requirement:
        errs = _requirement_errors(key, op, vals)
        if errs:
            raise _ParseError(_aggregate(errs))
        return Requirement(key, op, tuple(vals))

    def key_and_operator(self) -> tuple[str, str]:
        op = ""
        tok, lit = self.take()
        if tok == _NOT:
            op = DOES_NOT_EXIST
            tok, lit = self.take()
        if tok != _ID:
            raise _ParseError(f"found '{lit}', expected: identifier")
        kerrs = is_qualified_name(lit)
        if kerrs:
            raise _ParseError(_field_invalid("<nil>", lit, "; ".join(kerrs)))
        if self.look()[0] in (_EOS, _COMMA) and op != DOES_NOT_EXIST:
            op = EXISTS
        return lit, op

    def value_set(self) -> set[str]:
        tok, lit = self.take()
        if tok != _OPEN:
            raise _ParseError(f"found '{lit}' expected: '('")
        tok, lit = self.look()
        if tok in (_ID, _COMMA):
            vals = self.identifiers()
            if self.take()[0] != _CLOSE:
                raise _ParseError(f"found '{lit}', expected: ')'")
            return vals
        if tok == _CLOSE:
            self.take()
            return {""}
        raise _ParseError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        vals: set[str] = set()
        while True:
            tok, lit = self.take()
            if tok == _ID:
                vals.add(lit)
                t2, l2 = self.look()
                if t2 == _COMMA:
                    continue
                if t2 == _CLOSE:
                    return vals
                raise _ParseError(f"found '{l2}', expected: ',' or ')'")
            if tok == _COMMA:
                if not vals:
                    vals.add("")
                t2 = self.look()[0]
                if t2 == _CLOSE:
                    vals.add("")
                    return vals
                if t2 == _COMMA:
                    vals.add("")
                continue
            raise _ParseError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        if self.look()[0] in (_EOS, _COMMA):
            return {""}
        tok, lit = self.take()
        if tok == _ID:
            return {lit}
        raise _ParseError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str | None) -> LabelSelector:
    """labels.Parse. ``""``/None selects everything. Raises BadRequest with upstream's text,
    e.g. ``unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt``."""
    try:
        return LabelSelector(_Parser(text or "").parse())
    except _ParseError as exc:
        raise BadRequest(message=str(exc)) from None


def from_label_selector_dict(sel: Mapping[str, Any] | None) -> LabelSelector:
    """metav1.LabelSelectorAsSelector: None selects nothing, ``{}`` selects everything."""
    if sel is None:
        return LabelSelector.nothing()
    match_labels: Mapping[str, str] = sel.get("matchLabels") or {}
    exprs: list[Mapping[str, Any]] = sel.get("matchExpressions") or []
    if not match_labels and not exprs:
        return LabelSelector.everything()
    reqs = [new_requirement(k, EQUALS, [v]) for k, v in match_labels.items()]
    ops = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}
    for e in exprs:
        op = ops.get(str(e.get("operator", "")))
        if op is None:
            raise BadRequest(
                message=f"{_go_quote(str(e.get('operator', '')))} is not a valid "
                "label selector operator"
            )
        reqs.append(new_requirement(str(e.get("key", "")), op, list(e.get("values") or [])))
    return LabelSelector(reqs)


def from_set(labels: Mapping[str, str] | None) -> LabelSelector:
    """A Service's ``spec.selector``: equality on every pair; empty or absent selects nothing
    (a selector-less Service's endpoints are managed by someone else)."""
    if not labels:
        return LabelSelector.nothing()
    return LabelSelector(Requirement(k, EQUALS, (v,)) for k, v in labels.items())


def format_labels(labels: Mapping[str, str] | None) -> str:
    """labels.FormatLabels: ``a=b,c=d`` sorted by key, ``<none>`` when empty."""
    lab = labels or {}
    return ",".join(f"{k}={lab[k]}" for k in sorted(lab)) or "<none>"


__all__ = [
    "FIELD_SPECS",
    "FieldSelector",
    "FieldSpec",
    "FieldTerm",
    "LabelSelector",
    "Requirement",
    "field_spec",
    "format_labels",
    "from_label_selector_dict",
    "from_set",
    "new_requirement",
    "parse_field_selector",
    "parse_label_selector",
]
