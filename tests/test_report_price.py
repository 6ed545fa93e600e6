"""Price context in the report, the email and the exports, on the simulator's own pages.

One demo week with every price status at once: BTC and ETH priced, XRP priced for the first 60 hours only
(partial), DOGE refused with a 403 (no access) and QUIET without a reference instrument; liquidations from
`pipeline.fetch`, price pages landed from the simulator's OHLCV route, then the real build, render and email.
Every expected number is worked out here in plain Python from the landed JSON pages, never read from a mart.
"""

from __future__ import annotations

import email
import json
import re
import shutil
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from xml.etree import ElementTree

import html5lib
import pyarrow.parquet as pq
import pytest
from price_fixtures import land_simulated_prices
from test_report_browser import PAST_THE_EDGE, PHONE, TEXT_SIZES, browser, open_page  # noqa: F401 (a fixture)

from report import pipeline
from report.formatting import usd
from report.palette import PALETTE
from report.periods import iso_week
from report.settings import PriceSettings, Settings
from report.simulator import DEMO_API_KEY, PriceOptions, running_simulator

WEEK = iso_week("2025-W18")
NOW = datetime(2025, 5, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
ASSETS = ("btc", "eth", "xrp", "doge", "quiet")
PRICED = ("btc", "eth")
XRP_CUT = WEEK.start + 60 * HOUR  # xrp's report week is landed up to here
XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"


def naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def land_week(output: Path) -> Settings:
    """The report week and its trailing weeks through the run's own fetch (doge's instrument answers 403),
    then xrp's price replaced by one landed only up to XRP_CUT."""
    options = PriceOptions(no_access_instruments=frozenset({"binc/perpetual-future/doge-usdt"}))
    with running_simulator(seed=7, now=NOW, empty_assets={"quiet"}, price_options=options) as simulator:
        settings = Settings(output_dir=output, assets=ASSETS, base_url=simulator.base_url,
                            api_key=DEMO_API_KEY)
        pipeline.fetch(settings, WEEK, log=lambda line: None)
        shutil.rmtree(settings.landing_dir / "trades_ohlcv" / "asset=xrp")
        land_simulated_prices(settings.with_(assets=("xrp",)), simulator.base_url,
                              pipeline.fetch_start(settings, WEEK), XRP_CUT)
    return settings


def build_and_render(settings: Settings) -> Path:
    pipeline.build(settings, WEEK, log=lambda line: None)
    folder = pipeline.render(settings, WEEK, pdf=True, log=lambda line: None).parent
    pipeline.email(settings, WEEK, log=lambda line: None)
    return folder


class PricedReport:
    def __init__(self, settings: Settings, folder: Path):
        self.settings, self.folder = settings, folder
        self.html = (folder / "report.html").read_text(encoding="utf-8")
        self.tree = html5lib.parse(self.html)
        self.summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        self.prices = {asset: landed_bars(settings.landing_dir, asset) for asset in ASSETS}
        self.liquidations = {asset: landed_liquidations(settings.landing_dir, asset) for asset in ASSETS}

    def asset(self, asset: str) -> dict:
        return next(entry for entry in self.summary["assets"] if entry["asset"] == asset)

    def email_parts(self) -> tuple[str, str]:
        message = email.message_from_bytes((self.folder / "report.eml").read_bytes(), policy=policy.default)
        return (message.get_body(preferencelist=("plain",)).get_content(),
                message.get_body(preferencelist=("html",)).get_content())


@pytest.fixture(scope="module")
def priced(tmp_path_factory) -> PricedReport:
    settings = land_week(tmp_path_factory.mktemp("priced-week"))
    return PricedReport(settings, build_and_render(settings))


# --- expected values, from the landed JSON pages ------------------------------------------------------


def manifests(landing: Path, endpoint: str, asset: str) -> list[tuple[Path, dict]]:
    """(fetch folder, manifest) of every complete fetch, oldest first (fetch ids sort in time)."""
    folder = landing / endpoint / f"asset={asset}" / "interval=1h"
    found = sorted(folder.glob("fetch=*/_manifest.json")) if folder.is_dir() else []
    return [(path.parent, json.loads(path.read_text())) for path in found]


def window_rows(fetch: Path, window: dict, time_of) -> list[tuple[datetime, dict]]:
    """(hour, row) of the rows inside a window, from the pages its manifest lists for it."""
    start, end = (naive(datetime.fromisoformat(window[key].replace("Z", "+00:00")))
                  for key in ("start_time", "end_time"))
    rows = [row for page in window["pages"] for row in json.loads((fetch / page).read_text())["data"]]
    return [(time_of(row), row) for row in rows if start <= time_of(row) < end]


def landed_bars(landing: Path, asset: str) -> dict[datetime, tuple[float, float, float, float]]:
    """hour → (open, high, low, close) from the newest landed fetch of each price window."""
    bars = {}
    for fetch, manifest in manifests(landing, "trades_ohlcv", asset):
        for window in manifest["windows"] if manifest.get("outcome") == "landed" else []:
            for hour, row in window_rows(fetch, window, lambda row: naive(
                    datetime.fromtimestamp(row["timestamp"] / 1000, UTC))):
                bars.pop(hour, None)
                if row["close"] is not None:
                    bars[hour] = tuple(float(row[key]) for key in ("open", "high", "low", "close"))
    return bars


def landed_liquidations(landing: Path, asset: str) -> dict[datetime, float]:
    """hour → total USD liquidated, every hour of a complete window (an hour the API left out is zero)."""
    hours = {}
    for fetch, manifest in manifests(landing, "liquidation_token", asset):
        for window in manifest["windows"]:
            hour = naive(datetime.fromisoformat(window["start_time"].replace("Z", "+00:00")))
            while hour < naive(datetime.fromisoformat(window["end_time"].replace("Z", "+00:00"))):
                hours[hour] = 0.0
                hour += HOUR
            for hour, row in window_rows(fetch, window, lambda row: naive(
                    datetime.fromisoformat(row["interval_time"].replace("Z", "+00:00")))):
                hours[hour] = float(row["total_amount"])
    return hours


def returns(bars: dict) -> dict[datetime, float]:
    """close / the previous hour's close − 1, only where the previous hour has a close."""
    return {hour: bar[3] / bars[hour - HOUR][3] - 1 for hour, bar in bars.items() if hour - HOUR in bars}


def per_move(bars: dict, liquidations: dict, start: datetime, end: datetime) -> tuple[float, float, int]:
    """(USD, 100 × Σ|hourly return|, hours) over the hours in [start, end) with a return and liquidations."""
    hourly = returns(bars)
    used = [hour for hour in hourly if start <= hour < end and hour in liquidations]
    moved = 100 * sum(abs(hourly[hour]) for hour in used)
    return sum(liquidations[hour] for hour in used), moved, len(used)


def expected_price(report: PricedReport, asset: str) -> dict:
    bars, liquidations = report.prices[asset], report.liquidations[asset]
    start, end = naive(WEEK.start), naive(WEEK.end)
    period = sorted(hour for hour in bars if start <= hour < end)
    amount, moved, hours = per_move(bars, liquidations, start, end)
    trailing_amount, trailing_moved, _ = per_move(bars, liquidations, start - timedelta(days=84), start)
    per_pct = amount / moved
    return {"change": bars[period[-1]][3] / bars[period[0]][0] - 1, "per_pct_move": per_pct,
            "hours_used": hours, "change_vs_trailing": per_pct / (trailing_amount / trailing_moved) - 1,
            "week_usd": sum(value for hour, value in liquidations.items() if start <= hour < end)}


# --- helpers over the page --------------------------------------------------------------------------


def text_of(node) -> str:
    return " ".join("".join(node.itertext()).split())


def by_id(tree, name: str):
    found = [node for node in tree.iter() if node.get("id") == name]
    assert len(found) == 1, name
    return found[0]


def table_rows(table) -> list[list[str]]:
    return [[text_of(cell) for cell in row if cell.tag == f"{XHTML}td"]
            for body in table.iter(f"{XHTML}tbody") for row in body.iter(f"{XHTML}tr")]


def price_lines(svg_file: Path) -> list[list[tuple[float, float]]]:
    """The vertices of each drawn segment of the chart's price line: the ink-coloured stroke that is the
    price's, not a rule (rules are thinner and straight)."""
    root = ElementTree.parse(svg_file).getroot()
    lines = []
    for path in root.iter(f"{SVG}path"):
        stroke, width = (path.get("stroke") or "").lower(), float(path.get("stroke-width", 0))
        if stroke == PALETTE.ink.lower() and width >= 1.5:
            for segment in re.split(r"(?=M)", path.get("d", "")):
                points = [tuple(map(float, pair)) for pair in re.findall(r"(-?[\d.]+) (-?[\d.]+)", segment)]
                if len(points) > 2:
                    lines.append(points)
    return lines


def pearson(xs: list[float], ys: list[float]) -> float:
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    covariance = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    spread = (sum((x - mean_x) ** 2 for x in xs) * sum((y - mean_y) ** 2 for y in ys)) ** 0.5
    return covariance / spread


def words(fraction: float) -> str:
    return f"{'rose' if fraction > 0 else 'fell'} {abs(fraction) * 100:.1f}%"


# --- the report ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("asset", PRICED)
def test_each_priced_assets_sentence_leads_with_its_move_from_the_landed_pages(priced, asset):
    expected = expected_price(priced, asset)
    lede = next(node for node in by_id(priced.tree, f"asset-{asset}").iter(f"{XHTML}p")
                if node.get("class") == "lede")
    assert text_of(lede).startswith(f"{asset.upper()} {words(expected['change'])}, "
                                    f"{usd(expected['week_usd'])} liquidated")
    assert f"{usd(expected['per_pct_move'])} per 1% of hourly price moves" in text_of(lede)


def test_an_asset_without_a_complete_week_of_price_has_no_move_in_its_sentence(priced):
    for asset in ("xrp", "doge"):
        lede = next(node for node in by_id(priced.tree, f"asset-{asset}").iter(f"{XHTML}p")
                    if node.get("class") == "lede")
        assert not re.search(r"\b(rose|fell)\b", text_of(lede)), asset


@pytest.mark.parametrize("asset", PRICED)
def test_summary_json_carries_the_move_and_the_liquidations_per_1pct_move(priced, asset):
    expected = expected_price(priced, asset)
    price = priced.asset(asset)["price"]
    assert price["status"] == "complete"
    assert price["instrument"] == {"exchange": "binc", "instrument_class": "perpetual-future",
                                   "instrument": f"{asset}-usdt"}
    assert price["move"]["change"] == pytest.approx(expected["change"], rel=1e-9)
    assert price["per_pct_move"]["hours_used"] == expected["hours_used"] == 168
    assert price["per_pct_move"]["total"] == pytest.approx(expected["per_pct_move"], rel=1e-9)
    assert price["per_pct_move"]["change_vs_trailing"] == pytest.approx(expected["change_vs_trailing"],
                                                                         rel=1e-9)


def test_summary_json_says_why_an_asset_has_no_price(priced):
    assert {asset: priced.asset(asset)["price"]["status"] for asset in ASSETS} == {
        "btc": "complete", "eth": "complete", "xrp": "partial", "doge": "no_access", "quiet": "no_instrument"}
    doge = priced.asset("doge")["price"]
    assert "no access" in doge["message"] and doge["move"] is None and doge["per_pct_move"] is None
    xrp = priced.asset("xrp")["price"]
    assert xrp["move"] is None and xrp["hours_with_price"] == 60
    assert xrp["per_pct_move"]["hours_used"] == per_move(priced.prices["xrp"], priced.liquidations["xrp"],
                                                        naive(WEEK.start), naive(WEEK.end))[2] == 60


def test_the_cross_asset_table_ranks_liquidations_per_1pct_move_below_the_first_screen(priced):
    table = by_id(priced.tree, "price-per-move")
    rows = table_rows(table)
    expected = {asset: expected_price(priced, asset) for asset in PRICED}
    amount, moved, _ = per_move(priced.prices["xrp"], priced.liquidations["xrp"], naive(WEEK.start),
                                naive(WEEK.end))
    per_pct = {**{asset: value["per_pct_move"] for asset, value in expected.items()}, "xrp": amount / moved}
    ranked = sorted(per_pct, key=per_pct.get, reverse=True)
    assert [row[0] for row in rows] == [asset.upper() for asset in ranked] + ["DOGE", "QUIET"]
    for row in rows[:3]:
        asset = row[0].lower()
        assert usd(per_pct[asset]) in row
        if asset in expected:
            assert f"{expected[asset]['change'] * 100:+.1f}%".replace("-", "\N{MINUS SIGN}") == row[1]
        else:
            assert row[1] == "–" and row[-1] == "60/168"  # partial: no move, and the hours it rests on
    assert rows[3] == ["DOGE", "no price: no access"] and rows[4] == ["QUIET", "no price: no instrument"]
    # after the by-asset table, not on the first screen
    overview = by_id(priced.tree, "overview")
    order = [node.get("id") for node in overview.iter() if node.get("id")]
    assert order.index("price-per-move") > order.index("cross-asset")


def drawn_hours(line: list[tuple[float, float]]) -> dict[int, float]:
    """Hour index (0 = the period's first hour) → drawn y, from the vertices' x positions (one hour apart;
    matplotlib may drop a vertex that lies on the segment through its neighbours)."""
    xs = [x for x, _ in line]
    step = min(b - a for a, b in zip(xs, xs[1:], strict=False) if b - a > 1e-6)
    return {round((x - xs[0]) / step): y for x, y in line}


def test_the_hourly_chart_draws_the_landed_closes_as_a_line_on_its_own_axis(priced):
    bars = priced.prices["btc"]
    svg = priced.folder / "charts" / "btc_hourly.svg"
    (line,) = price_lines(svg)
    drawn = drawn_hours(line)
    assert min(drawn) == 0 and max(drawn) == 167 and len(drawn) > 150
    # SVG y grows downwards: the drawn heights are an exact affine map of the closes
    closes = [bars[naive(WEEK.start) + index * HOUR][3] for index in drawn]
    assert pearson(list(drawn.values()), closes) < -0.99999
    text = ElementTree.tostring(ElementTree.parse(svg).getroot(), encoding="unicode")
    assert "Price, USDT (right)" in text
    chart = next(entry for entry in priced.summary["charts"] if entry["file"] == "charts/btc_hourly.svg")
    assert "Binance BTC-USDT perpetual" in chart["alt"] and "right" in chart["alt"]


def test_the_price_line_breaks_where_the_price_stops_and_is_absent_without_access(priced):
    (line,) = price_lines(priced.folder / "charts" / "xrp_hourly.svg")
    drawn = drawn_hours(line)
    assert min(drawn) == 0 and max(drawn) == 59  # the 60 hours landed, then the line stops
    assert price_lines(priced.folder / "charts" / "doge_hourly.svg") == []
    doge = next(entry for entry in priced.summary["charts"] if entry["file"] == "charts/doge_hourly.svg")
    assert "No price line: no access" in doge["takeaway"]
    assert "Price" not in (priced.folder / "charts" / "doge_hourly.svg").read_text()


def test_every_asset_still_has_at_most_five_charts(priced):
    per_asset = {}
    for chart in priced.summary["charts"]:
        per_asset[chart["asset"]] = per_asset.get(chart["asset"], 0) + 1
    assert max(count for asset, count in per_asset.items() if asset) <= 5


def test_the_data_quality_section_says_plainly_why_an_asset_has_no_price(priced):
    notes = [text_of(item) for item in by_id(priced.tree, "price-coverage").iter(f"{XHTML}li")]
    assert len(notes) == 3
    assert notes[0].startswith("XRP price: partial: 60 of 168 hours fetched")
    assert notes[1].startswith("DOGE price: no access") and "HTTP 403" in notes[1]
    assert "Access denied: your API key has no access to trades.v1 data" in notes[1]
    assert notes[2].startswith("QUIET price: no reference instrument") and "[price.<asset>]" in notes[2]
    quality = next(table for table in by_id(priced.tree, "data-quality").iter(f"{XHTML}table"))
    cells = {row[0]: row for row in table_rows(quality)}
    assert cells["BTC"][-2:] == ["168/168", "binc/perpetual-future/btc-usdt"]
    assert cells["XRP"][-2] == "60/168" and cells["DOGE"][-2] == "no access"
    method = text_of(by_id(priced.tree, "data-quality"))
    assert "sum of absolute hourly price changes" in method and "net move near zero" in method


# --- the email -------------------------------------------------------------------------------------------


def test_the_email_gives_each_assets_move_and_liquidations_per_1pct_move(priced):
    plain, html = priced.email_parts()
    for asset in PRICED:
        expected = expected_price(priced, asset)
        assert (f"{asset.upper()} {words(expected['change'])}; {usd(expected['per_pct_move'])} liquidated "
                "per 1% of hourly price moves") in plain
        assert f"{expected['change'] * 100:+.1f}%".replace("-", "\N{MINUS SIGN}") in html
    assert "no price: no access" in plain and "no price: no instrument" in plain
    assert ">Price</th>" in html


# --- the exports -----------------------------------------------------------------------------------------


def test_the_hourly_export_carries_close_return_range_and_has_price(priced):
    rows = pq.read_table(priced.folder / "data" / "hourly.parquet").to_pylist()
    by_key = {(row["asset"], naive(row["hour"])): row for row in rows}
    for asset in ("btc", "xrp"):
        bars, hourly = priced.prices[asset], returns(priced.prices[asset])
        landed = [hour for hour in bars if (asset, hour) in by_key]
        assert len(landed) > 13 * 168 - 200
        for hour in landed:
            row = by_key[asset, hour]
            open_, high, low, close = bars[hour]
            assert row["has_price"] is True and row["close"] == close
            assert row["high_low_range"] == pytest.approx((high - low) / open_, rel=1e-12)
            assert row["hourly_return"] == (pytest.approx(hourly[hour], rel=1e-9) if hour in hourly else None)
    assert not any(row["has_price"] for row in rows if row["asset"] in ("doge", "quiet"))
    gap = by_key["xrp", naive(XRP_CUT)]
    assert gap["covered"] is True and gap["has_price"] is False and gap["close"] is None
    dictionary = (priced.folder / "data" / "README.md").read_text()
    assert "| `has_price` |" in dictionary and "| `hourly_return` |" in dictionary


# --- price = false ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def price_off(priced, tmp_path_factory) -> PricedReport:
    """The same landing zone, price pages and all, built and rendered with `price = false`."""
    output = tmp_path_factory.mktemp("price-off")
    shutil.copytree(priced.settings.landing_dir, output / "landing")
    settings = priced.settings.with_(output_dir=output, price=PriceSettings(enabled=False))
    return PricedReport(settings, build_and_render(settings))


def test_price_false_shows_no_price_anywhere_and_says_it_is_off(price_off):
    assert {entry["price"]["status"] for entry in price_off.summary["assets"]} == {"off"}
    assert all(price_lines(price_off.folder / "charts" / f"{asset}_hourly.svg") == []
               for asset in ("btc", "eth", "xrp", "doge"))
    note = text_of(by_id(price_off.tree, "price-coverage"))
    assert note.startswith("Price context is off (price = false in liqreport.toml)")
    assert not [node for node in price_off.tree.iter() if node.get("id") == "price-per-move"]
    assert not re.search(r"\b(rose|fell) \d", price_off.html)
    plain, html = price_off.email_parts()
    assert ">Price</th>" not in html and "per 1%" not in plain
    rows = pq.read_table(price_off.folder / "data" / "hourly.parquet").to_pylist()
    assert rows and not any(row["has_price"] for row in rows)


# --- on a phone, and on paper -----------------------------------------------------------------------------


def luma(color: str) -> float:
    """ITU-R 601 luma, 0–255, as a greyscale printer driver computes it."""
    red, green, blue = (int(color[index:index + 2], 16) for index in (1, 3, 5))
    return 0.299 * red + 0.587 * green + 0.114 * blue


def test_the_price_line_prints_darker_than_either_side_and_is_haloed(priced):
    svg = (priced.folder / "charts" / "eth_hourly.svg").read_text()
    (line,) = price_lines(priced.folder / "charts" / "eth_hourly.svg")
    assert luma(PALETTE.long) - luma(PALETTE.ink) >= 50 and luma(PALETTE.short) - luma(PALETTE.ink) >= 100
    # a white stroke under the line keeps it apart from the bars it crosses
    halos = re.findall(r'<path d="(M [^"]+)"[^>]*stroke="#ffffff"[^>]*stroke-width="([\d.]+)"', svg)
    assert any(float(width) > 3 and len(re.findall(r"[ML] ", d)) >= len(line) for d, width in halos)


def test_the_priced_report_fits_a_phone_with_readable_price_labels(browser, priced):  # noqa: F811
    page = open_page(browser, priced.folder / "report.html", PHONE)
    try:
        assert page.evaluate(PAST_THE_EDGE) == []
        sizes = page.evaluate(TEXT_SIZES)
    finally:
        page.close()
    price_labels = [size for size in sizes if size[0] == "svg" and size[1] == "chart-btc_hourly"
                    and re.fullmatch(r"\d+(\.\d+)?K", size[3])]
    assert len(price_labels) >= 3
    assert [size for size in sizes if size[2] < 10] == []
