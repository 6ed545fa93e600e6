"""The analyst's data: the facts as CSV and Parquet, with a data dictionary beside them, written atomically.

Parquet keeps real types: days are DATE, hours TIMESTAMP WITH TIME ZONE (UTC), counts BIGINT, USD DOUBLE.
CSV is for spreadsheets, so a text cell that a spreadsheet would run as a formula (it starts with =, +, -, @,
a tab or a carriage return and is not a number) is neutralised by a leading apostrophe (OWASP's advice for
CSV injection): an exchange code is data, never `=cmd|' /C calc'!A0`. Parquet and the landing zone keep the
raw values.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb

from report.errors import ModelError, storage_error
from report.files import write_atomically
from report.models.runner import connect

MEASURES = ("total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount")
# the hourly price of the asset's reference instrument (fct_prices_hourly), beside its liquidations
PRICE_COLUMNS = ("close", "hourly_return", "high_low_range", "has_price")
DICTIONARY_FILE = "README.md"


@dataclass(frozen=True)
class Export:
    name: str
    table: str
    columns: tuple[str, ...]  # in order; the leading ones up to and including the time column are the key
    key_length: int
    grain: str


EXPORTS = (
    Export("hourly", "rpt_export_hourly", ("asset", "hour", "covered", *MEASURES, *PRICE_COLUMNS), 2,
           "One row per asset × UTC hour of the report period and the 12 weeks before it, every hour: those "
           "not covered (before the endpoint's history, not fetched) too, with `covered = false`; with the "
           "hour's price where one is known"),
    Export("hourly_by_exchange", "rpt_export_hourly_by_exchange",
           ("asset", "exchange", "hour", "covered", *MEASURES), 3,
           "One row per asset × exchange × UTC hour over the same hours, for every exchange the asset has"),
    Export("daily", "fct_liquidations_daily", ("asset", "day", *MEASURES, "hours_covered"), 2,
           "One row per asset × UTC day with at least one covered hour"),
    Export("weekly", "fct_liquidations_weekly", ("asset", "week_start", *MEASURES, "hours_covered"), 2,
           "One row per asset × ISO week (from Monday 00:00 UTC) with at least one covered hour"),
    Export("daily_by_exchange", "fct_liquidations_daily_by_exchange",
           ("asset", "exchange", "day", *MEASURES, "hours_covered"), 3,
           "One row per asset × exchange × UTC day with at least one covered hour, zero where the exchange "
           "had no liquidations that day"),
    Export("weekly_by_exchange", "fct_liquidations_weekly_by_exchange",
           ("asset", "exchange", "week_start", *MEASURES, "hours_covered"), 3,
           "One row per asset × exchange × ISO week with at least one covered hour, zero where the exchange "
           "had no liquidations that week"),
)

COLUMN_NOTES = {
    "asset": "asset code as asked of the API (btc, eth, …)",
    "exchange": "Kaiko exchange code as the API sends it (the report's names for them: see Exchange codes)",
    "hour": "start of the hour, UTC (Parquet: TIMESTAMP WITH TIME ZONE; CSV: 2025-02-24T13:00:00Z)",
    "day": "UTC day (Parquet: DATE; CSV: YYYY-MM-DD)",
    "week_start": "Monday of the ISO week, UTC (Parquet: DATE; CSV: YYYY-MM-DD)",
    "covered": "true when the hour lies in a completely fetched window; false = missing data, measures empty",
    "total_trades": "liquidation events (reported orders), count",
    "total_amount": "USD liquidated, as the API converts it",
    "long_trades": "events that closed long positions (forced sells), count",
    "long_amount": "USD of long liquidations",
    "short_trades": "events that closed short positions (forced buys), count",
    "short_amount": "USD of short liquidations",
    "hours_covered": "covered hours in the day (of 24) or week (of 168): fewer means part of it is missing",
    "close": "last traded price of the hour on the asset's reference instrument (e.g. Binance's BTC-USDT "
             "perpetual), in its quote currency; empty unless has_price",
    "hourly_return": "close / the previous hour's close - 1, a fraction (0.01 = 1 %); empty for the first "
                     "hour after a gap in the price data (a return never spans a gap) and unless has_price",
    "high_low_range": "(high - low) / open of the hour, a fraction; empty unless has_price",
    "has_price": "true when the hour lies in a completely fetched price window and traded with a consistent "
                 "bar; false = no price that hour (not fetched, no access, price = false, or nothing traded)",
}

FORMATS = {"csv": "(format csv, header true)", "parquet": "(format parquet)"}
# a spreadsheet runs a cell starting with one of these as a formula; a number like -12.5 stays a number
FORMULA_START = r"^[=+\-@\t\r]"


def sql_path(path: Path) -> str:
    return path.as_posix().replace("'", "''")


def column_types(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {name: kind for name, kind, *_ in connection.execute(f"describe {table}").fetchall()}


def cell(name: str, kind: str, extension: str) -> str:
    """The select expression of one column in one format."""
    if kind == "TIMESTAMP":
        # naive UTC in the warehouse; the files say so
        return (f"strftime({name}, '%Y-%m-%dT%H:%M:%SZ') as {name}" if extension == "csv"
                else f"timezone('UTC', {name}) as {name}")
    if kind == "DATE" and extension == "csv":
        return f"strftime({name}, '%Y-%m-%d') as {name}"
    if kind == "VARCHAR" and extension == "csv":
        return (f"case when regexp_matches({name}, '{FORMULA_START}') and try_cast({name} as double) is null "
                f"then '''' || {name} else {name} end as {name}")
    return name


def export_query(spec: Export, types: dict[str, str], extension: str) -> str:
    missing = [name for name in spec.columns if name not in types]
    if missing:
        raise ModelError(f"{spec.table} has no column {', '.join(missing)}: rebuild with `liqreport build`.")
    columns = ", ".join(cell(name, types[name], extension) for name in spec.columns)
    keys = ", ".join(spec.columns[:spec.key_length])
    return f"select {columns} from {spec.table} order by {keys}"


# Two files are written at once: one COPY keeps about one core busy (the sort's merge and the writer run
# mostly on one thread), so on two cores two at a time take ~0.8× the time of one after the other
# (bench/README.md).
WRITERS = 2


def export(warehouse: Path, out_dir: Path) -> list[Path]:
    """Write each export's .csv and .parquet, then the data dictionary, into out_dir. Each file is written
    to a temporary name and renamed into place; on a failure the temporaries go and the first error (in
    EXPORTS order) is raised."""
    warehouse, out_dir = Path(warehouse), Path(out_dir)
    if not warehouse.exists():
        raise ModelError(f"there is no warehouse at {warehouse}: run `liqreport build` first.")
    out_dir.mkdir(parents=True, exist_ok=True)
    # the build's memory cap: sorting two years of hourly rows by exchange otherwise peaks above 1 GB
    with connect(warehouse, read_only=True) as connection:
        jobs = []
        for spec in EXPORTS:
            types = column_types(connection, spec.table)
            rows = connection.execute(f"select count(*) from {spec.table}").fetchone()[0]
            jobs += [(rows, spec, extension, export_query(spec, types, extension)) for extension in FORMATS]

        def write(job) -> Path:
            _, spec, extension, query = job
            target = out_dir / f"{spec.name}.{extension}"
            temporary = out_dir / f".{spec.name}.{extension}.tmp"
            cursor = connection.cursor()
            try:
                cursor.execute(f"copy ({query}) to '{sql_path(temporary)}' {FORMATS[extension]}")
            except duckdb.Error as exc:
                temporary.unlink(missing_ok=True)
                if (full_disk := storage_error(exc, temporary)) is not None:
                    raise full_disk from None
                raise ModelError(f"exporting {spec.table} to {target} failed: {exc}") from None
            finally:
                cursor.close()
            os.replace(temporary, target)
            return target

        # started largest first, so the last to finish is a small one; leaving the pool waits for all
        with ThreadPoolExecutor(WRITERS) as pool:
            largest_first = sorted(range(len(jobs)), key=lambda index: -jobs[index][0])
            futures = {index: pool.submit(write, jobs[index]) for index in largest_first}
        written = [futures[index].result() for index in range(len(jobs))]  # EXPORTS order; a failure raises
    dictionary = out_dir / DICTIONARY_FILE
    write_atomically(dictionary, data_dictionary().encode("utf-8"))
    return [*written, dictionary]


def data_dictionary() -> str:
    """data/README.md: what each file holds, its grain and key, its columns and units, missing vs zero."""
    from report.formatting import EXCHANGE_NAMES
    from report.templating import render

    return render("data_dictionary.md", {"exports": EXPORTS, "notes": COLUMN_NOTES,
                                         "exchange_names": EXCHANGE_NAMES})
