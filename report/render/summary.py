"""summary.json (the contract with delivery, docs/architecture.md §4) and manifest.json (written last).

The overview's figures go into summary.json exactly as rpt_overview and its friends computed them, so the
report page, the email and the site index read one source.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

from report.formatting import iso_z, period_words, verdict
from report.periods import Period, isoformat_z
from report.render.data import ReportData
from report.render.folder import write_file
from report.render.sections import ChartSpec
from report.settings import Settings

ENDPOINT = "/v2/data/liquidation.v1/token/{asset}"
MEASURES = ("total_amount", "total_trades", "long_amount", "short_amount")


def source_url(settings: Settings, demo: bool) -> str:
    """The endpoint the data came from; demo data names the endpoint the simulator stands in for."""
    url = settings.api_root + ENDPOINT
    return f"built-in simulator of {url}" if demo and settings.base_url is None else url


def plain(value):
    """JSON-ready: timestamps with a Z, dates as YYYY-MM-DD, lists and dicts all the way down."""
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def build_summary(settings: Settings, period: Period, report_data: ReportData, overview: dict,
                  specs: list[ChartSpec], order: list[str], *, demo: bool, generated_at: datetime,
                  files: dict) -> dict:
    """`overview` is overview_summary()'s; `order` the assets as the report shows them (largest first)."""
    assets = [asset_summary(report_data, asset, period) for asset in order]
    quality = [row for row in report_data.rows("rpt_data_quality") if row["asset"] in settings.assets]
    as_of = [row["data_as_of"] for row in quality if row["data_as_of"] is not None]
    return steady({
        "period": {"label": period.label, "start": isoformat_z(period.start), "end": isoformat_z(period.end)},
        "generated_at": isoformat_z(generated_at),
        "data_as_of": iso_z(max(as_of)) if as_of else None,
        "demo": demo,
        "source": source_url(settings, demo),
        "totals": {key: overview[key] for key in MEASURES},
        "overview": overview,
        "assets": assets,
        "charts": [chart_entry(spec) for spec in specs],
        "data_tests": report_data.data_tests,
        "files": files,
    })


def steady(value):
    """Every float to 12 significant figures: DuckDB sums doubles in parallel, in no fixed order, so the same
    data can differ in the 16th digit from one build to the next; summary.json must not."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list):
        return [steady(item) for item in value]
    if isinstance(value, dict):
        return {key: steady(item) for key, item in value.items()}
    return value


def chart_entry(spec: ChartSpec) -> dict:
    entry = {"file": spec.file, "asset": spec.asset, "kind": spec.kind, "title": spec.title, "alt": spec.alt,
             "takeaway": spec.takeaway}
    if spec.png_file:
        entry["png"] = spec.png_file
    return entry


def overview_summary(report_data: ReportData, period: Period) -> dict:
    """rpt_overview's row, grouped for readers, with the by-exchange, spike-hour and weekly rows."""
    row = report_data.rows("rpt_overview")[0]
    overview = {
        "total_amount": float(row["total_amount"]),
        "total_trades": int(row["total_trades"]),
        "long_amount": float(row["long_amount"]),
        "short_amount": float(row["short_amount"]),
        "long_share": row["long_share"],
        "average_size": row["average_size"],
        "previous_total_amount": row["previous_total_amount"],
        "change_vs_last_week": row["change_vs_last_week"],
        "trailing_4w_average": row["trailing_4w_average"],
        "periods_in_average": row["periods_in_average"],
        "change_vs_4w_avg": row["change_vs_4w_avg"],
        "long_share_median_11w": row["long_share_median_11w"],
        "leading_asset": {"asset": row["leading_asset"], "share": row["leading_asset_share"]}
        if row["leading_asset"] else None,
        "leading_exchange": {"exchange": row["leading_exchange"], "share": row["leading_exchange_share"]}
        if row["leading_exchange"] else None,
        "biggest_hour": {"hour": iso_z(row["biggest_hour"]), "total_amount": row["biggest_hour_amount"],
                         "long_share": row["biggest_hour_long_share"],
                         "leading_asset": row["biggest_hour_leading_asset"]} if row["biggest_hour"] else None,
        "biggest_day": {"day": row["biggest_day"].isoformat(), "total_amount": row["biggest_day_amount"]}
        if row["biggest_day"] else None,
        "rank": {"rank": row["week_rank"], "of": row["weeks_ranked"],
                 "since": row["first_ranked_week"].isoformat(),
                 "weeks_since": row["weeks_since_history_start"]} if row["week_rank"] else None,
        "robust_z": {"z": row["robust_z"], "level": row["unusualness"],
                     "baseline_weeks": row["weeks_in_baseline"],
                     "baseline_median_amount": row["baseline_median_amount"]}
        if row["robust_z"] is not None else None,
        "ordinary_week": row["is_ordinary_week"],
        "joint_spike_hours": row["joint_spike_hours"],
        "largest_joint_spike": {"hour": iso_z(row["largest_joint_spike_hour"]),
                                "total_amount": row["largest_joint_spike_amount"]}
        if row["largest_joint_spike_hour"] else None,
        "is_iso_week": row["is_iso_week"],
        "weeks_in_baseline": row["weeks_in_baseline"],
        "assets_requested": row["assets_requested"],
        "assets_covered": row["assets_covered"],
        "hours_covered": int(row["asset_hours_covered"]),
        "hours_expected": int(row["asset_hours_expected"]),
        "by_exchange": [plain({key: exchange[key] for key in (
            "exchange", "total_amount", "long_amount", "short_amount", "total_trades", "share", "long_share",
            "average_size", "previous_total_amount", "change_vs_last_week", "status")})
            for exchange in report_data.rows("rpt_overview_exchanges")],
        # null, not []: no hour had 28 days of history for two assets, so none could be tested
        "spike_hours": [plain({key: spike[key] for key in (
            "hour", "assets", "total_amount", "long_amount", "short_amount", "long_share", "dominant_side",
            "max_robust_z")}) for spike in report_data.rows("rpt_cross_asset_spikes")]
        if row["joint_spike_hours_tested"] else None,
        "spike_hours_tested": row["joint_spike_hours_tested"],
        "hours_in_period": row["hours_in_period"],
        "weeks": [plain({key: week[key] for key in (
            "week_start", "total_amount", "long_amount", "short_amount", "long_share", "is_fully_covered")})
            for week in report_data.rows("rpt_market_weeks") if week["weeks_before_report"] < 12],
    }
    overview["verdict"] = verdict(overview, period.label, period_words(period.hours))
    return overview


