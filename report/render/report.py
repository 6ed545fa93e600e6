"""Render one period's report from the warehouse into output/reports/<label>/ (docs/architecture.md §4).

The folder is built beside the target and swapped in with os.replace, so a crash never leaves half a
report and the previous one stays readable until the new one is complete.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from report.errors import RenderError
from report.periods import Period, isoformat_z
from report.render import charts, data, sections
from report.render.formatting import iso_z, period_words
from report.render.html import data_uri, render_page
from report.settings import Settings

ENDPOINT = "/v2/data/liquidation.v1/token/{asset}"
# Charts are CPU-bound matplotlib work: from a couple of assets on, a process pool is faster on 2 cores
# (bench/render_scale.py: 41 charts 12.9 s → 9.9 s); below this many it costs more to start than it saves.
PARALLEL_CHART_THRESHOLD = 12

PR_SET_PDEATHSIG = 1  # linux/prctl.h
Log = Callable[[str], None]


def render_report(settings: Settings, period: Period, *, pdf: bool = False, log: Log = print) -> Path:
    if pdf:
        _require_weasyprint()
    report_data = data.load(settings.warehouse_path, period)
    demo = is_demo(report_data, settings)
    words = period_words(period.hours)
    asset_sections = sections.build_sections(report_data, settings.assets, words)
    cross_chart = sections.cross_asset_chart(report_data, settings.assets, words)
    specs = [spec for section in asset_sections for spec in section.charts]
    if cross_chart:
        specs.append(cross_chart)
    log(f"Rendering {len(specs)} charts for {len(settings.assets)} asset(s), {period.label}"
        f"{' — DEMO DATA' if demo else ''}.")
    pngs = render_charts(specs)

    target = settings.reports_dir / period.label
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_leftovers(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{period.label}.rendering-", dir=target.parent))
    try:
        files = write_report_folder(staging, settings, period, report_data, asset_sections, cross_chart,
                                    specs, pngs, demo, pdf, log)
        write_manifest(staging, files)
        swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target / "report.html"


def _require_weasyprint() -> None:
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        raise RenderError("PDF output needs WeasyPrint: pip install 'liqreport[pdf]'") from None


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


def write_report_folder(folder: Path, settings: Settings, period: Period, report_data: data.ReportData,
                        asset_sections, cross_chart, specs, pngs, demo: bool, pdf: bool,
                        log: Log) -> list[Path]:
    files: list[Path] = []
    (folder / "charts").mkdir()
    chart_views = {}
    for spec, png in zip(specs, pngs, strict=True):
        (folder / spec.file).write_bytes(png)
        files.append(folder / spec.file)
        chart_views[spec.file] = {"file": spec.file, "title": spec.title, "alt": spec.alt,
                                  "takeaway": spec.takeaway, "uri": data_uri(png)}

    data_files = copy_exports(settings.output_dir / "data", folder / "data")
    files += data_files
    run_results = settings.warehouse_path.parent / "run_results.json"
    if run_results.is_file():
        shutil.copyfile(run_results, folder / "run_results.json")
        files.append(folder / "run_results.json")

    generated_at = datetime.now(UTC)
    summary = build_summary(settings, period, report_data, specs, demo, generated_at,
                            html="report.html", pdf="report.pdf" if pdf else None,
                            data_files=[path.relative_to(folder).as_posix() for path in data_files])
    context = page_context(settings, period, report_data, asset_sections, cross_chart, chart_views, summary)
    html_path = folder / "report.html"
    html_path.write_text(render_page("report.html", context), encoding="utf-8")
    files.append(html_path)
    if pdf:
        from report.render.pdf import write_pdf

        files.append(write_pdf(html_path, folder / "report.pdf"))
        log(f"PDF: {(folder / 'report.pdf').stat().st_size / 1e6:.1f} MB")
    summary_path = folder / "summary.json"
    summary_path.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    files.append(summary_path)
    return files


def copy_exports(source: Path, destination: Path) -> list[Path]:
    if not source.is_dir():
        return []
    destination.mkdir()
    copied = []
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix in (".csv", ".parquet"):
            shutil.copyfile(path, destination / path.name)
            copied.append(destination / path.name)
    return copied


def source_url(settings: Settings, demo: bool) -> str:
    """The endpoint the data came from; demo data names the endpoint the simulator stands in for."""
    url = settings.api_root + ENDPOINT
    return f"built-in simulator of {url}" if demo and settings.base_url is None else url


def build_summary(settings, period, report_data, specs, demo, generated_at, *, html, pdf, data_files) -> dict:
    """summary.json: the contract with delivery (docs/architecture.md §4)."""
    assets = [asset_summary(report_data, asset, period) for asset in settings.assets]
    quality = [row for row in report_data.rows("rpt_data_quality") if row["asset"] in settings.assets]
    as_of = [row["data_as_of"] for row in quality if row["data_as_of"] is not None]
    files = {"html": html, "data": data_files}
    if pdf:
        files["pdf"] = pdf
    return {
        "period": {"label": period.label, "start": isoformat_z(period.start), "end": isoformat_z(period.end)},
        "generated_at": isoformat_z(generated_at),
        "data_as_of": iso_z(max(as_of)) if as_of else None,
        "demo": demo,
        "source": source_url(settings, demo),
        "totals": {key: sum(asset[key] for asset in assets)
                   for key in ("total_amount", "total_trades", "long_amount", "short_amount")},
        "assets": assets,
        "charts": [{"file": spec.file, "asset": spec.asset, "title": spec.title, "alt": spec.alt,
                    "takeaway": spec.takeaway} for spec in specs],
        "data_tests": report_data.data_tests,
        "files": files,
    }


def asset_summary(report_data: data.ReportData, asset: str, period: Period) -> dict:
    row = report_data.one("rpt_weekly_summary", asset) or {}
    biggest_day = row.get("biggest_day")
    biggest_hour = row.get("biggest_hour")
    return {
        "asset": asset,
        "total_amount": float(row.get("total_amount") or 0.0),
        "total_trades": int(row.get("total_trades") or 0),
        "long_amount": float(row.get("long_amount") or 0.0),
        "short_amount": float(row.get("short_amount") or 0.0),
        "long_share": row.get("long_share"),
        "change_vs_last_week": row.get("change_vs_last_week"),
        "change_vs_4w_avg": row.get("change_vs_4w_avg"),
        "biggest_day": {"day": biggest_day.isoformat(), "total_amount": row["biggest_day_amount"]}
        if biggest_day else None,
        "biggest_hour": {"hour": iso_z(biggest_hour), "total_amount": row["biggest_hour_amount"]}
        if biggest_hour else None,
        "dominant_exchange": row.get("dominant_exchange"),
        "hours_covered": int(row.get("hours_covered") or 0),
        "hours_in_period": int(row.get("hours_in_period") or period.hours),
    }


def page_context(settings, period, report_data, asset_sections, cross_chart, chart_views, summary) -> dict:
    cross_rows = [row for row in report_data.rows("rpt_cross_asset") if row["asset"] in settings.assets]
    quality = [report_data.one("rpt_data_quality", asset) for asset in settings.assets]
    return {
        "overall_change": overall_change(cross_rows, report_data),
        "words": period_words(period.hours),
        "summary": summary,
        "demo": summary["demo"],
        "period": period,
        "assets": settings.assets,
        "sections": asset_sections,
        "charts": chart_views,
        "cross_chart": chart_views[cross_chart.file] if cross_chart else None,
        "cross_rows": cross_rows,
        "quality": [row for row in quality if row is not None],
        "missing_assets": [asset for asset, row in zip(settings.assets, quality, strict=True) if row is None],
        "data_tests": summary["data_tests"],
        "source_url": summary["source"],
        "generated_at": summary["generated_at"],
        "data_as_of": summary["data_as_of"],
        "data_as_of_text": readable_time(summary["data_as_of"]),
    }


def overall_change(cross_rows: list[dict], report_data: data.ReportData) -> dict | None:
    """All assets vs last week, only when every asset with liquidations has a fully covered last week."""
    bases = [report_data.one("rpt_weekly_summary", row["asset"]) for row in cross_rows if row["total_amount"]]
    if not bases or any(row["previous_total_amount"] is None for row in bases):
        return None
    previous = sum(row["previous_total_amount"] for row in bases)
    current = sum(row["total_amount"] for row in bases)
    return {"change": current / previous - 1 if previous else None, "previous_total_amount": previous}


def readable_time(iso: str | None) -> str:
    """'2025-03-03T09:12:44Z' → '2025-03-03 09:12 UTC'."""
    return f"{iso[:10]} {iso[11:16]} UTC" if iso else "n/a"


def write_manifest(folder: Path, files: list[Path]) -> Path:
    """Written last: every artifact with its size and sha256, so a reader can verify the folder."""
    entries = []
    for path in sorted(files):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append({"file": path.relative_to(folder).as_posix(), "bytes": path.stat().st_size,
                        "sha256": digest})
    manifest = {"manifest_version": 1, "files": entries}
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def sweep_leftovers(target: Path, older_than_s: float = 3600) -> None:
    """Remove half-built or retired folders a killed render left beside the target (not a running one's)."""
    cutoff = time.time() - older_than_s
    for pattern in (f".{target.name}.rendering-*", f".{target.name}.previous-*"):
        for leftover in target.parent.glob(pattern):
            if leftover.is_dir() and leftover.stat().st_mtime < cutoff:
                shutil.rmtree(leftover, ignore_errors=True)


def swap_in(staging: Path, target: Path) -> None:
    """Rename the old folder aside, the new one into place, then drop the old one."""
    os.chmod(staging, 0o755)
    retired = None
    if target.exists():
        stamp = f"{os.getpid()}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
        retired = target.with_name(f".{target.name}.previous-{stamp}")
        os.replace(target, retired)
    os.replace(staging, target)
    descriptor = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if retired is not None:
        shutil.rmtree(retired, ignore_errors=True)
