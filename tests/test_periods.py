"""Report periods: ISO weeks from Monday 00:00 UTC, explicit [start, end) ranges."""

from datetime import UTC, datetime

import pytest

from report.errors import ConfigError
from report.periods import explicit, iso_week, last_complete_week


def test_iso_week_starts_monday_utc_and_spans_seven_days():
    week = iso_week("2025-W09")
    assert week.start == datetime(2025, 2, 24, tzinfo=UTC)
    assert week.end == datetime(2025, 3, 3, tzinfo=UTC)
    assert week.hours == 168


def test_week_spanning_a_year_end():
    week = iso_week("2025-W01")
    assert week.start == datetime(2024, 12, 30, tzinfo=UTC)
    assert week.end == datetime(2025, 1, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "now, label",
    [
        (datetime(2026, 11, 24, 21, 0, tzinfo=UTC), "2026-W47"),
        (datetime(2026, 11, 23, 0, 0, tzinfo=UTC), "2026-W47"),  # Monday 00:00: last week just ended
        (datetime(2026, 11, 22, 23, 59, tzinfo=UTC), "2026-W46"),  # Sunday night: this week is not complete
        (datetime(2025, 1, 7, 12, 0, tzinfo=UTC), "2025-W01"),
    ],
)
def test_last_complete_week_before_now(now, label):
    assert last_complete_week(now).label == label


@pytest.mark.parametrize("label", ["2021-W53", "2025-W00", "2025-W54"])
def test_week_that_does_not_exist_is_refused(label):
    with pytest.raises(ConfigError, match="does not exist"):
        iso_week(label)


@pytest.mark.parametrize("label", ["2025-9", "2025W09", "W09", "2025-W9"])
def test_malformed_week_is_refused(label):
    with pytest.raises(ConfigError, match="not an ISO week"):
        iso_week(label)


def test_explicit_range_is_utc_and_labelled():
    period = explicit("2025-02-03", "2025-02-05T12:00:00Z")
    assert period.start == datetime(2025, 2, 3, tzinfo=UTC)
    assert period.hours == 60
    assert period.label == "2025-02-03T00_2025-02-05T12"


def test_end_before_start_is_refused():
    with pytest.raises(ConfigError, match="not after"):
        explicit("2025-02-10", "2025-02-03")


def test_impossible_dates_are_refused():
    with pytest.raises(ConfigError, match="not an ISO 8601"):
        explicit("2025-02-30", "2025-03-03")


def test_range_must_fall_on_whole_hours():
    with pytest.raises(ConfigError, match="whole UTC hours"):
        explicit("2025-02-03T00:30:00Z", "2025-02-04")
