"""Shared pieces of the Table printers' cells: ages, field access, small formatters.

Role: what every per-kind printer module in this package needs to fill its rows —
upstream's ``duration.HumanDuration`` and ``translateTimestampSince``, RFC 3339 parsing, and
the list formatters of pkg/printers/internalversion/printers.go (the column records are in
:mod:`.columns`). Callers: the printer modules and :mod:`kubesvc.api.tables`. Calls nothing
of kubesvc.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubesvc.api.objects import meta
from kubesvc.api.timefmt import parse_time_epoch

Obj = Mapping[str, Any]


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, ~2-3 significant figures."""
    secs = int(seconds)  # Go's int(d.Seconds()) truncates toward zero
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def since(value: Any, now: float) -> str:
    """translateTimestampSince: ``<unknown>`` for an unset time."""
    t = parse_time_epoch(value)
    if t is None:
        return "<unknown>"
    return human_duration(now - t)


def age(obj: Obj, now: float) -> str:
    return since(meta(obj).get("creationTimestamp"), now)


def name(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def get(obj: Any, *path: str, default: Any = None) -> Any:
    cur = obj
    for p in path:
        if not isinstance(cur, Mapping):
            return default
        cur = cur.get(p)
    return default if cur is None else cur


def as_int(value: Any, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def list_with_more(items: Sequence[str], *, limit: int = 3) -> str:
    """listWithMoreString: the first three, ``+ N more...``, ``<unset>`` when empty."""
    ret = ",".join(items[:limit])
    if len(items) > limit:
        return f"{ret} + {len(items) - limit} more..."
    return ret or "<unset>"


def join_host_port(host: str, port: int | str) -> str:
    """net.JoinHostPort: brackets around an IPv6 literal."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def layout_containers(containers: Sequence[Mapping[str, Any]] | None) -> tuple[str, str]:
    """layoutContainerCells: comma-joined container names and images."""
    cs = containers or []
    return (
        ",".join(str(c.get("name") or "") for c in cs),
        ",".join(str(c.get("image") or "") for c in cs),
    )
