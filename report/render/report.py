"""Render one period's report from the warehouse into output/reports/<label>/ (docs/architecture.md §4).

The folder is built beside the target and swapped in by rename (render/folder.py), so a crash never leaves
half a report and the previous one stays readable until the new one is complete.
"""

from __future__ import annotations

import base64
import ctypes
import gc
import json
import os
import shutil
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from report.files import storage_errors
from report.formatting import PeriodWords, period_dates, period_words
from report.periods import Period
from report.render import charts, data, sections, summary
from report.render.cache import CACHE_DIR, ChartCache, Drawn
from report.render.folder import staged, write_file
from report.render.pdf import require_weasyprint
from report.settings import SQL_DIR, Settings
from report.templating import render

# Charts are CPU-bound matplotlib work (about 30 ms each). A pool of forked workers shortens the wall time on
# 2+ cores only for large reports and costs a little CPU (the 5-asset demo: 1.2 CPU-s either way, 10 % less
# wall with the pool), so it starts from 40 charts (8 assets).
PARALLEL_CHART_THRESHOLD = 40
PR_SET_PDEATHSIG = 1  # linux/prctl.h

Log = Callable[[str], None]


@dataclass
class Report:
    """Everything one report shows, gathered from the marts before anything is written."""

    settings: Settings
    period: Period
    data: data.ReportData
    words: PeriodWords
    demo: bool
    overview: dict
    overview_charts: list[sections.ChartSpec]
    sections: list[sections.AssetSection]

    @property
    def charts(self) -> list[sections.ChartSpec]:
        return self.overview_charts + [spec for section in self.sections for spec in section.charts.values()]

    @property
    def order(self) -> list[str]:
        return [section.asset for section in self.sections]


def render_report(settings: Settings, period: Period, *, pdf: bool = False, log: Log = print) -> Path:
    if pdf:
        require_weasyprint()
    settle_imported_modules()
    report = gather(settings, period)
    log(f"Rendering {len(report.charts)} charts for {len(settings.assets)} asset(s), {period.label}"
        f"{' — DEMO DATA' if report.demo else ''}.")
    cache = ChartCache(settings.output_dir / CACHE_DIR / period.label)
    drawn = render_charts(report.charts, cache)
    target = settings.reports_dir / period.label
    with staged(target) as folder:
        files = write_charts(folder, drawn) + copy_build_outputs(folder, settings)
        files += write_documents(folder, report, drawn, files, pdf, log)
        summary.write_manifest(folder, files)  # last: its presence says the folder is complete
    return target / "report.html"


@cache
def settle_imported_modules() -> None:
    """Once a process: what the imports built (matplotlib, WeasyPrint and the C declarations its cffi parsed,
    DuckDB, Jinja: ~110,000 objects that live until the process ends) leaves the cycle collector's view. The
    render's own garbage is still collected, but no collection walks those objects again, during the
    render or at exit (~0.3-0.5 CPU-s of a 5-asset render, a tenth). Collected first, so nothing already
    unreachable is kept."""
    gc.collect()
    gc.freeze()


def gather(settings: Settings, period: Period) -> Report:
    report_data = data.load(settings.warehouse_path, period, settings.assets)
    words = period_words(period.hours)
    overview = summary.steady(summary.overview_summary(report_data, period))
    return Report(settings, period, report_data, words, is_demo(report_data, settings), overview,
                  sections.overview_charts(report_data, overview, words, settings.assets),
                  sections.build_sections(report_data, settings.assets, words))


def is_demo(report_data: data.ReportData, settings: Settings) -> bool:
    """Demo when any landed window came from the simulator; settings decide only when nothing was landed."""
    quality = [row for row in report_data.rows("rpt_data_quality") if row["asset"] in settings.assets]
    if any(row["complete_windows"] for row in quality):
        return any(row["uses_simulator"] for row in quality)
    return settings.demo


def render_charts(specs: list[sections.ChartSpec], cache: ChartCache | None = None) -> list[Drawn]:
    """Every chart, from the cache when the same chart (same rows, same code) was drawn before."""
    cached = {spec.name: cache.get(spec) for spec in specs} if cache else {}
    todo = [spec for spec in specs if cached.get(spec.name) is None]
    jobs = [(spec.kind, spec.args, spec.kwargs, spec.name, spec.email) for spec in todo]
    parallel = sys.platform.startswith("linux") and (os.cpu_count() or 1) >= 2
    if len(jobs) < PARALLEL_CHART_THRESHOLD or not parallel:
        results = [charts.render(*job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1), initializer=_die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            results = list(pool.map(charts.render, *zip(*jobs, strict=True), chunksize=4))
    for spec, (svg, png) in zip(todo, results, strict=True):
        cached[spec.name] = Drawn(spec, svg, png)
        if cache:
            cache.put(cached[spec.name])
    if cache:
        cache.keep_only(specs)
    return [cached[spec.name] for spec in specs]


def _die_with_parent(parent_pid: int) -> None:
    """A killed render must not leave chart workers behind: orphans would hold its stderr pipe open and
    block whoever waits for the run's output (a scheduler, the process-fault tests)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def write_charts(folder: Path, drawn: list[Drawn]) -> list[Path]:
    """charts/<name>.svg for every chart (a standalone SVG file), charts/<name>.png for the email's."""
    (folder / "charts").mkdir()
    written = []
    for chart in drawn:
        svg = folder / chart.spec.file
        write_file(svg, standalone_svg(chart.svg))
        written.append(svg)
        if chart.png is not None:
            png = folder / chart.spec.png_file
            write_file(png, chart.png)
            written.append(png)
    return written


def standalone_svg(markup: str) -> str:
    return markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1) if "xmlns=" not in markup \
        else markup


