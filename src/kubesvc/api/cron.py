"""Cron schedules as the CronJob controller reads them (upstream uses robfig/cron/v3
``ParseStandard``): five fields (minute hour day-of-month month day-of-week) with ``*``,
``?``, lists, ranges, ``/step``, month and weekday names, and the descriptors ``@yearly``
``@annually`` ``@monthly`` ``@weekly`` ``@daily`` ``@midnight`` ``@hourly`` and
``@every <duration>``. Day-of-month and day-of-week combine as robfig does: when either is
``*``/``?`` both must match, otherwise either may. Times are evaluated as wall-clock time
in the schedule's zone (``zoneinfo``); a wall time a DST jump skips is skipped, as robfig.

Called by the CronJob validation (:mod:`kubesvc.api.validation.batch`) and the CronJob
controller. Pure code, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronError", "Schedule", "load_zone", "parse"]


class CronError(ValueError):
    """A schedule robfig/cron would refuse; the message is robfig's."""


_MONTHS = {m: i + 1 for i, m in enumerate(
    "jan feb mar apr may jun jul aug sep oct nov dec".split())}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_NONE: dict[str, int] = {}
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, _NONE), (0, 23, _NONE), (1, 31, _NONE), (1, 12, _MONTHS), (0, 6, _DAYS))
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def _number(text: str, names: dict[str, int]) -> int:
    low = text.lower()
    if low in names:
        return names[low]
    if not text.isdigit():
        raise CronError(f"failed to parse int from {text}: strconv.Atoi: parsing "
                        f"{text!r}: invalid syntax".replace("'", '"'))
    return int(text)


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """The values of one field and whether it was ``*``/``?`` (robfig's star bit)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        rng, _, step_s = part.partition("/")
        step = 1
        if step_s:
            step = _number(step_s, {})
            if step == 0:
                raise CronError(f"step of range should be a positive number: {part}")
        if rng in ("*", "?"):
            start, end = lo, hi
            star = not step_s
        else:
            a, dash, b = rng.partition("-")
            start = _number(a, names)
            end = _number(b, names) if dash else (hi if step_s else start)
        if start < lo:
            raise CronError(f"beginning of range ({start}) below minimum ({lo}): {part}")
        if end > hi:
            raise CronError(f"end of range ({end}) above maximum ({hi}): {part}")
        if start > end:
            raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {part}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


@dataclass(frozen=True, slots=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: frozenset[int]
    months: frozenset[int]
    dow: frozenset[int]
    dom_star: bool
    dow_star: bool
    every: float = 0.0  # @every: a fixed interval in seconds instead of the fields

    def _day_matches(self, t: datetime) -> bool:
        dom_ok = t.day in self.dom
        dow_ok = (t.isoweekday() % 7) in self.dow
        if self.dom_star or self.dow_star:
            return dom_ok and dow_ok
        return dom_ok or dow_ok

    def next(self, after: datetime, zone: tzinfo = UTC) -> datetime | None:
        """The first activation strictly after ``after`` (aware), in UTC; None if there is
        none within five years (robfig gives up there too)."""
        if self.every:
            step = max(1.0, float(int(self.every)))
            return (after + timedelta(seconds=step)).replace(microsecond=0).astimezone(UTC)
        local = after.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
        local += timedelta(minutes=1)
        limit = local + timedelta(days=366 * 5)
        while local < limit:
            if local.month not in self.months:
                # first minute of the next month
                y, m = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
                local = datetime(y, m, 1)
                continue
            if not self._day_matches(local):
                local = datetime(local.year, local.month, local.day) + timedelta(days=1)
                continue
            if local.hour not in self.hours:
                local = local.replace(minute=0) + timedelta(hours=1)
                continue
            if local.minute not in self.minutes:
                local += timedelta(minutes=1)
                continue
            aware = local.replace(tzinfo=zone)
            back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
            if back != local:  # a wall time the zone skips (spring forward)
                local += timedelta(minutes=1)
                continue
            out = aware.astimezone(UTC)
            if out > after:
                return out
            local += timedelta(minutes=1)
        return None


def parse(spec: str) -> Schedule:
    """Parse a standard schedule. Raises CronError with robfig's wording."""
    text = spec.strip()
    if not text:
        raise CronError("empty spec string")
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        raise CronError("TZ is not supported in schedule")  # callers refuse it earlier
    if text.startswith("@"):
        if text.startswith("@every "):
            rest = text[len("@every "):].strip()
            pos, total = 0, 0.0
            for m in _DURATION.finditer(rest):
                if m.start() != pos:
                    break
                total += float(m.group(1)) * _UNIT[m.group(2)]
                pos = m.end()
            if pos != len(rest) or not rest:
                raise CronError(f"failed to parse duration {text}: time: invalid duration "
                                f'"{rest}"')
            return Schedule(frozenset(), frozenset(), frozenset(), frozenset(), frozenset(),
                            False, False, every=total)
        if text not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: {text}")
    parsed = [_field(f, lo, hi, names) for f, (lo, hi, names) in zip(fields, _BOUNDS,
                                                                     strict=True)]
    dow_values = frozenset(v % 7 for v in parsed[4][0])
    return Schedule(parsed[0][0], parsed[1][0], parsed[2][0], parsed[3][0], dow_values,
                    parsed[2][1], parsed[4][1])


def load_zone(name: str | None) -> tzinfo:
    """The zone of ``spec.timeZone`` (None: the controller's zone, UTC here, as a
    kube-controller-manager running in UTC). Raises CronError for an unknown zone."""
    if not name:
        return UTC
    if name == "Local":
        raise CronError(f"unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"unknown time zone {name}") from exc
