"""The benchmark scenarios: each side (liqreport, the pandas baseline, DuckDB's bare scan) runs in its own
child process, `python -m bench.scenarios SIDE '<json args>'`, which prints one JSON line: its seconds,
its peak RSS (VmHWM) and what it counted. The parent keeps the simulator and compares the sides.
"""

from __future__ import annotations

import json
import math
import re
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
BENCH_KEY = "bench"
OHLCV_MAX_PAGE_SIZE = 100_000  # Kaiko's documented maximum page_size of the OHLCV endpoint (KAIKO_FACTS.md)
# 50 asset codes: the demo's five, then other liquid perpetuals (the simulator derives unknown assets' data).
ASSETS = ("btc", "eth", "sol", "xrp", "doge", "ada", "avax", "link", "dot", "ltc", "bch", "trx", "near",
          "apt", "arb", "op", "sui", "ton", "uni", "atom", "fil", "etc", "inj", "sei", "tia", "wld", "pepe",
          "shib", "bnb", "aave", "mkr", "ldo", "crv", "rune", "ftm", "icp", "hbar", "xlm", "algo", "stx",
          "imx", "grt", "sand", "mana", "axs", "gala", "ens", "jup", "pyth", "ena")

Log = Callable[[str], None]
# The floor for the build: read every page, unnest hours and their exchanges, sum. (A benchmark's probe, so it
# stays here rather than in sql/, which holds only the product's models.)
FLOOR_SCAN = ("select count(*), sum(h.total_amount), sum(len(h.exchanges)), "
              "sum(list_sum([e.total_amount for e in h.exchanges])) "
              "from (select unnest(data) as h from read_json(?))")


@dataclass(frozen=True)
class Sizes:
    fetch_assets: int
    fetch_weeks: int
    fetch_latency_s: float
    build_assets: int
    build_weeks: int
    render_assets: int
    run_assets: tuple[str, ...] | None  # None = the demo's default assets
    repeat: int  # CPU-bound sides (build, scan, render) run this many times; the fastest counts


FULL = Sizes(fetch_assets=8, fetch_weeks=12, fetch_latency_s=0.15, build_assets=50, build_weeks=104,
             render_assets=20, run_assets=None, repeat=2)
QUICK = Sizes(fetch_assets=2, fetch_weeks=2, fetch_latency_s=0.15, build_assets=3, build_weeks=8,
              render_assets=3, run_assets=("btc", "eth"), repeat=1)

# Fixed weeks, so that reruns compare like with like (the simulator's data is deterministic per seed).
FETCH_LAST_WEEK = "2025-W20"


def weeks_ending(last_week: str, weeks: int):
    """(start, end, last period) of `weeks` ISO weeks ending with `last_week`."""
    from report.periods import iso_week

    period = iso_week(last_week)
    return period.end - timedelta(weeks=weeks), period.end, period


def last_complete_week_label(now: datetime | None = None) -> str:
    from report.periods import last_complete_week

    return last_complete_week(now or datetime.now(UTC)).label


def last_settled_week_label(now: datetime | None = None) -> str:
    """The last complete week whose windows have settled (settle_hours after its end): a second run of it must
    fetch nothing. Within a day of a week's end its windows are fetched again, by design."""
    from report.settings import Settings

    settle = timedelta(hours=Settings().settle_hours)
    return last_complete_week_label((now or datetime.now(UTC)) - settle)


def _stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- running a side in a child process -------------------------------------------------------------------

