"""Fetch windows and the ranges they are fetched in.

A window is one asset × one ISO week (label = its Monday), clipped to the range and to "now": the unit
that is skipped when already landed and settled, marked complete, and superseded by a newer fetch.
A fetch range is consecutive windows of one asset fetched in ONE continuation chain, so a backfill costs
about ceil(buckets ÷ page_size) requests an asset rather than one a week (plan_ranges); its manifest
still marks completeness window by window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from report.periods import isoformat_z
from report.settings import interval_hours


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

    @property
    def kind(self) -> str:
        return "window"

    @property
    def buckets(self) -> int:
        """How many `interval` buckets the window holds at most (rows the API can return for it)."""
        return math.ceil((self.end - self.start) / timedelta(hours=interval_hours(self.interval)))


@dataclass(frozen=True)
class FetchRange:
    """Consecutive windows of one asset and interval, fetched in one continuation chain."""

    windows: tuple[FetchWindow, ...]

    @property
    def asset(self) -> str:
        return self.windows[0].asset

    @property
    def interval(self) -> str:
        return self.windows[0].interval

    @property
    def start(self) -> datetime:
        return self.windows[0].start

    @property
    def end(self) -> datetime:
        return self.windows[-1].end

    @property
    def label(self) -> str:
        return self.windows[0].label if len(self.windows) == 1 else \
            f"{self.windows[0].label}..{self.windows[-1].label}"

    @property
    def start_time(self) -> str:
        return isoformat_z(self.start)

    @property
    def end_time(self) -> str:
        return isoformat_z(self.end)

    @property
    def buckets(self) -> int:
        return sum(window.buckets for window in self.windows)

    @property
    def kind(self) -> str:
        """How messages name it: a one-window range is that window."""
        return "window" if len(self.windows) == 1 else "range"

    def describe(self) -> str:
        return f"{_short(self.start)} … {_short(self.end)}"

    def pages_needed(self, page_size: int) -> int:
        return math.ceil(self.buckets / page_size)


def plan_ranges(pending: list[FetchWindow], page_size: int) -> list[FetchRange]:
    """Group the windows to fetch into ranges: the fewest requests, then the shortest chains.

    Adjacent windows of one asset form a run. One chain over a run needs ceil(buckets ÷ page_size)
    requests, the minimum; split into chains at window boundaries it may need more (five 168-hour weeks fill
    84 % of a 1,000-row page). Each run is cut into the chains that keep exactly that minimum while the
    longest chain has as few pages as possible, so that chains of one asset can run side by side.
    A weekly run (one new window an asset) is one request an asset.
    """
    ranges = []
    for run in adjacent_runs(pending):
        ranges.extend(split_run(run, page_size))
    return ranges


def adjacent_runs(windows: list[FetchWindow]) -> list[list[FetchWindow]]:
    runs: list[list[FetchWindow]] = []
    for window in sorted(windows, key=lambda w: (w.asset, w.interval, w.start)):
        last = runs[-1][-1] if runs else None
        if last and (last.asset, last.interval, last.end) == (window.asset, window.interval, window.start):
            runs[-1].append(window)
        else:
            runs.append([window])
    return runs


def split_run(run: list[FetchWindow], page_size: int) -> list[FetchRange]:
    buckets = [window.buckets for window in run]
    minimum = math.ceil(sum(buckets) / page_size)
    low = max(math.ceil(b / page_size) for b in buckets)  # a window is never split
    high = max(minimum, low)
    best = _cheapest_split(buckets, page_size, high)
    while low < high:  # the smallest page cap per chain that still needs only the minimum requests
        cap = (low + high) // 2
        split = _cheapest_split(buckets, page_size, cap)
        if split is not None and _requests(buckets, page_size, split) == minimum:
            high, best = cap, split
        else:
            low = cap + 1
    bounds = [0, *best]
    return [FetchRange(tuple(run[a:b])) for a, b in zip(bounds, bounds[1:], strict=False)]


def _cheapest_split(buckets: list[int], page_size: int, cap: int) -> list[int] | None:
    """End indexes of the chains that need the fewest requests with at most `cap` pages a chain
    (ties: fewer chains); None when some window alone needs more than `cap` pages."""
    prefix = [0]
    for count in buckets:
        prefix.append(prefix[-1] + count)
    infinity = (math.inf, math.inf)
    best: list[tuple[float, float]] = [(0, 0)] + [infinity] * len(buckets)
    cut = [0] * (len(buckets) + 1)
    for end in range(1, len(buckets) + 1):
        for begin in range(end - 1, -1, -1):
            pages = math.ceil((prefix[end] - prefix[begin]) / page_size)
            if pages > cap:
                break
            candidate = (best[begin][0] + pages, best[begin][1] + 1)
            if candidate < best[end]:
                best[end], cut[end] = candidate, begin
    if best[-1] == infinity:
        return None
    ends, position = [], len(buckets)
    while position:
        ends.append(position)
        position = cut[position]
    return ends[::-1]


def _requests(buckets: list[int], page_size: int, ends: list[int]) -> int:
    bounds = [0, *ends]
    return sum(math.ceil(sum(buckets[a:b]) / page_size) for a, b in zip(bounds, bounds[1:], strict=False))


def _short(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d}" if moment.hour == moment.minute == 0 else f"{moment:%Y-%m-%dT%H:%MZ}"


def bucket_start(row) -> datetime | None:
    """A data row's bucket start from its `interval_time` (aware; naive times are UTC), or None when it has
    none that parses (page_problem then quarantines the page). Parsed once a page: the chain's bounds
    and the landing's coverage both read it."""
    stamp = row.get("interval_time") if type(row) is dict else None
    if type(stamp) is not str:
        return None
    try:
        moment = datetime.fromisoformat(stamp)  # Python 3.11 reads the API's trailing Z
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


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


def is_usable_from(landed, api_root: str) -> bool:
    """A landed fetch of the window (landing.LandedWindow, or None) whose pages are on disk as listed and that
    came from this API root: one that may stand in for a fetch, once settled."""
    return landed is not None and landed.usable and landed.api_root == api_root


def is_landed_and_settled(window: FetchWindow, landed, now: datetime, settle_hours: int,
                          api_root: str) -> bool:
    """True when the newest usable fetch covers the window, came from the same API root and the data can
    no longer change.

    Kaiko may still revise an hour shortly after it ends, so a window counts as settled only when
    its end lies `settle_hours` before now AND the landed fetch was itself made after that point:
    a fetch taken while the window was still fresh is fetched again once it settles. Pages from another
    root never stand in (demo pages for real ones, a mirror's for Kaiko's, or the other way round); a
    manifest without api_root (manifest_version 1) names no root, so its window is fetched again. `landed`
    is the newest complete fetch of the window (landing.LandedWindow), unusable when its pages are not on
    disk as listed.
    """
    if not is_usable_from(landed, api_root):
        return False
    settle = timedelta(hours=settle_hours)
    try:
        landed_start = _parse_z(landed.start_time)
        landed_end = _parse_z(landed.end_time)
        fetched_at = _parse_z(landed.fetched_at)
    except (AttributeError, TypeError, ValueError):
        return False
    covers = landed_start <= window.start and landed_end >= window.end
    return covers and window.end <= as_utc(now) - settle and fetched_at >= window.end + settle


def _parse_z(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
