"""Cron schedules (kubesvc.api.cron) as robfig/cron's standard parser reads them, and next
activation times in UTC and in named time zones (DST gaps skipped)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kubesvc.api import cron

T0 = datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(("spec", "want"), [
    ("* * * * *", datetime(2026, 12, 5, 12, 1, tzinfo=UTC)),
    ("*/15 * * * *", datetime(2026, 12, 5, 12, 15, tzinfo=UTC)),
    ("@hourly", datetime(2026, 12, 5, 13, 0, tzinfo=UTC)),
    ("@daily", datetime(2026, 12, 6, 0, 0, tzinfo=UTC)),
    ("@midnight", datetime(2026, 12, 6, 0, 0, tzinfo=UTC)),
    ("@weekly", datetime(2026, 12, 6, 0, 0, tzinfo=UTC)),  # Sunday
    ("@monthly", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ("@yearly", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
    ("0 9 * * mon-fri", datetime(2026, 12, 7, 9, 0, tzinfo=UTC)),
    ("0 9 * JAN ?", datetime(2027, 1, 1, 9, 0, tzinfo=UTC)),
    ("30 2 29 2 *", datetime(2028, 2, 29, 2, 30, tzinfo=UTC)),
    ("0 0 1 * 0", datetime(2026, 12, 6, 0, 0, tzinfo=UTC)),  # dom OR dow
    ("5-10/5 12 * * *", datetime(2026, 12, 5, 12, 5, tzinfo=UTC)),
])
def test_next_in_utc(spec: str, want: datetime) -> None:
    assert cron.parse(spec).next(T0) == want


def test_dom_and_dow_with_a_star_must_both_match() -> None:
    # "*" day-of-week: only the 13th; "*" day-of-month: only Fridays.
    assert cron.parse("0 0 13 * *").next(T0) == datetime(2026, 12, 13, tzinfo=UTC)
    assert cron.parse("0 0 * * 5").next(T0) == datetime(2026, 12, 11, tzinfo=UTC)
    # Both restricted: the 13th or a Friday, whichever comes first.
    assert cron.parse("0 0 13 * 5").next(T0) == datetime(2026, 12, 11, tzinfo=UTC)


def test_next_in_a_time_zone_and_across_dst() -> None:
    ny = cron.load_zone("America/New_York")
    assert cron.parse("0 9 * * *").next(T0, ny) == datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    # 2026-03-08 02:30 does not exist in New York: that day is skipped.
    before = datetime(2026, 3, 7, 12, tzinfo=UTC)
    assert cron.parse("30 2 * * *").next(before, ny) == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)
    tokyo = cron.load_zone("Asia/Tokyo")
    assert cron.parse("0 0 * * *").next(T0, tokyo) == datetime(2026, 12, 5, 15, 0, tzinfo=UTC)


def test_every() -> None:
    assert cron.parse("@every 1h30m").next(T0) == datetime(2026, 12, 5, 13, 30, 30, tzinfo=UTC)


@pytest.mark.parametrize(("spec", "message"), [
    ("", "empty spec string"),
    ("* * * *", "expected exactly 5 fields, found 4: * * * *"),
    ("60 * * * *", "end of range (60) above maximum (59): 60"),
    ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
    ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
    ("*/0 * * * *", "step of range should be a positive number: */0"),
    ("@often", "unrecognized descriptor: @often"),
    ("0 0 * * 7", "end of range (7) above maximum (6): 7"),  # robfig: Sunday is 0 only
])
def test_errors(spec: str, message: str) -> None:
    with pytest.raises(cron.CronError) as exc:
        cron.parse(spec)
    assert str(exc.value) == message


def test_unknown_zone() -> None:
    with pytest.raises(cron.CronError, match="unknown time zone Mars/Olympus"):
        cron.load_zone("Mars/Olympus")
