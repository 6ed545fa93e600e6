"""The weekly job as a sequence of calls: fetch → build (models + data tests) → render → deliver.

Each step is usable alone (the CLI's commands) and prints one progress line; `run` chains them.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from report.lock import output_lock
from report.periods import Period
from report.settings import SQL_DIR, Settings

# The report compares the week with the 12 weeks before it (trend, 4/8-week averages, 28-day spike baseline)
# and ranks it among every whole week since the history starts.
TRAILING_WEEKS = 12

Log = Callable[[str], None]


def ensure_output_dir(settings: Settings) -> None:
    """Fail before any request when the output folder cannot be written, rather than after a long fetch."""
    from report.errors import ConfigError

    folder = settings.output_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"output folder {folder} is not writable ({exc.strerror}): "
            "pass --output-dir or fix its permissions."
        ) from None


@contextlib.contextmanager
def writing(settings: Settings, command: str, log: Log) -> Iterator[None]:
    """Hold the output folder's lock (report/lock.py) for a command that writes there."""
    ensure_output_dir(settings)
    with output_lock(settings.output_dir, command, wait=settings.wait_for_lock, log=log):
        yield


def fetch_start(settings: Settings, period: Period) -> datetime:
    """The history's start, or the period's 12 trailing weeks if they begin earlier: the rank counts every
    whole week since the history starts, so it must not depend on what an earlier run happened to land.
    Range fetches make that about ceil(hours / page size) requests an asset the first time (weeks before
    the history come back empty, in the same requests), and the landing zone skips settled windows after."""
    from report.fetch.windows import as_utc

    return min(as_utc(settings.history_start), period.start - timedelta(weeks=TRAILING_WEEKS))


@contextlib.contextmanager
def source(settings: Settings, log: Log) -> Iterator[Settings]:
    """Yield settings pointing at the real API, or at an in-process simulator when there is no key."""
    if not settings.demo:
        yield settings
        return
    from report.simulator import DEMO_API_KEY, running_simulator

    with running_simulator() as simulator:
        log(f"No KAIKO_API_KEY: using the built-in simulator at {simulator.base_url} — DEMO DATA.")
        # The rate limit protects Kaiko's quota; our own in-process simulator has none to protect.
        yield settings.with_(
            base_url=simulator.base_url, api_key=DEMO_API_KEY, max_requests_per_second=1000.0,
            builtin_simulator=True,
        )


def model_variables(settings: Settings, period: Period) -> dict:
    return {
        "landing_path": settings.landing_dir.resolve().as_posix(),
        "report_start": period.start.strftime("%Y-%m-%d %H:%M:%S"),
        "report_end": period.end.strftime("%Y-%m-%d %H:%M:%S"),
        "assets": ",".join(settings.assets),  # validated codes: safe inside a SQL string literal
        "history_start": settings.history_start.strftime("%Y-%m-%d %H:%M:%S"),
        **price_variables(settings),
    }


def price_variables(settings: Settings) -> dict:
    """`price_enabled` and `price_instruments` ("btc=binc/perpetual-future/btc-usdt,…", validated codes) for
    the price models (docs/architecture.md §3): the reference instrument of each asset the report asks for."""
    instruments = [settings.price.instrument_for(asset) for asset in settings.assets]
    return {
        "price_enabled": "true" if settings.price.enabled else "false",
        "price_instruments": ",".join(f"{entry.asset}={entry.path}" for entry in instruments if entry),
    }


def fetch(settings: Settings, period: Period, *, refresh: bool = False, log: Log = print, progress=None):
    """Land the history from its start to the period's end (fetch_start), then the price of the same windows
    (report/fetch/prices.py, never failing the run); `progress` (report/fetch/progress.py) shows the
    liquidation fetch as it goes."""
    from report.fetch.fetcher import fetch_range
    from report.fetch.prices import fetch_prices

    now = datetime.now(UTC)  # one clock for both fetches: the same windows, clipped to the same hour
    with writing(settings, "fetch", log), source(settings, log) as live:
        start = fetch_start(settings, period)
        summary = fetch_range(live, start, period.end, refresh=refresh, log=log, now=now, progress=progress)
        fetch_prices(live, start, period.end, refresh=refresh, log=log, now=now)
        return summary


def build(
    settings: Settings, period: Period, *, select: str | None = None, run_tests: bool = True,
    full_refresh: bool = False, log: Log = print
):
    from report.models.exports import export
    from report.models.runner import build as build_models

    with writing(settings, "build", log):
        results = build_models(
            settings.warehouse_path,
            SQL_DIR,
            model_variables(settings, period),
            select=select,
            run_tests=run_tests,
            full_refresh=full_refresh,
            log=log,
        )
        if select is None:
            export(settings.warehouse_path, settings.output_dir / "data")
    return results


def test(settings: Settings, period: Period, *, log: Log = print):
    from report.models.runner import test as run_data_tests

    with writing(settings, "test", log):  # it writes run_results.json
        return run_data_tests(settings.warehouse_path, SQL_DIR, model_variables(settings, period), log=log)


def render(settings: Settings, period: Period, *, pdf: bool = False, log: Log = print) -> Path:
    from report.render.report import render_report

    with writing(settings, "render", log):
        path = render_report(settings, period, pdf=pdf, log=log)
    log(f"Report: {path}")
    return path


def email(
    settings: Settings, period: Period, *, send: bool = False, resend: bool = False, attach_pdf: bool = False,
    log: Log = print,
) -> Path:
    from report.deliver.email import deliver

    with writing(settings, "email", log):
        return deliver(settings, settings.reports_dir / period.label, send=send, resend=resend,
                       attach_pdf=attach_pdf, log=log)


def publish(settings: Settings, *, log: Log = print) -> Path:
    from report.deliver.site import publish as publish_site

    with writing(settings, "publish", log):
        index = publish_site(settings.reports_dir, settings.site_dir)
    log(f"Site: {index}")
    return index


def run(
    settings: Settings,
    period: Period,
    *,
    refresh: bool = False,
    pdf: bool = False,
    send: bool = False,
    resend: bool = False,
    log: Log = print,
    progress=None,
) -> Path:
    with writing(settings, "run", log):
        return _run(settings, period, refresh=refresh, pdf=pdf, send=send, resend=resend, log=log,
                    progress=progress)


def _run(settings: Settings, period: Period, *, refresh: bool, pdf: bool, send: bool, resend: bool,
         log: Log, progress) -> Path:
    if pdf:  # before the fetch: a missing extra should not cost a whole fetch and build to find out
        from report.render.pdf import require_weasyprint

        require_weasyprint()
    timings: dict[str, float] = {}

    def step(name: str, call):
        log(f"[{name}] …")
        started = time.perf_counter()
        result = call()
        timings[name] = time.perf_counter() - started
        log(f"[{name}] done in {timings[name]:.1f}s")
        return result

    log(
        f"liqreport run: {period.label} ({period.start:%Y-%m-%d} to {period.end:%Y-%m-%d} UTC), "
        f"assets {','.join(settings.assets)}{' — DEMO DATA' if settings.demo else ''}"
    )
    step("fetch", lambda: fetch(settings, period, refresh=refresh, log=log, progress=progress))
    step("build", lambda: build(settings, period, log=log))
    path = step("render", lambda: render(settings, period, pdf=pdf, log=log))
    if settings.email_to or send:
        step("email", lambda: email(settings, period, send=send, resend=resend, attach_pdf=pdf, log=log))
    log("Timings: " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in timings.items()))
    return path