def peak_rss_mb() -> float:
    """This process's peak resident set size (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_side(name: str, args: dict, *, timeout_s: float = 1800) -> dict:
    """Run SIDES[name](args) in a fresh interpreter; its result, with `peak_rss_mb`, or RuntimeError."""
    command = [sys.executable, "-m", "bench.scenarios", name, json.dumps(args, default=str)]
    proc = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr.strip() or proc.stdout.strip() or "(no output)").splitlines()[-15:])
        raise RuntimeError(f"bench side {name} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def best_of(repeat: int, name: str, args: dict) -> dict:
    """The fastest of `repeat` runs of an idempotent side (others' work on the machine only adds time);
    its peak RSS is the largest seen."""
    results = [run_side(name, args) for _ in range(max(repeat, 1))]
    best = min(results, key=lambda result: result["seconds"])
    return {**best, "peak_rss_mb": max(result["peak_rss_mb"] for result in results), "runs": len(results)}


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished worker processes."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


class Stopwatch:
    """Wall seconds since start, and the CPU seconds spent meanwhile (others' work on the machine stretches
    the first far more than the second, so the CPU time is reported beside it)."""

    last: Stopwatch | None = None

    def __init__(self):
        self.wall, self.cpu_start, self.cpu = time.perf_counter(), cpu_seconds(), 0.0
        Stopwatch.last = self

    def seconds(self) -> float:
        self.cpu = cpu_seconds() - self.cpu_start
        return time.perf_counter() - self.wall


SIDES: dict[str, Callable[[dict], dict]] = {}


def side(function):
    SIDES[function.__name__] = function
    return function


def _settings(args: dict):
    from report.settings import Settings

    values = {"output_dir": Path(args["output_dir"]), "assets": tuple(args["assets"])}
    if args.get("base_url"):
        values.update(base_url=args["base_url"], api_key=BENCH_KEY)
    for name in ("concurrency", "max_requests_per_second"):
        if args.get(name):
            values[name] = args[name]
    # The landed bench sets are synthetic and start before the real endpoint's history (2025-01-08); the
    # baseline counts every landed hour, so liqreport must too for the numbers to be compared. The demo run
    # keeps the default: a run lands the history from history_start, and from 2000 that is 26 years.
    if not args.get("default_history"):
        values["history_start"] = datetime(2000, 1, 1)
    return Settings(**values)


def _period(args: dict):
    from report.periods import iso_week

    return iso_week(args["week"])


@side
def fetch_liqreport(args: dict) -> dict:
    from report.fetch.fetcher import fetch_range

    settings = _settings(args)
    start, end = datetime.fromisoformat(args["start"]), datetime.fromisoformat(args["end"])
    started = Stopwatch()
    fetch_range(settings, start, end, refresh=False, log=_stderr_log)
    return {"seconds": started.seconds(), "concurrency": settings.concurrency,
            "max_requests_per_second": settings.max_requests_per_second}


@side
def fetch_baseline(args: dict) -> dict:
    from bench.baseline import baseline_fetch

    start, end = datetime.fromisoformat(args["start"]), datetime.fromisoformat(args["end"])
    started = Stopwatch()
    rows = baseline_fetch(args["base_url"], BENCH_KEY, args["assets"], start, end)
    return {"seconds": started.seconds(), "rows": len(rows)}


@side
def build_liqreport(args: dict) -> dict:
    from report import pipeline

    settings = _settings(args)
    if not args.get("keep_warehouse"):  # a cold build; kept, the build is incremental
        for path in (settings.warehouse_path, settings.warehouse_path.with_name("warehouse.duckdb.wal")):
            path.unlink(missing_ok=True)
    profile = None
    if args.get("profile"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    started = Stopwatch()
    results = pipeline.build(settings, _period(args), log=_stderr_log)
    seconds = started.seconds()
    # the runner's own time (models + data tests, one transaction); the rest is the exports
    result = {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "models_s": results.elapsed_s}
    if profile is not None:
        profile.disable()
        profile.dump_stats(args["profile"])
    return result


@side
def build_baseline(args: dict) -> dict:
    from bench.baseline import baseline_build, compare_with_exports

    started = Stopwatch()
    frames = baseline_build(Path(args["landing_dir"]))
    seconds = started.seconds()
    rss = peak_rss_mb()
    problems = compare_with_exports(frames, Path(args["data_dir"])) if args.get("data_dir") else None
    return {"seconds": seconds, "peak_rss_mb": rss, "problems": problems,
            "rows": {name: len(frame) for name, frame in frames.items()}}


# the page files of both landing layouts (docs/architecture.md §2): version 3 fetches land a range of weeks
# in one folder, versions 1–2 one folder a week under window=…
PAGE_PATTERNS = ("liquidation_token/asset=*/interval=*/fetch=*/page-*.json",
                 "liquidation_token/asset=*/interval=*/window=*/fetch=*/page-*.json")


def landed_page_globs(landing_dir: Path) -> list[str]:
    """The layouts' page globs that match a file here (DuckDB's reader fails on a glob matching nothing)."""
    return [f"{landing_dir.as_posix()}/{pattern}" for pattern in PAGE_PATTERNS
            if next(landing_dir.glob(pattern), None) is not None]


@side
def build_floor(args: dict) -> dict:
    """DuckDB's bare scan of the same pages: read, unnest hours and exchanges, sum. Nothing else."""
    import duckdb

    globs = landed_page_globs(Path(args["landing_dir"]))
    started = Stopwatch()
    with duckdb.connect() as connection:
        totals = connection.execute(FLOOR_SCAN, [globs]).fetchone()
    return {"seconds": started.seconds(), "peak_rss_mb": peak_rss_mb(),
            "hours": totals[0], "total_amount": totals[1], "exchange_rows": totals[2]}


