"""Given/expect tests of the overview marts (rpt_overview and friends): hand-landed weeks in, exact rows out.

The landing zone follows the documented layout (tests/landing_fixtures.py); the real runner builds it into a
real DuckDB file. Expected figures are worked out in plain Python from the numbers landed here.
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
from report.periods import Period, iso_week
from report.settings import Settings

HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
REPORT = iso_week("2025-W16")  # Mon 2025-04-14
FIRST_MONDAY = datetime(2025, 1, 6, tzinfo=UTC)  # the week the endpoint's history starts in (Wed 2025-01-08)
PARTIAL_ETH_WEEK = datetime(2025, 2, 3, tzinfo=UTC)


def build(tmp_path, period: Period, assets: tuple[str, ...]) -> duckdb.DuckDBPyConnection:
    settings = Settings(output_dir=tmp_path, assets=assets, api_key="unused", base_url="http://127.0.0.1:9")
    pipeline.build(settings, period, run_tests=False, log=lambda line: None)
    return duckdb.connect(str(settings.warehouse_path), read_only=True)


def rows(connection, sql: str) -> list[dict]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def mondays() -> list[datetime]:
    return [FIRST_MONDAY + k * WEEK for k in range((REPORT.start - FIRST_MONDAY) // WEEK + 1)]


def btc_total(k: int) -> float:
    return 1_000_000.0 * (1 + (k * 7) % 11)


def eth_total(k: int) -> float:
    return 500_000.0 * (1 + (k * 5) % 9)


def btc_row(monday: datetime, total: float) -> dict:
    # Tue 10:00: Binance 60 % long + 20 % short, OKX 20 % short
    return kaiko_row(monday + timedelta(days=1, hours=10),
                     {"binc": (3, 0.6 * total, 1, 0.2 * total), "okex": (0, 0.0, 2, 0.2 * total)})


def eth_row(monday: datetime, total: float) -> dict:
    # Wed 03:00: Bybit 30 % long, 70 % short
    return kaiko_row(monday + timedelta(days=2, hours=3), {"bbit": (1, 0.3 * total, 4, 0.7 * total)})


@pytest.fixture(scope="module")
def weeks_warehouse(tmp_path_factory):
    """btc and eth weekly from the history's first week to 2025-W16; eth's 2025-02-03 window only Mon–Thu."""
    tmp_path = tmp_path_factory.mktemp("weeks")
    landing = tmp_path / "landing"
    for k, monday in enumerate(mondays()):
        land_fetch(landing, "btc", monday, monday + WEEK, [btc_row(monday, btc_total(k))])
        eth_end = monday + timedelta(days=4) if monday == PARTIAL_ETH_WEEK else monday + WEEK
        land_fetch(landing, "eth", monday, eth_end, [eth_row(monday, eth_total(k))])
    connection = build(tmp_path, REPORT, ("btc", "eth"))
    yield connection
    connection.close()


def market_weeks() -> dict[datetime, float]:
    """Every week's market total, by hand: what was landed."""
    return {monday: btc_total(k) + eth_total(k) for k, monday in enumerate(mondays())}


def fully_covered(monday: datetime) -> bool:
    # the history starts on a Wednesday: its week is partial; eth's cut window makes another partial
    return monday not in (FIRST_MONDAY, PARTIAL_ETH_WEEK)


def test_overview_totals_changes_and_leaders(weeks_warehouse):
    (overview,) = rows(weeks_warehouse, "select * from rpt_overview")
    totals = market_weeks()
    k = len(mondays()) - 1
    this_week = totals[REPORT.start]
    assert overview["total_amount"] == pytest.approx(this_week)
    assert overview["long_amount"] == pytest.approx(0.6 * btc_total(k) + 0.3 * eth_total(k))
    assert overview["long_share"] == pytest.approx(overview["long_amount"] / this_week)
    assert overview["total_trades"] == 6 + 5
    assert overview["average_size"] == pytest.approx(this_week / 11)
    previous = totals[REPORT.start - WEEK]
    assert overview["change_vs_last_week"] == pytest.approx(this_week / previous - 1)
    average = statistics.mean(totals[REPORT.start - n * WEEK] for n in range(1, 5))
    assert overview["change_vs_4w_avg"] == pytest.approx(this_week / average - 1)
    leader = "btc" if btc_total(k) > eth_total(k) else "eth"
    assert overview["leading_asset"] == leader
    by_exchange = {"binc": 0.8 * btc_total(k), "okex": 0.2 * btc_total(k), "bbit": eth_total(k)}
    top = max(by_exchange, key=by_exchange.get)
    assert overview["leading_exchange"] == top
    assert overview["leading_exchange_share"] == pytest.approx(by_exchange[top] / this_week)
    assert (overview["assets_requested"], overview["assets_covered"]) == (2, 2)


