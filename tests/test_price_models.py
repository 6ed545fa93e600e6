"""Given/expect tests of the price models on a real DuckDB: hand-landed price and liquidation pages in, the
exact rows out. Expected values are worked out by hand or in plain Python here, never read from the models.
"""

from __future__ import annotations

import math
import re
import shutil
from datetime import UTC, datetime, timedelta

import duckdb
import pytest
import requests
from landing_fixtures import kaiko_row, land_fetch, land_from_api, model_variables
from price_fixtures import (
    BTC_PERP,
    land_no_access,
    land_price_fetch,
    land_price_from_api,
    ohlcv_row,
    price_instruments,
)

from report.errors import DataQualityError
from report.models.runner import build
from report.settings import SQL_DIR
from report.simulator import running_simulator

HOUR = timedelta(hours=1)
W06 = datetime(2025, 2, 3, tzinfo=UTC)
W08 = datetime(2025, 2, 17, tzinfo=UTC)
W09 = datetime(2025, 2, 24, tzinfo=UTC)  # the report week
W10 = datetime(2025, 3, 3, tzinfo=UTC)
PRICE_TABLES = ("stg_price_windows", "stg_prices", "int_price_covered_hours", "fct_prices_hourly",
                "rpt_price_week_move", "rpt_price_largest_moves", "rpt_price_liquidations_per_move",
                "rpt_price_liquidation_correlation")


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def bars_from_closes(first_open: float, closes: list[float], wick: float = 0.5) -> list[tuple]:
    """(open, high, low, close) per hour: each hour opens at the previous close."""
    bars, previous = [], first_open
    for close in closes:
        bars.append((previous, max(previous, close) + wick, min(previous, close) - wick, close))
        previous = close
    return bars


def land_prices(landing, start: datetime, bars: list[tuple | None], **options) -> None:
    rows = [ohlcv_row(start + index * HOUR, bar) for index, bar in enumerate(bars)]
    land_price_fetch(landing, options.pop("asset", "btc"), start, start + len(bars) * HOUR, rows, **options)


def land_liquidations(landing, start: datetime, end: datetime, by_hour: dict[datetime, tuple], asset="btc"):
    """by_hour: {hour: (long_amount, short_amount)}, one binc event per side; other hours have none."""
    rows = [kaiko_row(hour, {"binc": (int(long > 0), long, int(short > 0), short)})
            for hour, (long, short) in sorted(by_hour.items())]
    land_fetch(landing, asset, start, end, rows)


def run(tmp_path, landing, *, instruments: dict | None = None, assets: str = "btc", report_start=W09,
        report_end=W10, run_tests: bool = True, price_enabled: bool = True):
    variables = model_variables(landing, report_start, report_end) | {
        "assets": assets, "price_instruments": price_instruments({"btc": BTC_PERP} if instruments is None
                                                                  else instruments),
        "price_enabled": "true" if price_enabled else "false"}
    lines: list[str] = []
    results = build(tmp_path / "warehouse.duckdb", SQL_DIR, variables, run_tests=run_tests, log=lines.append)
    return duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True), results


def rows(connection, sql: str) -> list[dict]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def status_of(results, name: str) -> str:
    return next(test["status"] for test in results.tests if test["name"] == name)


# --- staging ---------------------------------------------------------------------------------------


