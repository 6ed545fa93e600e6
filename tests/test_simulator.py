"""The Kaiko-compatible simulator, driven over real loopback HTTP like a client would."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import math
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from report.simulator import DEMO_API_KEY, FaultPlan, running_simulator

PATH = "/v2/data/liquidation.v1/token"
HEADERS = {"X-Api-Key": DEMO_API_KEY, "Accept": "application/json"}
FEB_3 = datetime(2025, 2, 3, tzinfo=UTC)
MEASURES = ("total_trades", "total_amount", "long_trades", "long_amount", "short_trades", "short_amount")


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_pages(sim, asset: str, **params) -> list[dict]:
    """Every page of one query, following next_url exactly as returned."""
    pages = []
    with requests.Session() as session:
        response = session.get(f"{sim.base_url}{PATH}/{asset}", params=params, headers=HEADERS, timeout=10)
        while True:
            assert response.status_code == 200, response.text
            pages.append(response.json())
            if "next_url" not in pages[-1]:
                return pages
            response = session.get(pages[-1]["next_url"], headers=HEADERS, timeout=10)


def fetch_rows(sim, asset: str, start: datetime, end: datetime, **params) -> list[dict]:
    params = {"start_time": iso(start), "end_time": iso(end), "page_size": 1000, "sort": "asc", **params}
    return [row for page in fetch_pages(sim, asset, **params) for row in page["data"]]


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def raw_get(sim, target: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request with http.client, so that faults are seen exactly as sent."""
    connection = http.client.HTTPConnection(urlsplit(sim.base_url).netloc, timeout=10)
    try:
        connection.request("GET", target, headers=HEADERS if headers is None else headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def btc_week_target(**extra) -> str:
    query = f"start_time={iso(FEB_3)}&end_time={iso(FEB_3 + timedelta(days=7))}&page_size=1000"
    return f"{PATH}/btc?{query}" + "".join(f"&{k}={v}" for k, v in extra.items())


# --- envelope and pagination ---------------------------------------------------------------------


def test_envelope_keys_match_the_seed_example(simulator):
    pages = fetch_pages(simulator, "eth", start_time="2025-01-31T09:00:00Z", end_time="2025-02-01T00:00:00Z",
                        page_size=10)
    first, last = pages[0], pages[-1]
    assert list(first) == ["query", "answer_time", "answer_timestamp", "access", "data", "continuation_token",
                           "next_url"]
    assert list(last) == ["query", "answer_time", "answer_timestamp", "access", "data"]
    assert list(first["query"]) == [
        "request_time", "query_start_time", "query_end_time", "data_start_time", "data_end_time",
        "start_time", "start_timestamp", "end_time", "end_timestamp", "page_size", "sort", "token",
        "interval", "commodity", "data_version"]
    query = first["query"]
    assert (query["token"], query["interval"], query["sort"], query["page_size"]) == ("eth", "1h", "desc", 10)
    assert (query["commodity"], query["data_version"]) == ("liquidationEvents", "v1")
    assert query["query_start_time"] == "2025-01-31T09:00:00Z"
    # Default sort is desc: the first page holds the last 10 hours, 14:00..23:00.
    assert (query["start_time"], query["end_time"]) == ("2025-01-31T14:00:00Z", "2025-02-01T00:00:00Z")
    assert query["start_timestamp"] == int(datetime(2025, 1, 31, 14, tzinfo=UTC).timestamp() * 1000)
    assert set(first["access"]) == {"access_range", "data_range"}
    assert first["access"]["data_range"] == {"start_timestamp": None, "end_timestamp": None}
    token = first["continuation_token"]
    assert first["next_url"] == f"{simulator.base_url}{PATH}/eth?continuation_token={token}"
    row = first["data"][0]
    assert list(row) == ["interval_time", "interval_timestamp", *MEASURES, "exchanges"]
    assert list(row["exchanges"][0]) == ["exchange", *MEASURES]


def test_default_page_size_is_100_and_default_sort_desc(simulator):
    pages = fetch_pages(simulator, "btc", start_time=iso(FEB_3), end_time=iso(FEB_3 + timedelta(days=7)))
    assert [len(p["data"]) for p in pages] == [100, 68]
    times = [row["interval_time"] for page in pages for row in page["data"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_pagination_returns_each_bucket_exactly_once_in_order(simulator, sort):
    start, end = FEB_3, FEB_3 + timedelta(days=3)
    pages = fetch_pages(simulator, "sol", start_time=iso(start), end_time=iso(end), page_size=7, sort=sort)
    times = [parse_time(row["interval_time"]) for page in pages for row in page["data"]]
    expected = [start + timedelta(hours=h) for h in range(72)]
    assert times == (expected if sort == "asc" else expected[::-1])
    assert len(pages) == math.ceil(72 / 7)
    assert all("continuation_token" in p for p in pages[:-1]) and "continuation_token" not in pages[-1]


def test_same_hour_has_identical_values_whatever_page_size_sort_or_paging(simulator):
    start, end = FEB_3, FEB_3 + timedelta(days=2)
    one_page = fetch_rows(simulator, "xrp", start, end)
    small_desc = fetch_rows(simulator, "xrp", start, end, page_size=5, sort="desc")
    by_time = {row["interval_time"]: row for row in small_desc}
    assert len(one_page) == len(by_time) == 48
    assert all(row == by_time[row["interval_time"]] for row in one_page)
    # A sub-range starting mid-way gives the same numbers for its hours.
    later = fetch_rows(simulator, "xrp", start + timedelta(hours=13), start + timedelta(hours=17),
                       page_size=3)
    assert later == one_page[13:17]


def test_4h_and_1d_buckets_equal_the_sums_of_the_hourly_ones(simulator):
    start, end = FEB_3, FEB_3 + timedelta(days=4)
    hourly = fetch_rows(simulator, "doge", start, end)
    for interval, hours in (("4h", 4), ("1d", 24)):
        buckets = fetch_rows(simulator, "doge", start, end, interval=interval)
        assert len(buckets) == 96 // hours
        for index, bucket in enumerate(buckets):
            members = hourly[index * hours:(index + 1) * hours]
            assert bucket["interval_time"] == members[0]["interval_time"]
            for measure in MEASURES:
                assert bucket[measure] == pytest.approx(sum(row[measure] for row in members), rel=1e-9)
            exchanges = {e["exchange"]: e for e in bucket["exchanges"]}
            expected_binc = sum(e["long_amount"] for row in members for e in row["exchanges"]
                                if e["exchange"] == "binc")
            assert exchanges["binc"]["long_amount"] == pytest.approx(expected_binc, rel=1e-9)


def test_buckets_are_aligned_to_the_interval_and_start_inside_the_range(simulator):
    start, end = datetime(2025, 2, 3, 9, 0, 1, tzinfo=UTC), datetime(2025, 2, 5, 23, 59, 59, tzinfo=UTC)
    for interval, hours in (("1h", 1), ("5h", 5), ("1d", 24)):
        rows = fetch_rows(simulator, "btc", start, end, interval=interval)
        starts = [parse_time(row["interval_time"]) for row in rows]
        assert all(int(s.timestamp()) % (hours * 3600) == 0 for s in starts)
        assert all(start <= s < end for s in starts)
        first_expected = math.ceil(start.timestamp() / (hours * 3600)) * hours * 3600
        assert starts[0].timestamp() == first_expected
        assert len(starts) == len(set(starts))


def test_millisecond_times_are_accepted(simulator):
    pages = fetch_pages(simulator, "btc", start_time="2025-02-03T00:00:00.000Z",
                        end_time="2025-02-03T06:00:00.000Z", sort="asc")
    assert [row["interval_time"][11:13] for row in pages[0]["data"]] == ["00", "01", "02", "03", "04", "05"]


def test_hours_without_liquidations_are_omitted():
    # Data starts mid-range, one asset has none at all, and hours at or after "now" are not served yet.
    now = datetime(2025, 2, 4, 12, 30, tzinfo=UTC)
    with running_simulator(data_start=datetime(2025, 2, 3, 6, tzinfo=UTC), now=now,
                           empty_assets={"ghost"}) as sim:
        rows = fetch_rows(sim, "btc", FEB_3 - timedelta(days=1), FEB_3 + timedelta(days=3))
        assert rows[0]["interval_time"] == "2025-02-03T06:00:00Z"
        assert rows[-1]["interval_time"] == "2025-02-04T11:00:00Z"
        assert len(rows) == 30
        assert all(row["total_trades"] > 0 for row in rows)
        assert fetch_rows(sim, "ghost", FEB_3, FEB_3 + timedelta(days=1)) == []
        assert sim.hourly_truth("ghost", FEB_3) is None
        assert sim.hourly_truth("btc", FEB_3) is None
        assert sim.hourly_truth("btc", datetime(2025, 2, 4, 12, tzinfo=UTC)) is None
        # A small hash-scaled asset has genuinely quiet hours: those are omitted, never served as zeros.
        quiet = fetch_rows(sim, "tinycoin", datetime(2025, 2, 3, 6, tzinfo=UTC), now)
        assert all(row["total_trades"] > 0 and row["exchanges"] for row in quiet)


def test_totals_are_the_sums_of_the_exchanges(simulator):
    for row in fetch_rows(simulator, "eth", FEB_3, FEB_3 + timedelta(days=7)):
        exchanges = row["exchanges"]
        assert exchanges and [e["exchange"] for e in exchanges] == sorted(e["exchange"] for e in exchanges)
        for measure in MEASURES:
            assert row[measure] == pytest.approx(sum(e[measure] for e in exchanges), rel=1e-12)
        assert row["long_trades"] + row["short_trades"] == row["total_trades"]
        assert row["long_amount"] + row["short_amount"] == pytest.approx(row["total_amount"], rel=1e-12)
        for e in exchanges:
            assert e["total_trades"] > 0
            assert (e["long_trades"] == 0) == (e["long_amount"] == 0)
            assert (e["short_trades"] == 0) == (e["short_amount"] == 0)


@pytest.mark.parametrize(("unit", "factor"), [("ns", 10**9), ("ms", 10**3), ("s", 1)])
def test_interval_timestamps_match_interval_time_in_each_unit(simulator, unit, factor):
    simulator.timestamp_unit = unit
    for row in fetch_rows(simulator, "btc", FEB_3, FEB_3 + timedelta(days=1)):
        assert row["interval_timestamp"] == int(parse_time(row["interval_time"]).timestamp()) * factor


def test_the_default_unit_is_nanoseconds_like_the_seed(simulator):
    march_17 = datetime(2025, 3, 17, tzinfo=UTC)
    row = fetch_rows(simulator, "btc", march_17, march_17 + timedelta(hours=1))[0]
    assert row["interval_timestamp"] == 1742169600000000000


# --- the data --------------------------------------------------------------------------------------


def test_deterministic_across_servers_with_the_same_seed_and_different_with_another():
    end = FEB_3 + timedelta(days=1)
    with running_simulator(seed=11) as first, running_simulator(seed=11) as second, \
            running_simulator(seed=12) as other:
        rows_first = fetch_rows(first, "btc", FEB_3, end)
        assert rows_first == fetch_rows(second, "btc", FEB_3, end)
        assert [r["total_amount"] for r in rows_first] != [r["total_amount"] for r in fetch_rows(other, "btc",
                                                                                                  FEB_3, end)]


def test_hourly_truth_is_the_row_served_at_1h(simulator):
    rows = fetch_rows(simulator, "sol", FEB_3, FEB_3 + timedelta(hours=6))
    assert [simulator.hourly_truth("sol", parse_time(r["interval_time"])) for r in rows] == rows


def test_volume_is_heavy_tailed_and_bursts_cluster_in_time(simulator):
    start = datetime(2025, 1, 13, tzinfo=UTC)
    amounts = [row["total_amount"] for row in fetch_rows(simulator, "btc", start, start + timedelta(weeks=8))]
    assert len(amounts) == 8 * 168
    top = sorted(amounts, reverse=True)[:len(amounts) // 100]
    assert sum(top) / sum(amounts) > 0.10
    mean = sum(amounts) / len(amounts)
    deviations = [a - mean for a in amounts]
    covariance = sum(x * y for x, y in zip(deviations, deviations[1:], strict=False))
    lag1 = covariance / sum(x * x for x in deviations)
    assert lag1 > 0.3


def test_assets_crash_together(simulator):
    end = FEB_3 + timedelta(weeks=4)
    btc = [math.log(r["total_amount"]) for r in fetch_rows(simulator, "btc", FEB_3, end)]
    eth = [math.log(r["total_amount"]) for r in fetch_rows(simulator, "eth", FEB_3, end)]
    mean_btc, mean_eth = sum(btc) / len(btc), sum(eth) / len(eth)
    covariance = sum((x - mean_btc) * (y - mean_eth) for x, y in zip(btc, eth, strict=True))
    spread_btc = math.sqrt(sum((x - mean_btc) ** 2 for x in btc))
    spread_eth = math.sqrt(sum((y - mean_eth) ** 2 for y in eth))
    assert covariance / (spread_btc * spread_eth) > 0.3


def test_daily_volume_is_near_each_assets_scale(simulator):
    end = FEB_3 + timedelta(weeks=8)
    for asset, typical in (("btc", 60e6), ("doge", 4e6)):
        days = {}
        for row in fetch_rows(simulator, asset, FEB_3, end, interval="1d"):
            days[row["interval_time"]] = row["total_amount"]
        median = sorted(days.values())[len(days) // 2]
        assert typical / 3 < median < typical * 3
    btc_week = sum(r["total_amount"] for r in fetch_rows(simulator, "btc", FEB_3, end, interval="1d"))
    doge_week = sum(r["total_amount"] for r in fetch_rows(simulator, "doge", FEB_3, end, interval="1d"))
    assert btc_week > 5 * doge_week


def test_long_and_short_dominate_in_turn(simulator):
    rows = fetch_rows(simulator, "eth", FEB_3, FEB_3 + timedelta(weeks=2))
    shares = [row["long_amount"] / row["total_amount"] for row in rows]
    assert sum(s > 0.75 for s in shares) > 20 and sum(s < 0.25 for s in shares) > 20


def test_weekends_are_quieter_than_weekdays(simulator):
    rows = fetch_rows(simulator, "btc", FEB_3, FEB_3 + timedelta(weeks=8))
    weekday = [r["total_trades"] for r in rows if parse_time(r["interval_time"]).weekday() < 5]
    weekend = [r["total_trades"] for r in rows if parse_time(r["interval_time"]).weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.85 * sum(weekday) / len(weekday)


def test_exchange_shares_are_realistic(simulator):
    totals: dict[str, float] = {}
    for row in fetch_rows(simulator, "btc", FEB_3, FEB_3 + timedelta(weeks=4)):
        for e in row["exchanges"]:
            totals[e["exchange"]] = totals.get(e["exchange"], 0.0) + e["total_amount"]
    everything = sum(totals.values())
    assert 0.28 < totals["binc"] / everything < 0.48
    assert 0.18 < totals["bbit"] / everything < 0.36
    assert totals["krkn"] / everything < 0.05
    assert "drbt" in totals and "drbt" not in {e["exchange"] for r in fetch_rows(
        simulator, "doge", FEB_3, FEB_3 + timedelta(days=2)) for e in r["exchanges"]}


def test_small_exchanges_often_have_zero_long_or_zero_short_trades(simulator):
    one_sided = listed = 0
    for row in fetch_rows(simulator, "btc", FEB_3, FEB_3 + timedelta(weeks=1)):
        for e in row["exchanges"]:
            if e["exchange"] in ("bfnx", "cbse", "drbt", "krkn"):
                listed += 1
                one_sided += e["long_trades"] == 0 or e["short_trades"] == 0
    assert listed > 300 and one_sided / listed > 0.15


def test_hbdm_is_absent_before_it_starts():
    start = datetime(2025, 6, 16, tzinfo=UTC)
    with running_simulator(now=datetime(2025, 7, 1, tzinfo=UTC)) as sim:
        rows = fetch_rows(sim, "btc", start, start + timedelta(days=5))
    hbdm_hours = [parse_time(r["interval_time"]) for r in rows
                  for e in r["exchanges"] if e["exchange"] == "hbdm"]
    assert min(hbdm_hours) >= datetime(2025, 6, 18, 12, tzinfo=UTC)
    assert len(hbdm_hours) > 40


def test_krkn_disappears_some_weeks_and_returns_mid_week():
    start = datetime(2025, 1, 13, tzinfo=UTC)
    with running_simulator(now=datetime(2025, 11, 1, tzinfo=UTC)) as sim:
        rows = fetch_rows(sim, "btc", start, start + timedelta(weeks=30), interval="4h")
    weeks: dict[int, list[datetime]] = {}
    for row in rows:
        moment = parse_time(row["interval_time"])
        week = (moment - start).days // 7
        weeks.setdefault(week, [])
        if any(e["exchange"] == "krkn" for e in row["exchanges"]):
            weeks[week].append(moment)
    absent = [w for w in range(30) if not weeks[w]]
    assert 2 <= len(absent) <= 15
    returns = [w for w in absent if w + 1 < 30 and weeks[w + 1]]
    first_hours = [(min(weeks[w + 1]) - (start + timedelta(weeks=w + 1))).total_seconds() / 3600
                   for w in returns]
    assert any(hours >= 24 for hours in first_hours)


def test_a_revision_restates_about_5_percent_of_hours(simulator):
    end = FEB_3 + timedelta(weeks=2)
    original = fetch_rows(simulator, "btc", FEB_3, end)
    simulator.revision = 1
    revised = fetch_rows(simulator, "btc", FEB_3, end)
    changed = sum(a != b for a, b in zip(original, revised, strict=True))
    assert 0.02 * len(original) < changed < 0.09 * len(original)
    assert [r["interval_time"] for r in revised] == [r["interval_time"] for r in original]
    simulator.revision = 0
    assert fetch_rows(simulator, "btc", FEB_3, end) == original


# --- errors ----------------------------------------------------------------------------------------


def test_401_without_an_api_key(simulator):
    status, _, body = raw_get(simulator, btc_week_target(), headers={"Accept": "application/json"})
    assert status == 401
    assert json.loads(body)["result"] == "error" and "X-Api-Key" in json.loads(body)["message"]


def test_a_required_key_must_match():
    with running_simulator(api_key="s3cret") as sim:
        assert raw_get(sim, btc_week_target())[0] == 401
        assert raw_get(sim, btc_week_target(), headers={"X-Api-Key": "s3cret"})[0] == 200
        assert all("s3cret" not in json.dumps(entry) for entry in sim.request_log)


@pytest.mark.parametrize(("query", "named"), [
    ("interval=90m", "'interval': 90m"),
    ("interval=2d", "'interval'"),
    ("page_size=0", "'page_size'"),
    ("page_size=1001", "'page_size'"),
    ("page_size=ten", "'page_size'"),
    ("sort=up", "'sort'"),
    ("start_time=yesterday", "'start_time'"),
    ("start_time=2025-02-03T00:00:00Z&end_time=2025-02-03T00:00:00Z", "end_time"),
    ("start_time=2025-02-04T00:00:00Z&end_time=2025-02-03T00:00:00Z", "end_time"),
    ("continuation_token=not-a-token", "'continuation_token'"),
    ("colour=red", "'colour'"),
])
def test_400_bodies_name_the_bad_parameter(simulator, query, named):
    status, headers, body = raw_get(simulator, f"{PATH}/btc?{query}")
    assert status == 400
    assert headers["Content-Type"].startswith("application/json")
    payload = json.loads(body)
    assert payload["result"] == "error" and named in payload["message"]


def test_a_continuation_token_only_works_for_its_own_query(simulator):
    first = fetch_pages(simulator, "btc", start_time=iso(FEB_3), end_time=iso(FEB_3 + timedelta(days=1)),
                        page_size=5)[0]
    token = first["continuation_token"]
    assert raw_get(simulator, f"{PATH}/eth?continuation_token={token}")[0] == 400
    assert raw_get(simulator, f"{PATH}/btc?continuation_token={token}&page_size=7")[0] == 400
    forged = base64.urlsafe_b64encode(b'{"asset": "btc"}').decode()
    assert raw_get(simulator, f"{PATH}/btc?continuation_token={forged}")[0] == 400


def test_404_for_other_paths(simulator):
    for target in ("/", "/v2/data/trades.v1/exchanges", f"{PATH}/btc/extra"):
        status, _, body = raw_get(simulator, target)
        assert status == 404 and json.loads(body)["result"] == "error"


def test_request_log_counts_every_request_without_the_key(simulator):
    raw_get(simulator, btc_week_target())
    raw_get(simulator, "/nowhere")
    assert simulator.request_count == 2
    assert [entry["status"] for entry in simulator.request_log] == [200, 404]
    assert simulator.request_log[0]["query"]["page_size"] == "1000"
    assert DEMO_API_KEY not in json.dumps(simulator.request_log)


def test_gzip_when_asked(simulator):
    gzip_headers = {**HEADERS, "Accept-Encoding": "gzip"}
    status, headers, body = raw_get(simulator, btc_week_target(), headers=gzip_headers)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(body)
    plain = json.loads(gzip.decompress(body))
    assert len(plain["data"]) == 168
    status, headers, body = raw_get(simulator, btc_week_target())
    assert "Content-Encoding" not in headers and json.loads(body)["data"] == plain["data"]


# --- faults ----------------------------------------------------------------------------------------


def test_429_carries_retry_after_and_a_json_body(simulator):
    simulator.faults.retry_after_s = 0.25
    simulator.faults.script.append("429")
    status, headers, body = raw_get(simulator, btc_week_target())
    assert status == 429 and headers["Retry-After"] == "0.25"
    assert json.loads(body)["result"] == "error"
    assert raw_get(simulator, btc_week_target())[0] == 200


@pytest.mark.parametrize("kind", ["500", "502", "503", "504"])
def test_server_errors_have_json_bodies(simulator, kind):
    simulator.faults.script.append(kind)
    status, _, body = raw_get(simulator, btc_week_target())
    assert status == int(kind) and json.loads(body)["result"] == "error"


def test_truncate_sends_half_the_body_then_closes(simulator):
    simulator.faults.script.append("truncate")
    connection = http.client.HTTPConnection(urlsplit(simulator.base_url).netloc, timeout=10)
    try:
        connection.request("GET", btc_week_target(), headers=HEADERS)
        response = connection.getresponse()
        assert response.status == 200
        length = int(response.getheader("Content-Length"))
        with pytest.raises(http.client.IncompleteRead) as caught:
            response.read()
        assert len(caught.value.partial) == length // 2
    finally:
        connection.close()


def test_truncate_is_an_error_for_requests_too(simulator):
    simulator.faults.script.extend(["truncate"])
    with requests.Session() as session, pytest.raises(requests.exceptions.ChunkedEncodingError):
        session.get(f"{simulator.base_url}{btc_week_target()}", headers=HEADERS, timeout=10)


def test_reset_closes_without_a_response(simulator):
    simulator.faults.script.append("reset")
    with pytest.raises(http.client.RemoteDisconnected):
        raw_get(simulator, btc_week_target())
    assert simulator.request_log[-1]["status"] == 0


def test_slow_answers_late_but_normally(simulator):
    simulator.faults.script.append("slow:0.3")
    started = time.perf_counter()
    status, _, body = raw_get(simulator, btc_week_target())
    assert time.perf_counter() - started >= 0.3
    assert status == 200 and len(json.loads(body)["data"]) == 168


def test_garbage_is_a_200_that_is_not_json(simulator):
    simulator.faults.script.append("garbage")
    status, _, body = raw_get(simulator, btc_week_target())
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_nodata_is_an_envelope_without_data(simulator):
    simulator.faults.script.extend(["nodata", "ok"])
    status, _, body = raw_get(simulator, btc_week_target())
    payload = json.loads(body)
    assert status == 200 and "query" in payload and "data" not in payload and "next_url" not in payload
    assert len(json.loads(raw_get(simulator, btc_week_target())[2])["data"]) == 168


def test_faults_only_hit_data_requests_after_the_key_check(simulator):
    simulator.faults.script.append("500")
    assert raw_get(simulator, "/elsewhere")[0] == 404
    assert raw_get(simulator, btc_week_target(), headers={})[0] == 401
    assert raw_get(simulator, btc_week_target())[0] == 500


def test_a_fault_rate_is_seeded_and_roughly_respected():
    def statuses(seed):
        with running_simulator(faults=FaultPlan(rate=0.5, kinds=("503",), seed=seed)) as sim:
            target = f"{PATH}/btc?start_time=2025-02-03T00:00:00Z&end_time=2025-02-03T02:00:00Z"
            return [raw_get(sim, target)[0] for _ in range(40)]

    first = statuses(3)
    assert first == statuses(3)
    assert 8 <= first.count(503) <= 32 and first.count(200) + first.count(503) == 40


def test_latency_applies_to_every_request():
    with running_simulator(latency_s=0.1) as sim:
        started = time.perf_counter()
        raw_get(sim, "/nowhere")
        raw_get(sim, btc_week_target())
        assert time.perf_counter() - started >= 0.2


def test_leaving_the_block_closes_idle_keep_alive_connections_promptly():
    with requests.Session() as session:
        with running_simulator() as sim:
            for _ in range(3):
                assert session.get(f"{sim.base_url}{btc_week_target()}", headers=HEADERS, timeout=10).ok
            assert sim.open_connections == 1  # kept alive, idle
            started = time.perf_counter()
        assert time.perf_counter() - started < 2
        assert sim.open_connections == 0


# --- liqreport simulate ------------------------------------------------------------------------------


def test_liqreport_simulate_prints_the_url_and_serves_until_ctrl_c():
    process = subprocess.Popen(
        [sys.executable, "-m", "report", "simulate", "--port", "0", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
    try:
        line = process.stderr.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        with requests.get(f"{url}{btc_week_target()}", headers=HEADERS, timeout=10) as response:
            assert response.status_code == 200 and len(response.json()["data"]) == 168
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    assert "Traceback" not in rest


def test_liqreport_simulate_on_a_busy_port_is_a_one_line_error():
    with running_simulator() as sim:
        port = sim.server_address[1]
        result = subprocess.run([sys.executable, "-m", "report", "simulate", "--port", str(port)],
                                capture_output=True, text=True, timeout=30,
                                cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 2
    assert result.stderr.startswith(f"Error: cannot listen on 127.0.0.1:{port}")
    assert "Traceback" not in result.stderr


def test_liqreport_simulate_rejects_a_fault_rate_above_one():
    command = [sys.executable, "-m", "report", "simulate", "--port", "0", "--fault-rate", "1.5"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 2 and "--fault-rate must be between 0 and 1" in result.stderr


def test_naive_datetimes_mean_utc(simulator):
    aware = simulator.hourly_truth("btc", datetime(2025, 2, 3, 14, tzinfo=UTC))
    assert aware is not None and simulator.hourly_truth("btc", datetime(2025, 2, 3, 14)) == aware


def test_a_replaced_fault_plan_is_used_from_the_next_request(simulator):
    simulator.faults = FaultPlan(rate=1.0, kinds=("502",))
    assert [raw_get(simulator, btc_week_target())[0] for _ in range(3)] == [502, 502, 502]
    simulator.faults = FaultPlan()
    assert raw_get(simulator, btc_week_target())[0] == 200


def test_a_fault_plan_refuses_unknown_kinds():
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(script=["418"])
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(kinds=("slow:soon",))
    assert FaultPlan(script=["slow:0.5", "reset", "ok"]).script == ["slow:0.5", "reset", "ok"]


def test_keep_alive_requests_do_not_stall_on_delayed_acks(simulator):
    target = f"{simulator.base_url}{PATH}/btc?start_time=2025-02-03T00:00:00Z&end_time=2025-02-03T03:00:00Z"
    with requests.Session() as session:
        session.get(target, headers=HEADERS, timeout=10)
        started = time.perf_counter()
        for _ in range(20):
            assert session.get(target, headers=HEADERS, timeout=10).ok
        # With Nagle's algorithm on, each response waits ~40 ms for the client's delayed ACK.
        assert (time.perf_counter() - started) / 20 < 0.02


# --- identity and hostile values (issue 10) ------------------------------------------------------


def test_every_answer_says_it_comes_from_the_simulator(simulator):
    """How the fetch tells DEMO DATA from any other server on loopback: Kaiko sends no such header."""
    ok = raw_get(simulator, btc_week_target())
    refused = raw_get(simulator, btc_week_target(), headers={})
    missing = raw_get(simulator, "/v2/data/nothing-here")
    for status, headers, _ in (ok, refused, missing):
        assert headers["X-Liqreport-Simulator"] == "seed=7; revision=0", status
    assert (ok[0], refused[0], missing[0]) == (200, 401, 404)


def test_exchange_codes_can_be_served_as_hostile_strings():
    formula = "=cmd|' /C calc'!A0"
    with running_simulator(seed=7, now=datetime(2025, 3, 31, tzinfo=UTC),
                           exchange_codes={"binc": formula, "bbit": "@HYPERLINK(1)"}) as sim:
        rows = fetch_rows(sim, "btc", FEB_3, FEB_3 + timedelta(hours=6))
        truth = [sim.hourly_truth("btc", FEB_3 + timedelta(hours=hour)) for hour in range(6)]
    codes = {entry["exchange"] for row in rows for entry in row["exchanges"]}
    assert {formula, "@HYPERLINK(1)"} <= codes and not {"binc", "bbit"} & codes
    assert rows == [row for row in truth if row is not None]  # the truth uses the same codes


def test_a_fault_plan_refuses_unknown_chain_faults():
    with pytest.raises(ValueError, match="unknown chain fault"):
        FaultPlan(chain="forever")
