"""The simulator's OHLCV route (trades.v1 aggregations), driven over real loopback HTTP like a client would.

Expected values are computed here from the served pages with plain Python: the 4h bar from the 1h bars,
the correlation from the two routes' rows.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from report.settings import DEFAULT_PRICE_INSTRUMENTS
from report.simulator import DEMO_API_KEY, PriceOptions, running_simulator

HEADERS = {"X-Api-Key": DEMO_API_KEY, "Accept": "application/json"}
BTC_PERP = "binc/perpetual-future/btc-usdt"
FEB_3 = datetime(2025, 2, 3, tzinfo=UTC)
NOW = datetime(2025, 3, 31, tzinfo=UTC)  # the `simulator` fixture's fixed now
PRICES = ("open", "high", "low", "close")


def ohlcv_path(instrument: str = BTC_PERP) -> str:
    return f"/v2/data/trades.v1/exchanges/{instrument}/aggregations/ohlcv"


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


def fetch_pages(sim, instrument: str = BTC_PERP, headers: dict = HEADERS, **params) -> list[dict]:
    """Every page of one query, following next_url exactly as returned."""
    pages = []
    with requests.Session() as session:
        response = session.get(f"{sim.base_url}{ohlcv_path(instrument)}", params=params, headers=headers,
                               timeout=10)
        while True:
            assert response.status_code == 200, response.text
            pages.append(response.json())
            if "next_url" not in pages[-1]:
                return pages
            response = session.get(pages[-1]["next_url"], headers=headers, timeout=10)


def fetch_bars(sim, start: datetime, end: datetime, instrument: str = BTC_PERP, **params) -> list[dict]:
    params = {"interval": "1h", "start_time": iso(start), "end_time": iso(end), "page_size": 100_000,
              "sort": "asc", **params}
    return [row for page in fetch_pages(sim, instrument, **params) for row in page["data"]]


def raw_get(sim, target: str, headers: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(urlsplit(sim.base_url).netloc, timeout=10)
    try:
        connection.request("GET", target, headers=HEADERS if headers is None else headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def week_target(instrument: str = BTC_PERP) -> str:
    return (f"{ohlcv_path(instrument)}?interval=1h&start_time={iso(FEB_3)}"
            f"&end_time={iso(FEB_3 + timedelta(days=7))}&page_size=1000")


def as_float(row: dict) -> dict:
    return {name: None if row[name] is None else float(row[name]) for name in (*PRICES, "volume")}


# --- envelope, defaults, pagination --------------------------------------------------------------


def test_envelope_and_rows_have_kaikos_keys_strings_and_millisecond_timestamps(simulator):
    (page,) = fetch_pages(simulator, interval="1h", start_time=iso(FEB_3),
                          end_time=iso(FEB_3 + timedelta(hours=3)))
    assert list(page) == ["query", "time", "timestamp", "data", "result", "access"]
    assert page["result"] == "success" and set(page["access"]) == {"access_range", "data_range"}
    query = page["query"]
    assert {key: query[key] for key in ("exchange", "instrument_class", "instrument", "interval", "sort",
                                        "aggregation", "data_version", "commodity")} == {
        "exchange": "binc", "instrument_class": "perpetual-future", "instrument": "btc-usdt",
        "interval": "1h", "sort": "desc", "aggregation": "ohlcv", "data_version": "v1", "commodity": "trades"}
    assert "request_time" in query
    assert [row["timestamp"] for row in page["data"]] == [ms(FEB_3 + timedelta(hours=h)) for h in (2, 1, 0)]
    for row in page["data"]:
        assert list(row) == ["timestamp", *PRICES, "volume"]
        assert all(isinstance(row[name], str) and float(row[name]) > 0 for name in (*PRICES, "volume"))


def test_defaults_are_interval_1d_page_size_100_sort_desc(simulator):
    first = fetch_pages(simulator)[0]  # no parameters at all: from the listing (2020-01-01) to now
    assert first["query"]["interval"] == "1d" and len(first["data"]) == 100
    stamps = [row["timestamp"] for row in first["data"]]
    assert stamps[0] == ms(NOW - timedelta(days=1))  # the newest complete day first
    assert stamps == [ms(NOW - timedelta(days=d)) for d in range(1, 101)]
    assert "continuation_token" in first


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_pagination_returns_each_bucket_once_in_order_and_next_url_carries_only_the_token(simulator, sort):
    start, end = FEB_3, FEB_3 + timedelta(days=2)
    pages = fetch_pages(simulator, interval="1h", start_time=iso(start), end_time=iso(end), page_size=7,
                        sort=sort)
    stamps = [row["timestamp"] for page in pages for row in page["data"]]
    expected = [ms(start + timedelta(hours=h)) for h in range(48)]
    assert stamps == (expected if sort == "asc" else expected[::-1])
    assert len(pages) == math.ceil(48 / 7)
    assert all("continuation_token" in p for p in pages[:-1]) and "continuation_token" not in pages[-1]
    next_url = urlsplit(pages[0]["next_url"])
    assert next_url.path == ohlcv_path() and list(parse_qs(next_url.query)) == ["continuation_token"]
    assert parse_qs(next_url.query)["continuation_token"] == [pages[0]["continuation_token"]]


def test_same_hour_has_identical_bars_whatever_page_size_sort_or_range(simulator):
    start, end = FEB_3, FEB_3 + timedelta(days=2)
    one_page = fetch_bars(simulator, start, end)
    small_desc = fetch_bars(simulator, start, end, page_size=5, sort="desc")
    assert one_page == small_desc[::-1] and len(one_page) == 48
    assert fetch_bars(simulator, start + timedelta(hours=13), start + timedelta(hours=17)) == one_page[13:17]


def test_start_is_inclusive_end_exclusive_and_buckets_align_to_the_interval(simulator):
    start, end = datetime(2025, 2, 3, 9, 0, 1, tzinfo=UTC), datetime(2025, 2, 5, 23, 0, tzinfo=UTC)
    hourly = fetch_bars(simulator, start, end)
    assert hourly[0]["timestamp"] == ms(datetime(2025, 2, 3, 10, tzinfo=UTC))  # 09:00 starts before 09:00:01
    assert hourly[-1]["timestamp"] == ms(datetime(2025, 2, 5, 22, tzinfo=UTC))  # 23:00 is the end: excluded
    exact = fetch_bars(simulator, FEB_3, FEB_3 + timedelta(hours=5))
    assert [row["timestamp"] for row in exact] == [ms(FEB_3 + timedelta(hours=h)) for h in range(5)]
    for interval, seconds in (("5h", 5 * 3600), ("90m", 5400), ("1d", 86400)):
        rows = fetch_bars(simulator, start, end, interval=interval)
        assert rows and all(row["timestamp"] % (seconds * 1000) == 0 for row in rows)
        assert all(ms(start) <= row["timestamp"] < ms(end) for row in rows)


def test_coarser_buckets_aggregate_the_finer_ones(simulator):
    start, end = FEB_3, FEB_3 + timedelta(days=2)
    for fine, coarse, size in (("1h", "4h", 4), ("1h", "1d", 24), ("15m", "1h", 4), ("1m", "15m", 15)):
        fine_rows = fetch_bars(simulator, start, end, interval=fine)
        coarse_rows = fetch_bars(simulator, start, end, interval=coarse)
        assert len(coarse_rows) * size == len(fine_rows)
        for index, bucket in enumerate(coarse_rows):
            members = fine_rows[index * size:(index + 1) * size]
            assert bucket["timestamp"] == members[0]["timestamp"]
            assert bucket["open"] == members[0]["open"] and bucket["close"] == members[-1]["close"]
            assert float(bucket["high"]) == max(float(m["high"]) for m in members)
            assert float(bucket["low"]) == min(float(m["low"]) for m in members)
            volume = sum(float(m["volume"]) for m in members)
            assert float(bucket["volume"]) == pytest.approx(volume, rel=1e-6)


def test_bars_are_consistent_positive_and_each_hour_opens_at_the_last_close(simulator):
    rows = [as_float(row) for row in fetch_bars(simulator, FEB_3, FEB_3 + timedelta(weeks=2))]
    assert len(rows) == 336
    for row in rows:
        assert 0 < row["low"] <= min(row["open"], row["close"])
        assert max(row["open"], row["close"]) <= row["high"]
        assert row["volume"] > 0
    assert all(later["open"] == earlier["close"] for earlier, later in zip(rows, rows[1:], strict=False))
    closes = [row["close"] for row in rows]
    assert len(set(closes)) > 300  # a walk, not a constant


def test_nothing_before_the_listing_or_after_now():
    now = datetime(2025, 2, 4, 12, 30, tzinfo=UTC)
    options = PriceOptions(listed_from=datetime(2025, 2, 3, 6, tzinfo=UTC))
    with running_simulator(now=now, price_options=options) as sim:
        rows = fetch_bars(sim, FEB_3 - timedelta(days=1), FEB_3 + timedelta(days=3))
        assert rows[0]["timestamp"] == ms(datetime(2025, 2, 3, 6, tzinfo=UTC))
        assert rows[-1]["timestamp"] == ms(datetime(2025, 2, 4, 11, tzinfo=UTC))  # 12:00 is not over
        assert len(rows) == 30
        assert fetch_bars(sim, FEB_3 - timedelta(days=2), FEB_3 - timedelta(days=1)) == []


def test_a_halt_gives_null_prices_and_volume_zero_and_coarser_bars_skip_it():
    halt = (datetime(2025, 2, 3, 2, tzinfo=UTC), datetime(2025, 2, 3, 4, tzinfo=UTC))
    with running_simulator(now=NOW) as plain, running_simulator(now=NOW, price_options=PriceOptions(
            halts=(halt,))) as halted:
        normal = fetch_bars(plain, FEB_3, FEB_3 + timedelta(hours=8))
        rows = fetch_bars(halted, FEB_3, FEB_3 + timedelta(hours=8))
        assert [row["timestamp"] for row in rows] == [row["timestamp"] for row in normal]
        assert [rows[2][name] for name in PRICES] == [None] * 4 and rows[2]["volume"] == "0"
        assert [rows[3][name] for name in PRICES] == [None] * 4 and rows[3]["volume"] == "0"
        assert rows[:2] + rows[4:] == normal[:2] + normal[4:]
        (four_hour, _) = fetch_bars(halted, FEB_3, FEB_3 + timedelta(hours=8), interval="4h")
        assert four_hour["open"] == normal[0]["open"] and four_hour["close"] == normal[1]["close"]
        assert float(four_hour["high"]) == max(float(row["high"]) for row in normal[:2])
        (_, after) = fetch_bars(halted, FEB_3, FEB_3 + timedelta(hours=8), interval="4h")
        assert after["open"] == normal[4]["open"]


def test_deterministic_by_seed_and_independent_of_the_liquidation_revision():
    end = FEB_3 + timedelta(days=1)
    with running_simulator(seed=11, now=NOW) as first, \
            running_simulator(seed=11, now=NOW, revision=2) as second, \
            running_simulator(seed=12, now=NOW) as other:
        bars = fetch_bars(first, FEB_3, end)
        assert bars == fetch_bars(second, FEB_3, end)
        assert [row["close"] for row in bars] != [row["close"] for row in fetch_bars(other, FEB_3, end)]
    # another process (no shared caches) serves the same bars for the same seed
    process = subprocess.Popen([sys.executable, "-m", "report", "simulate", "--port", "0", "--seed", "11"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parent.parent)
    try:
        url = process.stderr.readline().split(" at ", 1)[1].split()[0]
        with requests.get(f"{url}{ohlcv_path()}", headers=HEADERS, timeout=10, params={
                "interval": "1h", "start_time": iso(FEB_3), "end_time": iso(end), "sort": "asc"}) as response:
            assert response.json()["data"] == bars
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)


def test_every_default_reference_instrument_is_served(simulator):
    for asset, (exchange, instrument_class, instrument) in DEFAULT_PRICE_INSTRUMENTS.items():
        rows = fetch_bars(simulator, FEB_3, FEB_3 + timedelta(hours=2),
                          instrument=f"{exchange}/{instrument_class}/{instrument}")
        assert len(rows) == 2 and all(float(row["close"]) > 0 for row in rows), asset


def test_assets_move_together_and_instruments_of_one_asset_share_the_path(simulator):
    end = FEB_3 + timedelta(weeks=2)
    btc = [as_float(row) for row in fetch_bars(simulator, FEB_3, end)]
    eth = [as_float(row)
           for row in fetch_bars(simulator, FEB_3, end, instrument="bbit/perpetual-future/eth-usdt")]
    btc_returns = [row["close"] / row["open"] - 1 for row in btc]
    eth_returns = [row["close"] / row["open"] - 1 for row in eth]
    assert correlation(btc_returns, eth_returns) > 0.4
    spot = fetch_bars(simulator, FEB_3, end, instrument="cbse/spot/btc-usd")
    assert [row["close"] for row in spot] == [row["close"] for row in fetch_bars(simulator, FEB_3, end)]


# --- the price path behind the liquidations ----------------------------------------------------------


def correlation(xs: list[float], ys: list[float]) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    return covariance / math.sqrt(sum((x - mean_x) ** 2 for x in xs) * sum((y - mean_y) ** 2 for y in ys))


def liquidation_hours(sim, asset: str, start: datetime, end: datetime) -> dict[int, dict]:
    params = {"start_time": iso(start), "end_time": iso(end), "page_size": 1000, "sort": "asc"}
    rows = []
    with requests.Session() as session:
        url = f"{sim.base_url}/v2/data/liquidation.v1/token/{asset}"
        while url:
            page = session.get(url, params=params, headers=HEADERS, timeout=10).json()
            rows.extend(page["data"])
            url, params = page.get("next_url"), None
    return {row["interval_timestamp"] // 1_000_000: row for row in rows}  # ns → ms


@pytest.mark.parametrize(("asset", "instrument"),
                         [("btc", BTC_PERP), ("eth", "okex/perpetual-future/eth-usdt")])
def test_longs_are_liquidated_on_falls_shorts_on_rises_and_bursts_on_wide_ranges(simulator, asset,
                                                                                 instrument):
    start, end = datetime(2025, 1, 13, tzinfo=UTC), datetime(2025, 3, 24, tzinfo=UTC)
    bars = [as_float(row) | {"timestamp": row["timestamp"]}
            for row in fetch_bars(simulator, start, end, instrument=instrument)]
    liquidations = liquidation_hours(simulator, asset, start, end)
    empty = {"long_amount": 0.0, "short_amount": 0.0, "total_amount": 0.0}
    hours = [(bar, liquidations.get(bar["timestamp"], empty)) for bar in bars]
    assert len(hours) == 10 * 168

    returns = [bar["close"] / bar["open"] - 1 for bar, _ in hours]
    net = [row["long_amount"] - row["short_amount"] for _, row in hours]
    assert correlation(net, returns) < -0.25

    by_return = sorted(hours, key=lambda hour: hour[0]["close"] / hour[0]["open"])
    falls, rises = by_return[:50], by_return[-50:]
    assert sum(row["long_amount"] for _, row in falls) > 2 * sum(row["short_amount"] for _, row in falls)
    assert sum(row["short_amount"] for _, row in rises) > 2 * sum(row["long_amount"] for _, row in rises)

    by_range = sorted(hours, key=lambda hour: (hour[0]["high"] - hour[0]["low"]) / hour[0]["open"])
    tenth = len(by_range) // 10
    narrow = sum(row["total_amount"] for _, row in by_range[:tenth])
    wide = sum(row["total_amount"] for _, row in by_range[-tenth:])
    assert wide > 5 * narrow


# --- errors and faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "named"), [
    ("interval=2d", "'interval'"),
    ("interval=25h", "'interval'"),
    ("interval=0h", "'interval'"),
    ("interval=30s", "'interval'"),
    ("interval=1w", "'interval'"),
    ("page_size=0", "'page_size'"),
    ("page_size=100001", "'page_size'"),
    ("page_size=ten", "'page_size'"),
    ("sort=up", "'sort'"),
    ("start_time=yesterday", "'start_time'"),
    ("start_time=2025-02-03T00:00:00Z&end_time=2025-02-03T00:00:00Z", "end_time"),
    ("continuation_token=not-a-token", "'continuation_token'"),
    ("instrument=eth-usdt", "'instrument'"),
])
def test_400_bodies_name_the_bad_parameter(simulator, query, named):
    status, body = raw_get(simulator, f"{ohlcv_path()}?{query}")
    payload = json.loads(body)
    assert status == 400 and payload["result"] == "error" and named in payload["message"]


def test_the_largest_page_size_is_accepted(simulator):
    status, body = raw_get(simulator, f"{ohlcv_path()}?page_size=100000&interval=1h&start_time={iso(FEB_3)}"
                                      f"&end_time={iso(FEB_3 + timedelta(days=1))}")
    assert status == 200 and len(json.loads(body)["data"]) == 24


def test_a_continuation_token_only_works_for_its_own_query(simulator):
    first = fetch_pages(simulator, interval="1h", start_time=iso(FEB_3),
                        end_time=iso(FEB_3 + timedelta(days=1)), page_size=5)[0]
    token = first["continuation_token"]
    other_instrument = ohlcv_path("bbit/perpetual-future/btc-usdt")
    assert raw_get(simulator, f"{other_instrument}?continuation_token={token}")[0] == 400
    assert raw_get(simulator, f"{ohlcv_path()}?continuation_token={token}&page_size=7")[0] == 400
    assert raw_get(simulator, f"{ohlcv_path()}?continuation_token={token}")[0] == 200
    forged = base64.urlsafe_b64encode(b'{"exchange": "binc"}').decode()
    assert raw_get(simulator, f"{ohlcv_path()}?continuation_token={forged}")[0] == 400


def test_401_without_a_key_403_without_access_404_for_unknown_instruments():
    options = PriceOptions(no_access_keys=frozenset({"liquidations-only"}),
                           no_access_instruments=frozenset({"okex/perpetual-future/sol-usdt"}))
    with running_simulator(now=NOW, price_options=options) as sim:
        status, body = raw_get(sim, week_target(), headers={"Accept": "application/json"})
        assert status == 401 and "X-Api-Key" in json.loads(body)["message"]
        for headers, target in (({"X-Api-Key": "liquidations-only"}, week_target()),
                                (HEADERS, week_target("okex/perpetual-future/sol-usdt"))):
            status, body = raw_get(sim, target, headers=headers)
            assert status == 403 and json.loads(body)["result"] == "error"
        # the no-access key still reads liquidations, and other instruments stay readable
        assert raw_get(sim, "/v2/data/liquidation.v1/token/btc?start_time=2025-02-03T00:00:00Z",
                       headers={"X-Api-Key": "liquidations-only"})[0] == 200
        assert raw_get(sim, week_target("binc/perpetual-future/sol-usdt"))[0] == 200
        for instrument in ("binc/perpetual-future/btc-perp", "binc/option/btc-usdt", "drbt/spot/doge-usdt",
                           "nowhere/spot/btc-usdt"):
            status, body = raw_get(sim, week_target(instrument))
            assert status == 404 and instrument in json.loads(body)["message"]
        assert raw_get(sim, ohlcv_path().replace("/ohlcv", "/vwap"))[0] == 404
        assert "liquidations-only" not in json.dumps(sim.request_log)


def test_the_default_no_access_key_answers_403(simulator):
    assert raw_get(simulator, week_target(), headers={"X-Api-Key": "no-trades-key"})[0] == 403


@pytest.mark.parametrize("kind", ["429", "500", "503"])
def test_faults_hit_the_price_route_like_the_liquidation_route(simulator, kind):
    simulator.faults.script.append(kind)
    status, body = raw_get(simulator, week_target())
    assert status == int(kind) and json.loads(body)["result"] == "error"
    assert raw_get(simulator, week_target())[0] == 200


def test_nodata_and_truncate_faults_on_the_price_route(simulator):
    simulator.faults.script.extend(["nodata", "truncate"])
    status, body = raw_get(simulator, week_target())
    assert status == 200 and "data" not in json.loads(body) and "query" in json.loads(body)
    with requests.Session() as session, pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(f"{simulator.base_url}{week_target()}", headers=HEADERS, timeout=10)
    assert simulator.request_log[-1]["path"] == ohlcv_path()
