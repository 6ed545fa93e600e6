"""The weekly report end to end on the simulator: fetch → build → render, checked against the landed pages.

Expected numbers are summed in plain Python straight from the landed JSON pages (the newest complete fetch
of each window), never from the marts the report itself reads.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import html5lib
import matplotlib.image
import pytest
from conftest import DEMO_WEEK

from report import pipeline
from report.errors import RenderError
from report.fetch.fetcher import fetch_range
from report.formatting import change, exchange_label, usd
from report.periods import iso_week
from report.render import report as report_module
from report.render import summary as summary_module
from report.render.folder import sweep_leftovers
from report.settings import Settings
from report.simulator import DEMO_API_KEY, running_simulator

SIMULATOR_NOW = datetime(2025, 3, 31, tzinfo=UTC)
WEEK = iso_week(DEMO_WEEK)  # the demo report's week (tests/conftest.py)
W09 = iso_week("2025-W09")
XHTML = "{http://www.w3.org/1999/xhtml}"
SVG = "{http://www.w3.org/2000/svg}"
WITH_DATA = ("btc", "eth", "sol", "xrp", "doge")


@pytest.fixture(scope="module")
def demo_report(demo_week):
    """The five demo assets and one without liquidations, W09 2025, with the PDF (tests/conftest.py)."""
    return demo_week


def landed_hours(landing: Path, asset: str) -> dict[datetime, dict]:
    """Every hour's row from the newest complete fetch of each window of `asset`, read from the JSON pages."""
    hours: dict[datetime, dict] = {}
    # docs/architecture.md §2: a fetch folder a range of weeks; its manifest names the windows it completed
    newest: dict[str, tuple[str, Path, dict]] = {}
    for manifest_path in (landing / "liquidation_token" / f"asset={asset}" / "interval=1h").glob(
            "fetch=*/_manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        for window in manifest["windows"]:
            if window["window"] not in newest or manifest["fetch_id"] > newest[window["window"]][0]:
                newest[window["window"]] = (manifest["fetch_id"], manifest_path.parent, window)
    for _, folder, window in newest.values():
        for page in json.loads((folder / "_manifest.json").read_text())["pages"]:
            for row in json.loads((folder / page["file"]).read_text())["data"]:
                if not window["start_time"] <= row["interval_time"] < window["end_time"]:
                    continue
                hour = datetime.fromisoformat(row["interval_time"].replace("Z", "+00:00"))
                hours[hour] = {key: float(row[key]) for key in
                               ("total_amount", "total_trades", "long_amount", "short_amount")}
                hours[hour]["exchanges"] = row["exchanges"]
    return hours


def week_total(hours: dict, start: datetime, key: str = "total_amount") -> float:
    return sum(row[key] for hour, row in hours.items() if start <= hour < start + timedelta(days=7))


def section(tree, asset: str):
    found = [node for node in tree.iter(f"{XHTML}section") if node.get("id") == f"asset-{asset}"]
    assert len(found) == 1
    return found[0]


def text_of(node) -> str:
    return " ".join("".join(node.itertext()).split())


def element_by_id(tree, name: str):
    found = [node for node in tree.iter() if node.get("id") == name]
    assert len(found) == 1, name
    return found[0]


def test_report_headline_figures_equal_sums_of_the_landed_pages(demo_report):
    landing = demo_report.settings.landing_dir
    by_asset = {entry["asset"]: entry for entry in demo_report.summary["assets"]}
    grand_total = previous_total = 0.0
    both: dict = {}
    for asset in WITH_DATA:
        hours = landed_hours(landing, asset)
        expected = week_total(hours, WEEK.start)
        grand_total += expected
        previous_total += week_total(hours, WEEK.start - timedelta(weeks=1))
        assert by_asset[asset]["total_amount"] == pytest.approx(expected, rel=1e-9)
        trades = round(week_total(hours, WEEK.start, "total_trades"))
        assert by_asset[asset]["total_trades"] == trades
        assert by_asset[asset]["long_amount"] == pytest.approx(week_total(hours, WEEK.start, "long_amount"))
        assert by_asset[asset]["long_share"] == pytest.approx(
            week_total(hours, WEEK.start, "long_amount") / expected)
        headline = text_of(section(demo_report.tree, asset))
        assert usd(expected) in headline and f"{trades:,} events" in headline
        for hour, row in hours.items():
            if WEEK.start <= hour < WEEK.end:
                both[hour] = both.get(hour, 0.0) + row["total_amount"]
    assert demo_report.summary["totals"]["total_amount"] == pytest.approx(grand_total, rel=1e-9)
    verdict = text_of(element_by_id(demo_report.tree, "verdict"))
    assert verdict.startswith(f"{usd(grand_total)} was liquidated in {DEMO_WEEK}, ")
    assert f"{change(grand_total / previous_total - 1)} on last week ({usd(previous_total)})" in verdict
    peak = max(both, key=both.get)
    spikes = text_of(element_by_id(demo_report.tree, "joint-spikes"))
    hour = f"{peak:%a} {peak.day} {peak:%b %H}:00 UTC"
    assert f"Biggest hour across assets: {hour}, {usd(both[peak])}" in spikes


def test_changes_biggest_day_and_biggest_hour_match_the_landed_pages(demo_report):
    hours = landed_hours(demo_report.settings.landing_dir, "btc")
    btc = next(entry for entry in demo_report.summary["assets"] if entry["asset"] == "btc")
    this_week = week_total(hours, WEEK.start)
    previous = [week_total(hours, WEEK.start - timedelta(weeks=k)) for k in range(1, 5)]
    assert btc["change_vs_last_week"] == pytest.approx(this_week / previous[0] - 1)
    assert btc["change_vs_4w_avg"] == pytest.approx(this_week / (sum(previous) / 4) - 1)
    in_week = {hour: row for hour, row in hours.items() if WEEK.start <= hour < WEEK.end}
    peak_hour = max(in_week, key=lambda hour: in_week[hour]["total_amount"])
    peak = in_week[peak_hour]
    assert btc["biggest_hour"] == {"hour": peak_hour.strftime("%Y-%m-%dT%H:00:00Z"),
                                   "total_amount": pytest.approx(peak["total_amount"]),
                                   "long_share": pytest.approx(peak["long_amount"] / peak["total_amount"])}
    days: dict = {}
    for hour, row in in_week.items():
        days[hour.date()] = days.get(hour.date(), 0.0) + row["total_amount"]
    peak_day = max(days, key=days.get)
    assert btc["biggest_day"] == {"day": peak_day.isoformat(), "total_amount": pytest.approx(days[peak_day])}
    by_exchange: dict = {}
    for row in in_week.values():
        for exchange in row["exchanges"]:
            by_exchange[exchange["exchange"]] = by_exchange.get(exchange["exchange"], 0.0) + float(
                exchange["total_amount"])
    assert btc["dominant_exchange"] == max(by_exchange, key=by_exchange.get)
    assert btc["hours_covered"] == btc["hours_in_period"] == 168


def test_every_chart_is_inline_svg_identical_to_its_file_and_email_charts_have_pngs(demo_report):
    charts = demo_report.summary["charts"]
    assert len(charts) == 5 * len(WITH_DATA) + 2  # five an asset with data, two on the first screen
    for chart in charts:
        figure = element_by_id(demo_report.tree, f"chart-{Path(chart['file']).stem}")
        (svg,) = figure.iter(f"{SVG}svg")
        assert svg.get("viewBox") and len(list(svg.iter(f"{SVG}text"))) > 3
        on_disk = (demo_report.folder / chart["file"]).read_text()
        assert on_disk.startswith("<svg ") and on_disk.count("<text") == len(list(svg.iter(f"{SVG}text")))
        box = next(node for node in figure.iter() if node.get("role") == "img")
        assert box.get("aria-label") == chart["alt"] and chart["takeaway"] not in chart["alt"]
        if "png" not in chart:
            continue
        png = (demo_report.folder / chart["png"]).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert width == 960 and 300 < height < 900  # 480 CSS px at 2x
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert pixels[..., :3].std() > 0.05  # not a blank canvas
        if pixels.shape[2] == 4:
            assert pixels[..., 3].min() == 1.0  # solid background: dark-mode mail clients invert alpha
    assert sum("png" in chart for chart in charts) == 2 + len(WITH_DATA)  # what the email shows


def test_report_is_strict_html5_and_fetches_nothing_external(demo_report):
    html5lib.HTMLParser(strict=True).parse(demo_report.html)
    for node in demo_report.tree.iter():
        for attribute in ("src", "href", "srcset", "poster", "data"):
            value = node.get(attribute) or ""
            assert not re.match(r"^\s*(https?:)?//", value), (node.tag, attribute, value[:80])
    assert not list(demo_report.tree.iter(f"{XHTML}script"))
    assert not list(demo_report.tree.iter(f"{XHTML}link"))
    # the only url() references point inside the page (a chart's hatch pattern)
    assert "@import" not in demo_report.html
    assert re.findall(r"url\((?!#)", demo_report.html) == []


def test_demo_data_is_said_in_the_title_the_banner_and_every_pdf_page(demo_report):
    title = next(demo_report.tree.iter(f"{XHTML}title")).text
    assert "DEMO DATA" in title and DEMO_WEEK in title
    assert demo_report.summary["demo"] is True
    body = next(demo_report.tree.iter(f"{XHTML}body"))
    assert "DEMO DATA" in text_of(body[0])
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(["pdftotext", "-layout", str(demo_report.folder / "report.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    pages = [page for page in text.split("\f") if page.strip()]
    assert len(pages) >= 4
    assert all("DEMO DATA" in page for page in pages)
    assert all(re.search(r"Page \d+ of \d+", page) for page in pages)


def test_asset_without_liquidations_gets_an_honest_empty_section(demo_report):
    quiet = section(demo_report.tree, "quiet")
    assert not list(quiet.iter(f"{XHTML}img"))
    assert "No liquidations were reported in the 168 covered hours of 168" in text_of(quiet)
    entry = next(entry for entry in demo_report.summary["assets"] if entry["asset"] == "quiet")
    assert entry["total_amount"] == 0 and entry["hours_covered"] == 168
    assert entry["biggest_day"] is None and entry["long_share"] is None
    assert not [chart for chart in demo_report.summary["charts"] if chart["asset"] == "quiet"]


def test_summary_json_follows_the_delivery_contract(demo_report):
    summary = demo_report.summary
    assert set(summary) == {"period", "generated_at", "data_as_of", "demo", "source", "totals", "overview",
                            "assets", "charts", "data_tests", "files"}
    assert summary["period"] == {"label": DEMO_WEEK, "start": "2025-04-28T00:00:00Z",
                                 "end": "2025-05-05T00:00:00Z"}
    assert summary["source"].endswith("/v2/data/liquidation.v1/token/{asset}")
    # largest first, as the report shows them; the asset without liquidations last
    totals = [entry["total_amount"] for entry in summary["assets"]]
    assert totals == sorted(totals, reverse=True) and summary["assets"][-1]["asset"] == "quiet"
    assert [entry["asset"] for entry in summary["assets"]] == [
        node.get("id")[len("asset-"):] for node in demo_report.tree.iter(f"{XHTML}section")
        if (node.get("id") or "").startswith("asset-")]
    assert set(summary["assets"][0]) == {
        "asset", "rank", "total_amount", "total_trades", "long_amount", "short_amount", "long_share",
        "share_of_all_assets", "average_size", "change_vs_last_week", "change_vs_4w_avg", "biggest_day",
        "biggest_hour", "dominant_exchange", "dominant_exchange_share", "spike_hours", "hours_covered",
        "hours_in_period", "price"}
    assert {"total_amount", "change_vs_last_week", "change_vs_4w_avg", "long_share", "rank", "robust_z",
            "leading_asset", "leading_exchange", "by_exchange", "spike_hours", "weeks", "verdict"} <= set(
        summary["overview"])
    assert summary["overview"]["verdict"] == text_of(element_by_id(demo_report.tree, "verdict"))
    run_results = json.loads((demo_report.folder / "run_results.json").read_text())
    passed = sum(test["status"] == "pass" for test in run_results["tests"])
    assert summary["data_tests"]["passed"] == passed > 0
    assert summary["files"]["html"] == "report.html" and summary["files"]["pdf"] == "report.pdf"
    assert "data/daily.csv" in summary["files"]["data"]
    for relative in [summary["files"]["html"], summary["files"]["pdf"], *summary["files"]["data"],
                     *(chart["file"] for chart in summary["charts"]),
                     *(chart["png"] for chart in summary["charts"] if "png" in chart)]:
        assert (demo_report.folder / relative).is_file()
    assert all(chart["title"] and chart["takeaway"] and chart["alt"] for chart in summary["charts"])


def test_report_run_results_name_models_by_project_path_not_by_build_machine_path(demo_report):
    """The folder is published as it is: run_results.json must not tell the world where the build ran."""
    raw = (demo_report.folder / "run_results.json").read_text()
    document = json.loads(raw)
    paths = [entry["path"] for entry in document["models"] + document["tests"]]
    assert len(paths) > 40 and all(re.fullmatch(r"sql/[a-z_]+/[a-z0-9_]+\.sql", path) for path in paths)
    assert "sql/reports/rpt_overview.sql" in paths
    for machine_path in (Path.cwd(), Path(__file__).resolve().parent.parent, demo_report.settings.output_dir):
        assert str(machine_path) not in raw
    built = json.loads((demo_report.settings.output_dir / "run_results.json").read_text())
    assert [entry["name"] for entry in document["models"]] == [entry["name"] for entry in built["models"]]
    assert document["summary"] == built["summary"]


def test_the_data_dictionary_names_every_exchange_code_in_the_exports(demo_report):
    # written out by hand, as the report names them: the dictionary mapped binc, bbit and okex, then "…"
    names = {"binc": "Binance", "bbit": "Bybit", "okex": "OKX", "hbdm": "HTX (Huobi)", "cbse": "Coinbase",
             "drbt": "Deribit", "krkn": "Kraken", "bfnx": "Bitfinex"}
    data = demo_report.folder / "data"
    with (data / "daily_by_exchange.csv").open(newline="") as handle:
        codes = {row["exchange"] for row in csv.DictReader(handle)}
    assert codes and codes <= set(names)
    dictionary = (data / "README.md").read_text(encoding="utf-8")
    for code in codes:
        assert f"| `{code}` | {names[code]} |" in dictionary


def test_manifest_lists_every_artifact_with_its_sha256(demo_report):
    manifest = json.loads((demo_report.folder / "manifest.json").read_text())
    listed = {entry["file"]: entry for entry in manifest["files"]}
    on_disk = {path.relative_to(demo_report.folder).as_posix() for path in demo_report.folder.rglob("*")
               if path.is_file() and path.name != "manifest.json"}
    assert set(listed) == on_disk
    for name, entry in listed.items():
        data = (demo_report.folder / name).read_bytes()
        assert entry["bytes"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_failed_render_keeps_the_previous_report_whole(demo_report, monkeypatch):
    before = (demo_report.folder / "manifest.json").read_bytes()

    def crash(*args, **kwargs):
        raise RuntimeError("disk full while writing the manifest")

    monkeypatch.setattr(summary_module, "write_manifest", crash)
    with pytest.raises(RuntimeError):
        report_module.render_report(demo_report.settings, WEEK, log=lambda line: None)
    assert (demo_report.folder / "manifest.json").read_bytes() == before
    assert [path.name for path in demo_report.folder.parent.iterdir()] == [DEMO_WEEK]


def test_rendering_a_period_the_warehouse_was_not_built_for_is_refused(demo_report):
    refusal = r"built for 2025-04-28 00:00 to 2025-05-05 00:00 UTC, not 2025-W19"
    with pytest.raises(RenderError, match=refusal):
        report_module.render_report(demo_report.settings, iso_week("2025-W19"), log=lambda line: None)


def test_pdf_without_weasyprint_asks_for_the_pdf_extra(demo_report, monkeypatch):
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # makes `import weasyprint` raise ImportError
    with pytest.raises(RenderError, match=r"PDF output needs WeasyPrint: pip install 'liqreport\[pdf\]'"):
        report_module.render_report(demo_report.settings, WEEK, pdf=True, log=lambda line: None)


def test_hours_not_yet_fetched_are_missing_not_zero(tmp_path):
    """A week rendered on Thursday 05:00: 77 hours covered, the rest missing and said so."""
    now = datetime(2025, 2, 27, 5, tzinfo=UTC)
    with running_simulator(seed=7, now=now) as simulator:
        settings = Settings(output_dir=tmp_path, assets=("btc",), base_url=simulator.base_url,
                            api_key=DEMO_API_KEY)
        fetch_range(settings, pipeline.fetch_start(settings, W09), W09.end, log=lambda line: None, now=now)
    pipeline.build(settings, W09, run_tests=False, log=lambda line: None)
    folder = pipeline.render(settings, W09, log=lambda line: None).parent
    summary = json.loads((folder / "summary.json").read_text())
    btc = summary["assets"][0]
    expected = week_total(landed_hours(settings.landing_dir, "btc"), W09.start)
    assert (btc["hours_covered"], btc["hours_in_period"]) == (77, 168)
    assert btc["total_amount"] == pytest.approx(expected)
    hourly = next(chart for chart in summary["charts"] if chart["file"] == "charts/btc_hourly.svg")
    assert "91 hours without data (hatched, not zero)" in hourly["takeaway"]
    page = text_of(html5lib.parse((folder / "report.html").read_text()))
    assert "77/168" in page and "no data (not zero)" in page


def test_asset_never_fetched_gets_a_no_data_section_not_zeros_in_disguise(demo_report, tmp_path):
    shutil.copytree(demo_report.settings.landing_dir, tmp_path / "landing")
    settings = demo_report.settings.with_(output_dir=tmp_path, assets=("btc", "never"))
    pipeline.build(settings, WEEK, log=lambda line: None)
    (tmp_path / "run_results.json").unlink()
    folder = report_module.render_report(settings, WEEK, log=lambda line: None).parent
    tree = html5lib.parse((folder / "report.html").read_text(encoding="utf-8"))
    assert "No data for this asset in the warehouse" in text_of(section(tree, "never"))
    assert "No data in the warehouse for: NEVER." in text_of(tree)
    never = json.loads((folder / "summary.json").read_text())["assets"][1]
    assert never["asset"] == "never" and never["hours_covered"] == 0 and never["total_amount"] == 0
    assert not (folder / "run_results.json").exists()  # none beside this warehouse: nothing invented
    assert "(partial: 1 of 2 assets have data" in text_of(element_by_id(tree, "verdict"))


def test_a_one_asset_report_does_not_compare_the_asset_with_itself(demo_report, tmp_path):
    """--assets btc: no 'BTC led the assets (100%)', no one-row table of assets, no cross-asset block (two
    assets cannot spike together when there is one), and the first screen's exchange view is BTC's own."""
    shutil.copytree(demo_report.settings.landing_dir, tmp_path / "landing")
    settings = demo_report.settings.with_(output_dir=tmp_path, assets=("btc",))
    pipeline.build(settings, WEEK, log=lambda line: None)
    folder = report_module.render_report(settings, WEEK, log=lambda line: None).parent
    tree = html5lib.parse((folder / "report.html").read_text(encoding="utf-8"))
    page = text_of(tree)
    assert "led the assets" not in page and "of all assets" not in page and "across assets" not in page
    for gone in ("joint-spikes", "cross-asset", "exchanges-btc", "chart-btc_exchanges"):
        assert not [node for node in tree.iter() if node.get("id") == gone], gone
    assert text_of(element_by_id(tree, "market-exchanges")).startswith("BTC by exchange")
    summary = json.loads((folder / "summary.json").read_text())
    assert [chart["kind"] for chart in summary["charts"] if chart["asset"] == "btc"] == [
        "hourly", "daily", "exchange_day", "weekly"]
    leader = summary["overview"]["leading_exchange"]
    assert f"; {exchange_label(leader['exchange'])} led the exchanges (" in summary["overview"]["verdict"]


def test_rendering_other_assets_than_the_warehouse_was_built_for_is_refused(demo_report, tmp_path):
    shutil.copyfile(demo_report.settings.warehouse_path, tmp_path / "warehouse.duckdb")
    settings = demo_report.settings.with_(output_dir=tmp_path, assets=("btc",))
    with pytest.raises(RenderError, match=r"built for the assets .*, not btc: run `liqreport build --assets "
                                          rf"btc` for {DEMO_WEEK} first"):
        report_module.render_report(settings, WEEK, log=lambda line: None)


def test_folders_left_by_a_killed_render_are_swept_once_stale(demo_report):
    reports = demo_report.folder.parent
    stale, fresh = reports / f".{DEMO_WEEK}.rendering-stale", reports / f".{DEMO_WEEK}.rendering-running"
    for folder in (stale, fresh):
        folder.mkdir()
        (folder / "report.html").write_text("half")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    sweep_leftovers(demo_report.folder)
    assert not stale.exists() and fresh.exists()
    shutil.rmtree(fresh)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the chart pool runs on Linux only")
def test_killed_render_leaves_no_chart_workers_behind(demo_report, tmp_path):
    shutil.copyfile(demo_report.settings.warehouse_path, tmp_path / "warehouse.duckdb")
    # the demo's 27 charts are drawn in-process; a larger report uses the pool: make this one use it
    code = ("import sys; from pathlib import Path; from report.render import report; "
            "from report.render.report import render_report; report.PARALLEL_CHART_THRESHOLD = 1; "
            "from report.periods import iso_week; from report.settings import Settings; "
            f"render_report(Settings(output_dir=Path(sys.argv[1]), assets={demo_report.settings.assets!r}), "
            f"iso_week('{DEMO_WEEK}'))")
    with subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as process:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not children.read_text().split():
            time.sleep(0.02)
        workers = children.read_text().split()
        assert workers, "the render finished before its chart pool started"
        process.kill()
        process.communicate(timeout=15)  # stderr reaches EOF only once no worker holds the pipe open
    time.sleep(0.3)
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text()]
    assert alive == []
    assert not (tmp_path / "reports" / DEMO_WEEK).exists()  # nothing half-rendered was swapped in


def test_re_rendering_the_same_week_draws_no_chart_again(demo_report, tmp_path, monkeypatch):
    shutil.copyfile(demo_report.settings.warehouse_path, tmp_path / "warehouse.duckdb")
    cached = demo_report.settings.output_dir / ".cache" / "charts" / WEEK.label
    shutil.copytree(cached, tmp_path / ".cache" / "charts" / WEEK.label)
    assert len(list(cached.glob("*.svg"))) == len(demo_report.summary["charts"])

    def draw(*args):
        raise AssertionError("a chart whose rows did not change was drawn again")

    monkeypatch.setattr(report_module.charts, "render", draw)
    folder = report_module.render_report(demo_report.settings.with_(output_dir=tmp_path), WEEK,
                                         log=lambda line: None).parent
    for chart in demo_report.summary["charts"]:
        assert (folder / chart["file"]).read_bytes() == (demo_report.folder / chart["file"]).read_bytes()


def test_a_chart_is_drawn_again_when_its_rows_change():
    from report.render.cache import ChartCache
    from report.render.sections import ChartSpec

    cache = ChartCache(Path("unused"))
    rows = [{"day": date(2025, 2, 24), "total_amount": 1.0}]
    spec = ChartSpec("daily", "btc", (rows,), {"previous_label": "x"}, "BTC per day", "alt", "takeaway")
    same = ChartSpec("daily", "btc", ([dict(rows[0])],), {"previous_label": "x"}, "BTC per day", "alt", "t")
    changed = ChartSpec("daily", "btc", ([{**rows[0], "total_amount": 2.0}],), {"previous_label": "x"},
                        "BTC per day", "alt", "takeaway")
    assert cache.key(spec) == cache.key(same) != cache.key(changed)


def test_summary_floats_do_not_carry_the_noise_of_parallel_sums():
    """DuckDB adds doubles in no fixed order: 156905958.34084958 one build, 156905958.3408496 the next."""
    assert summary_module.steady({"a": [156905958.34084958], "b": 0.1 + 0.2, "c": 3, "d": None}) == {
        "a": [156905958.341], "b": 0.3, "c": 3, "d": None}
    assert summary_module.steady(156905958.34084958) == summary_module.steady(156905958.3408496)


def test_settling_the_imported_modules_keeps_no_garbage_and_leaves_collection_on():
    """render_report moves what the imports built out of the cycle collector's view (report/render/report.py
    settle_imported_modules): garbage from before is collected first, and cycles made later still are."""
    import gc
    import weakref

    from report.render import report as report_module

    class Node:
        pass

    def cycle() -> weakref.ref:
        first, second = Node(), Node()
        first.other, second.other = second, first
        return weakref.ref(first)

    before = cycle()
    report_module.settle_imported_modules.__wrapped__()
    assert before() is None and gc.get_freeze_count() > 0 and gc.isenabled()
    after = cycle()
    gc.collect()
    assert after() is None


def test_the_joint_spike_table_lists_every_hour_the_email_counts():
    from report.templating import environment

    rows = [{"hour": f"2025-02-25T{hour:02d}:00:00Z", "assets": ["btc", "eth"], "long_share": 0.6,
             "total_amount": 1e6 * (9 - hour), "max_robust_z": 4.0} for hour in range(9)]
    overview = {"spike_hours": rows, "spike_hours_tested": 168, "hours_in_period": 168, "biggest_hour": None}
    tables = environment().get_template("_tables.html").module
    table = html5lib.parse(str(tables.joint_spikes(rows, overview, {"this": "this week"})),
                           namespaceHTMLElements=False)
    assert len(table.findall(".//tbody/tr")) == len(rows)