def test_stg_prices_is_typed_and_reads_only_the_newest_fetch_of_the_reference_instrument(tmp_path):
    landing = tmp_path / "landing"
    old = bars_from_closes(100.0, [101.0, 102.0])
    new = bars_from_closes(100.0, [103.0, 104.0])
    land_prices(landing, W09, old, fetch_id="20250601T000000000000Z")
    land_prices(landing, W09, new, fetch_id="20250602T000000000000Z")
    # newer still, but another instrument, and an incomplete fetch: neither is read
    land_prices(landing, W09, bars_from_closes(1.0, [2.0, 3.0]), fetch_id="20250603T000000000000Z",
                instrument=("bbit", "perpetual-future", "btc-usdt"))
    land_prices(landing, W09, bars_from_closes(1.0, [5.0, 6.0]), fetch_id="20250604T000000000000Z",
                complete=False)
    connection, _ = run(tmp_path, landing)
    got = rows(connection, 'select interval_start, "open", high, low, "close", volume, has_trades, exchange, '
                           "instrument, fetch_id from stg_prices order by interval_start")
    assert got == [
        {"interval_start": naive(W09), "open": 100.0, "high": 103.5, "low": 99.5, "close": 103.0,
         "volume": 10.5, "has_trades": True, "exchange": "binc", "instrument": "btc-usdt",
         "fetch_id": "20250602T000000000000Z"},
        {"interval_start": naive(W09 + HOUR), "open": 103.0, "high": 104.5, "low": 102.5, "close": 104.0,
         "volume": 10.5, "has_trades": True, "exchange": "binc", "instrument": "btc-usdt",
         "fetch_id": "20250602T000000000000Z"},
    ]
    types = dict(connection.execute("select column_name, data_type from information_schema.columns "
                                    "where table_name = 'stg_prices'").fetchall())
    assert (types["open"], types["volume"], types["interval_start"]) == ("DOUBLE", "DOUBLE", "TIMESTAMP")
    windows = rows(connection, "select fetch_id, is_reference_instrument, is_current from stg_price_windows "
                               "order by fetch_id")
    assert [(w["is_reference_instrument"], w["is_current"]) for w in windows] == [
        (True, False), (True, True), (False, False)]


def test_a_row_outside_its_fetchs_range_loses_to_the_window_that_covers_it(tmp_path):
    landing = tmp_path / "landing"
    # the W08 fetch also returned W09's first hour (outside its range) with another price
    w08 = bars_from_closes(100.0, [100.0] * 168) + [(7.0, 7.0, 7.0, 7.0)]
    land_price_fetch(landing, "btc", W08, W09, [ohlcv_row(W08 + i * HOUR, bar) for i, bar in enumerate(w08)],
                     fetch_id="20250609T000000000000Z")
    land_prices(landing, W09, bars_from_closes(100.0, [101.0]), fetch_id="20250601T000000000000Z")
    connection, _ = run(tmp_path, landing)
    assert connection.execute("select \"close\" from stg_prices where interval_start = ?",
                              [naive(W09)]).fetchone() == (101.0,)


# --- the hourly fact ----------------------------------------------------------------------------------


def test_hourly_fact_returns_ranges_and_covered_flags_hour_by_hour(tmp_path):
    landing = tmp_path / "landing"
    bars = bars_from_closes(100.0, [101.0, 99.0, 99.5, 0.0, 102.0, 104.0])
    bars[3] = None  # nothing traded
    bars[4] = (101.0, 102.5, 101.5, 102.0)  # low above the open: not a usable bar
    land_prices(landing, W09, bars)
    land_prices(landing, W10, bars_from_closes(104.0, [105.0, 106.0]))  # after a gap in price coverage
    land_liquidations(landing, W09, W10, {W09 + HOUR: (900.0, 100.0), W09 + 3 * HOUR: (50.0, 0.0)})
    connection, results = run(tmp_path, landing)
    got = rows(connection, 'select hour, "open", "close", volume, has_price, previous_close, hourly_return, '
                           "high_low_range, total_amount, long_amount, is_liquidation_covered, is_covered "
                           "from fct_prices_hourly order by hour")
    assert [row["hour"] for row in got] == [naive(W09 + h * HOUR) for h in range(6)] + [
        naive(W10), naive(W10 + HOUR)]
    first, second, third, halted, broken, sixth, after_gap, last = got
    assert first | {"high_low_range": None} == {
        "hour": naive(W09), "open": 100.0, "close": 101.0, "volume": 10.5, "has_price": True,
        "previous_close": None, "hourly_return": None, "high_low_range": None, "total_amount": 0.0,
        "long_amount": 0.0, "is_liquidation_covered": True, "is_covered": True}
    assert first["high_low_range"] == pytest.approx((101.5 - 99.5) / 100.0)
    assert second["hourly_return"] == pytest.approx(99.0 / 101.0 - 1)
    assert (second["total_amount"], second["long_amount"]) == (1000.0, 900.0)
    assert third["hourly_return"] == pytest.approx(99.5 / 99.0 - 1)
    assert halted | {"hour": None} == {
        "hour": None, "open": None, "close": None, "volume": 0.0, "has_price": False, "previous_close": 99.5,
        "hourly_return": None, "high_low_range": None, "total_amount": 50.0, "long_amount": 50.0,
        "is_liquidation_covered": True, "is_covered": False}
    assert (broken["has_price"], broken["open"], broken["volume"]) == (False, None, None)
    assert broken["is_covered"] is False
    # the return carries across the hours without a usable bar, within the run of covered hours
    assert sixth["previous_close"] == 99.5 and sixth["hourly_return"] == pytest.approx(104.0 / 99.5 - 1)
    # a new run after the gap: no previous close; no liquidations landed for W10, so null, not zero
    assert (after_gap["previous_close"], after_gap["hourly_return"]) == (None, None)
    assert (after_gap["total_amount"], after_gap["is_liquidation_covered"], after_gap["is_covered"]) == (
        None, False, False)
    assert last["hourly_return"] == pytest.approx(106.0 / 105.0 - 1)
    assert status_of(results, "assert_price_bars_consistent") == "warn"
    assert status_of(results, "assert_price_covered_hours_in_complete_windows") == "pass"