@side
def render_liqreport(args: dict) -> dict:
    from report import pipeline

    started = Stopwatch()
    path = pipeline.render(_settings(args), _period(args), log=_stderr_log)
    seconds = started.seconds()
    summary = json.loads((Path(path).parent / "summary.json").read_text())
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "charts": len(summary.get("charts", []))}


@side
def render_baseline(args: dict) -> dict:
    from bench.baseline import baseline_build, baseline_render

    frames = baseline_build(Path(args["landing_dir"]))
    period = _period(args)
    started = Stopwatch()
    charts = baseline_render(frames, period.start, period.end, Path(args["out_dir"]))
    return {"seconds": started.seconds(), "peak_rss_mb": peak_rss_mb(), "charts": charts}


@side
def run_liqreport(args: dict) -> dict:
    """The whole weekly `run` on the demo (no key: in-process simulator), steps timed from their log lines."""
    from report import pipeline

    marks: list[tuple[float, str]] = []

    def log(message: str) -> None:
        marks.append((time.perf_counter(), message))

    settings = _settings(args)
    started = Stopwatch()
    pipeline.run(settings, _period(args), log=log)
    seconds = started.seconds()
    steps, opened = {}, {}
    for moment, message in marks:
        # pipeline.run logs "[fetch] …" and "[fetch] done in 1.2s"; the stages' own "[fetch] …" lines differ.
        started_step = re.fullmatch(r"\[(\w+)\] …", message)
        finished_step = re.match(r"\[(\w+)\] done in ", message)
        if started_step:
            opened[started_step[1]] = moment
        elif finished_step and finished_step[1] in opened:
            steps[finished_step[1]] = moment - opened[finished_step[1]]
    to_fetch = [re.search(r"(\d+) to fetch", message) for _, message in marks]
    windows_to_fetch = sum(int(match[1]) for match in to_fetch if match)  # liquidation and price windows
    # "[price] done: 65 fetched, 0 skipped; 5 requests (0 retries), …" (report/fetch/prices.py)
    price_done = [re.match(r"\[price\] done: .*?; (\d+) requests", message) for _, message in marks]
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "steps": steps,
            "windows_to_fetch": windows_to_fetch,
            "price_requests": sum(int(match[1]) for match in price_done if match)}


@side
def run_baseline(args: dict) -> dict:
    """The same week with the baseline: fetch from the demo simulator, pandas build, pyplot render."""
    from bench.baseline import baseline_build, baseline_fetch, baseline_render
    from report.pipeline import TRAILING_WEEKS
    from report.simulator import running_simulator

    period = _period(args)
    steps = {}
    started = Stopwatch()
    with running_simulator() as simulator:
        rows = baseline_fetch(simulator.base_url, BENCH_KEY, args["assets"],
                              period.start - timedelta(weeks=TRAILING_WEEKS), period.end)
    steps["fetch"] = started.seconds()
    frames = baseline_build(rows)
    steps["build"] = started.seconds() - steps["fetch"]
    baseline_render(frames, period.start, period.end, Path(args["out_dir"]))
    seconds = started.seconds()
    steps["render"] = seconds - steps["fetch"] - steps["build"]
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(), "steps": steps}


# --- landed data sets, cached under bench/results/ -------------------------------------------------------

