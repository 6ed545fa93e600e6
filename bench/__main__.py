"""`python -m bench` (`make bench`): run the scenarios, print the table, write it into bench/README.md.

    python -m bench                  the full run (~15 min on 2 cores; the landed data sets are cached)
    python -m bench --quick          every scenario, much smaller (to try it out; README untouched)
    python -m bench --only build --profile    one scenario, with a cProfile of liqreport's side
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.scenarios import FULL, QUICK, RESULTS_DIR, SCENARIOS

README = Path(__file__).resolve().parent / "README.md"
TABLE_START, TABLE_END = "<!-- results:start -->", "<!-- results:end -->"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def code_version() -> str:
    """The commit measured, and any uncommitted product files (the checkout is shared while people work)."""
    root = Path(__file__).resolve().parent.parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    status = subprocess.run(["git", "status", "--porcelain", "--", "report", "sql", "templates"], cwd=root,
                            capture_output=True, text=True).stdout.splitlines()
    dirty = [line[3:] for line in status if line[:2].strip()]
    return f"commit {commit}" + (f" plus uncommitted changes to {', '.join(dirty)}" if dirty else "")


def machine() -> dict:
    import duckdb
    import pandas

    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory_gb": round(memory_kb / 2**20, 1),
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pandas.__version__,
            "os": platform.platform(), "load_average": os.getloadavg()}


def _number(value, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:g} {unit}"


def _cpu(seconds) -> str:
    return "" if seconds is None else f" <sub>(CPU {seconds:.1f} s)</sub>"


def _mb(value) -> str:
    return "–" if value is None else f"{value:.0f} MB"


def table(rows: list[dict]) -> str:
    lines = ["| scenario | liqreport | baseline | ratio | peak RSS liqreport | peak RSS baseline "
             "| target | met? |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ratio = "–" if row["ratio"] is None else f"{row['ratio']:.2f}×"
        met = {True: "yes", False: "**no**", None: "–"}[row["met"]]
        scenario = row["scenario"] + (f" <br><sub>{row['notes']}</sub>" if row["notes"] else "")
        ours = _number(row["liqreport"], row["unit"]) + _cpu(row["cpu_liqreport_s"])
        theirs = _number(row["baseline"], row["unit"]) + _cpu(row["cpu_baseline_s"])
        lines.append(f"| {scenario} | {ours} | {theirs} | {ratio} | "
                     f"{_mb(row['rss_liqreport_mb'])} | "
                     f"{_mb(row['rss_baseline_mb'])} | {row['target'] or '–'} | {met} |")
    return "\n".join(lines)


def results_section(rows: list[dict], info: dict, started: datetime, seconds: float, command: str,
                    sizes) -> str:
    return (f"Run {started:%Y-%m-%d %H:%M} UTC on {info['code']}, in {seconds / 60:.1f} min with `{command}` "
            f"on {info['nproc']} "
            f"CPU(s) ({info['cpu']}), {info['memory_gb']} GB RAM, Python {info['python']}, DuckDB "
            f"{info['duckdb']}, pandas {info['pandas']} ({info['os']}); load average at the end "
            f"{' / '.join(f'{load:.1f}' for load in info['load_average'])} (1/5/15 min; other work on "
            "the machine slows both sides of a row alike, so trust ratios over absolute times).\n\n"
            f"CPU-bound sides (build, bare scan, render) ran {sizes.repeat}× each; the fastest run counts, "
            "with the largest peak RSS seen. Ratio: baseline ÷ liqreport (speed-up) for liqreport-vs-"
            "baseline rows; liqreport ÷ bound for the rows against a bound.\n\n" + table(rows) + "\n")


def write_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    README.write_text(pattern.sub(lambda _: f"{TABLE_START}\n{section}{TABLE_END}", text), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="much smaller sizes; leaves README.md alone")
    parser.add_argument("--only", help=f"comma-separated scenarios out of {','.join(SCENARIOS)}")
    parser.add_argument("--profile", action="store_true", help="cProfile liqreport's build side")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    sizes = QUICK if args.quick else FULL
    work_dir = RESULTS_DIR / ("quick" if args.quick else "full")
    work_dir.mkdir(parents=True, exist_ok=True)

    code = code_version()  # before the run: what was measured
    started_at, started = datetime.now(UTC), time.perf_counter()
    rows: list[dict] = []
    failures = []
    for name in names:
        _log(f"== scenario {name} ==")
        scenario_started = time.perf_counter()
        try:
            if name == "build":
                rows.extend(SCENARIOS[name](sizes, work_dir, _log, profile=args.profile))
            else:
                rows.extend(SCENARIOS[name](sizes, work_dir, _log))
        except Exception as exc:  # a stage that has not landed yet must not hide the other scenarios
            failures.append(f"{name}: {exc}")
            _log(f"scenario {name} FAILED: {exc}")
        _log(f"== {name} took {time.perf_counter() - scenario_started:.0f}s ==")
    seconds = time.perf_counter() - started
    info = {**machine(), "code": code}
    given = " ".join(argv if argv is not None else sys.argv[1:])
    command = "make bench" if not given else f"python -m bench {given}"
    section = results_section(rows, info, started_at, seconds, command, sizes)
    if failures:
        section += "\nFailed scenarios:\n" + "".join(f"- {failure.splitlines()[0]}\n" for failure in failures)
    print(section)
    (work_dir / "results.json").write_text(json.dumps({"machine": info, "rows": rows, "failures": failures,
                                                       "seconds": seconds}, indent=2, default=str))
    if not args.quick and not args.only:
        write_readme(section)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