# --- the report marts on two hand-made weeks ------------------------------------------------------------


@pytest.fixture
def two_weeks(tmp_path):
    """W08 (trailing) flat at 100 but a +1 % hour and its way back; W09 a -2 % hour at 10:00 and a +3 % hour
    at 50:00 (02-26 02:00), flat otherwise; liquidations in the moving hours and one flat hour."""
    landing = tmp_path / "landing"
    w08_closes = [100.0] * 168
    w08_closes[20] = 101.0
    land_prices(landing, W08, bars_from_closes(100.0, w08_closes))
    w09_closes = [100.0] * 10 + [98.0] * 40 + [98.0 * 1.03] * 118
    land_prices(landing, W09, bars_from_closes(100.0, w09_closes))
    land_liquidations(landing, W08, W09, {W08 + 20 * HOUR: (0.0, 200_000.0),
                                          W08 + 21 * HOUR: (100_000.0, 0.0)})
    land_liquidations(landing, W09, W10, {W09 + 10 * HOUR: (900_000.0, 100_000.0),
                                          W09 + 50 * HOUR: (50_000.0, 600_000.0),
                                          W09 + 80 * HOUR: (10_000.0, 10_000.0)})
    connection, results = run(tmp_path, landing)
    yield connection, results, {"w08": w08_closes, "w09": w09_closes}
    connection.close()


def test_week_move_is_open_to_close_with_the_high_low_range(two_weeks):
    connection, results, closes = two_weeks
    (move,) = rows(connection, "select * from rpt_price_week_move")
    instrument = (move["exchange"], move["instrument_class"], move["instrument"])
    assert (move["asset"], instrument) == ("btc", BTC_PERP)
    assert (move["hours_in_period"], move["hours_price_covered"], move["hours_with_price"]) == (168, 168, 168)
    assert move["is_complete"] is True
    assert (move["period_open"], move["period_close"]) == (100.0, pytest.approx(98.0 * 1.03))
    assert move["price_change"] == pytest.approx(98.0 * 1.03 / 100.0 - 1)  # +0.94 %
    assert (move["period_high"], move["period_low"]) == (pytest.approx(98.0 * 1.03 + 0.5), 97.5)
    assert move["high_low_range"] == pytest.approx((98.0 * 1.03 + 0.5 - 97.5) / 100.0)
    assert (move["low_hour"], move["high_hour"]) == (naive(W09 + 10 * HOUR), naive(W09 + 50 * HOUR))
    assert results.failed == 0 and results.warned == 0


def test_largest_moves_carry_the_liquidations_in_them(two_weeks):
    connection, _, _ = two_weeks
    moves = rows(connection, "select rank, hour, hourly_return, total_amount, long_share, share_of_period "
                             "from rpt_price_largest_moves order by rank")
    period_total = 1_000_000 + 650_000 + 20_000
    assert moves == [  # flat hours are no move and not listed
        {"rank": 1, "hour": naive(W09 + 50 * HOUR), "hourly_return": pytest.approx(0.03),
         "total_amount": 650_000.0, "long_share": pytest.approx(50 / 650), "share_of_period":
             pytest.approx(650_000 / period_total)},
        {"rank": 2, "hour": naive(W09 + 10 * HOUR), "hourly_return": pytest.approx(-0.02),
         "total_amount": 1_000_000.0, "long_share": pytest.approx(0.9), "share_of_period":
             pytest.approx(1_000_000 / period_total)},
    ]


