"""The staging and fact models against sums computed independently in plain Python over the landed pages."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow.parquet as pq
import pytest
import requests
from landing_fixtures import (
    HOUR,
    land_fetch,
    land_from_api,
    land_weeks,
    model_variables,
    synthetic_rows,
)

from report.models.exports import export
from report.models.runner import build
from report.settings import SQL_DIR
from report.simulator import running_simulator

MEASURES = ("total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount")
START = datetime(2024, 12, 23, tzinfo=UTC)  # three ISO weeks, the middle one spans the year end
END = datetime(2025, 1, 13, tzinfo=UTC)
HBDM_WEEK = datetime(2025, 6, 16, tzinfo=UTC)  # hbdm starts on 2025-06-18T12:00Z in the simulator


def parse_hour(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    count = int((end - start) / HOUR)
    return [(start + i * HOUR).replace(tzinfo=None) for i in range(count)]


def week_start(moment: datetime) -> date:
    return (moment - timedelta(days=moment.weekday())).date()


def expected_facts(rows: dict[str, list[dict]], windows: dict[str, list[tuple[datetime, datetime]]]) -> dict:
    """Every fact table as {key: measures (+ hours_covered)}, computed without SQL."""
    hourly, by_exchange, exchanges = {}, {}, defaultdict(set)
    for asset, asset_rows in rows.items():
        covered = {hour for start, end in windows[asset] for hour in hours_between(start, end)}
        landed = {parse_hour(row["interval_time"]): row for row in asset_rows}
        for row in asset_rows:
            exchanges[asset].update(e["exchange"] for e in row["exchanges"] or [])
        for hour in covered:
            row = landed.get(hour)
            hourly[asset, hour] = tuple(float(row[m]) if row else 0 for m in MEASURES)
            per_exchange = {e["exchange"]: e for e in (row["exchanges"] or [])} if row else {}
            for exchange in exchanges[asset] | set(per_exchange):
                e = per_exchange.get(exchange)
                by_exchange[asset, exchange, hour] = tuple(float(e[m]) if e else 0 for m in MEASURES)
    # exchanges seen later in the asset's data are zero-filled over every covered hour too
    for (asset, hour) in hourly:
        for exchange in exchanges[asset]:
            by_exchange.setdefault((asset, exchange, hour), (0,) * 6)

    def roll(facts: dict, bucket) -> dict:
        out: dict = {}
        for key, measures in facts.items():
            *names, hour = key
            target = (*names, bucket(hour))
            total = out.get(target, (0,) * 6 + (0,))
            out[target] = tuple(a + b for a, b in zip(total, (*measures, 1), strict=True))
        return out

    return {
        "fct_liquidations_hourly": hourly,
        "fct_liquidations_hourly_by_exchange": by_exchange,
        "fct_liquidations_daily": roll(hourly, lambda hour: hour.date()),
        "fct_liquidations_weekly": roll(hourly, week_start),
        "fct_liquidations_daily_by_exchange": roll(by_exchange, lambda hour: hour.date()),
        "fct_liquidations_weekly_by_exchange": roll(by_exchange, week_start),
    }


KEYS = {
    "fct_liquidations_hourly": ("asset", "hour"),
    "fct_liquidations_hourly_by_exchange": ("asset", "exchange", "hour"),
    "fct_liquidations_daily": ("asset", "day"),
    "fct_liquidations_weekly": ("asset", "week_start"),
    "fct_liquidations_daily_by_exchange": ("asset", "exchange", "day"),
    "fct_liquidations_weekly_by_exchange": ("asset", "exchange", "week_start"),
}


def actual_facts(warehouse, table: str) -> dict:
    keys = KEYS[table]
    extra = ", hours_covered" if not table.startswith("fct_liquidations_hourly") else ""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        query = f"select {', '.join(keys)}, {', '.join(MEASURES)}{extra} from {table}"
        rows = connection.execute(query).fetchall()
    return {tuple(row[:len(keys)]): tuple(row[len(keys):]) for row in rows}


def assert_facts_equal(warehouse, expected: dict) -> None:
    for table, want in expected.items():
        got = actual_facts(warehouse, table)
        assert set(got) == set(want), f"{table}: keys differ: {sorted(set(got) ^ set(want))[:5]}"
        for key, values in want.items():
            assert got[key] == pytest.approx(values, rel=1e-9, abs=1e-6), f"{table} {key}"


def run_build(tmp_path, landing, report_start=datetime(2024, 12, 30, tzinfo=UTC),
              report_end=datetime(2025, 1, 6, tzinfo=UTC), log=None):
    warehouse = tmp_path / "warehouse.duckdb"
    results = build(warehouse, SQL_DIR, model_variables(landing, report_start, report_end),
                    log=log or (lambda line: None))
    return warehouse, results


@pytest.fixture(scope="module")
def simulator_build(tmp_path_factory):
    """btc asc in small pages, sol desc, an asset without any liquidation, and btc's hbdm week."""
    tmp_path = tmp_path_factory.mktemp("simulated")
    landing = tmp_path / "landing"
    rows: dict[str, list[dict]] = defaultdict(list)
    windows: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    plan = [("btc", "asc", 100), ("sol", "desc", 1000), ("zero", "asc", 1000)]
    with running_simulator(seed=7, timestamp_unit="ns", data_start=datetime(2024, 12, 1, tzinfo=UTC),
                           empty_assets=frozenset({"zero"})) as sim, requests.Session() as session:
        weeks = [START + timedelta(weeks=i) for i in range(3)] + [HBDM_WEEK]
        for asset, sort, page_size in plan:
            for number, monday in enumerate(weeks if asset == "btc" else weeks[:3]):
                end = monday + timedelta(weeks=1)
                rows[asset] += land_from_api(session, sim.base_url, landing, asset, monday, end,
                                             fetch_id=f"20250701T0000{number:02d}000000Z", sort=sort,
                                             page_size=page_size)
                windows[asset].append((monday, end))
    lines: list[str] = []
    warehouse, results = run_build(tmp_path, landing, log=lines.append)
    return {"warehouse": warehouse, "results": results, "rows": rows, "windows": windows,
            "landing": landing, "tmp_path": tmp_path, "lines": lines}