def copy_build_outputs(folder: Path, settings: Settings) -> list[Path]:
    """The CSV/Parquet exports, their data dictionary and run_results.json the build wrote, so the folder
    stands on its own."""
    copied = []
    exports = settings.output_dir / "data"
    if exports.is_dir():
        (folder / "data").mkdir()
        for path in sorted(exports.iterdir()):
            if path.is_file() and path.suffix in (".csv", ".parquet", ".md"):
                with storage_errors(folder / "data" / path.name):
                    copied.append(Path(shutil.copyfile(path, folder / "data" / path.name)))
    run_results = settings.warehouse_path.parent / "run_results.json"
    if run_results.is_file():
        published = folder / "run_results.json"
        write_file(published, publishable_run_results(run_results.read_text(encoding="utf-8")))
        copied.append(published)
    return copied


def publishable_run_results(text: str) -> str:
    """The build's run_results.json with each model and test named by its project path
    ('sql/reports/rpt_overview.sql'): the folder is published as it is, and the build machine's paths
    tell a reader nothing but where the job ran."""
    document = json.loads(text)
    for entry in [*document.get("models", []), *document.get("tests", [])]:
        path = Path(entry.get("path") or "")
        if path.is_absolute():
            entry["path"] = (Path(SQL_DIR.name) / path.relative_to(SQL_DIR)).as_posix() \
                if path.is_relative_to(SQL_DIR) else path.name
    return json.dumps(document, indent=2) + "\n"


def write_documents(folder: Path, report: Report, drawn: list[Drawn], written: list[Path], pdf: bool,
                    log: Log) -> list[Path]:
    files = {"html": "report.html", "data": [path.relative_to(folder).as_posix() for path in written
                                             if path.parent.name == "data"]}
    if pdf:
        files["pdf"] = "report.pdf"
    report_summary = summary.build_summary(report.settings, report.period, report.data, report.overview,
                                           report.charts, report.order, demo=report.demo,
                                           generated_at=datetime.now(UTC), files=files)
    html_path = folder / "report.html"
    write_file(html_path, render("report.html", page_context(report, drawn, report_summary)))
    documents = [html_path]
    if pdf:
        from report.render.pdf import write_pdf

        # the same page, each chart an SVG image: the PDF engine then styles the page's own elements only,
        # not every path and label of 27 charts (a third of its time)
        printed = render("report.html", page_context(report, drawn, report_summary, images=True))
        with storage_errors(folder / "report.pdf"):
            documents.append(write_pdf(printed, folder / "report.pdf"))
        log(f"PDF: {documents[-1].stat().st_size / 1e6:.1f} MB")
    documents.append(summary.write_json(folder / "summary.json", report_summary))
    return documents


def chart_view(chart: Drawn, image: bool = False) -> dict:
    spec = chart.spec
    uri = "data:image/svg+xml;base64," + base64.b64encode(chart.svg.encode()).decode("ascii") if image else ""
    # the template marks `svg` safe: it is our own matplotlib output (every text in it XML-escaped)
    return {"name": spec.name, "kind": spec.kind, "title": spec.title, "alt": spec.alt,
            "takeaway": spec.takeaway, "svg": chart.svg, "image_uri": uri}


def page_context(report: Report, drawn: list[Drawn], report_summary: dict, images: bool = False) -> dict:
    chart_views = {chart.spec.name: chart_view(chart, images) for chart in drawn}
    quality = {row["asset"]: row for row in report.data.rows("rpt_data_quality")}
    prices = {row["asset"]: row for row in report.data.rows("rpt_price_cross_asset")}
    price_rows = [prices[asset] for asset in report.order if asset in prices]
    return {
        "summary": report_summary,
        "overview": report.overview,
        "demo": report.demo,
        "period": report.period,
        "dates": period_dates(report.period.start, report.period.end),
        "words": report.words,
        "style": charts.STYLE,
        "assets": report.settings.assets,
        "sections": report.sections,
        "charts": chart_views,
        "overview_charts": [chart_views[spec.name] for spec in report.overview_charts],
        "market_name": sections.market_name(report.settings.assets),
        "cross_rows": report.data.rows("rpt_cross_asset"),
        "price_rows": price_rows,
        "price_by_asset": prices,
        "price_on": any(row["price_status"] != "off" for row in price_rows),
        "price_ranked": report.data.rows("rpt_price_cross_asset"),
        "spike_hours": report.data.rows("rpt_cross_asset_spikes"),
        "quality": [quality[asset] for asset in report.order if asset in quality],
        "missing_assets": [asset for asset in report.order if asset not in quality],
        "data_tests": report_summary["data_tests"],
        "source_url": report_summary["source"],
        "generated_at": report_summary["generated_at"],
        "data_as_of": report_summary["data_as_of"],
    }