def test_liquidations_per_one_percent_move_by_side_and_against_the_trailing_weeks(two_weeks):
    connection, _, _ = two_weeks
    (per_move,) = rows(connection, "select * from rpt_price_liquidations_per_move")
    # the week: |−2 %| + |+3 %| = 5 % of absolute hourly movement over all 168 hours
    assert per_move["hours_used"] == 168 and per_move["absolute_move_pct"] == pytest.approx(5.0)
    assert per_move["total_per_pct_move"] == pytest.approx(1_670_000 / 5.0)
    assert per_move["long_per_pct_move"] == pytest.approx(960_000 / 5.0)
    assert per_move["short_per_pct_move"] == pytest.approx(710_000 / 5.0)
    # trailing: W08 only was landed, its first hour has no previous close (W07 missing): 167 hours
    trailing_move = 1.0 + (1 - 100.0 / 101.0) * 100
    assert per_move["trailing_hours"] == 2016 and per_move["trailing_hours_used"] == 167
    assert per_move["trailing_absolute_move_pct"] == pytest.approx(trailing_move)
    assert per_move["trailing_total_per_pct_move"] == pytest.approx(300_000 / trailing_move)
    assert per_move["trailing_long_per_pct_move"] == pytest.approx(100_000 / trailing_move)
    assert per_move["change_vs_trailing"] == pytest.approx((1_670_000 / 5.0) / (300_000 / trailing_move) - 1)
    short_change = (710_000 / 5.0) / (200_000 / trailing_move) - 1
    assert per_move["short_change_vs_trailing"] == pytest.approx(short_change)


def correlation(xs: list[float], ys: list[float]) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return covariance / math.sqrt(sum((x - mean_x) ** 2 for x in xs) * sum((y - mean_y) ** 2 for y in ys))


def test_correlation_of_net_long_liquidations_with_hourly_returns(two_weeks):
    connection, _, closes = two_weeks
    (got,) = rows(connection, "select * from rpt_price_liquidation_correlation")
    previous = [closes["w08"][-1]] + closes["w09"][:-1]
    returns = [close / before - 1 for close, before in zip(closes["w09"], previous, strict=True)]
    net = [0.0] * 168
    net[10], net[50] = 800_000.0, -550_000.0
    assert got["hours_used"] == 168 and got["correlation"] == pytest.approx(correlation(net, returns))
    assert got["correlation"] < -0.9
    trailing_returns = [c / b - 1 for c, b in zip(closes["w08"][1:], closes["w08"][:-1], strict=True)]
    trailing_net = [0.0] * 167
    trailing_net[19], trailing_net[20] = -200_000.0, 100_000.0  # hours 20 and 21 of W08, from its hour 1
    assert got["trailing_hours_used"] == 167
    assert got["trailing_correlation"] == pytest.approx(correlation(trailing_net, trailing_returns))


def test_a_partly_covered_week_shows_no_move_but_says_how_much_is_covered(tmp_path):
    landing = tmp_path / "landing"
    land_prices(landing, W09, bars_from_closes(100.0, [100.0] * 72 + [90.0]))  # W09 until 02-27 01:00
    land_liquidations(landing, W09, W10, {W09 + 72 * HOUR: (5_000.0, 0.0)})
    land_prices(landing, W08, bars_from_closes(100.0, [101.0, 100.0] * 84))  # prices, but no liquidations
    connection, results = run(tmp_path, landing)
    (move,) = rows(connection, "select * from rpt_price_week_move")
    assert (move["hours_price_covered"], move["is_complete"]) == (73, False)
    assert [move[name] for name in ("period_open", "period_close", "price_change", "high_low_range")] == [
        None] * 4
    (coverage,) = rows(connection, "select asset, price_status, hours_price_covered, hours_in_period "
                                   "from rpt_price_coverage")
    assert coverage == {"asset": "btc", "price_status": "partial", "hours_price_covered": 73,
                        "hours_in_period": 168}
    # the hours that are covered still count, numerator and denominator alike
    (per_move,) = rows(connection, "select hours_used, absolute_move_pct, total_per_pct_move, "
                                   "trailing_hours_used, trailing_total_per_pct_move "
                                   "from rpt_price_liquidations_per_move")
    # W09's first hour now has W08's last close before it: 73 hours, of which one moved −10 %
    assert per_move == {"hours_used": 73, "absolute_move_pct": pytest.approx(10.0),
                        "total_per_pct_move": pytest.approx(500.0), "trailing_hours_used": 0,
                        "trailing_total_per_pct_move": None}
    assert results.failed == 0


