"""Export the daily and weekly facts (totals and by exchange) as CSV and Parquet, written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from report.errors import ModelError, storage_error

MEASURES = ("total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount")
# export name -> (fact table, key columns in order; the last one is a DATE written as YYYY-MM-DD)
EXPORTS = {
    "daily": ("fct_liquidations_daily", ("asset", "day")),
    "weekly": ("fct_liquidations_weekly", ("asset", "week_start")),
    "daily_by_exchange": ("fct_liquidations_daily_by_exchange", ("asset", "exchange", "day")),
    "weekly_by_exchange": ("fct_liquidations_weekly_by_exchange", ("asset", "exchange", "week_start")),
}
FORMATS = {"csv": "(format csv, header true)", "parquet": "(format parquet)"}


def sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def export_query(table: str, keys: tuple[str, ...]) -> str:
    *names, period = keys
    columns = [*names, f"strftime({period}, '%Y-%m-%d') as {period}", *MEASURES]
    return f"select {', '.join(columns)} from {table} order by {', '.join(keys)}"


def export(warehouse: Path, out_dir: Path) -> list[Path]:
    """Write daily|weekly|daily_by_exchange|weekly_by_exchange .csv and .parquet into out_dir."""
    warehouse, out_dir = Path(warehouse), Path(out_dir)
    if not warehouse.exists():
        raise ModelError(f"there is no warehouse at {warehouse}: run `liqreport build` first.")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        for name, (table, keys) in EXPORTS.items():
            query = export_query(table, keys)
            for extension, options in FORMATS.items():
                target = out_dir / f"{name}.{extension}"
                temporary = out_dir / f".{name}.{extension}.tmp"
                try:
                    connection.execute(f"copy ({query}) to '{sql_path(temporary)}' {options}")
                except duckdb.Error as exc:
                    temporary.unlink(missing_ok=True)
                    if (full_disk := storage_error(exc, temporary)) is not None:
                        raise full_disk from None
                    raise ModelError(f"exporting {table} to {target} failed: {exc}") from None
                os.replace(temporary, target)
                written.append(target)
    return written
