"""The one home of human units and RFC 3339 times: round trips and refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from observe.timefmt import (
    format_datetime,
    format_ns,
    format_seconds,
    format_time_ns,
    parse_datetime,
    parse_ns,
    parse_time,
)
from observe.units import format_bytes, format_duration, parse_bool, parse_duration, parse_size

NS = st.integers(min_value=0, max_value=253_402_300_799_999_999_999)


@given(NS)
def test_docker_times_round_trip_to_the_nanosecond(ns: int) -> None:
    assert parse_ns(format_ns(ns)) == ns


@given(st.integers(min_value=631_152_000 * 10**9, max_value=7_258_118_399 * 10**9))
def test_record_timestamps_keep_microseconds_and_parse_back(ns: int) -> None:
    stamp = format_time_ns(ns)
    assert len(stamp) == 27 and stamp.endswith("Z")
    assert parse_time(stamp) == ns // 1000 * 1000


@given(NS)
def test_datetimes_from_docker_times_keep_microseconds(ns: int) -> None:
    when = parse_datetime(format_ns(ns))
    assert when is not None and when.tzinfo is not None
    assert (when - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) == ns // 1000


def test_docker_zero_time_and_garbage_are_no_time() -> None:
    assert parse_datetime("0001-01-01T00:00:00Z") is None
    assert parse_datetime("yesterday") is None
    assert parse_datetime(None) is None
    assert parse_datetime("2026-11-29T18:50:47.143126789+01:00") == datetime(2026, 11, 29, 17, 50, 47, 143126, UTC)


def test_formatted_datetimes_end_in_z() -> None:
    assert format_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_seconds(1.5) == "1970-01-01T00:00:01.500000Z"


@given(st.integers(min_value=0, max_value=1 << 50), st.sampled_from(["", "b", "k", "KiB", "MB", "m", "g", "GiB"]))
def test_sizes(n: int, unit: str) -> None:
    mult = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "m": 1 << 20, "g": 1 << 30, "gib": 1 << 30}
    assert parse_size(f"{n}{unit}") == n * mult[unit.lower()]


@pytest.mark.parametrize("text", ["lots", "-1k", "1x", "", "nan", "inf"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_booleans() -> None:
    assert all(parse_bool(t) for t in ("1", "true", "YES", " on "))
    assert not any(parse_bool(t) for t in ("0", "false", "No", "off"))
    assert parse_bool("", empty=False) is False
    with pytest.raises(ValueError):
        parse_bool("")
    with pytest.raises(ValueError):
        parse_bool("maybe")


def test_human_forms() -> None:
    assert [format_bytes(v) for v in (None, 512, 1536, 12 << 20, 3.2 * (1 << 30), 5 << 40)] == [
        "-", "512B", "1.5KiB", "12MiB", "3.2GiB", "5.0TiB"]
    assert format_duration(None, "-") == "-" and format_duration(3 * 86400 + 4 * 3600) == "3d4h"
    assert parse_duration("2m30s") == 150.0
