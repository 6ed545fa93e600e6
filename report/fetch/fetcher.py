"""The fetch step: plan asset × week windows, skip the settled ones already landed, land the rest.

The windows to fetch are grouped into ranges (consecutive weeks of one asset, windows.plan_ranges), each
fetched in one continuation chain: a backfill costs about ceil(buckets ÷ page_size) requests an asset,
not one a week. Ranges run concurrently (one thread each, sharing one session and one rate limit); the
pages of one range follow their chain in order, and its manifest marks each window complete as the chain
passes it. A range that fails keeps the windows it completed and does not stop the others: fetch_range
raises one FetchError for all of them at the end.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from report.errors import ConfigError, FetchError, StorageError
from report.fetch.client import (
    ApiUnreachable,
    ChainError,
    KaikoClient,
    MalformedPage,
    PageChain,
    build_session,
)
from report.fetch.landing import MANIFEST, Coverage, FetchFolder, LandingZone, page_problem, remove_incomplete
from report.fetch.lanes import LandingLane
from report.fetch.progress import LineProgress, Progress
from report.fetch.ratelimit import TokenBucket
from report.fetch.windows import (
    FetchRange,
    as_utc,
    is_landed_and_settled,
    is_usable_from,
    plan_ranges,
    plan_windows,
)
from report.files import fsync_dir
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
    windows_fetched: int = 0  # marked complete by this fetch
    ranges: int = 0  # continuation chains
    minimum_requests: int = 0  # ceil(buckets ÷ page_size) of each asset's windows to fetch: the floor
    requests: int = 0
    retries: int = 0
    pages: int = 0
    rows: int = 0
    seconds: float = 0.0


@dataclass
class RangeResult:
    range: FetchRange
    windows_done: int
    pages: int
    rows: int
    requests: int
    retries: int
    error: FetchError | None = None
    folder: Path | None = None  # the fetch folder (none when not attempted)


class Interrupted(Exception):
    """The run is stopping (Ctrl-C, or the API is unreachable): the range stops after its current page."""


def fetch_range(settings: Settings, start: datetime, end: datetime, *, refresh: bool = False,
                log: Log = print, now: datetime | None = None, session: requests.Session | None = None,
                progress: Progress | None = None) -> FetchSummary:
    """Land every asset × ISO-week window of [start, end) under settings.landing_dir.

    A session passed in is used as it is (its adapters, retries and pool are the caller's);
    without one, fetch_range builds one with retries and a pool sized to settings.concurrency.
    `progress` shows windows and rows as they land (default: a line through `log` every few seconds).
    Holds the output folder's lock (re-entrant: pipeline.fetch already holds it).
    """
    check_request_inputs(settings)
    with output_lock(settings.output_dir, "fetch", wait=settings.wait_for_lock, log=log):
        return _fetch_range(settings, start, end, refresh=refresh, log=log, now=now, session=session,
                            progress=progress if progress is not None else LineProgress(log))


def _fetch_range(settings: Settings, start: datetime, end: datetime, *, refresh: bool, log: Log,
                 now: datetime | None, session: requests.Session | None, progress: Progress) -> FetchSummary:
    started = time.perf_counter()
    leftovers = remove_incomplete(settings.landing_dir)
    if leftovers:
        log(f"[fetch] removed {len(leftovers)} incomplete fetch folder(s), unlisted page(s) and temp file(s) "
            "an interrupted or failed run left")
    now = as_utc(now or datetime.now(UTC))
    windows = plan_windows(settings.assets, settings.interval, start, end, now)
    root = landing_root(settings)
    zone = LandingZone(settings.landing_dir)
    landed = {asset: zone.newest_by_window(asset, settings.interval) for asset in settings.assets}
    pending = [w for w in windows if refresh or not is_landed_and_settled(
        w, landed[w.asset].get(w.label), now, settings.settle_hours, root)]
    ranges = plan_ranges(pending, settings.page_size)
    summary = FetchSummary(windows_planned=len(windows), windows_skipped=len(windows) - len(pending),
                           ranges=len(ranges), minimum_requests=minimum_requests(pending, settings.page_size))
    # landed already from this root, but fetched before the window settled (or cut short by `now` then): say
    # why they are fetched again
    unsettled = sum(1 for w in pending if is_usable_from(landed[w.asset].get(w.label), root))
    log(f"[fetch] {len(windows)} windows ({', '.join(settings.assets)}, {settings.interval}): "
        f"{summary.windows_skipped} already landed and settled, {len(pending)} to fetch"
        + (f" in {len(ranges)} chain{'s' * (len(ranges) != 1)}, at least {summary.minimum_requests} "
           f"request{'s' * (summary.minimum_requests != 1)}" if ranges else "")
        + (f"; {unsettled} of them landed before they settled ({settings.settle_hours} h after their end; "
           "Kaiko may still revise an hour until then): fetched again" if unsettled and not refresh else ""))
    limiter = TokenBucket(settings.max_requests_per_second, burst=rate_burst(settings))
    own_session = session is None
    session = session or build_session(settings, limiter)
    client = KaikoClient(settings, session, limiter)
    progress.start(len(pending))
    try:
        failures = run_ranges(client, zone, ranges, summary, root, log, progress)
    except StorageError:
        remove_incomplete(settings.landing_dir)  # give the space back; complete windows stay
        raise
    finally:
        progress.finish()
        if own_session:
            session.close()
    summary.seconds = time.perf_counter() - started
    failed = len(pending) - summary.windows_fetched
    log(f"[fetch] done: {summary.windows_fetched} fetched, {summary.windows_skipped} skipped, "
        f"{failed} failed; {summary.requests} requests ({summary.retries} retries), "
        f"{summary.pages} pages, {summary.rows} rows in {summary.seconds:.1f}s")
    if failures:
        raise FetchError(f"{failed} of {len(windows)} windows failed; first: {failures[0]}")
    return summary


def rate_burst(settings: Settings) -> float:
    """One request a thread may go at once, so the first round of chains starts together rather than one
    1/rate apart; at most half the rate, so no second ever sees more than 1.5x the rate limit."""
    return max(1.0, min(float(settings.concurrency), settings.max_requests_per_second / 2))


def minimum_requests(windows, page_size: int) -> int:
    """The fewest requests these windows can cost: ceil(buckets ÷ page_size) for each asset."""
    buckets: dict[tuple[str, str], int] = {}
    for window in windows:
        key = (window.asset, window.interval)
        buckets[key] = buckets.get(key, 0) + window.buckets
    return sum(-(-count // page_size) for count in buckets.values())


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


def run_ranges(client: KaikoClient, zone: LandingZone, ranges: list[FetchRange], summary: FetchSummary,
               root: str, log: Log, progress: Progress) -> list[str]:
    """Fetch the ranges on a thread pool, land them on another; one message per failed range, in the order
    their chains ended.

    When the API root cannot be reached at all before any window landed, the ranges not yet started
    are cancelled rather than each waiting out its own retries.
    """
    stop = threading.Event()
    failures: list[str] = []
    # Twice as many chains as request slots (KaikoClient.in_flight): while one parses the page it just read,
    # another's request is on the network; never more than `concurrency` requests at once. Concurrency 1
    # stays one chain after another, in order: what someone debugging a server asks for (and the fault
    # tests' scripts, one fault a request, rely on).
    slots = client.settings.concurrency
    workers = 1 if slots == 1 else max(1, min(len(ranges), 2 * slots))
    # Landing threads (lanes.py): as many as request slots, so a wave of pages fsyncs side by side.
    requesters = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch")
    landers = ThreadPoolExecutor(max_workers=max(1, min(len(ranges), slots)), thread_name_prefix="land")
    try:
        chains = {requesters.submit(start_chain, client, zone, fetch_range, root, stop, progress, landers):
                  fetch_range for fetch_range in ranges}
        outcomes: list[Future | str] = []  # in the order the chains ended: a landing, or why none
        for future in as_completed(chains):
            if future.cancelled():
                outcomes.append(f"{chains[future].asset} {chains[future].kind} {chains[future].label} "
                                "was not attempted.")
                continue
            chain_error, landing = future.result()
            outcomes.append(landing)
            if isinstance(chain_error, ApiUnreachable) and progress_windows(progress) == 0:
                stop.set()
                for other in chains:
                    other.cancel()
        for outcome in outcomes:
            if isinstance(outcome, str):
                failures.append(outcome)
                continue
            result = outcome.result()
            summary.requests += result.requests
            summary.retries += result.retries
            summary.windows_fetched += result.windows_done
            summary.pages += result.pages
            summary.rows += result.rows
            if result.error is not None:
                failures.append(str(result.error))
                fetch_range = result.range
                kept = f" ({result.windows_done} of its {len(fetch_range.windows)} windows kept)" \
                    if result.windows_done else ""
                log(f"[fetch] {fetch_range.asset} {fetch_range.describe()}: FAILED{kept}: {result.error}")
    except BaseException:
        stop.set()
        requesters.shutdown(wait=True, cancel_futures=True)
        landers.shutdown(wait=True)  # every lane runs out its queue: nothing is written after we return
        raise
    requesters.shutdown(wait=True)
    landers.shutdown(wait=True)
    return failures


def progress_windows(progress: Progress) -> int:
    with progress.lock:
        return progress.windows


def fetch_chain(client: KaikoClient, zone: LandingZone, fetch_range: FetchRange, root: str,
                stop: threading.Event, progress: Progress, problem=page_problem) -> RangeResult:
    """Land one range: its pages in order, the manifest rewritten as windows complete, all in this thread.
    Errors come back in the result, with the windows completed before them kept. `problem`: why a page
    must not land (the endpoint's page_problem)."""
    _, landed = start_chain(client, zone, fetch_range, root, stop, progress, None, problem)
    return landed.result()


def start_chain(client: KaikoClient, zone: LandingZone, fetch_range: FetchRange, root: str,
                stop: threading.Event, progress: Progress, landers: ThreadPoolExecutor | None,
                problem=page_problem) -> tuple[FetchError | None, Future]:
    """Ask for one range's pages in order and queue each on the range's landing lane (lanes.py), which runs
    on `landers` (None: in this thread). Returns the chain's own error, if any, at once, and the future of
    the RangeResult, which resolves when the lane has landed what the chain read."""
    if stop.is_set():
        not_attempted = FetchError(f"{fetch_range.asset} {fetch_range.kind} {fetch_range.label} was not "
                                   "attempted.")
        done: Future = Future()
        done.set_result(RangeResult(fetch_range, 0, 0, 0, 0, 0, not_attempted))
        return not_attempted, done
    chain = client.pages(fetch_range)
    begin = functools.partial(zone.begin, fetch_range)
    landing = RangeLanding(begin, Coverage(fetch_range, client.sort), progress, {
        "api_root": root, "request_url": public_url(client.endpoint(fetch_range.asset)),
        "request_params": client.first_params(fetch_range),
        "extra": client.manifest_keys(fetch_range.asset)}, problem)
    # a lane's task waits (briefly) while bodies are coming in: their requests' slots free sooner
    lane = LandingLane(landers, client.wait_for_quiet if landers is not None else lambda: None)
    error: FetchError | None = None
    try:
        for page in chain:
            lane.put(functools.partial(landing.land, page, last=chain.next_request is None))
            if lane.failed:
                break  # the lane refused a page (or the disk failed): ask for no more of this range
            if stop.is_set():
                raise Interrupted
    except FetchError as exc:  # MalformedPage and ChainError included: landing.end tells them apart
        error = exc
    except Interrupted:
        error = FetchError(f"{fetch_range.asset} {fetch_range.kind} {fetch_range.label} was stopped before "
                           "its end.")
    return error, lane.close(functools.partial(landing.end, lane, error, chain))


class RangeLanding:
    """The landing side of one chain: each page landed, the manifest rewritten when a window completes.
    Used by one lane task at a time (lanes.py)."""

    def __init__(self, begin: Callable[[], FetchFolder], coverage: Coverage, progress: Progress,
                 manifest_args: dict, problem=page_problem):
        self.begin, self.coverage, self.progress = begin, coverage, progress
        self.manifest_args = manifest_args
        self.problem = problem
        self.from_simulator = True
        self.windows_done = 0
        self.rows = 0
        self.rows_unreported = 0

    @functools.cached_property
    def folder(self) -> FetchFolder:
        """The fetch folder, made when the lane first needs it: no disk work before the first request."""
        return self.begin()

    @property
    def at(self) -> str:
        """The window the chain is in: the first one not complete yet."""
        done = {window.label for window in self.coverage.complete()}
        return next((w.label for w in self.coverage.range.windows if w.label not in done),
                    self.coverage.range.windows[-1].label)

    def land(self, page, *, last: bool = False) -> None:
        """Land one page; rewrite the manifest if it completed a window (the last page's rewrite is
        finish()'s)."""
        problem = self.problem(page.body)
        if problem:
            path = self.quarantine(page.number, page.raw, problem)
            raise FetchError(f"page {page.number} of {self.coverage.range.asset} {self.coverage.range.kind} "
                             f"{self.at} is malformed ({problem}); its bytes are in {path}.")
        self.from_simulator = self.from_simulator and page.from_simulator
        entry = self.folder.land(page)
        self.coverage.add(entry["file"], page.body["data"], page.starts)
        self.rows += page.rows
        if last:
            self.rows_unreported = page.rows
        else:
            self.checkpoint(page.rows, complete=False)

    def end(self, lane: LandingLane, chain_error: FetchError | None, chain: PageChain) -> RangeResult:
        """The lane's last task: finish the range, or record why it stopped (the first error: a page the lane
        refused comes before anything the chain read after it)."""
        error = lane.error or chain_error
        try:
            if error is None:
                self.finish()
        except FetchError as exc:
            error = exc
        if isinstance(error, MalformedPage):
            path = self.quarantine(error.number, error.raw, error.reason)
            fetch_range, attempts = self.coverage.range, chain.client.settings.max_attempts
            error = FetchError(f"page {error.number} of {fetch_range.asset} {fetch_range.kind} {self.at} is "
                               f"malformed ({error.reason}, after {attempts} attempts); its bytes are in "
                               f"{path}.")
        elif isinstance(error, ChainError):
            self.discard()  # a server whose pagination broke its bounds: trust none of this chain
        if error is not None:
            self.stopped(error)
        return RangeResult(self.coverage.range, self.windows_done, len(self.folder.pages), self.rows,
                           chain.requests, chain.retries, error, self.folder.path)

    def finish(self) -> None:
        self.coverage.finish()
        self.checkpoint(self.rows_unreported, complete=True)
        self.rows_unreported = 0

    def stopped(self, error: FetchError) -> None:
        if self.rows_unreported:  # the last page landed, then something stopped the chain
            self.checkpoint(self.rows_unreported, complete=False)
        if self.windows_done:  # say why the later windows are missing; the complete ones stay
            self.write(complete=False, error=str(error))

    def discard(self) -> None:
        """Unmark every window: without a manifest the folder is incomplete; the next fetch removes it."""
        (self.folder.path / MANIFEST).unlink(missing_ok=True)
        fsync_dir(self.folder.path)
        self.progress.advance(windows=-self.windows_done)
        self.windows_done = 0

    def quarantine(self, number: int, raw: bytes, reason: str):
        return self.folder.quarantine(number, raw, reason, self.at)

    def checkpoint(self, rows: int, *, complete: bool) -> None:
        done = len(self.coverage.complete())
        if done > self.windows_done or complete:
            self.write(complete=complete)
        self.progress.advance(windows=done - self.windows_done, rows=rows)
        self.windows_done = done

    def write(self, *, complete: bool, error: str | None = None) -> None:
        # DEMO DATA means "served by the built-in simulator", which says so in every answer; never a guess
        # from the host name (a mirror or a proxy on loopback is not the simulator).
        source = "simulator" if self.from_simulator and self.folder.pages else "kaiko"
        self.folder.write_manifest(self.coverage, source=source, complete=complete, error=error,
                                   **self.manifest_args)
