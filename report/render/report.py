"""Render one period's report from the warehouse into output/reports/<label>/ (docs/architecture.md §4).

The folder is built beside the target and swapped in by rename (render/folder.py), so a crash never leaves
half a report and the previous one stays readable until the new one is complete.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from report.errors import RenderError
from report.formatting import PeriodWords, period_words
from report.periods import Period
from report.render import charts, data, sections, summary
from report.render.folder import staged
from report.render.html import data_uri, render_page
from report.settings import Settings

# Charts are CPU-bound matplotlib work: from a couple of assets on, a process pool is faster on 2 cores
# (bench/render_scale.py: 41 charts 12.9 s → 9.9 s); below this many it costs more to start than it saves.
PARALLEL_CHART_THRESHOLD = 12
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
    sections: list[sections.AssetSection]
    cross_chart: sections.ChartSpec | None

    @property
    def charts(self) -> list[sections.ChartSpec]:
        specs = [spec for section in self.sections for spec in section.charts]
        return specs + ([self.cross_chart] if self.cross_chart else [])


def render_report(settings: Settings, period: Period, *, pdf: bool = False, log: Log = print) -> Path:
    if pdf:
        _require_weasyprint()
    report = gather(settings, period)
    log(f"Rendering {len(report.charts)} charts for {len(settings.assets)} asset(s), {period.label}"
        f"{' — DEMO DATA' if report.demo else ''}.")
    pngs = render_charts(report.charts)
    target = settings.reports_dir / period.label
    with staged(target) as folder:
        files = write_charts(folder, report.charts, pngs) + copy_build_outputs(folder, settings)
        files += write_documents(folder, report, pngs, files, pdf, log)
        summary.write_manifest(folder, files)  # last: its presence says the folder is complete
    return target / "report.html"


def _require_weasyprint() -> None:
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        raise RenderError("PDF output needs WeasyPrint: pip install 'liqreport[pdf]'") from None


def gather(settings: Settings, period: Period) -> Report:
    report_data = data.load(settings.warehouse_path, period)
    words = period_words(period.hours)
    return Report(settings, period, report_data, words, is_demo(report_data, settings),
                  sections.build_sections(report_data, settings.assets, words),
                  sections.cross_asset_chart(report_data, settings.assets, words))


def is_demo(report_data: data.ReportData, settings: Settings) -> bool:
    """Demo when any landed window came from the simulator; settings decide only when nothing was landed."""
    quality = [row for row in report_data.rows("rpt_data_quality") if row["asset"] in settings.assets]
    if any(row["complete_windows"] for row in quality):
        return any(row["uses_simulator"] for row in quality)
    return settings.demo


def render_charts(specs: list[sections.ChartSpec]) -> list[bytes]:
    jobs = [(spec.kind, spec.args, spec.kwargs) for spec in specs]
    parallel = sys.platform.startswith("linux") and (os.cpu_count() or 1) >= 2
    if len(jobs) < PARALLEL_CHART_THRESHOLD or not parallel:
        return [charts.render_png(*job) for job in jobs]
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1), initializer=_die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        return list(pool.map(charts.render_png, *zip(*jobs, strict=True), chunksize=4))


def _die_with_parent(parent_pid: int) -> None:
    """A killed render must not leave chart workers behind: orphans would hold its stderr pipe open and
    block whoever waits for the run's output (a scheduler, the process-fault tests)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def write_charts(folder: Path, specs: list[sections.ChartSpec], pngs: list[bytes]) -> list[Path]:
    (folder / "charts").mkdir()
    for spec, png in zip(specs, pngs, strict=True):
        (folder / spec.file).write_bytes(png)
    return [folder / spec.file for spec in specs]


def copy_build_outputs(folder: Path, settings: Settings) -> list[Path]:
    """The CSV/Parquet exports and run_results.json the build wrote, so the folder stands on its own."""
    copied = []
    exports = settings.output_dir / "data"
    if exports.is_dir():
        (folder / "data").mkdir()
        for path in sorted(exports.iterdir()):
            if path.is_file() and path.suffix in (".csv", ".parquet"):
                copied.append(Path(shutil.copyfile(path, folder / "data" / path.name)))
    run_results = settings.warehouse_path.parent / "run_results.json"
    if run_results.is_file():
        copied.append(Path(shutil.copyfile(run_results, folder / "run_results.json")))
    return copied


