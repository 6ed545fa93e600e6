"""Render CPU of this tree against a baseline commit's renderer, side by side on the same landed data.

    python -m bench.render_scale --baseline /work/wt/baseline-32945fc          5 assets, HTML + PDF
    python -m bench.render_scale --baseline DIR --assets 20 --repeat 5

The baseline is a git worktree of the commit to compare with (e.g. `git worktree add ../baseline-32945fc
32945fc`) with its own venv (`make .venv/bin/.installed` there). The demo week is landed once from the
simulator; each tree then builds its own warehouse from that same landing zone with its own models (the
report marts differ), and only `liqreport render --pdf` is timed, as a whole process: user + system CPU of
the process and its chart workers, interleaved baseline/current so that a busy machine hits both alike.
This tree's renders are cold (its chart cache, output/.cache/charts, emptied before each); a last set of
warm renders shows what re-rendering the same week costs when no chart changed.
The median chart is timed in-process, chart by chart (CPU time of building the figure and writing what the
report embeds: PNG for the baseline, SVG — plus PNG for the email's — here). Last, this tree's cold render
is split by phase in process (imports, marts, charts, HTML, PDF layout, PDF drawing, the rest).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from report.periods import iso_week
from report.settings import DEMO_ASSETS
from report.simulator import DEMO_API_KEY, running_simulator

WEEK = iso_week("2025-W09")
RESULTS = Path(__file__).resolve().parent / "results" / "render_scale"
SIMULATOR_NOW = datetime(2025, 3, 31, tzinfo=UTC)
CURRENT = Path(__file__).resolve().parent.parent

# run inside each tree's venv: every chart of the report, one by one, CPU seconds each
CHART_TIMER = """
import json, sys, time
from pathlib import Path
from report.periods import iso_week
from report.render import charts, report
from report.settings import Settings
settings = Settings(output_dir=Path(sys.argv[1]), assets=tuple(sys.argv[3].split(",")))
gathered = report.gather(settings, iso_week(sys.argv[2]))
seconds = []
for spec in gathered.charts:
    started = time.process_time()
    if hasattr(charts, "render_png"):  # the baseline: one PNG a chart
        charts.render_png(spec.kind, spec.args, spec.kwargs)
    else:
        charts.render(spec.kind, spec.args, spec.kwargs, spec.name, spec.email)
    seconds.append(time.process_time() - started)
print(json.dumps(seconds))
"""

# run inside this tree's venv: where one cold render's CPU goes (imports, marts, charts, pages, PDF)
PHASE_TIMER = """
import json, shutil, sys, time
started = time.process_time()
import weasyprint, weasyprint.document
from report.render import charts, pdf, report
imported = time.process_time()
from pathlib import Path
from report.periods import iso_week
from report.settings import Settings
output = Path(sys.argv[1])
shutil.rmtree(output / ".cache", ignore_errors=True)
phases = {"imports (WeasyPrint, matplotlib, DuckDB, Jinja)": imported - started}
def timed(owner, name, phase):
    original = getattr(owner, name)
    def wrapper(*args, **kwargs):
        begun = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            phases[phase] = phases.get(phase, 0) + time.process_time() - begun
    setattr(owner, name, wrapper)
timed(report, "gather", "marts read (DuckDB) and sections")
timed(report, "render_charts", "charts (SVG, and PNG for the email)")
timed(report, "render", "HTML pages (Jinja, twice)")
timed(pdf, "layout", "PDF layout (WeasyPrint)")
timed(weasyprint.document.Document, "write_pdf", "PDF drawing and writing (WeasyPrint)")
begun = time.process_time()
report.render_report(Settings(output_dir=output, assets=tuple(sys.argv[3].split(","))), iso_week(sys.argv[2]),
                     pdf=True, log=lambda line: None)
phases["the rest (files, summary, manifest)"] = time.process_time() - begun - sum(
    value for key, value in phases.items() if not key.startswith("imports"))
print(json.dumps(phases))
"""


def assets_for(count: int) -> tuple[str, ...]:
    extra = tuple(f"tok{number:02d}" for number in range(count - len(DEMO_ASSETS)))
    return (DEMO_ASSETS + extra)[:count]


def land_with(tree: Path, name: str, assets: tuple[str, ...], log) -> Path:
    """The demo week landed by `tree`'s own fetcher (its landing layout: a baseline from before manifest v3
    cannot read a landing the current fetcher writes), from one simulator of this tree with the same seed
    and clock, so both trees render the same numbers' shape."""
    output = RESULTS / f"landing-{name}"
    if not (output / "landing").is_dir():
        with running_simulator(seed=7, now=SIMULATOR_NOW) as simulator:
            log(f"landing (once) {len(assets)} assets with {tree} …")
            subprocess.run([str(liqreport(tree)), "fetch", "--output-dir", str(output), "--week", WEEK.label,
                            "--assets", ",".join(assets)], check=True, capture_output=True,
                           env=quiet_env() | {"KAIKO_BASE_URL": simulator.base_url,
                                              "KAIKO_API_KEY": DEMO_API_KEY})
    return output / "landing"