def test_facts_match_independent_sums_for_every_day_week_and_exchange(simulator_build):
    assert len(simulator_build["rows"]["btc"]) > 100  # several pages per btc window
    assert_facts_equal(simulator_build["warehouse"],
                       expected_facts(simulator_build["rows"], simulator_build["windows"]))


def test_week_spanning_the_year_end_is_one_iso_week(simulator_build):
    with duckdb.connect(str(simulator_build["warehouse"]), read_only=True) as connection:
        weeks = connection.execute("select week_start, hours_covered from fct_liquidations_weekly "
                                   "where asset = 'btc' order by week_start").fetchall()
        days = connection.execute("select count(*) from fct_liquidations_daily where asset = 'btc' "
                                  "and day between date '2024-12-30' and date '2025-01-05'").fetchone()[0]
    assert (date(2024, 12, 30), 168) in weeks
    assert days == 7


def test_asset_without_liquidations_has_zero_rows_not_missing_ones(simulator_build):
    assert simulator_build["rows"]["zero"] == []
    with duckdb.connect(str(simulator_build["warehouse"]), read_only=True) as connection:
        hourly = connection.execute("select count(*), sum(total_amount), bool_or(has_data) "
                                    "from fct_liquidations_hourly where asset = 'zero'").fetchone()
        exchanges = connection.execute("select count(*) from fct_liquidations_hourly_by_exchange "
                                       "where asset = 'zero'").fetchone()[0]
    assert hourly == (3 * 168, 0, False)
    assert exchanges == 0


def test_exchange_appearing_mid_week_is_zero_filled_before_it_appears(simulator_build):
    with duckdb.connect(str(simulator_build["warehouse"]), read_only=True) as connection:
        days = dict(connection.execute(
            "select day, total_trades from fct_liquidations_daily_by_exchange where asset = 'btc' "
            "and exchange = 'hbdm' and day >= date '2025-06-16'").fetchall())
        first = connection.execute(
            "select min(hour) from fct_liquidations_hourly_by_exchange where asset = 'btc' "
            "and exchange = 'hbdm' and total_trades > 0").fetchone()[0]
    hbdm_hours = [parse_hour(row["interval_time"]) for row in simulator_build["rows"]["btc"]
                  if any(e["exchange"] == "hbdm" for e in row["exchanges"])]
    assert first == min(hbdm_hours) >= datetime(2025, 6, 18, 12)
    assert days[date(2025, 6, 16)] == days[date(2025, 6, 17)] == 0
    assert days[date(2025, 6, 19)] > 0
    assert len(days) == 7