def write_documents(folder: Path, report: Report, pngs: list[bytes], written: list[Path], pdf: bool,
                    log: Log) -> list[Path]:
    files = {"html": "report.html", "data": [path.relative_to(folder).as_posix() for path in written
                                             if path.parent.name == "data"]}
    if pdf:
        files["pdf"] = "report.pdf"
    report_summary = summary.build_summary(report.settings, report.period, report.data, report.charts,
                                           demo=report.demo, generated_at=datetime.now(UTC), files=files)
    html_path = folder / "report.html"
    html_path.write_text(render_page("report.html", page_context(report, pngs, report_summary)),
                         encoding="utf-8")
    documents = [html_path]
    if pdf:
        from report.render.pdf import write_pdf

        documents.append(write_pdf(html_path, folder / "report.pdf"))
        log(f"PDF: {documents[-1].stat().st_size / 1e6:.1f} MB")
    documents.append(summary.write_json(folder / "summary.json", report_summary))
    return documents


def page_context(report: Report, pngs: list[bytes], report_summary: dict) -> dict:
    assets = report.settings.assets
    chart_views = {spec.file: {"file": spec.file, "title": spec.title, "alt": spec.alt,
                               "takeaway": spec.takeaway, "uri": data_uri(png)}
                   for spec, png in zip(report.charts, pngs, strict=True)}
    cross_rows = [row for row in report.data.rows("rpt_cross_asset") if row["asset"] in assets]
    quality = [report.data.one("rpt_data_quality", asset) for asset in assets]
    return {
        "summary": report_summary,
        "demo": report.demo,
        "period": report.period,
        "words": report.words,
        "assets": assets,
        "sections": report.sections,
        "charts": chart_views,
        "cross_chart": chart_views[report.cross_chart.file] if report.cross_chart else None,
        "cross_rows": cross_rows,
        "overview": overview_figures(report, cross_rows),
        "quality": [row for row in quality if row is not None],
        "missing_assets": [asset for asset, row in zip(assets, quality, strict=True) if row is None],
        "data_tests": report_summary["data_tests"],
        "source_url": report_summary["source"],
        "generated_at": report_summary["generated_at"],
        "data_as_of": report_summary["data_as_of"],
        "data_as_of_text": readable_time(report_summary["data_as_of"]),
    }


def overview_figures(report: Report, cross_rows: list[dict]) -> dict:
    """The all-asset headline: changes only when every asset with liquidations has its base, peaks summed
    over the assets shown."""
    active = [report.data.one("rpt_weekly_summary", row["asset"])
              for row in cross_rows if row["total_amount"]]
    current = sum(row["total_amount"] for row in active)

    def change_against(base_key: str) -> tuple[float | None, float | None]:
        if not active or any(row[base_key] is None for row in active):
            return None, None
        base = sum(row[base_key] for row in active)
        return (current / base - 1 if base else None), base

    by_day: dict = {}
    by_hour: dict = {}
    for row in active:
        for day in report.data.rows("rpt_daily_ratio", row["asset"]):
            by_day[day["day"]] = by_day.get(day["day"], 0.0) + (day["total_amount"] or 0.0)
        for hour in report.data.rows("rpt_hourly_timeline", row["asset"]):
            by_hour[hour["hour"]] = by_hour.get(hour["hour"], 0.0) + (hour["total_amount"] or 0.0)
    peak_day = max(by_day, key=by_day.get) if any(by_day.values()) else None
    peak_hour = max(by_hour, key=by_hour.get) if any(by_hour.values()) else None
    change_last, previous = change_against("previous_total_amount")
    change_average, average = change_against("trailing_4w_average")
    return {"change_vs_last": change_last, "previous_total_amount": previous,
            "change_vs_average": change_average, "average_total_amount": average,
            "biggest_day": peak_day, "biggest_day_amount": by_day.get(peak_day),
            "biggest_hour": peak_hour, "biggest_hour_amount": by_hour.get(peak_hour)}


def readable_time(iso: str | None) -> str:
    """'2025-03-03T09:12:44Z' → '2025-03-03 09:12 UTC'."""
    return f"{iso[:10]} {iso[11:16]} UTC" if iso else "n/a"
