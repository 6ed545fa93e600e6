"""What the page shows, from mart rows: the overview's charts, one section per asset, chart specs and their
one-line takeaways.

Python only selects rows and words them (report/formatting.py); every figure was computed in sql/reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from report.formatting import (
    WEEK_WORDS,
    PeriodWords,
    asset_label,
    change,
    count,
    exchange_label,
    hour_cell,
    instrument_label,
    move,
    price_move,
    price_status_words,
    quote_currency,
    rank_words,
    share,
    side_share,
    usd,
    utc_day,
    utc_hour,
)
from report.render.data import ReportData


@dataclass
class ChartSpec:
    kind: str  # key of charts.CHARTS
    asset: str | None
    args: tuple
    kwargs: dict
    title: str
    alt: str  # what the picture is, for a reader who cannot see it; the takeaway is printed beside it
    takeaway: str
    email: bool = False  # also drawn as PNG for the email (mail clients drop SVG)

    @property
    def name(self) -> str:
        return f"{self.asset or 'all'}_{self.kind}"

    @property
    def file(self) -> str:
        return f"charts/{self.name}.svg"

    @property
    def png_file(self) -> str | None:
        return f"charts/{self.name}.png" if self.email else None


@dataclass
class AssetSection:
    asset: str
    summary: dict | None
    ranking: dict | None
    quality: dict | None
    has_liquidations: bool
    empty_reason: str
    price: dict | None = None  # rpt_price_cross_asset's row: the move, per-1% figures, or why there is none
    headline: str = ""
    charts: dict[str, ChartSpec] = field(default_factory=dict)
    top_hours: list[dict] = field(default_factory=list)
    exchanges: list[dict] = field(default_factory=list)
    days: list[dict] = field(default_factory=list)


def ordered_assets(data: ReportData, assets: tuple[str, ...]) -> list[str]:
    """Largest week first (rpt_cross_asset's rank); assets the warehouse lacks last, as asked."""
    ranked = [row["asset"] for row in data.rows("rpt_cross_asset") if row["asset"] in assets]
    return ranked + [asset for asset in assets if asset not in ranked]


def build_sections(data: ReportData, assets: tuple[str, ...],
                   words: PeriodWords = WEEK_WORDS) -> list[AssetSection]:
    # one asset: the first screen's exchange view is the asset's, so the section does not repeat it, nor
    # say that the asset is 100% of all assets
    alone = len(assets) == 1
    return [build_section(data, asset, words, alone=alone) for asset in ordered_assets(data, assets)]


def build_section(data: ReportData, asset: str, words: PeriodWords = WEEK_WORDS, *,
                  alone: bool = False) -> AssetSection:
    summary = data.one("rpt_weekly_summary", asset)
    section = AssetSection(asset, summary, data.one("rpt_cross_asset", asset),
                           data.one("rpt_data_quality", asset), bool(summary and summary["total_amount"] > 0),
                           empty_reason(summary), data.one("rpt_price_cross_asset", asset))
    if not section.has_liquidations:
        return section
    section.headline = asset_headline(summary, None if alone else section.ranking, section.quality, words,
                                      section.price)
    section.days = data.rows("rpt_daily_ratio", asset)
    section.exchanges = data.rows("rpt_exchange_share", asset)
    section.top_hours = data.rows("rpt_top_hours", asset)
    timeline = data.rows("rpt_hourly_timeline", asset)
    trend = data.rows("rpt_weekly_trend", asset)
    exchange_days = data.rows("rpt_exchange_day", asset)
    spikes = tuple(row["hour"] for row in section.top_hours if row["is_spike"])
    days = tuple(row["day"] for row in section.days)
    name = asset_label(asset)
    prices = tuple(data.rows("rpt_price_timeline", asset)) if has_price_line(section.price) else ()
    specs = [
        ChartSpec("hourly", asset, (timeline,),
                  {"spike_hours": spikes, "prices": prices, "price_label": price_legend(section.price)},
                  f"{name} per hour", hourly_alt(name, section.price if prices else None),
                  hourly_takeaway(summary, section.top_hours, section.quality, section.price)),
        ChartSpec("daily", asset, (section.days,), {"previous_label": words.same_day}, f"{name} per day",
                  f"Mirrored bar chart of {name} liquidations per day, shorts above and longs below the "
                  f"axis, with {words.last}'s same days as dashed outlines.",
                  daily_takeaway(summary, section.days, words), email=True),
        ChartSpec("exchanges", asset, (section.exchanges,), {"scope": words.this}, f"{name} by exchange",
                  f"Horizontal bar chart of {name} liquidations per exchange, longs to the left and shorts "
                  "to the right.", exchange_takeaway(section.exchanges, words)),
        ChartSpec("exchange_day", asset, (exchange_days,), {"days": days},
                  f"{name} by exchange and day (USD)",
                  f"Heatmap of {name} liquidations, one row per exchange and one column per day, darker for "
                  "a larger part of that exchange's period.",
                  exchange_day_takeaway(summary, words) + " Shade: the day's share of the exchange's "
                  f"{words.noun}; label: USD on its largest day."),
        ChartSpec("weekly", asset, (trend,), {}, f"{name}, 12 weeks",
                  f"Mirrored bar chart of {name} liquidations per week over 12 weeks, shorts above and longs "
                  "below the axis.", weekly_takeaway(trend, words)),
    ]
    section.charts = {spec.kind: spec for spec in specs if not (alone and spec.kind == "exchanges")}
    return section


def market_name(assets: tuple[str, ...]) -> str:
    """'All assets', or the one asset's name when the report has only one."""
    return asset_label(assets[0]) if len(assets) == 1 else "All assets"


def overview_charts(data: ReportData, overview: dict, words: PeriodWords = WEEK_WORDS,
                    assets: tuple[str, ...] = ()) -> list[ChartSpec]:
    exchanges = data.rows("rpt_overview_exchanges")
    weeks = [row for row in data.rows("rpt_market_weeks") if row["weeks_before_report"] < 12]
    across = "across all assets" if len(assets) != 1 else f"of {market_name(assets)}"
    return [
        ChartSpec("market_exchanges", None, (exchanges,), {"scope": words.this},
                  f"{market_name(assets)} by exchange",
                  f"Horizontal bar chart of liquidations per exchange {across}, longs to the left "
                  "and shorts to the right.", market_exchange_takeaway(exchanges, overview, across),
                  email=True),
        ChartSpec("long_share_weeks", None, (weeks,), {}, "Long share, 12 weeks",
                  "Stacked bar chart of each week's liquidations split into longs (bottom, labelled with "
                  "their percentage) and shorts (top), over 12 weeks.", long_share_takeaway(overview, words),
                  email=True),
    ]


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


def asset_headline(summary: dict, ranking: dict | None, quality: dict | None,
                   words: PeriodWords = WEEK_WORDS, price: dict | None = None) -> str:
    """'BTC fell 8.2%, $311M liquidated (31% of all assets), 71% long; …' — the move first when the
    whole period has a price (rpt_price_week_move), the liquidations' comparisons, then USD per 1% move."""
    moved = price_move(price["price_change"]) if price and price["is_move_complete"] else ""
    text = f"{usd(summary['total_amount'])} liquidated"
    if moved:
        text = f"{asset_label(summary['asset'])} {moved}, {text}"
    if ranking and ranking["share_of_all_assets"] is not None:
        text += f" ({share(ranking['share_of_all_assets'])} of all assets)"
    if moved:
        text += f", {side_share(summary['long_share'])[1]}"
    comparisons = []
    if summary["change_vs_last_week"] is not None:
        comparisons.append(f"{change(summary['change_vs_last_week'])} on {words.last}")
    if summary["change_vs_4w_avg"] is not None:
        comparisons.append(f"{change(summary['change_vs_4w_avg'])} on {words.average}")
    if comparisons:
        text += ("; " if moved else ", ") + " and ".join(comparisons)
    if not moved:
        text += f"; {side_share(summary['long_share'])[1]}"
    text += f"; {count(summary['total_trades'])} events"
    if summary["average_size"] is not None:
        text += f" averaging {usd(summary['average_size'])}"
    if summary["dominant_exchange"]:
        text += (f"; {exchange_label(summary['dominant_exchange'])} led with "
                 f"{share(summary['dominant_exchange_share'])}")
    if quality and quality["hours_missing"]:
        text += f"; only {quality['hours_covered']} of {quality['hours_in_period']} hours have data"
    if price and price["total_per_pct_move"] is not None:
        text += f"; {usd(price['total_per_pct_move'])} per 1% of hourly price moves"
        if price["change_vs_trailing"] is not None:
            text += f" ({change(price['change_vs_trailing'])} on the trailing 12 weeks)"
    return text + "."


def has_price_line(price: dict | None) -> bool:
    return bool(price and price["hours_with_price"])


def price_legend(price: dict | None) -> str:
    quote = quote_currency(price["instrument"]) if price else ""
    return f"Price, {quote}" if quote else "Price"


def hourly_alt(name: str, price: dict | None) -> str:
    text = (f"Mirrored step chart of {name} liquidations for each hour of the period, shorts above and longs "
            "below the axis")
    if price:
        instrument = instrument_label(price["exchange"], price["instrument_class"], price["instrument"])
        text += f", with the hourly close of the {instrument} as a dark line against the price scale at right"
    return text + "."


def price_takeaway(price: dict | None, peak_hour=None) -> str:
    """The price line's one clause: whose price, and the liquidations in its largest hourly move (or that it
    was the largest hour's); or why the chart has no price line."""
    if price is None:
        return ""
    if not price["hours_with_price"]:
        return f"No price line: {price_status_words(price['price_status'])}"
    instrument = instrument_label(price["exchange"], price["instrument_class"], price["instrument"])
    text = f"Line: {instrument} close"
    if price["price_status"] == "partial":
        text += f" ({price['hours_with_price']} of {price['hours_in_period']} hours)"
    if price["largest_move_hour"] is not None and price["largest_move_hour"] == peak_hour:
        text += f"; its largest hourly move, {move(price['largest_move_return'])}, came in that same hour"
    elif price["largest_move_hour"] is not None:
        text += (f"; its largest hourly move, {move(price['largest_move_return'])} at "
                 f"{hour_cell(price['largest_move_hour'])}, saw {usd(price['largest_move_amount'])} "
                 f"liquidated, {side_share(price['largest_move_long_share'])[1]}")
    return text


def hourly_takeaway(summary: dict, top_hours: list[dict], quality: dict | None,
                    price: dict | None = None) -> str:
    peak = next((row for row in top_hours if row["rank"] == 1), None)
    if peak is None:
        return "No hour had liquidations."
    text = (f"Largest hour {utc_hour(peak['hour'])}: {usd(peak['total_amount'])}, "
            f"{side_share(peak['long_share'])[1]}")
    spikes = summary["spike_hours"]
    if spikes:
        text += f"; {spikes} spike hour{'s' if spikes != 1 else ''} (robust z ≥ 3.5) marked ▲▼"
    missing = quality["hours_missing"] if quality else 0
    if missing:
        text += f"; {missing} hour{'s' if missing != 1 else ''} without data (hatched, not zero)"
    clause = price_takeaway(price, peak["hour"])
    return text + (f". {clause}." if clause else ".")


def daily_takeaway(summary: dict, days: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    text = f"Biggest day {utc_day(summary['biggest_day'], year=False)}: {usd(summary['biggest_day_amount'])}"
    same_day = next((day for day in days if day["day"] == summary["biggest_day"]), None)
    if same_day and same_day["previous_total_amount"] is not None and same_day["previous_hours_covered"]:
        text += f" ({words.same_day.lower()}: {usd(same_day['previous_total_amount'])})"
    return text + "."


def exchange_takeaway(exchanges: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    active = [row for row in exchanges if row["total_amount"] > 0]
    if not active:
        return f"No exchange reported liquidations {words.this}."
    leader = active[0]
    text = f"{exchange_label(leader['exchange'])} carried {share(leader['share'])}"
    if len(active) > 1:
        text += f", then {exchange_label(active[1]['exchange'])} ({share(active[1]['share'])})"
    new = [exchange_label(row["exchange"]) for row in exchanges if row["status"] == "new"]
    absent = [f"{exchange_label(row['exchange'])} ({usd(row['previous_total_amount'])} {words.last})"
              for row in exchanges if row["status"] == "absent"]
    if new:
        text += f"; new {words.this}: {', '.join(new)}"
    if absent:
        text += f"; absent {words.this}: {', '.join(absent)}"
    return text + "."


def exchange_day_takeaway(summary: dict, words: PeriodWords = WEEK_WORDS) -> str:
    if not summary["exchanges_active"]:
        return f"No exchange reported liquidations {words.this}."
    day = utc_day(summary["biggest_day"], year=False)
    text = (f"{summary['exchanges_peaking_near_biggest_day']} of {summary['exchanges_active']} exchanges had "
            f"their largest day within a day of {day} ({summary['exchanges_peaking_on_biggest_day']} on it)")
    if summary["is_cross_venue_wave"]:
        return text + ": a cross-venue wave."
    if summary["is_concentrated_on_few_venues"]:
        venues = " and ".join(exchange_label(code) for code in summary["top_venues_on_biggest_day"])
        return (f"{text}; {venues} carried {share(summary['top_venues_share_of_biggest_day'])} of {day}: "
                "concentrated on few venues.")
    return text + "."


def weekly_takeaway(trend: list[dict], words: PeriodWords = WEEK_WORDS) -> str:
    current = [row for row in trend if row["is_report_week"]]
    partial = sum(1 for row in trend if row["is_partial"] and not row["is_report_week"])
    ranked = current[-1] if current else None
    if ranked is None or ranked["rank_in_trend"] is None or words is not WEEK_WORDS:
        text = "This week is not fully covered, so it is not ranked" if words is WEEK_WORDS else (
            "Weeks around the period")
    else:
        text = "This week is " + rank_words(ranked["rank_in_trend"], ranked["weeks_ranked_in_trend"],
                                            "fully covered weeks shown")
    if partial:
        text += f"; {partial} earlier week{'s' if partial != 1 else ''} partial or without data (hatched)"
    return text + "."


def market_exchange_takeaway(exchanges: list[dict], overview: dict, across: str = "across all assets") -> str:
    active = [row for row in exchanges if row["total_amount"] > 0]
    if not active:
        return "No exchange reported liquidations."
    named = ", ".join(f"{exchange_label(row['exchange'])} {share(row['share'])}" for row in active[:3])
    return f"Of {usd(overview['total_amount'])} {across}: {named}."


def long_share_takeaway(overview: dict, words: PeriodWords = WEEK_WORDS) -> str:
    if overview["long_share"] is None:
        return "No liquidations in the period."
    text = f"Longs were {share(overview['long_share'])} of {words.this}'s USD"
    if overview["long_share_median_11w"] is not None:
        text += f", against a median of {share(overview['long_share_median_11w'])} in the 11 weeks before"
    return text + "."
