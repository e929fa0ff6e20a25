"""The JSONPath subset CRDs use: printer columns (``.spec.replicas``,
``.status.conditions[?(@.type=="Ready")].status``, ``.items[0].name``) and the scale
subresource's ``specReplicasPath``/``statusReplicasPath``/``labelSelectorPath``
(``.spec.replicas``: dotted fields only).

Upstream evaluates columns with ``k8s.io/client-go/util/jsonpath`` (a column whose path
finds nothing prints as empty, a list of results prints comma-separated... only the first
result is shown by the CRD table convertor). Called by :mod:`.tables` and the CR strategy.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(
    r"""\.(?P<field>[A-Za-z0-9_\-$]+)
      | \[(?P<index>-?\d+|\*)\]
      | \[\?\(@\.(?P<ffield>[A-Za-z0-9_.\-]+)\s*==\s*(?P<q>["'])(?P<fvalue>.*?)(?P=q)\)\]
      | \['(?P<qfield>[^']+)'\]
      | \.\.?\*
    """, re.VERBOSE)


class JSONPathError(ValueError):
    pass


def parse(path: str) -> list[tuple[str, Any]]:
    """Steps of a relative JSONPath (``.a.b[0]``); ``{...}`` around it is allowed.
    Raises JSONPathError."""
    p = path.strip()
    if p.startswith("{") and p.endswith("}"):
        p = p[1:-1]
    if p.startswith("$"):
        p = p[1:]
    steps: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if m is None:
            raise JSONPathError(f"unrecognized character in action: {p[pos:pos+10]!r}")
        if m.group("field") is not None:
            steps.append(("field", m.group("field")))
        elif m.group("qfield") is not None:
            steps.append(("field", m.group("qfield")))
        elif m.group("index") is not None:
            idx = m.group("index")
            steps.append(("all", None) if idx == "*" else ("index", int(idx)))
        elif m.group("ffield") is not None:
            steps.append(("filter", (m.group("ffield").split("."), m.group("fvalue"))))
        else:
            steps.append(("all", None))
        pos = m.end()
    return steps


def find(obj: Any, path: str) -> list[Any]:
    """Every value the path selects in ``obj`` (empty when none)."""
    current = [obj]
    for kind, arg in parse(path):
        nxt: list[Any] = []
        for v in current:
            if kind == "field":
                if isinstance(v, dict) and arg in v:
                    nxt.append(v[arg])
            elif kind == "index":
                if isinstance(v, list) and -len(v) <= arg < len(v):
                    nxt.append(v[arg])
            elif kind == "all":
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
            else:
                fields, want = arg
                if isinstance(v, list):
                    for item in v:
                        got: Any = item
                        for fld in fields:
                            got = got.get(fld) if isinstance(got, dict) else None
                        if got is not None and _text(got) == want:
                            nxt.append(item)
        current = nxt
    return current


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def is_simple_field_path(path: str) -> str:
    """"" when ``path`` is a dotted field path (``.spec.replicas``), else why not
    (upstream's ValidateCustomResourceDefinitionSubresources wording)."""
    if not path.startswith("."):
        return "must be a simple json path starting with ."
    try:
        steps = parse(path)
    except JSONPathError:
        return "must be a simple json path starting with ."
    if not steps or any(k != "field" for k, _ in steps):
        return "must be a simple json path starting with ."
    return ""


def field_steps(path: str) -> list[str]:
    return [str(a) for _, a in parse(path)]


def get_field(obj: Any, path: str) -> tuple[Any, bool]:
    """The value at a dotted field path, and whether it is there."""
    cur = obj
    for name in field_steps(path):
        if not isinstance(cur, dict) or name not in cur:
            return None, False
        cur = cur[name]
    return cur, True


def set_field(obj: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted field path, creating the maps on the way."""
    steps = field_steps(path)
    cur = obj
    for name in steps[:-1]:
        nxt = cur.get(name)
        if not isinstance(nxt, dict):
            nxt = cur[name] = {}
        cur = nxt
    cur[steps[-1]] = value