def test_cross_asset_ranks_by_usd_per_1pct_move_not_by_usd_and_says_why_others_have_none(tmp_path):
    """btc: $1M liquidated over a 10 % swing and back (Σ|r| ≈ 20 %); eth: $300K over a 1 % swing and back
    (≈ 2 %): eth liquidates more per 1 % move although btc liquidated more. sol: no instrument."""
    landing = tmp_path / "landing"
    eth = ("binc", "perpetual-future", "eth-usdt")
    for asset, instrument, swing, amount in (("btc", BTC_PERP, 1.10, 1_000_000.0),
                                             ("eth", eth, 1.01, 300_000.0)):
        closes = [100.0] * 168
        closes[5] = 100.0 * swing
        land_prices(landing, W09, bars_from_closes(100.0, closes), asset=asset, instrument=instrument)
        land_liquidations(landing, W09, W10, {W09 + 5 * HOUR: (amount, 0.0)}, asset=asset)
    land_liquidations(landing, W09, W10, {W09 + 5 * HOUR: (5.0, 0.0)}, asset="sol")
    connection, _ = run(tmp_path, landing, instruments={"btc": BTC_PERP, "eth": eth}, assets="btc,eth,sol")
    got = rows(connection, "select asset, position, price_status, is_move_complete, price_change, "
                           "hours_used, absolute_move_pct, total_per_pct_move, rank_per_move "
                           "from rpt_price_cross_asset order by position")
    btc_move = 100 * (0.10 + abs(100.0 / 110.0 - 1))  # the hour up and the hour back, in percent
    eth_move = 100 * (0.01 + abs(100.0 / 101.0 - 1))
    assert [(row["asset"], row["position"], row["price_status"], row["rank_per_move"]) for row in got] == [
        ("btc", 1, "complete", 2), ("eth", 2, "complete", 1), ("sol", 3, "no_instrument", None)]
    btc, eth_row, sol = got
    # the first hour has no previous close: 167 hours have a return
    assert (btc["hours_used"], btc["is_move_complete"], btc["price_change"]) == (167, True, 0.0)
    assert btc["absolute_move_pct"] == pytest.approx(btc_move)
    assert btc["total_per_pct_move"] == pytest.approx(1_000_000.0 / btc_move)
    assert eth_row["total_per_pct_move"] == pytest.approx(300_000.0 / eth_move)
    assert (sol["hours_used"], sol["total_per_pct_move"], sol["is_move_complete"]) == (0, None, False)


# --- without price -----------------------------------------------------------------------------------


def test_without_price_pages_every_price_table_is_empty_and_the_build_passes(tmp_path):
    landing = tmp_path / "landing"
    land_liquidations(landing, W09, W10, {W09 + HOUR: (1.0, 2.0)})
    connection, results = run(tmp_path, landing)
    counts = {table: connection.execute(f"select count(*) from {table}").fetchone()[0]
              for table in PRICE_TABLES}
    assert counts == dict.fromkeys(PRICE_TABLES, 0)
    assert results.failed == 0 and results.warned == 0
    assert rows(connection, "select asset, price_status from rpt_price_coverage") == [
        {"asset": "btc", "price_status": "not_landed"}]
    assert connection.execute("select count(*) from fct_liquidations_hourly").fetchone()[0] == 168


