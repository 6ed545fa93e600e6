"""Fault family "bad data", model side: pages that landed but whose content is odd. The choices:

- numbers sent as numeric strings ("703", "4493384.57"): accepted, cast; the facts equal those from numbers.
- a non-numeric string where a number belongs: refused — the build stops with a ModelError naming
  stg_liquidation_rows, the page file and the value (guessing a value would invent data).
- `exchanges: null`: the totals are kept; the hour has no per-exchange rows; the warn-level test
  assert_exchanges_sum_to_totals reports it (the report shows the reconciliation gap), the build succeeds.
- a negative amount: error — assert_measures_non_negative fails, DataQualityError with the row, the CLI
  exits 1 with `Error: data test … failed: 1 rows; first: {…}`, and the previous warehouse is kept.
- totals that disagree with the sum of their exchanges: warn (same test as above), build succeeds.
- an unknown extra field (in the envelope, a row or an exchange): accepted and ignored.
- a page of a complete fetch that is not valid JSON (damaged on disk after landing): refused, ModelError
  naming stg_liquidation_rows and the file; re-fetch the window (`liqreport fetch --refresh`).
- interval_timestamp in milliseconds (or seconds) instead of nanoseconds: accepted, detected by magnitude,
  same numbers; interval_time that disagrees with interval_timestamp: error (assert_timestamps_aligned).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import duckdb
import pytest
from landing_fixtures import land_fetch, model_variables, synthetic_rows

from report.cli import main
from report.errors import DataQualityError, ModelError
from report.models.runner import build
from report.settings import SQL_DIR

START, END = datetime(2025, 2, 3, tzinfo=UTC), datetime(2025, 2, 10, tzinfo=UTC)
FACTS = ("fct_liquidations_daily", "fct_liquidations_weekly", "fct_liquidations_daily_by_exchange",
         "fct_liquidations_hourly")


def land(landing, rows, transform=None):
    land_fetch(landing, "btc", START, END, rows, page_size=50,
               page_transform=(lambda envelope: transform(copy.deepcopy(envelope))) if transform else None)


def run(tmp_path, landing):
    lines: list[str] = []
    results = build(tmp_path / "warehouse.duckdb", SQL_DIR, model_variables(landing, START, END),
                    log=lines.append)
    return results, lines


def facts(tmp_path) -> dict:
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        return {table: connection.execute(f"select * from {table} order by all").fetchall()
                for table in FACTS}


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("clean")
    rows = synthetic_rows("btc", START, END, seed=11)
    land(tmp_path / "landing", rows)
    run(tmp_path, tmp_path / "landing")
    return rows, facts(tmp_path)


def first_hour(rows, change):
    """A page transform that applies `change` to the row of the first landed hour only."""
    target = rows[0]["interval_time"]

    def transform(envelope):
        for row in envelope["data"]:
            if row["interval_time"] == target:
                change(row)
        return envelope

    return transform


def assert_same_facts(expected: dict, got: dict) -> None:
    for table, rows in expected.items():
        assert len(got[table]) == len(rows)
        for want, have in zip(rows, got[table], strict=True):
            for a, b in zip(want, have, strict=True):
                assert b == (pytest.approx(a, rel=1e-12) if isinstance(a, float) else a), table


def stringify(envelope):
    for row in envelope["data"]:
        for key in ("total_trades", "total_amount", "long_trades", "long_amount", "short_trades",
                    "short_amount", "interval_timestamp"):
            row[key] = str(row[key])
        for exchange in row["exchanges"]:
            exchange["long_amount"] = str(exchange["long_amount"])
            exchange["total_trades"] = str(exchange["total_trades"])
    return envelope


def test_numeric_strings_are_cast_and_give_the_same_facts(tmp_path, clean):
    rows, expected = clean
    land(tmp_path / "landing", rows, stringify)
    results, _ = run(tmp_path, tmp_path / "landing")
    assert results.failed == results.warned == 0
    assert_same_facts(expected, facts(tmp_path))


def test_non_numeric_string_is_refused_with_the_model_named(tmp_path, clean):
    rows, _ = clean
    land(tmp_path / "landing", rows, first_hour(rows, lambda row: row.update(total_amount="n/a")))
    message = (r"model stg_liquidation_rows \(sql/staging/stg_liquidation_rows\.sql\) failed: "
               r".*page-00001\.json.*n/a")
    with pytest.raises(ModelError, match=message):
        run(tmp_path, tmp_path / "landing")


def test_unknown_extra_fields_are_accepted(tmp_path, clean):
    rows, expected = clean

    def add_fields(envelope):
        envelope["new_envelope_key"] = {"nested": [1, 2]}
        for row in envelope["data"]:
            row["open_interest"] = 123.0
            for exchange in row["exchanges"]:
                exchange["venue_type"] = "perp"
        return envelope

    land(tmp_path / "landing", rows, add_fields)
    results, _ = run(tmp_path, tmp_path / "landing")
    assert results.failed == results.warned == 0
    assert_same_facts(expected, facts(tmp_path))


@pytest.mark.parametrize("unit", ["ms", "s"])
def test_timestamp_in_ms_or_s_instead_of_ns_gives_the_same_facts(tmp_path, clean, unit):
    rows, expected = clean
    divisor = {"ms": 1_000_000, "s": 1_000_000_000}[unit]

    def rescale(envelope):
        for row in envelope["data"]:
            row["interval_timestamp"] //= divisor
        return envelope

    land(tmp_path / "landing", rows, rescale)
    results, _ = run(tmp_path, tmp_path / "landing")
    assert results.failed == 0
    assert_same_facts(expected, facts(tmp_path))


def test_exchanges_null_keeps_totals_and_warns(tmp_path, clean):
    rows, expected = clean
    land(tmp_path / "landing", rows, first_hour(rows, lambda row: row.update(exchanges=None)))
    results, lines = run(tmp_path, tmp_path / "landing")
    warned = {test["name"]: test for test in results.tests if test["status"] == "warn"}
    assert list(warned) == ["assert_exchanges_sum_to_totals"]
    assert warned["assert_exchanges_sum_to_totals"]["failures"] == 1
    assert any("WARN assert_exchanges_sum_to_totals" in line for line in lines)
    got = facts(tmp_path)
    assert_same_facts({"fct_liquidations_daily": expected["fct_liquidations_daily"]}, got)
    exchange_trades = sum(row[3] for row in got["fct_liquidations_daily_by_exchange"])
    assert exchange_trades == sum(row["total_trades"] for row in rows) - rows[0]["total_trades"]


def test_totals_disagreeing_with_exchanges_warn_and_build_succeeds(tmp_path, clean):
    rows, _ = clean

    def inflate(row):
        row["long_amount"] += 1000.0
        row["total_amount"] += 1000.0

    land(tmp_path / "landing", rows, first_hour(rows, inflate))
    results, _ = run(tmp_path, tmp_path / "landing")
    warned = [test for test in results.tests if test["status"] == "warn"]
    assert [test["name"] for test in warned] == ["assert_exchanges_sum_to_totals"]
    assert warned[0]["first_rows"][0]["total_amount"] == pytest.approx(rows[0]["total_amount"] + 1000.0)
    assert (tmp_path / "warehouse.duckdb").exists()


def test_negative_amount_fails_the_build_and_keeps_the_previous_warehouse(tmp_path, clean):
    rows, expected = clean
    land(tmp_path / "landing", rows)
    run(tmp_path, tmp_path / "landing")

    def negative(row):
        row["short_amount"] = -row["short_amount"]
        row["total_amount"] = row["long_amount"] + row["short_amount"]

    land_fetch(tmp_path / "landing", "btc", START, END, rows, fetch_id="20250701T000000000000Z",
               page_transform=lambda e: first_hour(rows, negative)(copy.deepcopy(e)))
    with pytest.raises(DataQualityError, match=r"^data test assert_measures_non_negative failed: 1 rows; "
                                               r"first: \{'model': 'stg_liquidations'"):
        run(tmp_path, tmp_path / "landing")
    assert_same_facts(expected, facts(tmp_path))


def negative_long(row):
    row["long_amount"] = -1.0
    row["total_amount"] = row["short_amount"] - 1.0


def test_negative_amount_exits_1_from_the_cli_with_the_test_named(tmp_path, clean, capsys, monkeypatch):
    rows, _ = clean
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAIKO_API_KEY", raising=False)
    output = tmp_path / "output"
    land_fetch(output / "landing", "btc", START, END, rows,
               page_transform=lambda e: first_hour(rows, negative_long)(copy.deepcopy(e)))
    code = main(["build", "--output-dir", str(output), "--start", "2025-02-03", "--end", "2025-02-10"])
    error = capsys.readouterr().err
    assert code == 1
    assert "Error: data test assert_measures_non_negative failed: 1 rows; first: {" in error
    assert "'long_amount': -1.0" in error
    assert not (output / "warehouse.duckdb").exists()


def test_interval_time_disagreeing_with_interval_timestamp_fails(tmp_path, clean):
    rows, _ = clean
    land(tmp_path / "landing", rows,
         first_hour(rows, lambda row: row.update(interval_time="2025-02-03T07:00:00Z")))
    with pytest.raises(DataQualityError, match="data test assert_timestamps_aligned failed: 1 rows"):
        run(tmp_path, tmp_path / "landing")


def test_damaged_page_of_a_complete_fetch_is_refused_with_the_file_named(tmp_path, clean):
    rows, _ = clean
    land(tmp_path / "landing", rows)
    page = next((tmp_path / "landing").rglob("page-00002.json"))
    # damaged in place, its byte count unchanged: the manifest check cannot see it, the reader must (a
    # truncated page is a resized one: tests/test_faults_landing.py)
    body = page.read_bytes()
    page.write_bytes(body[:500] + b"\x00" * (len(body) - 500))
    with pytest.raises(ModelError, match=r"model stg_liquidation_rows .* failed: .*page-00002\.json"):
        run(tmp_path, tmp_path / "landing")