def asset_summary(report_data: ReportData, asset: str, period: Period) -> dict:
    """One asset's headline; an asset missing from the warehouse reads as zero with 0 hours covered."""
    row = report_data.one("rpt_weekly_summary", asset) or {}
    ranking = report_data.one("rpt_cross_asset", asset) or {}
    biggest_day, biggest_hour = row.get("biggest_day"), row.get("biggest_hour")
    return {
        "asset": asset,
        "rank": ranking.get("rank"),
        "total_amount": float(row.get("total_amount") or 0.0),
        "total_trades": int(row.get("total_trades") or 0),
        "long_amount": float(row.get("long_amount") or 0.0),
        "short_amount": float(row.get("short_amount") or 0.0),
        "long_share": row.get("long_share"),
        "share_of_all_assets": ranking.get("share_of_all_assets"),
        "average_size": row.get("average_size"),
        "change_vs_last_week": row.get("change_vs_last_week"),
        "change_vs_4w_avg": row.get("change_vs_4w_avg"),
        "biggest_day": {"day": biggest_day.isoformat(), "total_amount": row["biggest_day_amount"]}
        if biggest_day else None,
        "biggest_hour": {"hour": iso_z(biggest_hour), "total_amount": row["biggest_hour_amount"],
                         "long_share": row["biggest_hour_long_share"]} if biggest_hour else None,
        "dominant_exchange": row.get("dominant_exchange"),
        "dominant_exchange_share": row.get("dominant_exchange_share"),
        "spike_hours": int(row.get("spike_hours") or 0),
        "hours_covered": int(row.get("hours_covered") or 0),
        "hours_in_period": int(row.get("hours_in_period") or period.hours),
        "price": price_summary(report_data.one("rpt_price_cross_asset", asset)),
    }


def price_summary(row: dict | None) -> dict | None:
    """rpt_price_cross_asset's row for one asset, grouped: why it has a price or not, the period's move, USD
    liquidated per 1% of absolute hourly move, the correlation and the largest hourly move."""
    if row is None:
        return None
    return plain({
        "status": row["price_status"],
        "message": row["access_message"],
        "instrument": {"exchange": row["exchange"], "instrument_class": row["instrument_class"],
                       "instrument": row["instrument"]} if row["instrument"] else None,
        "hours_in_period": row["hours_in_period"],
        "hours_price_covered": row["hours_price_covered"],
        "hours_with_price": row["hours_with_price"],
        "move": {"open": row["period_open"], "close": row["period_close"], "high": row["period_high"],
                 "low": row["period_low"], "high_hour": row["high_hour"], "low_hour": row["low_hour"],
                 "change": row["price_change"], "high_low_range": row["high_low_range"]}
        if row["is_move_complete"] else None,
        "per_pct_move": {"hours_used": row["hours_used"], "absolute_move_pct": row["absolute_move_pct"],
                         "total_amount": row["move_total_amount"], "total": row["total_per_pct_move"],
                         "long": row["long_per_pct_move"], "short": row["short_per_pct_move"],
                         "rank": row["rank_per_move"], "trailing_hours_used": row["trailing_hours_used"],
                         "trailing_total": row["trailing_total_per_pct_move"],
                         "change_vs_trailing": row["change_vs_trailing"],
                         "long_change_vs_trailing": row["long_change_vs_trailing"],
                         "short_change_vs_trailing": row["short_change_vs_trailing"]}
        if row["total_per_pct_move"] is not None else None,
        "correlation": row["correlation"],
        "trailing_correlation": row["trailing_correlation"],
        "largest_move": {"hour": row["largest_move_hour"], "return": row["largest_move_return"],
                         "total_amount": row["largest_move_amount"],
                         "long_share": row["largest_move_long_share"]}
        if row["largest_move_hour"] is not None else None,
    })


def write_json(path: Path, document: dict) -> Path:
    return write_file(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def write_manifest(folder: Path, files: list[Path]) -> Path:
    """Every artifact with its size and sha256, so a reader can verify the folder."""
    entries = [{"file": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for path in sorted(files)]
    return write_json(folder / "manifest.json", {"manifest_version": 1, "files": entries})
