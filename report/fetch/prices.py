"""The price fetch: hourly OHLCV of each asset's reference instrument, for the windows the liquidation fetch
covers, landed through the same landing code (docs/architecture.md §2, "Price pages").

    landing/trades_ohlcv/asset={asset}/interval=1h/fetch={fetch_id}/page-00001.json … _manifest.json

Only the endpoint differs from the liquidation fetch: its URL (`PriceClient`), its rows' bucket start (a
millisecond `timestamp`), what makes a page unfit to land (`price_page_problem`), a page size of up to
100,000 rows (one request an asset for a 13-week backfill) and the manifest's instrument and `outcome`.
Windows, ranges, atomic pages, manifests rewritten as windows complete, retries, the rate limit and the
output folder's lock are fetcher.py's and landing.py's.

Price never fails the run: a key without access (403) leaves a no-access record (a manifest without pages
or windows, `outcome: "no_access"`, the API's message) so the report can say so; any other failure
leaves the windows without price and a line in the log. Only a full disk stops the run, as it would the
liquidation fetch.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

from report.errors import StorageError
from report.fetch.client import ApiRefusal, KaikoClient, build_session
from report.fetch.fetcher import RangeResult, fetch_chain, landing_root, minimum_requests, rate_burst
from report.fetch.landing import (
    MANIFEST,
    MANIFEST_VERSION,
    LandedWindow,
    LandingZone,
    is_numeric,
    read_manifest,
    remove_incomplete,
    utc_now_z,
)
from report.fetch.progress import Progress
from report.fetch.ratelimit import TokenBucket
from report.fetch.windows import FetchRange, as_utc, is_landed_and_settled, plan_ranges, plan_windows
from report.files import write_atomically
from report.lock import output_lock
from report.settings import PriceInstrument, Settings, public_url

PRICE_TABLE = "trades_ohlcv"
PRICE_ENDPOINT = "trades.v1/aggregations/ohlcv"
PRICE_INTERVAL = "1h"
PRICE_PAGE_SIZE = 100_000  # the API's maximum: ~110 bytes a row, so a 13-week range is one ~250 KB page
PRICE_FIELDS = ("open", "high", "low", "close", "volume")

Log = Callable[[str], None]


def ohlcv_row_start(row) -> datetime | None:
    """A row's bucket start from its `timestamp` (Kaiko documents milliseconds; the magnitude tells ns, µs,
    ms and s apart, as stg_prices does), or None when it has none (price_page_problem then refuses it)."""
    stamp = row.get("timestamp") if type(row) is dict else None
    if type(stamp) is not int:
        return None
    size = abs(stamp)
    seconds = stamp / (1e9 if size >= 10**17 else 1e6 if size >= 10**14 else 1e3 if size >= 10**11 else 1)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def price_page_problem(body) -> str | None:
    """Why an OHLCV page must not land, or None. Refused: `data` missing or not a list, a row that is not
    an object, has no integer `timestamp`, or a price or volume that is neither a number, a numeric string
    nor null. Landed as-is: extra fields, bars whose low is above their close (the data tests judge)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    if "data" not in body:
        return "`data` is missing"
    data = body["data"]
    if not isinstance(data, list):
        return f"`data` is a {type(data).__name__}, not a list"
    for index, row in enumerate(data):
        if not isinstance(row, dict):
            return f"row {index}: not an object"
        if ohlcv_row_start(row) is None:
            return f"row {index}: `timestamp` is missing or not an integer"
        for name in PRICE_FIELDS:
            if not is_numeric(row.get(name)):
                return f"row {index}: `{name}` is not numeric: {str(row.get(name))[:40]!r}"
    return None


class PriceClient(KaikoClient):
    """The OHLCV endpoint of each asset's reference instrument, over the liquidation client's session,
    retries, rate limit and pagination."""

    row_start = staticmethod(ohlcv_row_start)

    def __init__(self, settings: Settings, session: requests.Session, limiter: TokenBucket | None,
                 instruments: dict[str, PriceInstrument], page_size: int = PRICE_PAGE_SIZE):
        super().__init__(settings, session, limiter)
        self.instruments = instruments
        self._page_size = page_size

    @property
    def page_size(self) -> int:
        return self._page_size

    def endpoint(self, asset: str) -> str:
        return f"{self.settings.api_root}/v2/data/trades.v1/exchanges/{self.instruments[asset].path}" \
               "/aggregations/ohlcv"

    def manifest_keys(self, asset: str) -> dict:
        entry = self.instruments[asset]
        return {"exchange": entry.exchange, "instrument_class": entry.instrument_class,
                "instrument": entry.instrument, "outcome": "landed"}


