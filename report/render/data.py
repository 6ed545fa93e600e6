"""Read the report marts (sql/reports/rpt_*.sql) from the warehouse, read-only, as plain rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from report.errors import RenderError
from report.periods import Period

# table → the order its rows are read in; Python only selects, the marts do the arithmetic
REPORT_TABLES = {
    "rpt_report_window": "report_start",
    "rpt_report_assets": "position",
    "rpt_overview": "report_start",
    "rpt_overview_exchanges": "rank",
    "rpt_cross_asset_spikes": "rank",
    "rpt_market_weeks": "week_start",
    "rpt_weekly_summary": "asset",
    "rpt_cross_asset": "rank",
    "rpt_daily_ratio": "asset, day",
    "rpt_hourly_timeline": "asset, hour",
    "rpt_weekly_trend": "asset, week_start",
    "rpt_exchange_share": "asset, rank",
    "rpt_exchange_day": "asset, exchange_rank, day",
    "rpt_top_hours": "asset, rank",
    "rpt_data_quality": "asset",
    "rpt_price_cross_asset": "rank_per_move nulls last, position",  # the per-1% table's order
    "rpt_price_timeline": "asset, hour",
}


@dataclass
class ReportData:
    tables: dict[str, list[dict]]
    data_tests: dict = field(default_factory=dict)

    def rows(self, table: str, asset: str | None = None) -> list[dict]:
        rows = self.tables[table]
        return rows if asset is None else [row for row in rows if row["asset"] == asset]

    def one(self, table: str, asset: str) -> dict | None:
        rows = self.rows(table, asset)
        return rows[0] if rows else None


def _select(connection: duckdb.DuckDBPyConnection, table: str, order_by: str) -> list[dict]:
    cursor = connection.execute(f"select * from {table} order by {order_by}")
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def load(warehouse: Path, period: Period, assets: tuple[str, ...]) -> ReportData:
    if not warehouse.is_file():
        raise RenderError(f"no warehouse at {warehouse}: run `liqreport build` (or `liqreport run`) first.")
    try:
        connection = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise RenderError(
            f"cannot open the warehouse {warehouse} read-only ({exc}): wait for the running build to finish."
        ) from None
    try:
        tables_query = "select table_name from information_schema.tables"
        present = {row[0] for row in connection.execute(tables_query).fetchall()}
        missing = [table for table in REPORT_TABLES if table not in present]
        if missing:
            raise RenderError(
                f"the warehouse {warehouse} has no {', '.join(missing)}: "
                "run `liqreport build` for this period first."
            )
        tables = {table: _select(connection, table, order_by) for table, order_by in REPORT_TABLES.items()}
    finally:
        connection.close()
    _check_period(tables["rpt_report_window"], period, warehouse)
    _check_assets(tables["rpt_report_assets"], assets, warehouse, period)
    return ReportData(tables, data_tests=read_data_tests(warehouse.parent / "run_results.json"))


def _check_period(window_rows: list[dict], period: Period, warehouse: Path) -> None:
    """The marts are computed for one period; rendering another from them would mislabel every number."""
    wanted = (period.start.replace(tzinfo=None), period.end.replace(tzinfo=None))
    built = (window_rows[0]["report_start"], window_rows[0]["report_end"]) if window_rows else None
    if built != wanted:
        built_text = f"{built[0]:%Y-%m-%d %H:%M} to {built[1]:%Y-%m-%d %H:%M} UTC" if built else "no period"
        raise RenderError(
            f"the warehouse {warehouse} was built for {built_text}, not {period.label}: "
            f"run `liqreport build` for {period.label} first."
        )


def _check_assets(asset_rows: list[dict], assets: tuple[str, ...], warehouse: Path, period: Period) -> None:
    """The overview sums the assets the build was asked for; another list would mislabel "all assets"."""
    built = tuple(row["asset"] for row in asset_rows)
    if set(built) != set(assets):
        wanted = ",".join(assets)
        raise RenderError(
            f"the warehouse {warehouse} was built for the assets {', '.join(built) or 'none'}, not "
            f"{', '.join(assets)}: run `liqreport build --assets {wanted}` for {period.label} first."
        )


def read_data_tests(run_results: Path) -> dict:
    """passed/warned/failed from the run_results.json the build wrote; zeros when the build ran no tests."""
    counts = {"passed": 0, "warned": 0, "failed": 0}
    try:
        results = json.loads(run_results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return counts
    tests = results.get("tests", []) if isinstance(results, dict) else []
    for status, key in (("pass", "passed"), ("warn", "warned"), ("fail", "failed")):
        counts[key] = sum(1 for test in tests if isinstance(test, dict) and test.get("status") == status)
    return counts