def test_build_logs_like_dbt_and_writes_run_results(simulator_build):
    lines, warehouse = simulator_build["lines"], simulator_build["warehouse"]
    # what the project holds, counted from the files, not from the runner
    model_files = {path.stem: path for path in SQL_DIR.rglob("*.sql")
                   if path.relative_to(SQL_DIR).parts[0] not in ("tests", "macros")}
    test_files = sorted(path.stem for path in (SQL_DIR / "tests").glob("*.sql"))
    assert lines[0] == (f"Running {len(model_files)} models and {len(test_files)} data tests from {SQL_DIR} "
                        f"into {warehouse}")
    model_lines = lines[1:1 + len(model_files)]
    pattern = re.compile(rf"(\d+) of {len(model_files)} OK created sql (view|table|incremental) model (\w+) "
                         r"\.{3,} \[OK (?:(\d+) rows )?in \d+\.\d\ds\]")
    parsed = [pattern.fullmatch(line) for line in model_lines]
    assert all(parsed), [line for line, match in zip(model_lines, parsed, strict=True) if not match]
    assert [int(match[1]) for match in parsed] == list(range(1, len(model_files) + 1))
    assert {match[3] for match in parsed} == set(model_files)
    logged = {match[3]: (match[2], match[4]) for match in parsed}
    # 4 btc weeks, 3 sol and 3 for the asset without liquidations, 168 hours each; staging reads as views
    assert logged["fct_liquidations_hourly"] == ("table", str((4 + 3 + 3) * 168))
    assert logged["stg_liquidation_pages"] == ("view", None)
    test_lines = lines[1 + len(model_files):-1]
    test_pattern = re.compile(rf"(\d+) of {len(test_files)} (PASS|WARN) (\w+) \.{{3,}} "
                              r"\[(?:PASS|WARN \d+) in \d+\.\d\ds\]")
    tests = [test_pattern.fullmatch(line) for line in test_lines if not line.startswith("    ")]
    assert all(tests) and sorted(match[3] for match in tests) == test_files
    assert re.fullmatch(rf"Completed: {len(model_files)} models, {len(test_files)} tests "
                        r"\(\d+ pass, \d+ warn, 0 fail\) in \d+\.\ds", lines[-1])
    document = json.loads((simulator_build["tmp_path"] / "run_results.json").read_text())
    assert [model["name"] for model in document["models"]] == [match[3] for match in parsed]
    assert document["summary"]["tests"] == len(test_files)


def test_exports_have_the_documented_columns_sorted(simulator_build, tmp_path):
    written = export(simulator_build["warehouse"], tmp_path / "data")
    assert sorted(path.name for path in written) == sorted(["README.md"] + [
        f"{name}.{ext}" for name in ("hourly", "hourly_by_exchange", "daily", "weekly", "daily_by_exchange",
                                     "weekly_by_exchange")
        for ext in ("csv", "parquet")])
    assert not list((tmp_path / "data").glob(".*"))
    with (tmp_path / "data" / "weekly_by_exchange.csv").open() as handle:
        reader = csv.reader(handle)
        header = next(reader)
        body = list(reader)
    assert header == ["asset", "exchange", "week_start", *MEASURES, "hours_covered"]
    assert body == sorted(body, key=lambda row: (row[0], row[1], row[2]))
    expected = expected_facts(simulator_build["rows"], simulator_build["windows"])
    want = expected["fct_liquidations_weekly_by_exchange"]
    assert len(body) == len(want)
    for row in body:
        key = (row[0], row[1], date.fromisoformat(row[2]))
        assert [float(value) for value in row[3:9]] == pytest.approx(want[key][:6], rel=1e-9)
    daily = pq.read_table(tmp_path / "data" / "daily.parquet").to_pylist()
    assert list(daily[0]) == ["asset", "day", *MEASURES, "hours_covered"]
    assert len(daily) == len(expected["fct_liquidations_daily"])
    keys = [(row["asset"], row["day"]) for row in daily]
    assert keys == sorted(keys)