def landed_set(name: str, assets: tuple[str, ...], start: datetime, end: datetime, log: Log,
               *, seed: int = 7, data_start: datetime | None = None) -> Path:
    """An output folder whose landing zone holds `assets` × [start, end), fetched once and then reused.

    Landed by liqreport's own fetcher from an in-process simulator with no latency, many windows at once
    and no client-side rate limit: the fastest way that yields exactly the landing layout liqreport reads.
    The simulator's data starts with the set (not at the API's 2025-01-08), so every week holds data, or at
    `data_start`: sets that are to be landed one after the other must share the one simulated history.
    """
    from report.simulator import running_simulator

    output_dir = RESULTS_DIR / "landed" / name
    marker = output_dir / "_landed.json"
    data_start = data_start or start
    expected = {"assets": list(assets), "start": start.isoformat(), "end": end.isoformat(), "seed": seed,
                **({"data_start": data_start.isoformat()} if data_start != start else {})}
    if marker.exists() and json.loads(marker.read_text()) == expected:
        log(f"reusing landed set {output_dir}")
        return output_dir
    shutil.rmtree(output_dir, ignore_errors=True)
    output_dir.mkdir(parents=True)
    started = time.perf_counter()
    with running_simulator(seed=seed, latency_s=0.0, data_start=data_start) as simulator:
        run_side("fetch_liqreport", {"base_url": simulator.base_url, "assets": list(assets),
                                     "output_dir": str(output_dir), "start": start.isoformat(),
                                     "end": end.isoformat(), "concurrency": 8,
                                     "max_requests_per_second": 10_000})
    marker.write_text(json.dumps(expected))
    log(f"landed {len(assets)} assets × {(end - start).days // 7} weeks "
        f"in {time.perf_counter() - started:.0f}s → {output_dir}")
    return output_dir


# --- the scenarios, as table rows -----------------------------------------------------------------------

SPEED_UP = object()  # the default ratio: baseline ÷ liqreport


def row(scenario: str, liqreport: float | None, baseline: float | None, *, ratio=SPEED_UP,
        rss: tuple[float | None, float | None] = (None, None), target: str = "", met: bool | None = None,
        unit: str = "s", notes: str = "", cpu: tuple[float | None, float | None] = (None, None)) -> dict:
    if ratio is SPEED_UP:
        ratio = baseline / liqreport if liqreport and baseline else None
    return {"scenario": scenario, "liqreport": liqreport, "baseline": baseline, "ratio": ratio,
            "unit": unit, "rss_liqreport_mb": rss[0], "rss_baseline_mb": rss[1], "target": target,
            "met": met, "notes": notes, "cpu_liqreport_s": cpu[0], "cpu_baseline_s": cpu[1]}


def fetch_lower_bound(assets: int, hours: int, page_size: int, latency_s: float, concurrency: int,
                      max_rps: float) -> dict:
    """The physical floor of a fetch: the fewest requests, ceil(hours ÷ page_size) an asset (a page holds at
    most page_size hourly rows), each waiting one latency, `concurrency` of them at once; and what the
    client's own rate limit alone needs for those requests (reported beside it, not part of it)."""
    minimum = assets * math.ceil(hours / page_size)
    return {"requests": minimum, "seconds": minimum * latency_s / concurrency,
            "rate_limit_seconds": (minimum - 1) / max_rps if minimum else 0.0}


def warm_up(simulator, args: dict, latency_s: float) -> None:
    """Ask the simulator every page both sides will ask, once, without latency: it keeps the pages it
    served, so in the timed runs it costs each request its latency and nothing else, as the lower bound
    assumes (cold, its own JSON and gzip work, ~70 ms a 1,000-row page on one core, would be measured)."""
    import tempfile

    from bench.baseline import baseline_fetch
    from report.fetch.fetcher import fetch_range

    start, end = datetime.fromisoformat(args["start"]), datetime.fromisoformat(args["end"])
    simulator.latency_s = 0.0
    try:
        with tempfile.TemporaryDirectory() as folder:
            fetch_range(_settings({**args, "output_dir": folder}), start, end, log=lambda _: None)
        baseline_fetch(args["base_url"], BENCH_KEY, args["assets"], start, end)
    finally:
        simulator.latency_s = latency_s


