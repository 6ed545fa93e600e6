"""The analyst's files (data/*.csv|parquet and data/README.md): hand-landed pages in, the exact files out.

Landing zones follow the documented layout (tests/landing_fixtures.py); the real runner builds them; the
expected rows are worked out here from what was landed.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import html5lib
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from landing_fixtures import kaiko_row, land_fetch

from report import pipeline
from report.models.exports import EXPORTS
from report.periods import iso_week
from report.settings import Settings

WEEK = iso_week("2025-W09")
HOUR = timedelta(hours=1)
# what a spreadsheet would run, and what it must not touch: a number with a sign stays a number
FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(1,2)", "-2+3", "@HYPERLINK(\"http://x.example\",\"x\")", "\tTAB",
            "\rCR"]
NUMBER_LIKE = "-12.5"
XHTML = "{http://www.w3.org/1999/xhtml}"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def build(tmp_path, assets=("btc",)):
    settings = Settings(output_dir=tmp_path, assets=assets, api_key="unused", base_url="http://127.0.0.1:9")
    pipeline.build(settings, WEEK, run_tests=False, log=lambda line: None)
    return tmp_path / "data"


def read_csv(path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def hostile_exports(tmp_path_factory):
    """One week of btc whose exchange codes are spreadsheet formulas (and one negative number)."""
    tmp_path = tmp_path_factory.mktemp("formulas")
    exchanges = {code: (1, 10.0 * (index + 1), 1, 5.0) for index, code in enumerate([*FORMULAS, NUMBER_LIKE])}
    rows = [kaiko_row(at("2025-02-25T14:00"), exchanges)]
    land_fetch(tmp_path / "landing", "btc", WEEK.start, WEEK.end, rows)
    return build(tmp_path)


def test_csv_cells_that_would_run_as_formulas_get_an_apostrophe(hostile_exports):
    for name in ("hourly_by_exchange", "daily_by_exchange", "weekly_by_exchange"):
        codes = {row["exchange"] for row in read_csv(hostile_exports / f"{name}.csv")}
        assert codes == {"'" + code for code in FORMULAS} | {NUMBER_LIKE}, name


def test_no_csv_the_product_writes_has_a_cell_that_starts_a_formula(hostile_exports):
    csv_files = sorted(hostile_exports.glob("*.csv"))
    assert len(csv_files) == len(EXPORTS)
    for path in csv_files:
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for value in row:
                    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        float(value)  # only numbers may start so


def test_parquet_keeps_the_raw_exchange_codes(hostile_exports):
    for name in ("hourly_by_exchange", "daily_by_exchange", "weekly_by_exchange"):
        codes = set(pq.read_table(hostile_exports / f"{name}.parquet").column("exchange").to_pylist())
        assert codes == {*FORMULAS, NUMBER_LIKE}, name


def test_parquet_has_real_types_dates_and_utc_hours(hostile_exports):
    expected = {"hour": pa.timestamp("us", tz="UTC"), "day": pa.date32(), "week_start": pa.date32(),
                "covered": pa.bool_(), "total_trades": pa.int64(), "total_amount": pa.float64(),
                "asset": pa.string(), "exchange": pa.string(), "hours_covered": pa.int64()}
    for spec in EXPORTS:
        schema = pq.read_schema(hostile_exports / f"{spec.name}.parquet")
        assert schema.names == list(spec.columns)
        for field in schema:
            if field.name in expected:
                assert field.type == expected[field.name], (spec.name, field.name, field.type)
    hourly = pq.read_table(hostile_exports / "hourly.parquet").to_pylist()
    busy = [row for row in hourly if row["total_amount"]]
    assert [row["hour"] for row in busy] == [datetime(2025, 2, 25, 14, tzinfo=UTC)]
    # the hourly files start 12 weeks before the report period, whatever was fetched
    assert read_csv(hostile_exports / "hourly.csv")[0]["hour"] == "2024-12-02T00:00:00Z"


def test_hourly_exports_say_missing_hours_are_missing_not_zero(tmp_path):
    landing = tmp_path / "landing"
    week_before = WEEK.start - timedelta(weeks=1)
    land_fetch(landing, "btc", week_before, WEEK.start,
               [kaiko_row(week_before + 5 * HOUR, {"binc": (2, 100.0, 0, 0.0)})])
    # the report week is only fetched up to Wednesday 12:00: the rest of it is missing
    cut = WEEK.start + timedelta(days=2, hours=12)
    land_fetch(landing, "btc", WEEK.start, cut, [kaiko_row(WEEK.start + HOUR, {"okex": (0, 0.0, 1, 40.0)})])
    land_fetch(landing, "eth", WEEK.start, WEEK.end, [kaiko_row(WEEK.end - HOUR, {"bbit": (1, 7.0, 0, 0.0)})])
    data = build(tmp_path, assets=("btc", "eth"))
    hourly = {(row["asset"], row["hour"]): row for row in pq.read_table(data / "hourly.parquet").to_pylist()}
    first = WEEK.start - timedelta(weeks=12)
    hours = [first + k * HOUR for k in range(13 * 168)]
    # every asset gets the whole span, the report week and the 12 before it: btc, and eth although it starts
    # a week later; the weeks nobody fetched are there too, not covered
    assert set(hourly) == {(asset, hour) for asset in ("btc", "eth") for hour in hours}
    assert hourly[("btc", first)]["covered"] is False and hourly[("btc", first)]["total_amount"] is None
    assert hourly[("btc", week_before + 5 * HOUR)]["total_amount"] == 100.0
    assert hourly[("btc", week_before + 6 * HOUR)] == {
        "asset": "btc", "hour": week_before + 6 * HOUR, "covered": True, "total_trades": 0,
        "total_amount": 0.0, "long_trades": 0, "long_amount": 0.0, "short_trades": 0, "short_amount": 0.0,
        "close": None, "hourly_return": None, "high_low_range": None, "has_price": False}
    gap = hourly[("btc", cut)]
    assert gap["covered"] is False and gap["total_amount"] is None and gap["total_trades"] is None
    assert hourly[("eth", week_before)]["covered"] is False
    assert sum(row["covered"] for row in hourly.values()) == 168 + 60 + 168
    by_exchange = pq.read_table(data / "hourly_by_exchange.parquet").to_pylist()
    btc_codes = {row["exchange"] for row in by_exchange if row["asset"] == "btc"}
    assert btc_codes == {"binc", "okex"}
    missing = [row for row in by_exchange if row["asset"] == "btc" and row["hour"] == cut]
    assert len(missing) == 2 and all(row["covered"] is False and row["total_amount"] is None
                                     for row in missing)
    csv_gap = next(row for row in read_csv(data / "hourly.csv")
                   if row["asset"] == "btc" and row["hour"] == f"{cut:%Y-%m-%dT%H:%M:%SZ}")
    assert csv_gap["covered"] == "false" and csv_gap["total_amount"] == ""


def test_the_by_exchange_daily_and_weekly_files_say_how_many_hours_they_cover(tmp_path):
    landing = tmp_path / "landing"
    cut = WEEK.start + timedelta(days=2, hours=12)  # the week fetched up to Wednesday 12:00 only
    land_fetch(landing, "btc", WEEK.start, cut, [kaiko_row(WEEK.start + HOUR, {"okex": (0, 0.0, 1, 40.0)})])
    data = build(tmp_path)
    daily = {(row["exchange"], row["day"]): row["hours_covered"]
             for row in pq.read_table(data / "daily_by_exchange.parquet").to_pylist()}
    assert daily == {("okex", (WEEK.start + timedelta(days=k)).date()): hours
                     for k, hours in enumerate((24, 24, 12))}
    (weekly,) = pq.read_table(data / "weekly_by_exchange.parquet").to_pylist()
    assert (weekly["exchange"], weekly["hours_covered"]) == ("okex", 60)
    assert read_csv(data / "weekly_by_exchange.csv")[0]["hours_covered"] == "60"


def test_a_data_dictionary_sits_beside_the_exports(hostile_exports):
    dictionary = (hostile_exports / "README.md").read_text(encoding="utf-8")
    assert "Missing is not zero" in dictionary and "UTC" in dictionary and "apostrophe" in dictionary
    for spec in EXPORTS:
        assert f"## {spec.name}.csv, {spec.name}.parquet" in dictionary
        section = dictionary.split(f"## {spec.name}.csv")[1].split("\n## ")[0]
        assert all(f"| `{column}` |" in section for column in spec.columns), spec.name


def test_an_hour_with_usd_but_no_trades_renders_a_dash_and_a_warning_names_it(tmp_path):
    """USD without events (and events without USD) is bad data: no average size, no traceback, a warning."""
    landing = tmp_path / "landing"
    usd_only, trades_only = at("2025-02-25T14:00"), at("2025-02-26T03:00")
    land_fetch(landing, "btc", WEEK.start, WEEK.end, [
        kaiko_row(usd_only, {"binc": (0, 5_000.0, 0, 0.0)}),
        kaiko_row(trades_only, {"okex": (0, 0.0, 3, 0.0)}),
    ])
    settings = Settings(output_dir=tmp_path, assets=("btc",), api_key="unused", base_url="http://127.0.0.1:9")
    lines = []
    results = pipeline.build(settings, WEEK, log=lines.append)
    (check,) = [test for test in results.tests if test["name"] == "assert_amounts_have_trades"]
    assert check["severity"] == "warn" and check["status"] == "warn"
    # each hour twice (total and its side) in the totals and in its exchange: 8 rows, the first shown
    assert check["failures"] == 8
    named = {(row["hour"], row["exchange"], row["side"]) for row in check["first_rows"]}
    assert {("2025-02-25 14:00:00", None, "long"), ("2025-02-25 14:00:00", "binc", "long"),
            ("2025-02-26 03:00:00", None, "short")} <= named
    assert any("assert_amounts_have_trades" in line and "2025-02-25 14:00:00" in line for line in lines)
    folder = pipeline.render(settings, WEEK, log=lambda line: None).parent
    tree = html5lib.parse((folder / "report.html").read_text(encoding="utf-8"))

    def row_of(table_id: str, first_cell: str) -> list[str]:
        table = next(node for node in tree.iter(f"{XHTML}table") if node.get("id") == table_id)
        for row in table.iter(f"{XHTML}tr"):
            cells = [" ".join("".join(cell.itertext()).split()) for cell in row]
            if cells and cells[0].startswith(first_cell):
                return cells
        raise AssertionError(f"no row {first_cell!r} in {table_id}")

    # Day | USD | Side | Events | Avg size | Last wk
    assert row_of("days-btc", "Tue 25 Feb")[1:5] == ["$5.00K", "100% long", "0", "–"]
    assert row_of("days-btc", "Wed 26 Feb")[1:5] == ["$0", "–", "3", "–"]
    # Exchange | USD | Share | Side | Avg size: one asset, so the first screen's table is the asset's
    assert row_of("market-exchanges", "Binance")[4] == "–"  # OKX had no USD at all: not listed
    summary = (folder / "summary.json").read_text()
    assert '"average_size": null' in summary


def test_a_week_whose_only_liquidation_has_no_trades_renders_without_a_traceback(tmp_path):
    """The renderer of 32945fc raised ValueError here (max() of no average sizes)."""
    land_fetch(tmp_path / "landing", "btc", WEEK.start, WEEK.end,
               [kaiko_row(at("2025-02-25T14:00"), {"binc": (0, 5_000.0, 0, 0.0)})])
    settings = Settings(output_dir=tmp_path, assets=("btc",), api_key="unused", base_url="http://127.0.0.1:9")
    pipeline.build(settings, WEEK, log=lambda line: None)
    folder = pipeline.render(settings, WEEK, log=lambda line: None).parent
    page = " ".join("".join(html5lib.parse((folder / "report.html").read_text()).itertext()).split())
    assert "$5.00K liquidated" in page and "0 events;" in page and "averaging" not in page
    assert "Tue 25 Feb $5.00K 100% long 0 –" in page


def test_every_export_is_in_key_order_and_its_csv_and_parquet_rows_match(tmp_path):
    """Analysts diff and page through the files: rows come out sorted by their key (asset, [exchange,] time)
    in both formats, the same rows in the same order."""
    landing = tmp_path / "landing"
    rows = [kaiko_row(WEEK.start + hours * HOUR, {"okex": (1, 3.0, 0, 0.0), "binc": (0, 0.0, 2, 5.0),
                                                   "bbit": (1, 1.0, 1, 1.0)})
            for hours in (150, 3, 77, 30, 100)]
    for asset in ("sol", "btc", "eth"):
        land_fetch(landing, asset, WEEK.start, WEEK.end, rows)
    data = build(tmp_path, assets=("sol", "btc", "eth"))
    for spec in EXPORTS:
        key_columns = spec.columns[:spec.key_length]
        table = pq.read_table(data / f"{spec.name}.parquet").to_pylist()
        keys = [tuple(row[name] for name in key_columns) for row in table]
        assert len(keys) >= 3 and keys == sorted(keys), spec.name
        text_keys = [tuple(row[name] for name in key_columns) for row in read_csv(data / f"{spec.name}.csv")]
        assert [key[:-1] for key in text_keys] == [key[:-1] for key in keys], spec.name
        time_format = "%Y-%m-%dT%H:%M:%SZ" if isinstance(keys[0][-1], datetime) else "%Y-%m-%d"
        assert [key[-1] for key in text_keys] == [f"{key[-1]:{time_format}}" for key in keys], spec.name
