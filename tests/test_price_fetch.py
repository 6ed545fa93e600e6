"""The price fetch (report/fetch/prices.py) against the built-in simulator over loopback HTTP: pages land
untouched under their own endpoint folder through the landing code of the liquidation fetch, for exactly
the windows the liquidation fetch covers; a key without access leaves a no-access record and the run goes
on; price off or no instrument asks nothing; a second run over settled windows asks nothing.

Expected values come from the simulator's own pages, fetched here with plain requests.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import html5lib
import pytest
import requests
from fetch_helpers import SECRET_KEY, sim_settings

from report import pipeline
from report.cli import main
from report.fetch.prices import fetch_prices
from report.periods import iso_week
from report.settings import PriceInstrument, PriceSettings
from report.simulator import FaultPlan, PriceOptions, running_simulator

WEEK = iso_week("2025-W09")  # 2025-02-24 … 2025-03-03; the run also lands the 12 weeks before
HOUR = timedelta(hours=1)
OHLCV = "/aggregations/ohlcv"
BTC = PriceInstrument("btc", "binc", "perpetual-future", "btc-usdt")
QUIET = lambda line: None  # noqa: E731


def price_requests(sim) -> list[dict]:
    return [entry for entry in sim.request_log if entry["path"].endswith(OHLCV)]


def price_fetches(landing: Path, asset: str) -> list[Path]:
    return sorted((landing / "trades_ohlcv" / f"asset={asset}" / "interval=1h").glob("fetch=*"))


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "_manifest.json").read_text())


def simulator_rows(sim, instrument: PriceInstrument, start: datetime, end: datetime) -> list[dict]:
    """Every row the simulator serves for [start, end), asked here in one plain request a page."""
    url = f"{sim.base_url}/v2/data/trades.v1/exchanges/{instrument.path}{OHLCV}"
    params = {"interval": "1h", "start_time": f"{start:%Y-%m-%dT%H:%M:%SZ}",
              "end_time": f"{end:%Y-%m-%dT%H:%M:%SZ}", "page_size": 100000, "sort": "asc"}
    rows = []
    while url:
        body = requests.get(url, params=params, headers={"X-Api-Key": SECRET_KEY}, timeout=30).json()
        rows.extend(body["data"])
        url, params = body.get("next_url"), None
    return rows


def iso_mondays(start: datetime, end: datetime) -> list[str]:
    monday, labels = start - timedelta(days=start.weekday()), []
    while monday < end:
        labels.append(f"{monday:%Y-%m-%d}")
        monday += timedelta(weeks=1)
    return labels


def test_price_pages_land_untouched_under_their_own_endpoint_folder(tmp_path):
    start, end = WEEK.start - timedelta(weeks=2), WEEK.end
    with running_simulator() as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc",))
        summary = fetch_prices(settings, start, end, log=QUIET, page_size=100)  # two pages a week
        asked = len(price_requests(sim))
        served = simulator_rows(sim, BTC, start, end)
    fetches = sorted(price_fetches(settings.landing_dir, "btc"), key=lambda f: manifest_of(f)["start_time"])
    pages = [page for fetch in fetches for page in sorted(fetch.glob("page-*.json"))]
    assert len(pages) == math.ceil(int((end - start) / HOUR) / 100) == summary.requests == asked == 6
    landed = [row for page in pages for row in json.loads(page.read_bytes())["data"]]
    assert landed == served
    windows = []
    for fetch in fetches:
        manifest = manifest_of(fetch)
        assert [entry["sha256"] for entry in manifest["pages"]] == [
            hashlib.sha256(page.read_bytes()).hexdigest() for page in sorted(fetch.glob("page-*.json"))]
        assert (manifest["endpoint"], manifest["outcome"], manifest["manifest_version"]) == (
            "trades.v1/aggregations/ohlcv", "landed", 3)
        assert (manifest["exchange"], manifest["instrument_class"], manifest["instrument"]) == (
            "binc", "perpetual-future", "btc-usdt")
        assert manifest["request"]["params"]["interval"] == "1h"
        assert SECRET_KEY not in (fetch / "_manifest.json").read_text()
        windows.extend(manifest["windows"])
    assert [window["window"] for window in windows] == iso_mondays(start, end)
    assert [window["rows"] for window in windows] == [168, 168, 168]
    assert not (settings.landing_dir / "liquidation_token").exists()  # its own folder, nothing else


def test_the_price_covers_exactly_the_windows_the_liquidation_fetch_covers(tmp_path):
    with running_simulator() as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth"))
        pipeline.fetch(settings, WEEK, log=QUIET)
    def spans(folders: list[Path]) -> list[tuple]:
        return sorted((w["window"], w["start_time"], w["end_time"])
                      for folder in folders for w in manifest_of(folder)["windows"])

    for asset in ("btc", "eth"):
        liquidations = list((settings.landing_dir / "liquidation_token" / f"asset={asset}").glob("*/fetch=*"))
        assert spans(price_fetches(settings.landing_dir, asset)) == spans(liquidations)
        assert len(spans(liquidations)) == 13


def test_a_second_run_over_complete_windows_makes_no_price_request(tmp_path):
    with running_simulator() as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth"))
        pipeline.fetch(settings, WEEK, log=QUIET)
        first = len(price_requests(sim))
        lines = []
        pipeline.fetch(settings, WEEK, log=lines.append)
        assert len(price_requests(sim)) == first == 2  # one request an asset for 13 weeks
    assert "[price] 26 windows (btc, eth, hourly OHLCV): 26 already landed and settled, 0 to fetch" in lines
    assert len(price_fetches(settings.landing_dir, "btc")) == 1


def test_price_false_or_no_instrument_makes_no_price_request(tmp_path):
    with running_simulator() as sim:
        off = sim_settings(sim, tmp_path / "off", assets=("btc",), price=PriceSettings(enabled=False))
        lines = []
        pipeline.fetch(off, WEEK, log=lines.append)
        without = sim_settings(sim, tmp_path / "none", assets=("btc",), price=PriceSettings(instruments=()))
        pipeline.fetch(without, WEEK, log=lines.append)
        assert price_requests(sim) == []
        assert sim.request_log and all("/liquidation.v1/" in entry["path"] for entry in sim.request_log)
    assert "[price] off (price = false): no price fetched" in lines
    assert any(line.startswith("[price] no reference instrument for btc") for line in lines)
    assert not (tmp_path / "off" / "landing" / "trades_ohlcv").exists()


def test_a_window_landed_for_another_instrument_is_fetched_again(tmp_path):
    usdc = PriceInstrument("btc", "binc", "perpetual-future", "btc-usdc")
    with running_simulator() as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc",))
        fetch_prices(settings, WEEK.start, WEEK.end, log=QUIET)
        switched = settings.with_(price=PriceSettings(instruments=(usdc,)))
        fetch_prices(switched, WEEK.start, WEEK.end, log=QUIET)
        assert [entry["path"].split("/")[-3] for entry in price_requests(sim)] == ["btc-usdt", "btc-usdc"]
    assert [manifest_of(f)["instrument"] for f in price_fetches(settings.landing_dir, "btc")] == [
        "btc-usdt", "btc-usdc"]


def test_a_bad_price_page_is_quarantined_and_the_fetch_goes_on(tmp_path):
    faults = FaultPlan(script=["garbage"] * 4)  # every attempt of the first price request
    with running_simulator(faults=faults) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc", "eth"), concurrency=1)
        lines = []
        summary = fetch_prices(settings, WEEK.start, WEEK.end, log=lines.append)
    assert summary.failed == ["btc"] and summary.windows_fetched == 1
    [quarantined] = (settings.landing_dir / "_quarantine" / "trades_ohlcv" / "btc").rglob("*-page-00001.json")
    assert quarantined.read_bytes().startswith(b"<html>")
    assert not (settings.landing_dir / "_quarantine" / "btc").exists()  # not among the liquidation pages
    assert any("btc binc/perpetual-future/btc-usdt" in line and "not landed" in line for line in lines)
    assert [(manifest_of(f)["asset"]) for f in price_fetches(settings.landing_dir, "eth")] == ["eth"]


# --- through the build -----------------------------------------------------------------------------


def test_the_build_reads_closes_and_returns_from_the_landed_pages(tmp_path):
    with running_simulator() as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc",))
        pipeline.fetch(settings, WEEK, log=QUIET)
        served = simulator_rows(sim, BTC, pipeline.fetch_start(settings, WEEK), WEEK.end)
    pipeline.build(settings, WEEK, log=QUIET)
    closes = {datetime.fromtimestamp(row["timestamp"] / 1000, UTC).replace(tzinfo=None): float(row["close"])
              for row in served if row["close"] is not None}
    expected_returns = {hour: close / closes[hour - HOUR] - 1 for hour, close in closes.items()
                        if hour - HOUR in closes}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        got = connection.execute('select hour, "close", hourly_return, is_covered from fct_prices_hourly '
                                 "where asset = 'btc' order by hour").fetchall()
    assert len(got) == len(closes) == 13 * 168
    assert {hour: close for hour, close, _, _ in got} == closes
    returns = {hour: value for hour, _, value, _ in got if value is not None}
    assert returns.keys() == expected_returns.keys()
    assert all(math.isclose(returns[hour], expected_returns[hour], rel_tol=1e-12) for hour in returns)
    # covered: a price and covered liquidations, which start at the endpoint's history (2025-01-08)
    assert [hour for hour, *_, covered in got if covered] == [hour for hour in sorted(closes)
                                                               if hour >= settings.history_start]


def test_hours_outside_complete_price_windows_are_not_covered(tmp_path):
    """A chain over two weeks at 120 rows a page: page 2 completes the first week and holds 72 hours of the
    second, then page 3 fails. The manifest marks the first week only; the build reads no hour of the
    second, not even those landed on page 2."""
    with running_simulator() as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc",), concurrency=1)
        pipeline.fetch(settings.with_(price=PriceSettings(enabled=False)), WEEK, log=QUIET)
    first_week = WEEK.start - timedelta(weeks=1)
    with running_simulator(faults=FaultPlan(script=["ok", "ok", *["500"] * 4])) as sim:
        summary = fetch_prices(settings.with_(base_url=sim.base_url), first_week, WEEK.end, log=QUIET,
                               page_size=120)
    assert (summary.ranges, summary.windows_fetched, summary.failed) == (1, 1, ["btc"])
    [fetch] = price_fetches(settings.landing_dir, "btc")
    manifest = manifest_of(fetch)
    assert [w["window"] for w in manifest["windows"]] == [f"{first_week:%Y-%m-%d}"]
    assert manifest["complete"] is False and "500" in manifest["error"]
    assert len(json.loads((fetch / "page-00002.json").read_bytes())["data"]) == 120  # 72 of them next week
    pipeline.build(settings, WEEK, log=QUIET)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as connection:
        staged = connection.execute("select min(interval_start), max(interval_start), count(*) "
                                    "from stg_prices").fetchone()
        fact = connection.execute("select max(hour), count(*) from fct_prices_hourly").fetchone()
        status = connection.execute("select price_status from rpt_price_coverage").fetchone()[0]
    naive_week = first_week.replace(tzinfo=None)
    assert staged == (naive_week, naive_week + 167 * HOUR, 168)
    assert fact == (naive_week + 167 * HOUR, 168)
    assert status == "not_landed"


# --- a key without access ---------------------------------------------------------------------------


def test_a_key_without_trade_access_gives_the_report_without_price_and_says_so(tmp_path, monkeypatch,
                                                                                 capsys):
    options = PriceOptions(no_access_keys=frozenset({SECRET_KEY}))
    with running_simulator(price_options=options) as sim:
        monkeypatch.setenv("KAIKO_API_KEY", SECRET_KEY)
        code = main(["run", "--week", WEEK.label, "--assets", "btc", "--base-url", sim.base_url,
                     "--output-dir", str(tmp_path), "--quiet"])
        asked = price_requests(sim)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert [entry["status"] for entry in asked] == [403]
    [record] = price_fetches(tmp_path / "landing", "btc")
    manifest = manifest_of(record)
    assert (manifest["outcome"], manifest["page_count"], manifest["windows"]) == ("no_access", 0, [])
    assert manifest["message"].startswith("Access denied")
    assert SECRET_KEY not in (record / "_manifest.json").read_text() + out.out + out.err
    folder = tmp_path / "reports" / WEEK.label
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["assets"][0]["price"]["status"] == "no_access"
    tree = html5lib.parse((folder / "report.html").read_text(encoding="utf-8"), namespaceHTMLElements=False)
    quality = " ".join("".join(tree.find(".//*[@id='data-quality']").itertext()).split())
    assert "no access: the API key has no trade data for this instrument (HTTP 403)" in quality
    assert "binc/perpetual-future/btc-usdt" in quality or "btc-usdt" in quality


@pytest.mark.parametrize("status", [403])
def test_a_refused_price_fetch_is_asked_again_next_run(tmp_path, status):
    options = PriceOptions(no_access_keys=frozenset({SECRET_KEY}))
    with running_simulator(price_options=options) as sim:
        settings = sim_settings(sim, tmp_path, assets=("btc",))
        first = fetch_prices(settings, WEEK.start, WEEK.end, log=QUIET)
        second = fetch_prices(settings, WEEK.start, WEEK.end, log=QUIET)
        assert [entry["status"] for entry in price_requests(sim)] == [status, status]
    assert first.no_access == second.no_access == ["btc"]