def test_price_off_ignores_landed_price_pages_and_says_it_is_off(tmp_path):
    landing = tmp_path / "landing"
    land_prices(landing, W09, bars_from_closes(100.0, [101.0] * 168))
    land_liquidations(landing, W09, W10, {W09 + HOUR: (1.0, 2.0)})
    connection, results = run(tmp_path, landing, instruments={}, price_enabled=False)
    counts = {table: connection.execute(f"select count(*) from {table}").fetchone()[0]
              for table in (*PRICE_TABLES[1:], "rpt_price_timeline")}
    assert counts == dict.fromkeys((*PRICE_TABLES[1:], "rpt_price_timeline"), 0)
    coverage = rows(connection, "select asset, instrument, price_status, hours_with_price "
                                "from rpt_price_coverage")
    assert coverage == [{"asset": "btc", "instrument": None, "price_status": "off", "hours_with_price": 0}]
    assert results.failed == 0


def test_price_on_without_any_instrument_says_so_for_each_asset(tmp_path):
    landing = tmp_path / "landing"
    land_liquidations(landing, W09, W10, {W09 + HOUR: (1.0, 2.0)})
    connection, _ = run(tmp_path, landing, instruments={})
    assert rows(connection, "select asset, price_status from rpt_price_coverage") == [
        {"asset": "btc", "price_status": "no_instrument"}]


def test_no_access_and_assets_without_an_instrument_are_stated_not_hidden(tmp_path):
    landing = tmp_path / "landing"
    for asset in ("btc", "eth", "sol"):
        land_liquidations(landing, W09, W10, {W09 + HOUR: (1.0, 2.0)}, asset=asset)
    land_no_access(landing, "btc", W09, W10, message="Access denied: your API key has no trade data.")
    instruments = {"btc": BTC_PERP, "sol": ("binc", "perpetual-future", "sol-usdt")}
    connection, results = run(tmp_path, landing, instruments=instruments, assets="btc,eth,sol")
    coverage = rows(connection, "select asset, instrument, price_status, access_message, hours_price_covered "
                                "from rpt_price_coverage order by asset")
    assert coverage == [
        {"asset": "btc", "instrument": "btc-usdt", "price_status": "no_access",
         "access_message": "Access denied: your API key has no trade data.", "hours_price_covered": 0},
        {"asset": "eth", "instrument": None, "price_status": "no_instrument", "access_message": None,
         "hours_price_covered": 0},
        {"asset": "sol", "instrument": "sol-usdt", "price_status": "not_landed", "access_message": None,
         "hours_price_covered": 0},
    ]
    assert connection.execute("select count(*) from fct_prices_hourly").fetchone()[0] == 0
    assert results.failed == 0


def test_a_no_access_record_never_displaces_landed_prices(tmp_path):
    landing = tmp_path / "landing"
    land_prices(landing, W09, bars_from_closes(100.0, [101.0] * 168), fetch_id="20250601T000000000000Z")
    land_no_access(landing, "btc", W09, W10, fetch_id="20250602T000000000000Z")
    connection, _ = run(tmp_path, landing)
    assert connection.execute("select count(*) from fct_prices_hourly where has_price").fetchone()[0] == 168
    assert rows(connection, "select price_status from rpt_price_coverage") == [{"price_status": "complete"}]


# --- data tests ----------------------------------------------------------------------------------------


def test_bad_bars_are_warnings_and_carry_no_price(tmp_path):
    landing = tmp_path / "landing"
    bars = bars_from_closes(100.0, [100.0] * 6)
    bars[1] = (100.0, 101.0, -1.0, 100.0)  # a negative low
    bars[2] = (100.0, 99.0, 98.0, 100.0)  # a high below the open
    rows_landed = [ohlcv_row(W09 + i * HOUR, bar) for i, bar in enumerate(bars)]
    rows_landed[3]["close"] = None  # prices but no close
    land_price_fetch(landing, "btc", W09, W09 + 6 * HOUR, rows_landed)
    connection, results = run(tmp_path, landing)
    assert status_of(results, "assert_prices_positive") == "warn"
    assert status_of(results, "assert_price_bars_consistent") == "warn"
    assert results.failed == 0
    usable = [has_price for (has_price,) in connection.execute(
        "select has_price from fct_prices_hourly order by hour").fetchall()]
    assert usable == [True, False, False, False, True, True]