def test_refetched_window_with_revised_numbers_newest_fetch_wins(tmp_path):
    landing = tmp_path / "landing"
    monday, end = datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
    landed = {}
    with requests.Session() as session:
        for revision, fetch_id, complete in ((0, "20250301T000000000000Z", True),
                                             (1, "20250302T000000000000Z", True),
                                             (2, "20250303T000000000000Z", False)):
            with running_simulator(seed=7, revision=revision) as sim:
                landed[revision] = land_from_api(session, sim.base_url, landing, "eth", monday, end,
                                                 fetch_id=fetch_id, complete=complete)
    assert landed[0] != landed[1]  # the revision changed some hours
    warehouse, _ = run_build(tmp_path, landing, monday, end)
    assert_facts_equal(warehouse, expected_facts({"eth": landed[1]}, {"eth": [(monday, end)]}))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        windows = connection.execute("select fetch_id, is_current, source, start_time, end_time, row_count "
                                     "from stg_landing_windows order by fetch_id").fetchall()
        pages = connection.execute("select fetch_id, page_file, is_current_fetch, row_count "
                                   "from stg_liquidation_pages order by fetch_id").fetchall()
    window = ("simulator", monday.replace(tzinfo=None), end.replace(tzinfo=None))
    assert windows == [("20250301T000000000000Z", False, *window, len(landed[0])),
                       ("20250302T000000000000Z", True, *window, len(landed[1]))]
    assert pages == [("20250301T000000000000Z", "page-00001.json", False, len(landed[0])),
                     ("20250302T000000000000Z", "page-00001.json", True, len(landed[1]))]


def test_overlapping_windows_clipped_differently_newest_fetch_wins(tmp_path):
    landing = tmp_path / "landing"
    start, end = datetime(2025, 3, 3, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC)
    older = synthetic_rows("btc", start, end, seed=1)
    overlap_start, overlap_end = datetime(2025, 3, 8, tzinfo=UTC), datetime(2025, 3, 12, tzinfo=UTC)
    newer = synthetic_rows("btc", overlap_start, overlap_end, seed=2)
    land_fetch(landing, "btc", start, end, older, fetch_id="20250310T000000000000Z")
    land_fetch(landing, "btc", overlap_start, overlap_end, newer, window="2025-03-10",
               fetch_id="20250312T000000000000Z", sort="desc", page_size=7)
    merged = {row["interval_time"]: row for row in older} | {row["interval_time"]: row for row in newer}
    warehouse, _ = run_build(tmp_path, landing, start, end)
    expected = expected_facts({"btc": list(merged.values())},
                              {"btc": [(start, end), (overlap_start, overlap_end)]})
    assert_facts_equal(warehouse, expected)
    assert len(expected["fct_liquidations_hourly"]) == 9 * 24


def test_row_outside_its_fetch_range_loses_to_the_window_that_covers_it(tmp_path):
    landing = tmp_path / "landing"
    first, second, end = (datetime(2025, 3, d, tzinfo=UTC) for d in (3, 10, 17))
    inside = synthetic_rows("btc", first, second, seed=6, skip_share=0)
    stray = synthetic_rows("btc", second - HOUR, second, seed=7, skip_share=0)  # 03-09T23, outside [10, 17)
    assert stray[0]["total_amount"] != inside[-1]["total_amount"]
    land_fetch(landing, "btc", first, second, inside, fetch_id="20250317T000000000000Z")
    land_fetch(landing, "btc", second, end, stray + synthetic_rows("btc", second, end, seed=8),
               fetch_id="20250318T000000000000Z")
    warehouse, _ = run_build(tmp_path, landing, first, end)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        amount = connection.execute("select total_amount from fct_liquidations_hourly "
                                    "where hour = timestamp '2025-03-09 23:00'").fetchone()[0]
    assert amount == pytest.approx(inside[-1]["total_amount"], rel=1e-12)