@dataclass
class PriceFetchSummary:
    windows_planned: int = 0
    windows_skipped: int = 0
    windows_fetched: int = 0
    ranges: int = 0
    minimum_requests: int = 0  # ceil(hours ÷ page_size) of each asset's windows to fetch
    requests: int = 0
    retries: int = 0
    pages: int = 0
    rows: int = 0
    seconds: float = 0.0
    no_access: list[str] = field(default_factory=list)  # assets whose key has no access (403)
    failed: list[str] = field(default_factory=list)  # assets with windows left without price otherwise


def reference_instruments(settings: Settings) -> dict[str, PriceInstrument]:
    """Asset → its reference instrument, for the assets the run asks for that have one."""
    found = {asset: settings.price.instrument_for(asset) for asset in settings.assets}
    return {asset: entry for asset, entry in found.items() if entry is not None}


def fetch_prices(settings: Settings, start: datetime, end: datetime, *, refresh: bool = False,
                 log: Log = print, now: datetime | None = None, session: requests.Session | None = None,
                 page_size: int = PRICE_PAGE_SIZE) -> PriceFetchSummary:
    """Land hourly OHLCV of every asset × ISO-week window of [start, end) (plan_windows: the liquidation
    fetch's windows) that is not landed and settled for the asset's reference instrument.

    Holds the output folder's lock (re-entrant: pipeline.fetch already holds it). Raises only StorageError.
    """
    summary = PriceFetchSummary()
    if not settings.price.enabled:
        log("[price] off (price = false): no price fetched")
        return summary
    instruments = reference_instruments(settings)
    without = [asset for asset in settings.assets if asset not in instruments]
    if without:
        log(f"[price] no reference instrument for {', '.join(without)}: no price for "
            f"{'it' if len(without) == 1 else 'them'} (a [price.<asset>] table in liqreport.toml adds one)")
    if not instruments:
        return summary
    with output_lock(settings.output_dir, "fetch", wait=settings.wait_for_lock, log=log):
        return _fetch_prices(settings, instruments, start, end, summary, refresh=refresh, log=log,
                             now=as_utc(now or datetime.now(UTC)), session=session, page_size=page_size)


def _fetch_prices(settings: Settings, instruments: dict[str, PriceInstrument], start: datetime,
                  end: datetime, summary: PriceFetchSummary, *, refresh: bool, log: Log, now: datetime,
                  session: requests.Session | None, page_size: int) -> PriceFetchSummary:
    started = time.perf_counter()
    remove_incomplete(settings.landing_dir)  # the liquidation fetch did already; a price-only call too
    zone = LandingZone(settings.landing_dir, PRICE_TABLE, PRICE_ENDPOINT)
    root = landing_root(settings)
    windows = plan_windows(list(instruments), PRICE_INTERVAL, start, end, now)
    landed = {asset: zone.newest_by_window(asset, PRICE_INTERVAL) for asset in instruments}
    pending = [w for w in windows if refresh or not is_landed_for(
        instruments[w.asset], landed[w.asset].get(w.label), w, now, settings.settle_hours, root)]
    ranges = plan_ranges(pending, page_size)
    summary.windows_planned, summary.windows_skipped = len(windows), len(windows) - len(pending)
    summary.ranges, summary.minimum_requests = len(ranges), minimum_requests(pending, page_size)
    log(f"[price] {len(windows)} windows ({', '.join(instruments)}, hourly OHLCV): {summary.windows_skipped} "
        f"already landed and settled, {len(pending)} to fetch"
        + (f" in {len(ranges)} chain{'s' * (len(ranges) != 1)}, at least {summary.minimum_requests} "
           f"request{'s' * (summary.minimum_requests != 1)}" if ranges else ""))
    if not ranges:
        return summary
    limiter = TokenBucket(settings.max_requests_per_second, burst=rate_burst(settings))
    own_session = session is None
    session = session or build_session(settings, limiter)
    client = PriceClient(settings, session, limiter, instruments, page_size)
    try:
        for result in run_price_ranges(client, zone, ranges, root):
            record_result(summary, result, client, root, log)
    except StorageError:
        remove_incomplete(settings.landing_dir)
        raise
    finally:
        if own_session:
            session.close()
    summary.seconds = time.perf_counter() - started
    log(f"[price] done: {summary.windows_fetched} fetched, {summary.windows_skipped} skipped; "
        f"{summary.requests} requests ({summary.retries} retries), {summary.pages} pages, "
        f"{summary.rows} rows in {summary.seconds:.1f}s"
        + (f"; no access for {', '.join(summary.no_access)}" if summary.no_access else "")
        + (f"; without price after a failure: {', '.join(summary.failed)}" if summary.failed else ""))
    return summary


