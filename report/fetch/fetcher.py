"""The fetch step: plan asset × week windows, skip the settled ones already landed, land the rest.

Windows are fetched concurrently (one thread each, sharing one session and one rate limit); the pages
of one window follow their chain in order. A window that fails leaves no manifest and does not stop
the others: fetch_range raises one FetchError for all of them at the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from report.errors import ConfigError, FetchError, StorageError
from report.fetch.client import (
    ApiUnreachable,
    KaikoClient,
    MalformedPage,
    PageChain,
    build_session,
)
from report.fetch.landing import LandingWindow, page_problem, remove_incomplete
from report.fetch.ratelimit import TokenBucket
from report.fetch.windows import FetchWindow, as_utc, is_landed_and_settled, plan_windows
from report.lock import output_lock
from report.settings import Settings, public_url, validate_asset, validate_interval

# The api_root manifests record for the simulator the demo starts in-process (pipeline.source): it listens
# on a new port every run, so its URL would never match; what it serves depends only on its seed.
BUILTIN_SIMULATOR_ROOT = "builtin-simulator"

Log = Callable[[str], None]


@dataclass
class FetchSummary:
    windows_planned: int = 0
    windows_skipped: int = 0
    windows_fetched: int = 0
    requests: int = 0
    retries: int = 0
    pages: int = 0
    rows: int = 0
    seconds: float = 0.0


@dataclass
class WindowResult:
    window: FetchWindow
    pages: int
    rows: int
    requests: int
    retries: int
    error: FetchError | None = None


class Interrupted(Exception):
    """The run is stopping (Ctrl-C, or the API is unreachable): a window in progress gets no manifest."""


def fetch_range(settings: Settings, start: datetime, end: datetime, *, refresh: bool = False,
                log: Log = print, now: datetime | None = None,
                session: requests.Session | None = None) -> FetchSummary:
    """Land every asset × ISO-week window of [start, end) under settings.landing_dir.

    A session passed in is used as it is (its adapters, retries and pool are the caller's);
    without one, fetch_range builds one with retries and a pool sized to settings.concurrency.
    Holds the output folder's lock (re-entrant: pipeline.fetch already holds it).
    """
    check_request_inputs(settings)
    with output_lock(settings.output_dir, "fetch", wait=settings.wait_for_lock, log=log):
        return _fetch_range(settings, start, end, refresh=refresh, log=log, now=now, session=session)


def _fetch_range(settings: Settings, start: datetime, end: datetime, *, refresh: bool, log: Log,
                 now: datetime | None, session: requests.Session | None) -> FetchSummary:
    started = time.perf_counter()
    leftovers = remove_incomplete(settings.landing_dir)
    if leftovers:
        log(f"[fetch] removed {len(leftovers)} incomplete fetch folder(s) and temp file(s) an interrupted "
            "run left")
    now = as_utc(now or datetime.now(UTC))
    windows = plan_windows(settings.assets, settings.interval, start, end, now)
    root = landing_root(settings)
    pending = [w for w in windows if refresh or not is_landed_and_settled(
        w, LandingWindow(settings.landing_dir, w).newest_usable(), now, settings.settle_hours, root)]
    summary = FetchSummary(windows_planned=len(windows), windows_skipped=len(windows) - len(pending))
    log(f"[fetch] {len(windows)} windows ({', '.join(settings.assets)}, {settings.interval}): "
        f"{summary.windows_skipped} already landed and settled, {len(pending)} to fetch")
    limiter = TokenBucket(settings.max_requests_per_second)
    own_session = session is None
    session = session or build_session(settings, limiter)
    client = KaikoClient(settings, session, limiter)
    try:
        failures = run_windows(client, settings.landing_dir, pending, summary, root, log)
    except StorageError:
        remove_incomplete(settings.landing_dir)  # give the space back; complete windows stay
        raise
    finally:
        if own_session:
            session.close()
    summary.seconds = time.perf_counter() - started
    log(f"[fetch] done: {summary.windows_fetched} fetched, {summary.windows_skipped} skipped, "
        f"{len(failures)} failed; {summary.requests} requests ({summary.retries} retries), "
        f"{summary.pages} pages, {summary.rows} rows in {summary.seconds:.1f}s")
    if failures:
        raise FetchError(f"{len(failures)} of {len(windows)} windows failed; first: {failures[0]}")
    return summary


def check_request_inputs(settings: Settings) -> None:
    """Refuse codes that could escape the landing folder or the URL path, before any request."""
    if not settings.assets:
        raise ConfigError("no assets given: pass --assets btc,eth or set assets in liqreport.toml.")
    for asset in settings.assets:
        validate_asset(asset)
    validate_interval(settings.interval)
    if not 1 <= settings.page_size <= 1000:
        raise ConfigError(f"page_size must be from 1 to 1000 (the API's maximum), got {settings.page_size}.")
    if settings.concurrency < 1 or settings.max_attempts < 1:
        raise ConfigError("concurrency and max_attempts must be at least 1.")


def landing_root(settings: Settings) -> str:
    """Where pages come from, as manifests record it: a landed window is reused only from the same root."""
    return BUILTIN_SIMULATOR_ROOT if settings.builtin_simulator else public_url(settings.api_root)


def run_windows(client: KaikoClient, landing_dir: Path, pending: list[FetchWindow], summary: FetchSummary,
                root: str, log: Log) -> list[str]:
    """Fetch the windows on a thread pool; returns one message per failed window, in order of failure.

    When the API root cannot be reached at all before any window landed, the windows not yet started
    are cancelled rather than each waiting out its own retries.
    """
    stop = threading.Event()
    failures: list[str] = []
    pool = ThreadPoolExecutor(max_workers=client.settings.concurrency, thread_name_prefix="fetch")
    try:
        futures = {pool.submit(fetch_window, client, landing_dir, window, root, stop): window
                   for window in pending}
        for done, future in enumerate(as_completed(futures), start=1):
            if future.cancelled():
                failures.append(f"{futures[future].asset} window {futures[future].label} was not attempted.")
                continue
            result = future.result()
            summary.requests += result.requests
            summary.retries += result.retries
            window, progress = result.window, f"({done}/{len(pending)})"
            if result.error is not None:
                failures.append(str(result.error))
                log(f"[fetch] {window.asset} {window.describe()}: FAILED {progress}: {result.error}")
                if isinstance(result.error, ApiUnreachable) and summary.windows_fetched == 0:
                    stop.set()
                    for other in futures:
                        other.cancel()
                continue
            summary.windows_fetched += 1
            summary.pages += result.pages
            summary.rows += result.rows
            pages = f"{result.pages} page{'s' * (result.pages != 1)}"
            log(f"[fetch] {window.asset} {window.describe()}: {pages}, {result.rows} rows {progress}")
    except BaseException:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return failures


def fetch_window(client: KaikoClient, landing_dir: Path, window: FetchWindow, root: str,
                 stop: threading.Event) -> WindowResult:
    """Land one window: its pages in order, then the manifest. Errors come back in the result."""
    if stop.is_set():
        not_attempted = FetchError(f"{window.asset} window {window.label} was not attempted.")
        return WindowResult(window, 0, 0, 0, 0, not_attempted)
    chain = client.pages(window)
    try:
        folder = LandingWindow(landing_dir, window).begin()
        from_simulator = land_chain(chain, folder, stop)
        # DEMO DATA means "served by the built-in simulator", which says so in every answer; never a guess
        # from the host name (a mirror or a proxy on loopback is not the simulator).
        manifest = folder.complete(source="simulator" if from_simulator else "kaiko", api_root=root,
                                   request_url=public_url(client.endpoint(window.asset)),
                                   request_params=client.first_params(window))
    except FetchError as exc:
        return WindowResult(window, chain.pages_read, 0, chain.requests, chain.retries, exc)
    except Interrupted:
        return WindowResult(window, chain.pages_read, 0, chain.requests, chain.retries,
                            FetchError(f"{window.asset} window {window.label} was stopped before its end."))
    return WindowResult(window, manifest["page_count"], manifest["row_count"], chain.requests, chain.retries)


def land_chain(chain: PageChain, folder, stop: threading.Event) -> bool:
    """Land the chain's pages in order; True when every answer came from the built-in simulator."""
    window = chain.window
    from_simulator = True
    try:
        for page in chain:
            from_simulator = from_simulator and page.from_simulator
            problem = page_problem(page.body)
            if problem:
                path = folder.quarantine(page.number, page.raw, problem)
                raise FetchError(f"page {page.number} of {window.asset} window {window.label} is malformed "
                                 f"({problem}); its bytes are in {path}.")
            folder.land(page)
            if stop.is_set():
                raise Interrupted
    except MalformedPage as exc:
        path = folder.quarantine(exc.number, exc.raw, exc.reason)
        raise FetchError(f"page {exc.number} of {window.asset} window {window.label} is malformed "
                         f"({exc.reason}, after {chain.client.settings.max_attempts} attempts); "
                         f"its bytes are in {path}.") from None
    return from_simulator and chain.pages_read > 0