def test_row_in_no_complete_window_counts_in_no_fact_even_on_a_covered_day(tmp_path):
    # the fetch covers 06:00 onwards; its stray row at 02:00 of the same day (and ISO week) is missing data,
    # so the daily and weekly facts, by exchange too, sum the covered hours only
    landing = tmp_path / "landing"
    start, end = datetime(2025, 3, 10, 6, tzinfo=UTC), datetime(2025, 3, 12, tzinfo=UTC)
    stray = synthetic_rows("btc", start - 4 * HOUR, start - 3 * HOUR, seed=5, skip_share=0)
    inside = synthetic_rows("btc", start, end, seed=5)
    assert stray and stray[0]["exchanges"]
    land_fetch(landing, "btc", start, end, stray + inside, fetch_id="20250312T000000000000Z")
    week = datetime(2025, 3, 10, tzinfo=UTC)
    warehouse, _ = run_build(tmp_path, landing, week, week + timedelta(weeks=1))
    assert_facts_equal(warehouse, expected_facts({"btc": stray + inside}, {"btc": [(start, end)]}))


def test_other_intervals_stay_out_of_the_hourly_facts_with_a_warning(tmp_path):
    landing = tmp_path / "landing"
    rows = synthetic_rows("btc", START, END, seed=9)
    land_weeks(landing, "btc", START, END, rows, interval="4h")
    warehouse, results = run_build(tmp_path, landing)
    warned = [test["name"] for test in results.tests if test["status"] == "warn"]
    assert "assert_landed_intervals_are_hourly" in warned
    assert actual_facts(warehouse, "fct_liquidations_daily") == {}


@pytest.mark.parametrize("unit", ["ns", "ms", "s"])
def test_timestamps_in_ns_ms_or_s_give_the_same_facts(tmp_path, unit):
    landing = tmp_path / "landing"
    rows = synthetic_rows("eth", START, END, seed=3, unit=unit)
    land_weeks(landing, "eth", START, END, rows)
    warehouse, _ = run_build(tmp_path, landing)
    assert_facts_equal(warehouse, expected_facts({"eth": rows}, {"eth": [(START, END)]}))
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        units = connection.execute("select distinct timestamp_unit from stg_liquidations").fetchall()
    assert units == [(unit,)]


def test_hour_missing_inside_a_window_is_zero_and_outside_is_absent(tmp_path):
    landing = tmp_path / "landing"
    start, end = datetime(2025, 1, 6, 5, tzinfo=UTC), datetime(2025, 1, 8, 17, tzinfo=UTC)
    rows = synthetic_rows("btc", start, end, seed=4, skip_share=0.3)
    land_fetch(landing, "btc", start, end, rows)
    warehouse, _ = run_build(tmp_path, landing, start, end)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        hours = connection.execute("select min(hour), max(hour), count(*), count(*) filter (where has_data), "
                                   "sum(total_trades) filter (where not has_data) "
                                   "from fct_liquidations_hourly").fetchone()
        daily = connection.execute("select day, hours_covered from fct_liquidations_daily "
                                   "order by day").fetchall()
    assert hours == (datetime(2025, 1, 6, 5), datetime(2025, 1, 8, 16), 60, len(rows), 0)
    assert daily == [(date(2025, 1, 6), 19), (date(2025, 1, 7), 24), (date(2025, 1, 8), 17)]


def test_incomplete_fetch_without_manifest_is_ignored(tmp_path):
    landing = tmp_path / "landing"
    rows = synthetic_rows("btc", START, END, seed=5)
    land_fetch(landing, "btc", START, END, rows, complete=False)
    warehouse, _ = run_build(tmp_path, landing)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = connection.execute("select (select count(*) from stg_liquidation_pages), "
                                    "(select count(*) from fct_liquidations_hourly)").fetchone()
    assert counts == (0, 0)


def test_empty_landing_zone_builds_empty_tables_and_exports(tmp_path):
    warehouse, results = run_build(tmp_path, tmp_path / "no-landing-yet")
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        counts = [connection.execute(f"select count(*) from {table}").fetchone()[0] for table in KEYS]
    assert counts == [0] * len(KEYS)
    assert results.failed == 0
    written = export(warehouse, tmp_path / "data")
    header = ",".join(["asset", "day", *MEASURES, "hours_covered"])
    assert (tmp_path / "data" / "daily.csv").read_text().strip() == header
    assert len(written) == 13  # six exports as CSV and Parquet, and the data dictionary