def scenario_fetch(sizes: Sizes, work_dir: Path, log: Log) -> list[dict]:
    """liqreport's fetch_range (default concurrency) vs the sequential baseline and vs the true lower bound,
    on a slow simulator."""
    from report.settings import Settings
    from report.simulator import running_simulator

    assets = list(ASSETS[:sizes.fetch_assets])
    start, end, _ = weeks_ending(FETCH_LAST_WEEK, sizes.fetch_weeks)
    output_dir = work_dir / "fetch"
    shutil.rmtree(output_dir, ignore_errors=True)
    args = {"assets": assets, "output_dir": str(output_dir),
            "start": start.isoformat(), "end": end.isoformat()}
    label = f"{len(assets)} assets × {sizes.fetch_weeks} weeks, {sizes.fetch_latency_s * 1000:.0f} ms/request"
    with running_simulator(seed=7, latency_s=sizes.fetch_latency_s) as simulator:
        args["base_url"] = simulator.base_url
        warm_up(simulator, args, sizes.fetch_latency_s)
        before = simulator.request_count
        ours = run_side("fetch_liqreport", args)
        our_requests = simulator.request_count - before
        before = simulator.request_count
        rerun = run_side("fetch_liqreport", args)
        rerun_requests = simulator.request_count - before
        before = simulator.request_count
        theirs = run_side("fetch_baseline", args)
        their_requests = simulator.request_count - before
    log(f"fetch: liqreport {ours['seconds']:.2f}s ({our_requests} requests), "
        f"re-run {rerun_requests} requests, baseline {theirs['seconds']:.2f}s ({their_requests} requests)")
    defaults = Settings()
    concurrency = ours.get("concurrency", defaults.concurrency)
    max_rps = ours.get("max_requests_per_second", defaults.max_requests_per_second)
    hours = int((end - start).total_seconds() // 3600)
    bound = fetch_lower_bound(len(assets), hours, defaults.page_size, sizes.fetch_latency_s, concurrency,
                              max_rps)
    rss = (ours["peak_rss_mb"], theirs["peak_rss_mb"])
    return [
        row(f"1. fetch {label}: liqreport vs sequential baseline", ours["seconds"], theirs["seconds"],
            rss=rss, notes=f"requests: liqreport {our_requests} (weeks fetched in ranges, one chain each), "
                           f"baseline {their_requests} (one range per asset, 1000 rows a page)"),
        row("1. fetch requests vs the minimum (ceil(hours ÷ page_size) an asset)", our_requests,
            bound["requests"], unit="requests", ratio=our_requests / bound["requests"],
            target="≤ 1.25× the minimum", met=our_requests <= 1.25 * bound["requests"],
            notes=f"{len(assets)} × ceil({hours} ÷ {defaults.page_size}) = {bound['requests']}"),
        row(f"1. fetch vs its true lower bound (minimum requests × latency ÷ concurrency {concurrency})",
            ours["seconds"], bound["seconds"], ratio=ours["seconds"] / bound["seconds"], rss=(rss[0], None),
            target="≤ 1.5× the lower bound", met=ours["seconds"] <= 1.5 * bound["seconds"],
            notes=f"the client's rate limit alone ({max_rps:g} req/s) needs "
                  f"{bound['rate_limit_seconds']:.2f}s for the minimum requests"),
        row("1. fetch re-run of the same range: requests made", rerun_requests, None, unit="requests",
            ratio=None, rss=(rerun["peak_rss_mb"], None), target="0 for complete windows",
            met=rerun_requests == 0, notes=f"re-run took {rerun['seconds']:.2f}s"),
    ]


def build_period_label(sizes: Sizes) -> str:
    return last_complete_week_label()


def scenario_build(sizes: Sizes, work_dir: Path, log: Log, *, profile: bool = False) -> list[dict]:
    """Models + data tests + exports vs the pandas baseline over the same pages, vs DuckDB's bare scan."""
    week = build_period_label(sizes)
    start, end, _ = weeks_ending(week, sizes.build_weeks)
    assets = ASSETS[:sizes.build_assets]
    output_dir = landed_set(f"build-{len(assets)}x{sizes.build_weeks}w-{week}", assets, start, end, log)
    landing_dir = output_dir / "landing"
    page_files = [path for pattern in PAGE_PATTERNS for path in landing_dir.glob(pattern)]
    pages, megabytes = len(page_files), sum(p.stat().st_size for p in page_files) / 2**20
    args = {"assets": list(assets), "output_dir": str(output_dir), "week": week}
    if profile:
        args["profile"] = str(work_dir / "build_liqreport.prof")
    ours = best_of(sizes.repeat, "build_liqreport", args)
    log(f"build: liqreport {ours['seconds']:.1f}s")
    if profile:
        import io
        import pstats

        listing = io.StringIO()
        pstats.Stats(args["profile"], stream=listing).sort_stats("cumulative").print_stats(15)
        log(f"cProfile of liqreport's build (all of {args['profile']}):\n{listing.getvalue()}")
    floor = best_of(sizes.repeat, "build_floor", {"landing_dir": str(landing_dir)})
    log(f"build: bare scan {floor['seconds']:.1f}s")
    theirs = best_of(sizes.repeat, "build_baseline", {"landing_dir": str(landing_dir),
                                                      "data_dir": str(output_dir / "data")})
    log(f"build: pandas baseline {theirs['seconds']:.1f}s")
    slowest = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in slowest_steps(output_dir, 4))
    problems = theirs.get("problems") or []
    same = "same numbers as the exports" if not problems else f"DIFFERENT numbers: {'; '.join(problems[:3])}"
    label = (f"{len(assets)} assets × {sizes.build_weeks} weeks landed "
             f"({pages} pages, {megabytes:.0f} MB JSON)")
    rss = (ours["peak_rss_mb"], theirs["peak_rss_mb"])
    return [
        row(f"2. build {label}: models + tests vs pandas", ours["seconds"], theirs["seconds"], rss=rss,
            cpu=(ours["cpu_s"], theirs["cpu_s"]),
            target="≥ 10× faster", met=theirs["seconds"] >= 10 * ours["seconds"],
            notes=f"baseline: {same}; slowest models/tests: {slowest}"),
        row("2. build vs DuckDB's bare scan of the same JSON", ours["seconds"], floor["seconds"],
            ratio=ours["seconds"] / floor["seconds"], rss=(ours["peak_rss_mb"], floor["peak_rss_mb"]),
            cpu=(ours["cpu_s"], floor["cpu_s"]),
            target="≤ 3× the bare scan", met=ours["seconds"] <= 3 * floor["seconds"],
            notes=f"scan: {floor['hours']} hours, {floor['exchange_rows']} exchange rows"),
        row("2. build peak RSS", ours["peak_rss_mb"], theirs["peak_rss_mb"], unit="MB", ratio=None,
            rss=rss, target="< 1024 MB", met=ours["peak_rss_mb"] < 1024),
    ]