def test_the_covered_hours_check_fails_a_fact_that_strays_outside_the_reference_windows(tmp_path):
    """A copy of sql/ whose covered hours come from every price window, not only the reference instrument's:
    the error-level data test stops that build, so such a fact is never published."""
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    covered_hours = sql_dir / "intermediate" / "int_price_covered_hours.sql"
    covered_hours.write_text(covered_hours.read_text().replace("where is_current and", "where"))
    landing = tmp_path / "landing"
    land_prices(landing, W09, bars_from_closes(100.0, [100.0] * 3))
    land_prices(landing, W10, bars_from_closes(100.0, [100.0] * 3), instrument=("bbit", "spot", "btc-usdt"))
    land_liquidations(landing, W09, W10, {})
    variables = model_variables(landing, W09, W10) | {
        "price_instruments": price_instruments({"btc": BTC_PERP})}
    with pytest.raises(DataQualityError, match="assert_price_covered_hours_in_complete_windows"):
        build(tmp_path / "warehouse.duckdb", sql_dir, variables, log=lambda line: None)
    build(tmp_path / "warehouse.duckdb", SQL_DIR, variables, log=lambda line: None)  # the real models pass


def test_every_price_model_and_column_is_documented(tmp_path):
    """docs/architecture.md §3 lists each price model's columns in order: phase 2 builds on them."""
    architecture = (SQL_DIR.parent / "docs" / "architecture.md").read_text()
    landing = tmp_path / "landing"
    land_prices(landing, W09, bars_from_closes(100.0, [100.0]))
    connection, _ = run(tmp_path, landing)
    measures = ["total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount"]
    for table in (*PRICE_TABLES, "rpt_price_coverage", "stg_price_reference_instruments",
                  "rpt_price_timeline", "rpt_price_cross_asset"):
        line = next((line for line in architecture.splitlines() if line.startswith(f"| `{table}`")), None)
        assert line is not None, f"{table} is not in docs/architecture.md §3"
        cell = re.split(r"(?<!\\)\|", line)[3]
        documented = [name.strip() for chunk in re.findall(r"`([^`]*)`", cell) for name in chunk.split(",")]
        documented = [name for name in documented if name and name[0].isalpha() or name == "<measures>"]
        documented = [column for name in documented
                      for column in (measures if name == "<measures>" else [name])]
        columns = [name for (name,) in connection.execute(
            "select column_name from information_schema.columns where table_name = ? "
            "order by ordinal_position",
            [table]).fetchall()]
        assert [name for name in documented if name in columns] == columns, table