def is_landed_for(instrument: PriceInstrument, landed: LandedWindow | None, window, now: datetime,
                  settle_hours: int, root: str) -> bool:
    """Landed and settled (windows.is_landed_and_settled) from the asset's current reference instrument: a
    window landed for another instrument is fetched again (and the models do not read it)."""
    if not is_landed_and_settled(window, landed, now, settle_hours, root):
        return False
    manifest = read_manifest(landed.folder) or {}
    return (manifest.get("exchange"), manifest.get("instrument_class"), manifest.get("instrument")) == (
        instrument.exchange, instrument.instrument_class, instrument.instrument)


def run_price_ranges(client: PriceClient, zone: LandingZone, ranges: list[FetchRange],
                     root: str) -> list[RangeResult]:
    """The ranges' chains side by side (a few: one an asset for a backfill); their results in order."""
    stop = threading.Event()
    workers = max(1, min(len(ranges), client.settings.concurrency))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="price") as pool:
        try:
            return list(pool.map(lambda fetch_range: fetch_chain(
                client, zone, fetch_range, root, stop, Progress(), price_page_problem), ranges))
        except BaseException:
            stop.set()
            raise


def record_result(summary: PriceFetchSummary, result: RangeResult, client: PriceClient, root: str,
                  log: Log) -> None:
    summary.requests += result.requests
    summary.retries += result.retries
    summary.windows_fetched += result.windows_done
    summary.pages += result.pages
    summary.rows += result.rows
    error, fetch_range = result.error, result.range
    if error is None:
        return
    asset = fetch_range.asset
    instrument = client.instruments[asset].path
    if isinstance(error, ApiRefusal) and error.status == 403 and not result.windows_done:
        record_no_access(result.folder, fetch_range, client, root, error)
        if asset not in summary.no_access:  # one line an asset, however many of its ranges were refused
            summary.no_access.append(asset)
            log(f"[price] {asset}: the key has no access to {instrument} ({error.api_message.rstrip('.')}); "
                "the report goes on without its price")
        return
    if asset not in summary.failed:
        summary.failed.append(asset)
    kept = f" ({result.windows_done} of its {len(fetch_range.windows)} windows kept)" \
        if result.windows_done else ""
    log(f"[price] {asset} {instrument} {fetch_range.describe()}: not landed{kept}: {error}; the report goes "
        "on without price for those hours")


def record_no_access(folder: Path | None, fetch_range: FetchRange, client: PriceClient, root: str,
                     error: ApiRefusal) -> None:
    """The no-access record of a refused range (architecture §2): its manifest without pages or windows,
    so it covers no hour, never displaces landed prices and is asked again next run."""
    if folder is None:
        return
    stamp = utc_now_z()
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "source": "simulator" if error.from_simulator else "kaiko",
        "api_root": root,
        "endpoint": PRICE_ENDPOINT,
        "asset": fetch_range.asset,
        "interval": fetch_range.interval,
        "fetch_id": folder.name.removeprefix("fetch="),
        "start_time": fetch_range.start_time,
        "end_time": fetch_range.end_time,
        "request": {"url": public_url(client.endpoint(fetch_range.asset)),
                    "params": client.first_params(fetch_range)},
        "fetched_at": stamp,
        "completed_at": stamp,
        "answer_time": None,
        "page_count": 0,
        "row_count": 0,
        "pages": [],
        "windows": [],
        "complete": True,
        "error": None,
        **client.manifest_keys(fetch_range.asset),
        "outcome": "no_access",
        "message": error.api_message,
    }
    write_atomically(folder / MANIFEST, json.dumps(manifest, indent=2).encode())