def prepare(tree: Path, name: str, landing: Path, assets: tuple[str, ...], log) -> Path:
    """An output folder for `tree` holding its landing zone and the warehouse its models build."""
    output = RESULTS / name
    output.mkdir(parents=True, exist_ok=True)
    link = output / "landing"
    if link.is_symlink() and link.resolve() != landing.resolve():
        link.unlink()
    if not link.exists():
        link.symlink_to(landing.resolve(), target_is_directory=True)
    log(f"building {name} with {tree} …")
    subprocess.run([str(liqreport(tree)), "build", "--output-dir", str(output), "--week", WEEK.label,
                    "--assets", ",".join(assets)], check=True, capture_output=True, env=quiet_env())
    return output


def liqreport(tree: Path) -> Path:
    return tree / ".venv" / "bin" / "liqreport"


def quiet_env() -> dict:
    # no key: the renders must not reach any network; the simulator's data is already landed
    return {key: value for key, value in os.environ.items() if key != "KAIKO_API_KEY"}


def render_cpu(tree: Path, output: Path, assets: tuple[str, ...], *, cold: bool = True) -> float:
    """User + system CPU seconds of one `liqreport render --pdf`, its chart workers included."""
    if cold:
        shutil.rmtree(output / ".cache", ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([str(liqreport(tree)), "render", "--output-dir", str(output), "--week", WEEK.label,
                    "--assets", ",".join(assets), "--pdf"], check=True, capture_output=True, env=quiet_env())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def chart_seconds(tree: Path, output: Path, assets: tuple[str, ...]) -> list[float]:
    python = tree / ".venv" / "bin" / "python"
    done = subprocess.run([str(python), "-c", CHART_TIMER, str(output), WEEK.label, ",".join(assets)],
                          check=True, capture_output=True, text=True, cwd=tree, env=quiet_env())
    return json.loads(done.stdout.strip().splitlines()[-1])


def phase_seconds(output: Path, assets: tuple[str, ...]) -> dict[str, float]:
    python = CURRENT / ".venv" / "bin" / "python"
    done = subprocess.run([str(python), "-c", PHASE_TIMER, str(output), WEEK.label, ",".join(assets)],
                          check=True, capture_output=True, text=True, cwd=CURRENT, env=quiet_env())
    return json.loads(done.stdout.strip().splitlines()[-1])


def folder_facts(output: Path) -> dict:
    folder = output / "reports" / WEEK.label
    pdf = folder / "report.pdf"
    pages = None
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        pages = next((int(line.split()[1]) for line in info.splitlines() if line.startswith("Pages:")), None)
    summary = json.loads((folder / "summary.json").read_text())
    return {"charts": len(summary["charts"]), "pages": pages,
            "html_kb": (folder / "report.html").stat().st_size / 1000, "pdf_kb": pdf.stat().st_size / 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True,
                        help="a worktree of the baseline commit with its own .venv")
    parser.add_argument("--assets", type=int, default=5, help="number of assets (default 5, the demo)")
    parser.add_argument("--repeat", type=int, default=3, help="renders per tree, interleaved (median kept)")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if not liqreport(args.baseline).is_file():
        parser.error(f"{args.baseline} has no .venv/bin/liqreport: run `make .venv/bin/.installed` there")
    assets = assets_for(args.assets)
    trees = {"baseline": args.baseline.resolve(), "current": CURRENT}
    outputs = {name: prepare(tree, f"{name}-{args.assets}",
                             land_with(tree, f"{name}-{args.assets}", assets, log), assets, log)
               for name, tree in trees.items()}
    empty = [name for name, output in outputs.items() if not chart_seconds(trees[name], output, assets)]
    if empty:
        parser.error(f"{', '.join(empty)} drew no chart from its landing: the comparison would be empty")
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    for run in range(args.repeat):
        for name, tree in trees.items():
            cpu[name].append(render_cpu(tree, outputs[name], assets))
            log(f"render {run + 1}/{args.repeat} {name}: {cpu[name][-1]:.2f} CPU-s")
    warm = [render_cpu(CURRENT, outputs["current"], assets, cold=False) for _ in range(args.repeat)]
    charts = {name: chart_seconds(tree, outputs[name], assets) for name, tree in trees.items()}
    phases = [phase_seconds(outputs["current"], assets) for _ in range(args.repeat)]
    facts = {name: folder_facts(outputs[name]) for name in trees}
    median = {name: statistics.median(values) for name, values in cpu.items()}
    commit = subprocess.run(["git", "-C", str(args.baseline), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    print(f"Render of {WEEK.label}, {args.assets} assets, HTML + PDF; baseline {commit} vs this tree; "
          f"median of {args.repeat} interleaved runs")
    print("| renderer | render CPU-s (runs) | charts | median chart CPU-ms | PDF pages | report.html "
          "| report.pdf |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in trees:
        runs = ", ".join(f"{value:.2f}" for value in cpu[name])
        print(f"| {name} | {median[name]:.2f} ({runs}) | {facts[name]['charts']} | "
              f"{statistics.median(charts[name]) * 1000:.0f} | {facts[name]['pages']} | "
              f"{facts[name]['html_kb']:.0f} KB | {facts[name]['pdf_kb']:.0f} KB |")
    print(f"\nrender CPU ratio current / baseline: {median['current'] / median['baseline']:.2f} (cold); "
          f"re-rendering the same week with every chart cached: {statistics.median(warm):.2f} CPU-s, "
          f"ratio {statistics.median(warm) / median['baseline']:.2f}")
    print(f"\nwhere this tree's cold render goes, in process (CPU-s, median of {args.repeat}; the process "
          "start and argument parsing are outside):")
    for phase in phases[0]:
        print(f"- {phase}: {statistics.median(run[phase] for run in phases):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