# --- the simulator's own pages, recomputed in plain Python -------------------------------------------


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Four weeks (W06–W09) of btc and eth liquidations and prices from the simulator, report week W09."""
    tmp_path = tmp_path_factory.mktemp("simulated-prices")
    landing = tmp_path / "landing"
    instruments = {"btc": BTC_PERP, "eth": ("okex", "perpetual-future", "eth-usdt")}
    pages: dict = {"bars": {}, "liquidations": {}}
    now = datetime(2025, 3, 31, tzinfo=UTC)
    with running_simulator(seed=7, now=now) as sim, requests.Session() as session:
        for asset, instrument in instruments.items():
            for number in range(4):
                monday = W06 + timedelta(weeks=number)
                fetch_id = f"20250701T0000{number:02d}000000Z"
                liquidation_rows = land_from_api(session, sim.base_url, landing, asset, monday,
                                                 monday + timedelta(weeks=1), fetch_id=fetch_id)
                price_rows = land_price_from_api(session, sim.base_url, landing, asset, instrument, monday,
                                                 monday + timedelta(weeks=1), fetch_id=fetch_id, page_size=50)
                for row in liquidation_rows:
                    hour = naive(datetime.fromisoformat(row["interval_time"].replace("Z", "+00:00")))
                    pages["liquidations"][asset, hour] = (row["long_amount"], row["short_amount"])
                for row in price_rows:
                    hour = naive(datetime.fromtimestamp(row["timestamp"] / 1000, UTC))
                    pages["bars"][asset, hour] = tuple(float(row[name]) for name in ("open", "high", "low",
                                                                                     "close"))
    connection, results = run(tmp_path, landing, instruments=instruments, assets="btc,eth")
    yield connection, results, pages
    connection.close()


def expected_hours(pages: dict, asset: str) -> list[dict]:
    """Every landed hour with its return over the previous close (none before the first landed hour)."""
    hours, previous_close = [], None
    for hour in sorted(hour for (name, hour) in pages["bars"] if name == asset):
        open_, high, low, close = pages["bars"][asset, hour]
        long, short = pages["liquidations"].get((asset, hour), (0.0, 0.0))
        hourly_return = None if previous_close is None else close / previous_close - 1
        hours.append({"hour": hour, "open": open_, "high": high, "low": low, "close": close, "long": long,
                      "short": short, "return": hourly_return})
        previous_close = close
    return hours


@pytest.mark.parametrize("asset", ["btc", "eth"])
def test_simulated_marts_match_plain_python_over_the_landed_pages(simulated, asset):
    connection, results, pages = simulated
    assert results.failed == 0 and results.warned == 0
    hours = expected_hours(pages, asset)
    assert len(hours) == 4 * 168
    fact = rows(connection, f"select hour, hourly_return, is_covered from fct_prices_hourly "
                            f"where asset = '{asset}' order by hour")
    assert [row["hour"] for row in fact] == [hour["hour"] for hour in hours]
    assert all(row["is_covered"] for row in fact)
    assert [row["hourly_return"] for row in fact] == [
        None if hour["return"] is None else pytest.approx(hour["return"], rel=1e-9) for hour in hours]

    week = [hour for hour in hours if hour["hour"] >= naive(W09)]
    trailing = [hour for hour in hours if hour["hour"] < naive(W09) and hour["return"] is not None]
    (move,) = rows(connection, f"select * from rpt_price_week_move where asset = '{asset}'")
    assert move["price_change"] == pytest.approx(week[-1]["close"] / week[0]["open"] - 1, rel=1e-9)
    high, low = max(hour["high"] for hour in week), min(hour["low"] for hour in week)
    assert move["high_low_range"] == pytest.approx((high - low) / week[0]["open"], rel=1e-9)

    def per_pct(span: list[dict], side) -> float:
        return sum(side(hour) for hour in span) / (100 * sum(abs(hour["return"]) for hour in span))

    (per_move,) = rows(connection, f"select * from rpt_price_liquidations_per_move where asset = '{asset}'")
    assert (per_move["hours_used"], per_move["trailing_hours_used"]) == (168, 3 * 168 - 1)
    assert per_move["long_per_pct_move"] == pytest.approx(per_pct(week, lambda h: h["long"]), rel=1e-9)
    assert per_move["short_per_pct_move"] == pytest.approx(per_pct(week, lambda h: h["short"]), rel=1e-9)
    trailing_total = per_pct(trailing, lambda h: h["long"] + h["short"])
    assert per_move["trailing_total_per_pct_move"] == pytest.approx(trailing_total, rel=1e-9)
    assert per_move["change_vs_trailing"] == pytest.approx(
        per_pct(week, lambda h: h["long"] + h["short"]) / trailing_total - 1, rel=1e-9)

    (got,) = rows(connection, f"select * from rpt_price_liquidation_correlation where asset = '{asset}'")
    net, returns = [h["long"] - h["short"] for h in week], [h["return"] for h in week]
    assert got["correlation"] == pytest.approx(correlation(net, returns), rel=1e-9)
    assert got["trailing_correlation"] == pytest.approx(
        correlation([h["long"] - h["short"] for h in trailing], [h["return"] for h in trailing]), rel=1e-9)
    assert got["correlation"] < 0  # the simulator liquidates longs on falls

    largest = sorted(week, key=lambda hour: (-abs(hour["return"]), hour["hour"]))[:5]
    moves = rows(connection, f"select hour, hourly_return, long_amount, short_amount "
                             f"from rpt_price_largest_moves where asset = '{asset}' order by rank")
    assert moves == [{"hour": hour["hour"], "hourly_return": pytest.approx(hour["return"], rel=1e-9),
                      "long_amount": pytest.approx(hour["long"]),
                      "short_amount": pytest.approx(hour["short"])}
                     for hour in largest]
