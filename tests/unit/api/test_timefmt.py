"""The wire timestamp formats in api.timefmt (datetime and epoch variants)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from kubesvc.api import timefmt

T = datetime(2026, 11, 23, 12, 0, 5, 120000, tzinfo=UTC)


def test_formats() -> None:
    assert timefmt.rfc3339(T) == "2026-11-23T12:00:05Z"
    assert timefmt.rfc3339(T.replace(tzinfo=None)) == "2026-11-23T12:00:05Z"  # naive: UTC
    assert timefmt.rfc3339(T.astimezone(timezone(timedelta(hours=2)))) == "2026-11-23T12:00:05Z"
    assert timefmt.rfc3339_nano(T) == "2026-11-23T12:00:05.12Z"
    assert timefmt.rfc3339_nano(T.replace(microsecond=0)) == "2026-11-23T12:00:05Z"
    assert timefmt.micro_time(T) == "2026-11-23T12:00:05.120000Z"
    assert timefmt.rfc3339_epoch(T.timestamp()) == "2026-11-23T12:00:05Z"
    assert timefmt.micro_time_epoch(T.timestamp()) == "2026-11-23T12:00:05.120000Z"


def test_parse() -> None:
    assert timefmt.parse_time("2026-11-23T12:00:05.120000000Z") == T
    assert timefmt.parse_time("2026-11-23T12:00:05.12z") == T
    assert timefmt.parse_time("2026-11-23T12:00:05.12") == T  # no offset: UTC
    assert timefmt.parse_time("") is None
    assert timefmt.parse_time("yesterday") is None
    assert timefmt.parse_time_epoch("2026-11-23T12:00:05.12Z") == T.timestamp()
    assert timefmt.parse_time_epoch(None) is None