def test_overview_ranks_the_week_among_fully_covered_weeks_only(weeks_warehouse):
    (overview,) = rows(weeks_warehouse, "select * from rpt_overview")
    totals = {monday: total for monday, total in market_weeks().items() if fully_covered(monday)}
    this_week = totals[REPORT.start]
    assert overview["weeks_ranked"] == len(totals) == len(mondays()) - 2
    assert overview["week_rank"] == 1 + sum(total > this_week for total in totals.values())
    assert overview["first_ranked_week"] == (FIRST_MONDAY + WEEK).date()
    assert overview["weeks_since_history_start"] == len(mondays()) - 1


def test_the_rank_counts_weeks_from_the_history_start_whatever_was_fetched(tmp_path):
    """Only the last 13 weeks landed, and 3 weeks after the report's: the rank is among those 13, and the
    overview says how many weeks the history holds since its first whole week (2025-01-13)."""
    landing = tmp_path / "landing"
    landed = mondays()[-13:] + [REPORT.start + k * WEEK for k in range(1, 4)]
    for monday in landed:
        k = (monday - FIRST_MONDAY) // WEEK
        land_fetch(landing, "btc", monday, monday + WEEK, [btc_row(monday, btc_total(k))])
    with build(tmp_path, REPORT, ("btc",)) as connection:
        (overview,) = rows(connection, "select * from rpt_overview")
    totals = [btc_total((monday - FIRST_MONDAY) // WEEK) for monday in mondays()[-13:]]
    this_week = btc_total(len(mondays()) - 1)
    assert overview["weeks_ranked"] == 13
    assert overview["week_rank"] == 1 + sum(total > this_week for total in totals)
    first_whole_week = datetime(2025, 1, 13)  # the Monday after the history's first hour, Wed 2025-01-08
    assert overview["first_ranked_week"] == first_whole_week.date()
    weeks_since = (REPORT.start.replace(tzinfo=None) - first_whole_week).days // 7 + 1
    assert overview["weeks_since_history_start"] == weeks_since


def test_overview_robust_z_against_the_trailing_12_fully_covered_weeks(weeks_warehouse):
    (overview,) = rows(weeks_warehouse, "select * from rpt_overview")
    totals = market_weeks()
    baseline = [math.log1p(totals[REPORT.start - n * WEEK]) for n in range(1, 13)
                if fully_covered(REPORT.start - n * WEEK)]
    assert overview["weeks_in_baseline"] == len(baseline) == 11
    center = statistics.median(baseline)
    mad = statistics.median(abs(value - center) for value in baseline)
    expected = (math.log1p(totals[REPORT.start]) - center) / (1.4826 * mad)
    assert overview["robust_z"] == pytest.approx(expected, rel=1e-9)
    word = "usual" if abs(expected) < 2 else ("above usual" if expected > 0 else "below usual")
    assert overview["unusualness"] == word
    totals_full = [total for monday, total in market_weeks().items() if fully_covered(monday)]
    rank = 1 + sum(total > totals[REPORT.start] for total in totals_full)
    # one row a week has no hour that spikes against a baseline of zeros: no joint spikes
    assert overview["joint_spike_hours"] == 0
    assert overview["is_ordinary_week"] is (abs(expected) < 2 and rank > 3)


def test_market_weeks_give_the_long_share_of_each_week(weeks_warehouse):
    weeks = {row["week_start"]: row for row in rows(weeks_warehouse, "select * from rpt_market_weeks")}
    assert len(weeks) == len(mondays())
    for k, monday in enumerate(mondays()):
        row = weeks[monday.date()]
        assert row["weeks_before_report"] == len(mondays()) - 1 - k
        assert row["is_fully_covered"] is fully_covered(monday)
        if monday == FIRST_MONDAY:  # btc's Tuesday hour is before the history, eth's Wednesday is not
            assert row["long_share"] == pytest.approx(0.3)
            continue
        expected_long = 0.6 * btc_total(k) + 0.3 * eth_total(k)
        assert row["long_share"] == pytest.approx(expected_long / (btc_total(k) + eth_total(k)))


def test_market_wide_exchanges_are_summed_over_the_assets(weeks_warehouse):
    k = len(mondays()) - 1
    table = rows(weeks_warehouse, "select exchange, long_amount, short_amount, share, rank "
                                  "from rpt_overview_exchanges order by rank")
    total = btc_total(k) + eth_total(k)
    expected = {"binc": (0.6 * btc_total(k), 0.2 * btc_total(k)), "okex": (0.0, 0.2 * btc_total(k)),
                "bbit": (0.3 * eth_total(k), 0.7 * eth_total(k))}
    ranked = sorted(expected, key=lambda code: -sum(expected[code]))
    assert [row["exchange"] for row in table] == ranked
    for row in table:
        long_amount, short_amount = expected[row["exchange"]]
        assert (row["long_amount"], row["short_amount"]) == (pytest.approx(long_amount),
                                                             pytest.approx(short_amount))
        assert row["share"] == pytest.approx((long_amount + short_amount) / total)


def test_a_range_that_is_not_an_iso_week_is_not_ranked(tmp_path):
    source = tmp_path / "landing"
    for k, monday in enumerate(mondays()[-3:]):
        index = len(mondays()) - 3 + k
        land_fetch(source, "btc", monday, monday + WEEK, [btc_row(monday, btc_total(index))])
    three_days = Period(REPORT.start + timedelta(days=1), REPORT.start + timedelta(days=4), "three days")
    with build(tmp_path, three_days, ("btc",)) as connection:
        (overview,) = rows(connection, "select * from rpt_overview")
    assert overview["is_iso_week"] is False
    assert overview["week_rank"] is None and overview["robust_z"] is None
    assert overview["total_amount"] == pytest.approx(btc_total(len(mondays()) - 1))


def test_an_asset_never_landed_is_outside_the_market_but_counted_as_asked(tmp_path):
    landing = tmp_path / "landing"
    for monday in mondays()[-2:]:
        land_fetch(landing, "btc", monday, monday + WEEK, [btc_row(monday, 1000.0)])
    with build(tmp_path, REPORT, ("never", "btc")) as connection:
        assets = rows(connection, "select asset, position, is_in_market from rpt_report_assets "
                                  "order by position")
        (overview,) = rows(connection, "select * from rpt_overview")
    assert assets == [{"asset": "never", "position": 1, "is_in_market": False},
                      {"asset": "btc", "position": 2, "is_in_market": True}]
    assert (overview["assets_requested"], overview["assets_covered"]) == (2, 1)
    assert overview["change_vs_last_week"] == pytest.approx(0.0)  # btc alone is the market, fully covered
    assert overview["robust_z"] is None  # two weeks are no baseline


def test_cross_asset_spikes_need_two_assets_in_the_same_hour(tmp_path):
    landing = tmp_path / "landing"
    rng = random.Random(5)
    start = datetime(2025, 3, 17, tzinfo=UTC)
    joint, alone = REPORT.start + timedelta(days=2, hours=14), REPORT.start + timedelta(days=4, hours=9)
    spikes = {"btc": {joint: 30e6}, "eth": {joint: 20e6}, "sol": {alone: 25e6}}
    for asset in ("btc", "eth", "sol"):
        amounts = {}
        hour = start
        while hour < REPORT.end:
            amounts[hour] = spikes[asset].get(hour, rng.lognormvariate(10, 0.5))
            hour += HOUR
        long_share = {"btc": 0.9, "eth": 0.8, "sol": 0.1}[asset]
        for week in range(5):
            monday = start + week * WEEK
            land_fetch(landing, asset, monday, monday + WEEK, [
                kaiko_row(h, {"binc": (2, a * long_share, 1, a * (1 - long_share))})
                for h, a in amounts.items() if monday <= h < monday + WEEK])
    with build(tmp_path, REPORT, ("btc", "eth", "sol")) as connection:
        table = rows(connection, "select * from rpt_cross_asset_spikes order by rank")
        (market_hour,) = rows(connection, "select sum(total_amount) as usd, sum(long_amount) as longs from "
                                          f"fct_liquidations_hourly where hour = '{joint:%Y-%m-%d %H:%M}'")
        (overview,) = rows(connection, "select joint_spike_hours, largest_joint_spike_hour, "
                                       "largest_joint_spike_amount, is_ordinary_week from rpt_overview")
    assert [row["hour"] for row in table] == [joint.replace(tzinfo=None)]
    (row,) = table
    assert row["assets"] == ["btc", "eth"] and row["spiked_assets"] == 2
    assert row["total_amount"] == pytest.approx(market_hour["usd"])
    assert row["long_share"] == pytest.approx(market_hour["longs"] / market_hour["usd"])
    assert row["dominant_side"] == "long" and row["max_robust_z"] >= 3.5
    assert overview["joint_spike_hours"] == 1
    assert overview["largest_joint_spike_hour"] == joint.replace(tzinfo=None)
    assert overview["largest_joint_spike_amount"] == pytest.approx(market_hour["usd"])
    # a week with a cross-asset spike is never called ordinary, whatever its total's z
    assert overview["is_ordinary_week"] is False
