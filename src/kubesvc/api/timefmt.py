"""Timestamps as the Kubernetes wire formats them, and back.

``metav1.Time`` (RFC 3339, second precision, UTC), ``metav1.MicroTime`` (microseconds) and
Go's ``RFC3339Nano`` (trailing zeros trimmed, used by annotations such as
``endpoints.kubernetes.io/last-change-trigger-time``). Two families, named for what they take
and give: the plain names work on aware :class:`~datetime.datetime` values, the ``_epoch``
names on float seconds since the epoch (what ``time.time()`` returns). Everything that writes
or reads a timestamp calls these (controllers, runtime, registry, Table printers); no I/O.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, formatted


def now() -> datetime:
    """The current time, UTC, aware."""
    return datetime.now(UTC)


def _utc(t: datetime | None) -> datetime:
    """``t`` (now when None) in UTC; a naive ``t`` is taken as UTC already."""
    if t is None:
        return now()
    return t.astimezone(UTC) if t.tzinfo else t


def rfc3339(t: datetime | None = None) -> str:
    """``metav1.Time``: ``2026-11-23T12:00:00Z`` (seconds, UTC); ``t`` defaults to now."""
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(t: datetime | None = None) -> str:
    """``RFC3339Nano`` as Go prints it (trailing zeros of the fraction trimmed)."""
    t = _utc(t)
    frac = f"{t.microsecond:06d}".rstrip("0")
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def micro_time(t: datetime | None = None) -> str:
    """``metav1.MicroTime``: RFC 3339 with six fractional digits, UTC."""
    return _utc(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def rfc3339_epoch(ts: float | None = None) -> str:
    """:func:`rfc3339` of epoch seconds (``time.time()`` when None)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if ts is None else ts))


def micro_time_epoch(ts: float | None = None) -> str:
    """:func:`micro_time` of epoch seconds (``time.time()`` when None)."""
    return micro_time(datetime.fromtimestamp(time.time() if ts is None else ts, UTC))


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 string (Time, MicroTime or RFC3339Nano) as an aware datetime; None when
    unset or unparseable. A timestamp without an offset is taken as UTC."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Go may print up to 9 fractional digits; Python takes 6.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = "".join(c for c in rest if c.isdigit())
        tz = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{tz}"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def parse_time_epoch(value: Any) -> float | None:
    """:func:`parse_time` as epoch seconds."""
    t = parse_time(value)
    return None if t is None else t.timestamp()
