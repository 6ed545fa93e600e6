"""Report periods: ISO weeks (Monday 00:00 UTC) or an explicit [start, end) range, always UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from report.errors import ConfigError

ISO_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
# Periods outside these years are typing mistakes (0001-W01), and date arithmetic on them overflows.
FIRST_YEAR, LAST_YEAR = 2000, 2099


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, UTC, tz-aware
    end: datetime  # exclusive, UTC, tz-aware
    label: str  # "2025-W09" for an ISO week, else "2025-02-03_2025-02-10"

    @property
    def is_iso_week(self) -> bool:
        return bool(ISO_WEEK.match(self.label))

    @property
    def hours(self) -> int:
        return int((self.end - self.start).total_seconds() // 3600)


def iso_week(label: str) -> Period:
    match = ISO_WEEK.match(label)
    if not match:
        raise ConfigError(f"week {label!r} is not an ISO week: use the form 2025-W09.")
    year, week = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ConfigError(f"week {label!r} does not exist: {year} has no ISO week {week}.") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    check_years(start, f"week {label}")
    return Period(start, start + timedelta(days=7), label)


def check_years(moment: datetime, what: str) -> None:
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ConfigError(f"{what} is out of range: give a period between {FIRST_YEAR} and {LAST_YEAR}.")


def week_of(moment: datetime) -> Period:
    year, week, _ = moment.astimezone(UTC).isocalendar()
    return iso_week(f"{year}-W{week:02d}")


def last_complete_week(now: datetime) -> Period:
    """The last ISO week that ended before `now`."""
    return week_of(now.astimezone(UTC) - timedelta(days=7))


def parse_utc(value: str, name: str) -> datetime:
    """Parse an ISO 8601 date or datetime; naive values are UTC."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{name} {value!r} is not an ISO 8601 date or time, e.g. 2025-02-03 or 2025-02-03T00:00Z."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+05:00 has no UTC
        raise ConfigError(f"{name} {value} is out of range: give a period between {FIRST_YEAR} and "
                          f"{LAST_YEAR}.") from None


def explicit(start: str, end: str) -> Period:
    begin, finish = parse_utc(start, "--start"), parse_utc(end, "--end")
    check_years(begin, f"--start {start}")
    check_years(finish, f"--end {end}")
    if finish <= begin:
        raise ConfigError(f"--end {end} is not after --start {start}: the range is [start, end).")
    if (
        begin.minute
        or begin.second
        or begin.microsecond
        or finish.minute
        or finish.second
        or finish.microsecond
    ):
        raise ConfigError("--start and --end must fall on whole UTC hours, the data's grain.")
    label = (
        f"{begin:%Y-%m-%d}_{finish:%Y-%m-%d}"
        if begin.hour == finish.hour == 0
        else f"{begin:%Y-%m-%dT%H}_{finish:%Y-%m-%dT%H}"
    )
    return Period(begin, finish, label)


def isoformat_z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
