"""Turn mart rows into what the page shows: per-asset sections, chart specs and one-line takeaways.

Everything here is arithmetic on rows already computed by sql/reports; no database, no HTML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from report.formatting import (
    WEEK_WORDS,
    PeriodWords,
    change,
    exchange_name,
    share,
    usd,
    utc_day,
    utc_hour,
)
from report.render.charts import SESSIONS
from report.render.data import ReportData


@dataclass
class ChartSpec:
    kind: str  # key of charts.CHARTS
    asset: str | None
    args: tuple
    kwargs: dict
    title: str
    alt: str
    takeaway: str

    @property
    def file(self) -> str:
        return f"charts/{self.asset or 'all'}_{self.kind}.png"


@dataclass
class AssetSection:
    asset: str
    summary: dict | None
    quality: dict | None
    has_liquidations: bool
    empty_reason: str
    charts: list[ChartSpec] = field(default_factory=list)
    exchanges: list[dict] = field(default_factory=list)
    top_hours: list[dict] = field(default_factory=list)
    spikes: list[dict] = field(default_factory=list)
    days: list[dict] = field(default_factory=list)
    headline: str = ""


def build_sections(data: ReportData, assets: tuple[str, ...],
                   words: PeriodWords = WEEK_WORDS) -> list[AssetSection]:
    return [build_section(data, asset, words) for asset in assets]


def build_section(data: ReportData, asset: str, words: PeriodWords = WEEK_WORDS) -> AssetSection:
    summary = data.one("rpt_weekly_summary", asset)
    quality = data.one("rpt_data_quality", asset)
    has_liquidations = bool(summary and summary["total_amount"] > 0)
    section = AssetSection(asset, summary, quality, has_liquidations, empty_reason(summary))
    if not has_liquidations:
        return section
    section.days = data.rows("rpt_daily_ratio", asset)
    section.exchanges = data.rows("rpt_exchange_share", asset)
    section.top_hours = data.rows("rpt_top_hours", asset)
    section.spikes = [row for row in data.rows("rpt_spike_hours", asset) if row["is_spike"]]
    section.headline = asset_headline(summary, words)
    timeline = data.rows("rpt_hourly_timeline", asset)
    trend = data.rows("rpt_weekly_trend", asset)
    heat = data.rows("rpt_hour_weekday", asset)
    exchange_days = data.rows("rpt_exchange_day", asset)
    name = asset.upper()
    spike_hours = tuple(row["hour"] for row in section.spikes)
    section.charts = [
        _chart("daily", asset, (section.days, asset), {"words": words},
               f"{name}: daily long vs short liquidations", daily_takeaway(summary, section.days, words)),
        _chart("hourly", asset, (timeline, asset), {"spike_hours": spike_hours},
               f"{name}: hourly liquidations through the week", hourly_takeaway(timeline, section.spikes)),
        _chart("cumulative", asset, (timeline, asset), {}, f"{name}: cumulative long vs short",
               cumulative_takeaway(timeline)),
        _chart("exchanges", asset, (section.exchanges, asset), {"words": words},
               f"{name}: liquidations by exchange", exchange_takeaway(section.exchanges, words)),
        _chart("exchange_day", asset, (exchange_days, asset),
               {"days": tuple(day["day"] for day in section.days)}, f"{name}: exchange × day heatmap",
               exchange_day_takeaway(exchange_days, words)),
        _chart("heatmap", asset, (heat, asset), {}, f"{name}: weekday × hour-of-day heatmap (UTC)",
               heatmap_takeaway(heat)),
        _chart("ratio", asset, (section.days, asset), {}, f"{name}: long share and average size per day",
               ratio_takeaway(section.days)),
        _chart("trend", asset, (trend, asset), {}, f"{name}: weekly totals, trailing 12 weeks",
               trend_takeaway(summary, trend, words)),
    ]
    return section


def cross_asset_chart(data: ReportData, assets: tuple[str, ...],
                      words: PeriodWords = WEEK_WORDS) -> ChartSpec | None:
    rows = [row for row in data.rows("rpt_cross_asset") if row["asset"] in assets and row["total_amount"] > 0]
    if len(rows) < 2:
        return None
    total = sum(row["total_amount"] for row in rows)
    leader = rows[0]
    takeaway = (f"{leader['asset'].upper()} carried {share(leader['total_amount'] / total)} of the "
                f"{usd(total)} liquidated across {len(rows)} assets.")
    title = f"All assets: liquidations {words.this}, long vs short"
    return _chart("cross_asset", None, (rows,), {"words": words}, title, takeaway)


def _chart(kind, asset, args, kwargs, title, takeaway) -> ChartSpec:
    return ChartSpec(kind, asset, args, kwargs, title, alt=f"{title}. {takeaway}", takeaway=takeaway)


def empty_reason(summary: dict | None) -> str:
    if summary is None:
        return "No data for this asset in the warehouse: it was not fetched, or the API does not cover it."
    if not summary["hours_covered"]:
        return ("No coverage: none of this period's hours were fetched in a complete window "
                "(the endpoint has no data before 2025-01-08). This is missing data, not zero liquidations.")
    if summary["total_amount"] == 0:
        return (f"No liquidations were reported in the {summary['hours_covered']} covered hours "
                f"of {summary['hours_in_period']}.")
    return ""


def asset_headline(summary: dict, words: PeriodWords = WEEK_WORDS) -> str:
    parts = [f"{usd(summary['total_amount'])} liquidated, {share(summary['long_share'])} of it longs"]
    if summary["change_vs_last_week"] is not None:
        parts.append(f"{change(summary['change_vs_last_week'])} vs {words.last}")
    if summary["biggest_hour"] is not None:
        parts.append(f"peak hour {utc_hour(summary['biggest_hour'])} ({usd(summary['biggest_hour_amount'])})")
    return "; ".join(parts) + "."


def daily_takeaway(summary: dict, days: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    text = (f"Longs were {share(summary['long_share'])} of {usd(summary['total_amount'])}; "
            f"the biggest day was {utc_day(summary['biggest_day'])} "
            f"with {usd(summary['biggest_day_amount'])}")
    same_day = next((day for day in days if day["day"] == summary["biggest_day"]), None)
    if same_day and same_day["previous_total_amount"] is not None:
        text += f" (vs {usd(same_day['previous_total_amount'])}, {words.same_day.lower()})"
    return text + "."


def hourly_takeaway(timeline: list[dict], spikes: list[dict]) -> str:
    covered = [row for row in timeline if row["is_covered"]]
    if not covered:
        return "No hour of this period is covered."
    peak = max(covered, key=lambda row: row["total_amount"])
    typical = median(row["total_amount"] for row in covered)
    ratio = f" ({peak['total_amount'] / typical:,.0f}× the median hour)" if typical > 0 else ""
    text = f"The largest hour was {utc_hour(peak['hour'])} with {usd(peak['total_amount'])}{ratio}"
    missing = len(timeline) - len(covered)
    if spikes:
        text += f"; {len(spikes)} spike hour{'s' if len(spikes) != 1 else ''} flagged"
    if missing:
        text += f"; {missing} hour{'s' if missing != 1 else ''} without data (hatched)"
    return text + "."


def exchange_takeaway(exchanges: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    active = [row for row in exchanges if row["total_amount"] > 0]
    if not active:
        return f"No exchange reported liquidations {words.this}."
    leader = active[0]
    text = f"{exchange_name(leader['exchange'])} carried {share(leader['share'])} of {words.this}"
    new = [row["exchange"] for row in exchanges if row["status"] == "new"]
    absent = [row for row in exchanges if row["status"] == "absent"]
    if new:
        text += f"; new {words.this}: {', '.join(new)}"
    if absent:
        text += f"; absent {words.this}: " + ", ".join(
            f"{row['exchange']} ({usd(row['previous_total_amount'])} {words.last})" for row in absent)
    return text + "."


def cumulative_takeaway(timeline: list[dict]) -> str:
    covered = [row for row in timeline if row["is_covered"]]
    if not covered:
        return "No hour of this period is covered."
    last = timeline[-1]
    longs_led = sum(1 for row in covered if row["cumulative_long_amount"] > row["cumulative_short_amount"])
    leader = "longs" if last["cumulative_long_amount"] >= last["cumulative_short_amount"] else "shorts"
    return (f"By the end, longs totalled {usd(last['cumulative_long_amount'])} and shorts "
            f"{usd(last['cumulative_short_amount'])}: {leader} were squeezed more; longs were ahead in "
            f"{longs_led} of {len(covered)} covered hours.")


def exchange_day_takeaway(exchange_days: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    if not exchange_days:
        return f"No exchange reported liquidations {words.this}."
    by_day: dict = {}
    own_peak: dict = {}
    for row in exchange_days:
        by_day[row["day"]] = by_day.get(row["day"], 0.0) + row["total_amount"]
        if row["total_amount"] > own_peak.get(row["exchange"], (None, -1.0))[1]:
            own_peak[row["exchange"]] = (row["day"], row["total_amount"])
    peak_day = max(by_day, key=by_day.get)
    joined = sorted(code for code, (day, _) in own_peak.items() if day == peak_day)
    kind = "a cross-venue wave" if len(joined) > len(own_peak) / 2 else "concentrated on few venues"
    return (f"{utc_day(peak_day)} was the biggest day ({usd(by_day[peak_day])}); {len(joined)} of "
            f"{len(own_peak)} exchanges had their own largest day then — {kind}.")


def heatmap_takeaway(heat: list[dict]) -> str:
    by_hour: dict[int, float] = {}
    for row in heat:
        by_hour[row["hour_of_day"]] = by_hour.get(row["hour_of_day"], 0.0) + (row["total_amount"] or 0.0)
    total = sum(by_hour.values())
    if not total:
        return "No liquidations in the covered hours."
    hour = max(by_hour, key=by_hour.get)
    sessions = {name: sum(by_hour.get(h, 0.0) for h in range(first, last)) for name, first, last in SESSIONS}
    busiest = max(sessions, key=sessions.get)
    first, last = next((first, last) for name, first, last in SESSIONS if name == busiest)
    return (f"The busiest hour of day was {hour:02d}:00–{hour + 1:02d}:00 UTC with {usd(by_hour[hour])} "
            f"over the period ({share(by_hour[hour] / total)} of it); the {busiest} session "
            f"({first:02d}–{last:02d} UTC) carried {share(sessions[busiest] / total)}.")


def ratio_takeaway(days: list[dict]) -> str:
    shares = [day for day in days if day["long_share"] is not None]
    sizes = [day for day in days if day["average_size"] is not None]
    if not shares:
        return "No day had liquidations."
    most_long = max(shares, key=lambda day: day["long_share"])
    most_short = min(shares, key=lambda day: day["long_share"])
    largest = max(sizes, key=lambda day: day["average_size"])
    return (f"Long share ranged from {share(most_short['long_share'])} ({most_short['day']:%a}) to "
            f"{share(most_long['long_share'])} ({most_long['day']:%a}); the largest average liquidation was "
            f"{usd(largest['average_size'])} on {largest['day']:%a}.")


def trend_takeaway(summary: dict, trend: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    covered = [row for row in trend if row["hours_covered"] and not row["is_partial"]]
    text = (f"{words.this.capitalize()}: {usd(summary['total_amount'])}, "
            f"{change(summary['change_vs_last_week'])} vs {words.last} and "
            f"{change(summary['change_vs_4w_avg'])} vs {words.average}")
    if words is WEEK_WORDS and len(covered) >= 3:  # ranking a 3-day range among weeks would mislead
        earlier = [row for row in covered if not row["is_report_week"]]
        rank = 1 + sum(row["total_amount"] > summary["total_amount"] for row in earlier)
        text += f"; rank {rank} of the {len(covered)} fully covered weeks shown"
    uncovered = sum(1 for row in trend if not row["hours_covered"])
    if uncovered:
        text += f"; {uncovered} week{'s' if uncovered != 1 else ''} without coverage"
    return text + "."
