"""Render time and output sizes for 5 and 20 assets, charts in one process vs a process pool.

    python -m bench.render_scale                 5 and 20 assets, with the PDF
    python -m bench.render_scale --assets 5      one size only

The landed data is kept per size under bench/results/render_scale/ (git-ignored) and the warehouse rebuilt;
only `render_report` is timed, as `liqreport render` would run it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from report import pipeline
from report.periods import iso_week
from report.render import report as report_module
from report.settings import DEMO_ASSETS, Settings
from report.simulator import DEMO_API_KEY, running_simulator

WEEK = iso_week("2025-W09")
RESULTS = Path(__file__).resolve().parent / "results" / "render_scale"
SIMULATOR_NOW = datetime(2025, 3, 31, tzinfo=UTC)


def assets_for(count: int) -> tuple[str, ...]:
    extra = tuple(f"tok{number:02d}" for number in range(count - len(DEMO_ASSETS)))
    return (DEMO_ASSETS + extra)[:count]


def prepared(count: int, log) -> Settings:
    output = RESULTS / f"assets-{count}"
    with running_simulator(seed=7, now=SIMULATOR_NOW) as simulator:
        settings = Settings(output_dir=output, assets=assets_for(count), base_url=simulator.base_url,
                            api_key=DEMO_API_KEY)
        log(f"landing (once) and building {count} assets …")
        pipeline.fetch(settings, WEEK, log=lambda line: None)  # landed, settled windows are skipped
    pipeline.build(settings, WEEK, log=lambda line: None)  # always: the marts may have changed
    return settings


def timed_render(settings: Settings, *, parallel: bool, pdf: bool) -> float:
    report_module.PARALLEL_CHART_THRESHOLD = 1 if parallel else 10**9
    started = time.perf_counter()
    report_module.render_report(settings, WEEK, pdf=pdf, log=lambda line: None)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", default="5,20", help="comma-separated asset counts (default 5,20)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per variant; the best is reported")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    default_threshold = report_module.PARALLEL_CHART_THRESHOLD
    print("| assets | charts | HTML, 1 process | HTML, process pool | HTML+PDF (default) | report.html "
          "| report.pdf |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for count in (int(part) for part in args.assets.split(",")):
        settings = prepared(count, log)
        sequential = min(timed_render(settings, parallel=False, pdf=False) for _ in range(args.repeat))
        pooled = min(timed_render(settings, parallel=True, pdf=False) for _ in range(args.repeat))
        report_module.PARALLEL_CHART_THRESHOLD = default_threshold
        started = time.perf_counter()
        report_module.render_report(settings, WEEK, pdf=True, log=lambda line: None)
        with_pdf = time.perf_counter() - started
        folder = settings.reports_dir / WEEK.label
        charts = len(list((folder / "charts").glob("*.png")))
        html_mb = (folder / "report.html").stat().st_size / 1e6
        pdf_mb = (folder / "report.pdf").stat().st_size / 1e6
        print(f"| {count} | {charts} | {sequential:.1f} s | {pooled:.1f} s | {with_pdf:.1f} s | "
              f"{html_mb:.1f} MB | {pdf_mb:.1f} MB |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
