"""Given/expect tests of the report marts (sql/reports): a few hand-landed rows in, the exact rows out.

Landing files follow the documented layout (tests/landing_fixtures.py); the real runner builds them into a
real DuckDB file; expected values are worked out by hand or in plain Python below.
"""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
from landing_fixtures import kaiko_row, land_fetch

from report import pipeline
from report.periods import iso_week
from report.settings import Settings

WEEK = iso_week("2025-W09")  # Mon 2025-02-24 … Mon 2025-03-03
HOUR = timedelta(hours=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def land_week(landing, monday: datetime, rows: list[dict], asset: str = "btc") -> None:
    land_fetch(landing, asset, monday, monday + timedelta(days=7), rows)


def build(tmp_path) -> duckdb.DuckDBPyConnection:
    settings = Settings(output_dir=tmp_path, assets=("btc",), api_key="unused", base_url="http://127.0.0.1:9")
    pipeline.build(settings, WEEK, run_tests=False, log=lambda line: None)
    return duckdb.connect(str(settings.warehouse_path), read_only=True)


def rows(connection, sql: str) -> list[dict]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture
def small_warehouse(tmp_path):
    """W05–W07 complete but empty, W08 one hour, W09 two hours, W01 (before the API's history) empty."""
    landing = tmp_path / "landing"
    land_week(landing, at("2024-12-30"), [])
    for monday in ("2025-01-27", "2025-02-03", "2025-02-10"):
        land_week(landing, at(monday), [])
    land_week(landing, at("2025-02-17"), [
        kaiko_row(at("2025-02-17T10:00"), {"binc": (1, 100.0, 0, 0.0), "drbt": (0, 0.0, 2, 300.0)})])
    land_week(landing, at("2025-02-24"), [
        kaiko_row(at("2025-02-25T14:00"), {"binc": (1, 1000.0, 1, 500.0), "okex": (0, 0.0, 3, 1800.0)}),
        kaiko_row(at("2025-02-26T03:00"), {"binc": (2, 600.0, 0, 0.0)}),
    ])
    connection = build(tmp_path)
    yield connection
    connection.close()


def test_weekly_summary_compares_with_last_week_and_the_4_week_average(small_warehouse):
    (summary,) = rows(small_warehouse, "select * from rpt_weekly_summary")
    assert summary["total_amount"] == 3900.0 and summary["total_trades"] == 7
    assert summary["long_amount"] == 1600.0 and summary["short_amount"] == 2300.0
    assert summary["long_share"] == pytest.approx(1600 / 3900)
    assert summary["change_vs_last_week"] == pytest.approx(3900 / 400 - 1)
    assert summary["change_vs_4w_avg"] == pytest.approx(3900 / ((400 + 0 + 0 + 0) / 4) - 1)
    assert summary["biggest_day"].isoformat() == "2025-02-25" and summary["biggest_day_amount"] == 3300.0
    assert summary["biggest_hour"] == datetime(2025, 2, 25, 14) and summary["biggest_hour_amount"] == 3300.0
    assert summary["dominant_exchange"] == "binc"
    assert (summary["hours_covered"], summary["hours_with_data"], summary["hours_in_period"]) == (168, 2, 168)


def test_exchange_share_shows_new_and_absent_exchanges(small_warehouse):
    table = rows(small_warehouse, "select exchange, total_amount, previous_total_amount, share, "
                                  "change_vs_last_week, status, rank from rpt_exchange_share order by rank")
    assert table == [
        {"exchange": "binc", "total_amount": 2100.0, "previous_total_amount": 100.0,
         "share": pytest.approx(2100 / 3900), "change_vs_last_week": pytest.approx(20.0), "status": "active",
         "rank": 1},
        {"exchange": "okex", "total_amount": 1800.0, "previous_total_amount": 0.0,
         "share": pytest.approx(1800 / 3900), "change_vs_last_week": None, "status": "new", "rank": 2},
        {"exchange": "drbt", "total_amount": 0.0, "previous_total_amount": 300.0, "share": 0.0,
         "change_vs_last_week": -1.0, "status": "absent", "rank": 3},
    ]


def test_an_exchange_is_absent_only_from_a_covered_period_and_new_only_after_one(tmp_path):
    landing = tmp_path / "landing"
    # W07 never fetched; W08 whole with Binance and Deribit; W09 fetched only until Wednesday, Binance alone
    land_week(landing, at("2025-02-17"), [
        kaiko_row(at("2025-02-17T10:00"), {"binc": (1, 100.0, 0, 0.0), "drbt": (0, 0.0, 2, 300.0)})])
    land_fetch(landing, "btc", WEEK.start, at("2025-02-26"), [
        kaiko_row(at("2025-02-25T14:00"), {"binc": (1, 1000.0, 0, 0.0)})])
    with build(tmp_path) as connection:
        table = rows(connection, "select exchange, status, previous_total_amount, change_vs_last_week "
                                 "from rpt_exchange_share order by rank")
        market = rows(connection, "select exchange, status from rpt_overview_exchanges order by rank")
    # Deribit had nothing in the 48 covered hours: the other 120 are unknown, so it is not called absent
    assert table == [
        {"exchange": "binc", "status": "active", "previous_total_amount": 100.0,
         "change_vs_last_week": pytest.approx(9.0)},
        {"exchange": "drbt", "status": "not compared", "previous_total_amount": 300.0,
         "change_vs_last_week": -1.0},
    ]
    assert market == [{"exchange": "binc", "status": "active"},
                      {"exchange": "drbt", "status": "not compared"}]


def test_top_hours_carry_side_share_and_exchange_breakdown(small_warehouse):
    top = rows(small_warehouse, "select rank, hour, total_amount, dominant_side, share_of_period, "
                                "top_exchange, exchanges from rpt_top_hours order by rank")
    assert [row["rank"] for row in top] == [1, 2]
    assert top[0]["hour"] == datetime(2025, 2, 25, 14) and top[0]["dominant_side"] == "short"
    assert top[0]["share_of_period"] == pytest.approx(3300 / 3900) and top[0]["top_exchange"] == "okex"
    assert top[0]["exchanges"] == [{"exchange": "okex", "total_amount": 1800.0},
                                   {"exchange": "binc", "total_amount": 1500.0}]
    assert top[1]["dominant_side"] == "long" and top[1]["exchanges"] == [{"exchange": "binc",
                                                                          "total_amount": 600.0}]


def test_daily_rows_cover_every_day_with_the_same_day_a_week_earlier(small_warehouse):
    days = rows(small_warehouse, "select day, hours_covered, total_amount, long_share, previous_day, "
                                 "previous_total_amount from rpt_daily_ratio order by day")
    assert [row["day"].isoformat() for row in days] == [f"2025-{d}" for d in (
        "02-24", "02-25", "02-26", "02-27", "02-28", "03-01", "03-02")]
    assert all(row["hours_covered"] == 24 for row in days)
    assert days[1]["total_amount"] == 3300.0 and days[1]["long_share"] == pytest.approx(1000 / 3300)
    assert days[0]["previous_day"].isoformat() == "2025-02-17" and days[0]["previous_total_amount"] == 400.0
    assert days[4]["total_amount"] == 0.0 and days[4]["long_share"] is None


def test_weeks_before_the_api_history_read_no_coverage_not_zero(small_warehouse):
    weeks = rows(small_warehouse, "select * from rpt_weekly_trend")
    trend = {row["week_start"].isoformat(): row for row in weeks}
    assert len(trend) == 12 and trend["2025-02-24"]["is_report_week"]  # "12 weeks" means 12 bars
    assert min(trend) == "2024-12-09" and sum(row["is_report_week"] for row in weeks) == 1
    assert trend["2024-12-30"]["hours_covered"] == 0 and trend["2024-12-30"]["total_amount"] is None
    assert trend["2025-01-06"]["hours_covered"] == 0  # never landed: missing
    assert trend["2025-01-27"]["hours_covered"] == 168 and trend["2025-01-27"]["total_amount"] == 0.0


def test_reconciliation_counts_hours_whose_exchanges_do_not_add_up(tmp_path):
    landing = tmp_path / "landing"
    good = kaiko_row(at("2025-02-25T01:00"), {"binc": (1, 10.0, 0, 0.0)})
    bad = kaiko_row(at("2025-02-25T02:00"), {"binc": (1, 10.0, 0, 0.0), "okex": (0, 0.0, 1, 5.0)})
    bad["total_amount"] += 50.0
    bad["long_amount"] += 50.0
    land_week(landing, at("2025-02-24"), [good, bad])
    with build(tmp_path) as connection:
        (quality,) = rows(connection, "select * from rpt_data_quality")
    assert quality["hours_reconciled"] == 168 and quality["hours_mismatched"] == 1  # zero hours reconcile too
    assert quality["largest_difference"] == pytest.approx(50.0)
    assert (quality["complete_windows"], quality["pages"], quality["rows_landed"]) == (1, 1, 2)
    assert quality["uses_simulator"] is True and quality["hours_covered"] == 168


def test_spike_hours_use_a_robust_z_against_the_trailing_28_days(tmp_path):
    landing = tmp_path / "landing"
    rng = random.Random(11)
    amounts: dict[datetime, float] = {}
    hour = at("2025-01-20")
    while hour < WEEK.end:
        amounts[hour] = rng.lognormvariate(10, 0.6)
        hour += HOUR
    spike = at("2025-02-26T15:00")
    amounts[spike] = 40 * max(amounts.values())
    for week in range(6):
        monday = at("2025-01-20") + timedelta(weeks=week)
        land_week(landing, monday, [kaiko_row(h, {"binc": (1, a / 2, 1, a / 2)}) for h, a in amounts.items()
                                    if monday <= h < monday + timedelta(days=7)])
    with build(tmp_path) as connection:
        flagged = rows(connection, "select hour, robust_z from rpt_spike_hours where is_spike order by hour")
        (checked,) = rows(connection, "select robust_z from rpt_spike_hours "
                                      f"where hour = '{spike:%Y-%m-%d %H:%M}'")
    baseline = [math.log1p(amounts[spike - k * HOUR]) for k in range(1, 28 * 24 + 1)]
    center = statistics.median(baseline)
    mad = statistics.median(abs(value - center) for value in baseline)
    expected_z = (math.log1p(amounts[spike]) - center) / (1.4826 * mad)
    assert checked["robust_z"] == pytest.approx(expected_z, rel=1e-9)
    assert spike.replace(tzinfo=None) in [row["hour"] for row in flagged]
    assert all(row["robust_z"] >= 3.5 for row in flagged)


VENUES = ("binc", "bbit", "okex", "drbt", "hbdm", "cbse")


def land_days(landing, asset: str, days: dict[str, dict[str, float]]) -> None:
    """W09 for one asset: on each day (by ISO date) at 10:00, the given USD per exchange, all long."""
    land_week(landing, WEEK.start, [
        kaiko_row(at(f"{day}T10:00"), {code: (1, usd, 0, 0.0) for code, usd in venues.items()})
        for day, venues in sorted(days.items())], asset=asset)


def venues(*amounts: float) -> dict[str, float]:
    return {code: usd for code, usd in zip(VENUES, amounts, strict=False) if usd}


def test_a_wave_that_spans_midnight_is_cross_venue_and_few_venues_must_carry_the_biggest_day(tmp_path):
    landing = tmp_path / "landing"
    # btc: three venues peak on Wed, three on Thu: one cascade across every venue
    land_days(landing, "btc", {"2025-02-24": venues(5, 5, 5, 5, 5, 5),
                               "2025-02-26": venues(1000, 900, 800, 10, 10, 10),
                               "2025-02-27": venues(10, 10, 10, 500, 400, 300)})
    # eth: Binance and Bybit carry Wednesday; the others peak days away
    land_days(landing, "eth", {"2025-02-24": venues(0, 0, 300), "2025-03-01": venues(0, 0, 0, 200, 0, 50),
                               "2025-03-02": venues(0, 0, 0, 0, 100),
                               "2025-02-26": venues(1000, 500, 10, 10, 10, 10)})
    # sol: six venues share Wednesday evenly; four of them peak days away
    land_days(landing, "sol", {"2025-02-26": venues(100, 100, 100, 100, 100, 100),
                               "2025-03-01": venues(0, 0, 150, 150), "2025-03-02": venues(0, 0, 0, 0, 150),
                               "2025-02-24": venues(0, 0, 0, 0, 0, 150)})
    with build(tmp_path) as connection:
        summaries = {row["asset"]: row for row in rows(connection, "select * from rpt_weekly_summary")}
    btc, eth, sol = summaries["btc"], summaries["eth"], summaries["sol"]
    assert btc["biggest_day"].isoformat() == "2025-02-26"
    assert (btc["exchanges_active"], btc["exchanges_peaking_on_biggest_day"],
            btc["exchanges_peaking_near_biggest_day"]) == (6, 3, 6)
    assert btc["is_cross_venue_wave"] and not btc["is_concentrated_on_few_venues"]
    assert eth["exchanges_peaking_near_biggest_day"] == 2
    assert eth["top_venues_on_biggest_day"] == ["binc", "bbit"]
    assert eth["top_venues_share_of_biggest_day"] == pytest.approx(1500 / 1540)
    assert eth["is_concentrated_on_few_venues"] and not eth["is_cross_venue_wave"]
    assert sol["top_venues_share_of_biggest_day"] == pytest.approx(200 / 600)
    assert not sol["is_concentrated_on_few_venues"] and not sol["is_cross_venue_wave"]

    from report.render.sections import exchange_day_takeaway

    near = "exchanges had their largest day within a day of Wed 26 Feb"
    assert exchange_day_takeaway(btc) == f"6 of 6 {near} (3 on it): a cross-venue wave."
    assert exchange_day_takeaway(eth) == (f"2 of 6 {near} (2 on it); Binance and Bybit carried 97% of "
                                          "Wed 26 Feb: concentrated on few venues.")
    assert exchange_day_takeaway(sol) == f"2 of 6 {near} (2 on it)."


def test_each_exchange_day_is_a_share_of_that_exchange_s_week(tmp_path):
    landing = tmp_path / "landing"
    land_days(landing, "btc", {"2025-02-24": venues(900, 9), "2025-02-26": venues(100, 1),
                               "2025-02-27": venues(0, 10)})
    with build(tmp_path) as connection:
        shares = {(row["exchange"], row["day"].isoformat()): row["share_of_exchange_week"]
                  for row in rows(connection, "select * from rpt_exchange_day")}
    assert shares["binc", "2025-02-24"] == pytest.approx(900 / 1000)
    assert shares["bbit", "2025-02-24"] == pytest.approx(9 / 20)
    assert shares["bbit", "2025-02-27"] == pytest.approx(10 / 20)
    for code in ("binc", "bbit"):
        assert sum(share for (exchange, _), share in shares.items() if exchange == code) == pytest.approx(1)