def slowest_steps(output_dir: Path, count: int) -> list[tuple[str, float]]:
    """The slowest models and data tests of the last build, from its run_results.json."""
    path = output_dir / "run_results.json"
    if not path.exists():
        return []
    results = json.loads(path.read_text())
    items = results.get("models", []) + results.get("tests", [])
    steps = [(item["name"], item.get("elapsed_s") or 0.0) for item in items]
    return sorted(steps, key=lambda step: -step[1])[:count]


def workers_note(result: dict) -> str:
    workers = result.get("workers_peak_rss_mb") or 0
    return f"; liqreport's chart worker processes peaked at {workers:.0f} MB each (not in its RSS)" \
        if workers else ""


def scenario_render(sizes: Sizes, work_dir: Path, log: Log) -> list[dict]:
    """Rendering the report for N assets from a built warehouse vs pyplot + to_html from pandas frames."""
    from report.pipeline import TRAILING_WEEKS

    week = last_complete_week_label()
    start, end, _ = weeks_ending(week, TRAILING_WEEKS + 1)
    assets = ASSETS[:sizes.render_assets]
    landed = landed_set(f"render-{len(assets)}-{week}", assets, start, end, log)
    output_dir = work_dir / "render"
    shutil.rmtree(output_dir, ignore_errors=True)
    shutil.copytree(landed, output_dir)
    args = {"assets": list(assets), "output_dir": str(output_dir), "week": week}
    run_side("build_liqreport", args)
    ours = best_of(sizes.repeat, "render_liqreport", args)
    baseline_args = {"landing_dir": str(output_dir / "landing"), "week": week,
                     "out_dir": str(work_dir / "render-baseline")}
    theirs = best_of(sizes.repeat, "render_baseline", baseline_args)
    log(f"render: liqreport {ours['seconds']:.1f}s, baseline {theirs['seconds']:.1f}s")
    return [row(f"3. render the report for {len(assets)} assets", ours["seconds"], theirs["seconds"],
                rss=(ours["peak_rss_mb"], theirs["peak_rss_mb"]), cpu=(ours["cpu_s"], theirs["cpu_s"]),
                notes=f"charts: liqreport {ours['charts']}, baseline {theirs['charts']} "
                      f"(3 pyplot charts an asset + to_html; much less report){workers_note(ours)}")]


