"""summary.json (the contract with delivery, docs/architecture.md §4) and manifest.json (written last)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path

from report.formatting import iso_z
from report.periods import Period, isoformat_z
from report.render.data import ReportData
from report.render.sections import ChartSpec
from report.settings import Settings

ENDPOINT = "/v2/data/liquidation.v1/token/{asset}"
MEASURES = ("total_amount", "total_trades", "long_amount", "short_amount")


def source_url(settings: Settings, demo: bool) -> str:
    """The endpoint the data came from; demo data names the endpoint the simulator stands in for."""
    url = settings.api_root + ENDPOINT
    return f"built-in simulator of {url}" if demo and settings.base_url is None else url


def build_summary(settings: Settings, period: Period, report_data: ReportData, specs: list[ChartSpec], *,
                  demo: bool, generated_at: datetime, files: dict) -> dict:
    assets = [asset_summary(report_data, asset, period) for asset in settings.assets]
    quality = [row for row in report_data.rows("rpt_data_quality") if row["asset"] in settings.assets]
    as_of = [row["data_as_of"] for row in quality if row["data_as_of"] is not None]
    return {
        "period": {"label": period.label, "start": isoformat_z(period.start), "end": isoformat_z(period.end)},
        "generated_at": isoformat_z(generated_at),
        "data_as_of": iso_z(max(as_of)) if as_of else None,
        "demo": demo,
        "source": source_url(settings, demo),
        "totals": {key: sum(asset[key] for asset in assets) for key in MEASURES},
        "assets": assets,
        "charts": [{"file": spec.file, "asset": spec.asset, "title": spec.title, "alt": spec.alt,
                    "takeaway": spec.takeaway} for spec in specs],
        "data_tests": report_data.data_tests,
        "files": files,
    }


def asset_summary(report_data: ReportData, asset: str, period: Period) -> dict:
    """One asset's headline; an asset missing from the warehouse reads as zero with 0 hours covered."""
    row = report_data.one("rpt_weekly_summary", asset) or {}
    biggest_day, biggest_hour = row.get("biggest_day"), row.get("biggest_hour")
    return {
        "asset": asset,
        "total_amount": float(row.get("total_amount") or 0.0),
        "total_trades": int(row.get("total_trades") or 0),
        "long_amount": float(row.get("long_amount") or 0.0),
        "short_amount": float(row.get("short_amount") or 0.0),
        "long_share": row.get("long_share"),
        "change_vs_last_week": row.get("change_vs_last_week"),
        "change_vs_4w_avg": row.get("change_vs_4w_avg"),
        "biggest_day": {"day": biggest_day.isoformat(), "total_amount": row["biggest_day_amount"]}
        if biggest_day else None,
        "biggest_hour": {"hour": iso_z(biggest_hour), "total_amount": row["biggest_hour_amount"]}
        if biggest_hour else None,
        "dominant_exchange": row.get("dominant_exchange"),
        "hours_covered": int(row.get("hours_covered") or 0),
        "hours_in_period": int(row.get("hours_in_period") or period.hours),
    }


def write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def write_manifest(folder: Path, files: list[Path]) -> Path:
    """Every artifact with its size and sha256, so a reader can verify the folder."""
    entries = [{"file": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest()} for path in sorted(files)]
    return write_json(folder / "manifest.json", {"manifest_version": 1, "files": entries})
