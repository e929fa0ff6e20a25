"""PodLogOptions parsing and upstream's ValidatePodLogOptions messages."""

from __future__ import annotations

import pytest

from kubesvc import errors
from kubesvc.api.podlogs import LogOptions, format_timestamp


def test_parse_all_options() -> None:
    o = LogOptions.from_query({"container": "c", "follow": "true", "previous": "1",
                               "tailLines": "5", "sinceSeconds": "10", "timestamps": "true",
                               "limitBytes": "100"}, name="p")
    assert (o.container, o.follow, o.previous, o.tail_lines) == ("c", True, True, 5)
    assert (o.since_seconds, o.timestamps, o.limit_bytes) == (10, True, 100)
    assert o.since(1000.0) == 990.0


def test_since_time_round_trips_through_the_kubelet_query() -> None:
    o = LogOptions.from_query({"sinceTime": "2024-05-01T10:00:00Z"}, name="p")
    assert o.since_time == 1714557600.0
    assert o.query() == {"sinceTime": "2024-05-01T10:00:00.000000000Z"}
    assert LogOptions.from_query(o.query()).since_time == o.since_time


@pytest.mark.parametrize(("query", "message"), [
    ({"tailLines": "-1"}, 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must '
                          "be greater than or equal to 0"),
    ({"limitBytes": "0"}, 'PodLogOptions "p" is invalid: limitBytes: Invalid value: 0: must '
                          "be greater than 0"),
    ({"sinceSeconds": "0"}, 'PodLogOptions "p" is invalid: sinceSeconds: Invalid value: 0: '
                            "must be greater than 0"),
    ({"sinceSeconds": "5", "sinceTime": "2024-05-01T10:00:00Z"},
     'PodLogOptions "p" is invalid: Forbidden: at most one of `sinceTime` or `sinceSeconds` '
     "may be specified"),
    ({"tailLines": "-1", "limitBytes": "-2"},
     'PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: must be greater than or '
     "equal to 0, limitBytes: Invalid value: -2: must be greater than 0]"),
])
def test_invalid_options(query: dict[str, str], message: str) -> None:
    with pytest.raises(errors.Invalid) as exc:
        LogOptions.from_query(query, name="p")
    assert exc.value.message == message
    assert exc.value.code == 422


def test_unparseable_values_are_bad_requests() -> None:
    with pytest.raises(errors.BadRequest, match=r"strconv\.ParseInt"):
        LogOptions.from_query({"tailLines": "x"})
    with pytest.raises(errors.BadRequest, match="parsing time"):
        LogOptions.from_query({"sinceTime": "yesterday"})


def test_timestamp_format_has_nine_fraction_digits() -> None:
    assert format_timestamp(1714557600_000000123) == "2024-05-01T10:00:00.000000123Z"
    assert format_timestamp(1714557600_500000000) == "2024-05-01T10:00:00.500000000Z"