def scenario_run(sizes: Sizes, work_dir: Path, log: Log) -> list[dict]:
    """The whole weekly `run` on the demo, cold (fresh output folder), split by step; its price fetch's
    requests against their minimum."""
    from report.pipeline import TRAILING_WEEKS
    from report.settings import DEMO_ASSETS, Settings

    week = last_settled_week_label()  # so that the warm run's "0 windows fetched" is what it measures
    assets = list(sizes.run_assets or DEMO_ASSETS)
    output_dir = work_dir / "run"
    shutil.rmtree(output_dir, ignore_errors=True)
    args = {"assets": assets, "output_dir": str(output_dir), "week": week, "default_history": True}
    ours = run_side("run_liqreport", args)
    warm = run_side("run_liqreport", args)
    theirs = run_side("run_baseline", {"assets": assets, "week": week,
                                       "out_dir": str(work_dir / "run-baseline")})
    log(f"run: liqreport {ours['seconds']:.1f}s {ours['steps']}, baseline {theirs['seconds']:.1f}s")
    # since issue 9 a run lands the history from history_start (the build ranks the week among all weeks);
    # the baseline fetches the 13 weeks its report shows
    rows = [row(f"4. weekly run on the demo, cold ({len(assets)} assets, {week}; liqreport lands the history "
                f"since {Settings().history_start:%Y-%m-%d}, the baseline {week} + 12 trailing weeks)",
                ours["seconds"], theirs["seconds"], rss=(ours["peak_rss_mb"], theirs["peak_rss_mb"]),
                cpu=(ours["cpu_s"], theirs["cpu_s"]), notes=workers_note(ours).removeprefix("; "))]
    for step in ("fetch", "build", "render"):
        rows.append(row(f"4. … {step} step", ours["steps"].get(step), theirs["steps"].get(step)))
    # the price fetch (report/fetch/prices.py) against its minimum: ceil(hours ÷ 100,000) an asset, the OHLCV
    # endpoint's largest page, over the same 13 weeks as the liquidations
    hours = (TRAILING_WEEKS + 1) * 7 * 24
    minimum = len(assets) * math.ceil(hours / OHLCV_MAX_PAGE_SIZE)
    rows.append(row("4. … price fetch in that run: requests vs the minimum (ceil(hours ÷ 100,000) an asset)",
                    ours["price_requests"], minimum, unit="requests", ratio=ours["price_requests"] / minimum,
                    target="the minimum", met=ours["price_requests"] == minimum,
                    notes=f"{len(assets)} × ceil({hours} ÷ {OHLCV_MAX_PAGE_SIZE:,}) = {minimum}"))
    rows.append(row("4. the same run again, warm (landed, warehouse built): windows fetched",
                    warm["windows_to_fetch"], None, unit="windows", ratio=None,
                    rss=(warm["peak_rss_mb"], None), target="0 (complete windows are settled)",
                    met=warm["windows_to_fetch"] == 0 and warm["price_requests"] == 0,
                    notes=f"liquidation and price windows; {warm['price_requests']} price requests; "
                          f"warm run {warm['seconds']:.1f}s: " + ", ".join(
                              f"{step} {seconds:.1f}s" for step, seconds in warm["steps"].items())))
    return rows


def scenario_incremental(sizes: Sizes, work_dir: Path, log: Log) -> list[dict]:
    from bench.build_scale import scenario_incremental as incremental

    return incremental(sizes, work_dir, log)


SCENARIOS = {"fetch": scenario_fetch, "build": scenario_build, "incremental": scenario_incremental,
             "render": scenario_render, "run": scenario_run}


def main(argv: list[str]) -> int:
    name, args = argv[0], json.loads(argv[1])
    result = SIDES[name](args)
    result.setdefault("peak_rss_mb", peak_rss_mb())
    result["cpu_s"] = Stopwatch.last.cpu if Stopwatch.last else None
    # Worker processes (the renderer's chart pool) are not in VmHWM: report the largest one separately.
    result["workers_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps(result, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
