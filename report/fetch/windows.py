"""Fetch windows: one asset × one ISO week (label = its Monday), clipped to the range and to "now".

A window is the unit that lands atomically, is skipped when already landed and settled, and fails alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from report.periods import isoformat_z


@dataclass(frozen=True)
class FetchWindow:
    asset: str
    interval: str
    week_start: date
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC

    @property
    def label(self) -> str:
        return self.week_start.isoformat()

    @property
    def start_time(self) -> str:
        return isoformat_z(self.start)

    @property
    def end_time(self) -> str:
        return isoformat_z(self.end)

    def describe(self) -> str:
        return f"{_short(self.start)} … {_short(self.end)}"


def _short(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}" if moment.hour == moment.minute == 0 else f"{moment:%Y-%m-%dT%H:%MZ}"


def as_utc(moment: datetime) -> datetime:
    """Naive datetimes are UTC by the project's convention."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def floor_hour(moment: datetime) -> datetime:
    return as_utc(moment).replace(minute=0, second=0, microsecond=0)


def monday_of(moment: datetime) -> datetime:
    day = as_utc(moment).date() - timedelta(days=as_utc(moment).weekday())
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def plan_windows(assets, interval: str, start: datetime, end: datetime, now: datetime) -> list[FetchWindow]:
    """Every asset × ISO week window of [start, end), clipped to the range and to the current hour.

    The hour in progress is never fetched: its bucket is still filling.
    """
    begin = as_utc(start)
    finish = min(as_utc(end), floor_hour(now))
    windows = []
    for asset in assets:
        week = monday_of(begin)
        while week < finish:
            week_end = week + timedelta(days=7)
            window_start, window_end = max(week, begin), min(week_end, finish)
            if window_start < window_end:
                windows.append(FetchWindow(asset, interval, week.date(), window_start, window_end))
            week = week_end
    return windows


def is_landed_and_settled(window: FetchWindow, manifest: dict | None, now: datetime,
                          settle_hours: int, api_root: str) -> bool:
    """True when the newest usable fetch covers the window, came from the same API root and the data can
    no longer change.

    Kaiko may still revise an hour shortly after it ends, so a window counts as settled only when
    its end lies `settle_hours` before now AND the landed fetch was itself made after that point:
    a fetch taken while the window was still fresh is fetched again once it settles. Pages from another
    root never stand in (demo pages for real ones, a mirror's for Kaiko's, or the other way round); a
    manifest without api_root (manifest_version 1) names no root, so its window is fetched again.
    """
    if manifest is None or manifest.get("api_root") != api_root:
        return False
    settle = timedelta(hours=settle_hours)
    try:
        landed_start = _parse_z(manifest["start_time"])
        landed_end = _parse_z(manifest["end_time"])
        fetched_at = _parse_z(manifest["fetched_at"])
    except (KeyError, TypeError, ValueError):
        return False
    covers = landed_start <= window.start and landed_end >= window.end
    return covers and window.end <= as_utc(now) - settle and fetched_at >= window.end + settle


def _parse_z(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
